"""The video model's architecture: the 0–255 input contract, the registry encoder, assembly and safe loading."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from model.architectures import (BackboneWeightsError, assemble_video_model, build_frame_model,
                                 build_sequence_head, build_video_model, encoder_backbone, frame_model_at)
from model.backbones import BACKBONES, DEFAULT_BACKBONE
from model.store import ModelInfo, load_network, load_served_model, save_model

SIZE = 32  # EfficientNet-Lite's smallest input: keeps these tests fast


@pytest.fixture(scope="module")
def encoder():
    return BACKBONES[DEFAULT_BACKBONE].encoder(SIZE)


def test_encoder_takes_0_to_255_pixels_and_rescales_them_itself(encoder, astronaut):
    """The encoder maps 0–255 to (x − 127) / 128 as its first operation. Feeding 0–1 values would silently give
    it near-uniform faces, so the contract is pinned here."""
    face = keras.ops.convert_to_numpy(keras.ops.image.resize(astronaut[:220, 120:340][None], (SIZE, SIZE)))
    face = np.round(face).astype(np.float32)
    rescaling = encoder.layers[1]
    assert isinstance(rescaling, keras.layers.Rescaling)  # first operation after the input
    assert (rescaling.scale, rescaling.offset) == pytest.approx((1 / 128, -127 / 128))
    rescaled = keras.Model(encoder.input, rescaling.output)
    seen = np.asarray(rescaled(face))
    assert seen.max() > 0.5 and seen.min() < -0.5  # 0–255 in: the network sees about −1 to 1
    assert float(np.max(rescaled(face / 255.0))) <= -126 / 128 + 1e-6  # 0–1 in: it sees an almost flat face
    as_255 = np.asarray(encoder(face, training=False))
    as_unit = np.asarray(encoder(face / 255.0, training=False))
    assert np.linalg.norm(as_255 - as_unit) > 0.5 * np.linalg.norm(as_255)


def test_a_frame_model_is_a_registry_encoder_and_head_and_carries_to_another_face_size(tmp_path):
    frame_model = build_frame_model(SIZE)
    assert encoder_backbone(frame_model.layers[1]) is BACKBONES[DEFAULT_BACKBONE]
    assert frame_model.layers[1].output_shape == (None, BACKBONES[DEFAULT_BACKBONE].width)
    path = save_model(frame_model, tmp_path / "frames.keras",
                      ModelInfo(kind="frames", architecture=DEFAULT_BACKBONE, image_size=SIZE)).path
    carried = frame_model_at(load_network(path), 64)  # another face size: the same weights
    assert carried.input_shape == (None, 64, 64, 3)
    assert len(carried.get_weights()) == len(frame_model.get_weights())
    for a, b in zip(frame_model.get_weights(), carried.get_weights()):
        np.testing.assert_array_equal(a, b)
    other = keras.Sequential([keras.Input((SIZE, SIZE, 3)), keras.layers.GlobalAveragePooling2D()])
    with pytest.raises(BackboneWeightsError, match="no registry encoder"):
        frame_model_at(other, 64)


def test_video_model_outputs_and_safe_mode_round_trip(tmp_path):
    model = build_video_model(frames=3, image_size=SIZE, lstm_units=8)
    assert model.name == f"{DEFAULT_BACKBONE}_bilstm"
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
    frame_model = build_frame_model(SIZE)
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
