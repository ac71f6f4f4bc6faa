"""The video model's architecture: the 0–255 input contract, backbone weight choices, assembly and safe loading."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from model.architectures import (BackboneWeightsError, assemble_video_model, build_frame_model,
                                 build_sequence_head, build_video_model, frame_encoder)
from model.store import ModelInfo, load_served_model, save_model

SIZE = 32  # EfficientNet's smallest input: keeps these tests fast


@pytest.fixture(scope="module")
def encoder():
    return frame_encoder(SIZE, None)


def test_encoder_takes_0_to_255_pixels_and_rescales_them_itself(encoder, astronaut):
    """Keras's EfficientNet divides by 255 inside the model; its preprocess_input does nothing. Feeding 0–1
    values would silently give the encoder near-black faces, so the contract is pinned here."""
    face = keras.ops.convert_to_numpy(keras.ops.image.resize(astronaut[:220, 120:340][None], (SIZE, SIZE)))
    face = np.round(face).astype(np.float32)
    assert np.array_equal(keras.applications.efficientnet.preprocess_input(face), face)
    rescaling = [layer for layer in encoder.layers if isinstance(layer, keras.layers.Rescaling)]
    assert rescaling and rescaling[0].scale == pytest.approx(1 / 255)
    assert encoder.layers.index(rescaling[0]) <= 1  # first operation after the input
    rescaled = keras.Model(encoder.input, rescaling[0].output)
    assert 0.5 < float(np.max(rescaled(face))) <= 1.0  # 0–255 in: the network sees 0–1
    assert float(np.max(rescaled(face / 255.0))) <= 1 / 255 + 1e-6  # 0–1 in: it sees an almost black face
    as_255 = np.asarray(encoder(face, training=False))
    as_unit = np.asarray(encoder(face / 255.0, training=False))
    assert np.linalg.norm(as_255 - as_unit) > 0.5 * np.linalg.norm(as_255)


def test_backbone_weights_from_a_weights_file_and_from_a_saved_frame_model(encoder, tmp_path):
    weights = tmp_path / "b0.weights.h5"
    encoder.save_weights(weights)
    loaded = frame_encoder(SIZE, str(weights))
    for a, b in zip(encoder.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)

    frame_model = build_frame_model(SIZE, None)
    save_model(frame_model, tmp_path / "frames.keras", ModelInfo(kind="frames", architecture="b0", image_size=SIZE))
    reused = frame_encoder(SIZE, str(tmp_path / "frames.keras"))
    x = np.random.default_rng(0).uniform(0, 255, (2, SIZE, SIZE, 3)).astype(np.float32)
    np.testing.assert_allclose(reused(x), frame_model.layers[1](x), atol=1e-5)

    with pytest.raises(BackboneWeightsError, match="not found"):
        frame_encoder(SIZE, str(tmp_path / "missing.weights.h5"))
    carried = frame_encoder(64, str(tmp_path / "frames.keras"))  # another face size: the same weights
    assert carried.input_shape[1:3] == (64, 64)
    for a, b in zip(frame_model.layers[1].get_weights(), carried.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert len(frame_encoder(SIZE, "none").get_weights()) == len(encoder.get_weights())


@pytest.fixture
def offline(monkeypatch):
    """Make Keras's download fail the way it does without a network."""
    from keras.src.utils import file_utils

    def refuse(fname, origin=None, *args, **kwargs):
        raise Exception(f"URL fetch failure on {origin}: None -- [Errno -2] Name or service not known")

    monkeypatch.setattr(file_utils, "get_file", refuse)


def test_imagenet_unavailable_says_so_and_falls_back_as_chosen(offline, encoder, tmp_path, capsys):
    fallback = frame_encoder(SIZE, "imagenet", fallback="none")
    assert fallback.output_shape == (None, 1280)
    message = capsys.readouterr().err
    assert "ImageNet weights for EfficientNet-B0 could not be downloaded" in message
    assert "continuing with --backbone-fallback none" in message

    weights = tmp_path / "b0.weights.h5"
    encoder.save_weights(weights)
    from_file = frame_encoder(SIZE, "imagenet", fallback=str(weights))
    np.testing.assert_array_equal(from_file.get_weights()[0], encoder.get_weights()[0])

    with pytest.raises(BackboneWeightsError, match="could not be downloaded.*--backbone-weights none"):
        frame_encoder(SIZE, "imagenet", fallback=None)


def test_video_model_outputs_and_safe_mode_round_trip(tmp_path):
    model = build_video_model(frames=3, image_size=SIZE, lstm_units=8)
    x = np.random.default_rng(1).uniform(0, 255, (2, 3, SIZE, SIZE, 3)).astype(np.float32)
    out = model(x, training=False)
    assert out["video"].shape == (2, 1) and out["frames"].shape == (2, 3, 1)
    path = save_model(model, tmp_path / "video.keras",
                      ModelInfo(kind="video", architecture=model.name, frames=3, image_size=SIZE)).path
    loaded, info = load_served_model(path)  # safe_mode=True: no Lambda layers anywhere
    again = loaded(x, training=False)
    np.testing.assert_allclose(again["video"], out["video"], atol=1e-5)
    np.testing.assert_allclose(again["frames"], out["frames"], atol=1e-5)
    assert info.kind == "video"


def test_assembled_model_equals_its_trained_parts():
    frame_model = build_frame_model(SIZE, None)
    head = build_sequence_head(frames=3, lstm_units=8)
    for layer in (frame_model.get_layer("frame_head"), head.get_layer("video")):
        kernel, bias = layer.get_weights()
        layer.set_weights([np.random.default_rng(2).normal(0, 0.05, kernel.shape).astype(np.float32), bias + 0.1])
    video = assemble_video_model(frame_model, head, frames=3)
    x = np.random.default_rng(3).uniform(0, 255, (1, 3, SIZE, SIZE, 3)).astype(np.float32)
    out = video(x, training=False)
    np.testing.assert_allclose(np.asarray(out["frames"]).reshape(3), np.asarray(frame_model(x[0])).reshape(3),
                               atol=1e-5)
    features = frame_model.layers[1](x[0])[None]
    np.testing.assert_allclose(out["video"], head(features), atol=1e-5)
