"""Model definitions. Every model takes RGB pixels in 0–255 and rescales them itself."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import keras
import numpy as np
from keras import layers

from model.preprocessing import IMAGE_SIZE


def _srm_kernels() -> np.ndarray:
    """Three classic SRM high-pass filters (noise residuals) applied to each colour channel: (5, 5, 3, 9)."""
    kv = np.array([[-1, 2, -2, 2, -1], [2, -6, 8, -6, 2], [-2, 8, -12, 8, -2],
                   [2, -6, 8, -6, 2], [-1, 2, -2, 2, -1]], np.float32) / 12.0
    second = np.zeros((5, 5), np.float32)
    second[1:4, 1:4] = np.array([[-1, 2, -1], [2, -4, 2], [-1, 2, -1]], np.float32) / 4.0
    horizontal = np.zeros((5, 5), np.float32)
    horizontal[2, 1:4] = np.array([1, -2, 1], np.float32) / 2.0
    kernels = np.zeros((5, 5, 3, 9), np.float32)
    for index, kernel in enumerate((kv, second, horizontal)):
        for channel in range(3):
            kernels[:, :, channel, index * 3 + channel] = kernel
    return kernels


def _conv_bn(x, filters: int, kernel: int = 3, strides: int = 1):
    x = layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    return layers.ReLU()(x)


def meso4(image_size: int = IMAGE_SIZE) -> keras.Model:
    """MesoNet-4 (Afchar et al., 2018): four small conv blocks and a tiny dense head."""
    inputs = keras.Input((image_size, image_size, 3), name="face")
    x = layers.Rescaling(1.0 / 255)(inputs)
    for filters, kernel, pool in ((8, 3, 2), (8, 5, 2), (16, 5, 2), (16, 5, 4)):
        x = layers.Conv2D(filters, kernel, padding="same", activation="relu")(x)
        x = layers.BatchNormalization()(x)
        x = layers.MaxPooling2D(pool, padding="same")(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.5)(x)
    x = layers.Dense(16)(x)
    x = layers.LeakyReLU(0.1)(x)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(1, activation="sigmoid", name="fake_probability")(x)
    return keras.Model(inputs, outputs, name="meso4")


def residual_cnn(image_size: int = IMAGE_SIZE, width: int = 16) -> keras.Model:
    """RGB plus fixed SRM noise residuals, a strided stem and four conv/pool stages, global pooling head."""
    inputs = keras.Input((image_size, image_size, 3), name="face")
    rgb = layers.Rescaling(1.0 / 255)(inputs)
    srm = layers.Conv2D(9, 5, padding="same", use_bias=False, trainable=False, name="srm")
    residuals = srm(rgb)
    srm.set_weights([_srm_kernels()])
    x = layers.Concatenate()([rgb, layers.BatchNormalization()(residuals)])
    x = _conv_bn(x, width, strides=2)
    for multiple in (1, 2, 4, 8):
        x = _conv_bn(x, width * multiple)
        x = layers.MaxPooling2D(2)(x)
    x = _conv_bn(x, width * 8)
    x = layers.Concatenate()([layers.GlobalAveragePooling2D()(x), layers.GlobalMaxPooling2D()(x)])
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(1, activation="sigmoid", name="fake_probability")(x)
    return keras.Model(inputs, outputs, name="residual_cnn")


IMAGE_ARCHITECTURES: dict[str, Callable[..., keras.Model]] = {
    "meso4": meso4,
    "residual_cnn": residual_cnn,
    "residual_cnn_wide": partial(residual_cnn, width=32),
}


def build_image_model(name: str = "residual_cnn", image_size: int = IMAGE_SIZE) -> keras.Model:
    """Build one of ``IMAGE_ARCHITECTURES`` by name."""
    if name not in IMAGE_ARCHITECTURES:
        raise ValueError(f"unknown architecture {name!r}; choose from {', '.join(IMAGE_ARCHITECTURES)}")
    return IMAGE_ARCHITECTURES[name](image_size=image_size)


VIDEO_FRAMES = 20
VIDEO_IMAGE_SIZE = 128


def frame_encoder(image_size: int = VIDEO_IMAGE_SIZE, backbone_weights: str | None = None) -> keras.Model:
    """EfficientNet-B0 without its top, average-pooled: one 1280-d vector per face.

    Keras's EfficientNet rescales its input itself and expects 0–255 pixels, like every model here.
    ``backbone_weights`` is ``"imagenet"`` (downloads), ``None`` or a weights file path.
    """
    return keras.applications.EfficientNetB0(include_top=False, weights=backbone_weights,
                                             input_shape=(image_size, image_size, 3), pooling="avg")


def build_video_model(frames: int = VIDEO_FRAMES, image_size: int = VIDEO_IMAGE_SIZE,
                      backbone_weights: str | None = None, lstm_units: int = 128) -> keras.Model:
    """EfficientNet-B0 on each face frame, a bidirectional LSTM over the sequence, a dense head.

    Input: (batch, frames, size, size, 3) pixels in 0–255. Outputs: ``video`` (batch, 1), the clip's fake
    probability, and ``frames`` (batch, frames, 1), per-frame fake probabilities from the encoder's own head.
    """
    inputs = keras.Input((frames, image_size, image_size, 3), name="faces")
    features = layers.TimeDistributed(frame_encoder(image_size, backbone_weights), name="encoder")(inputs)
    frame_scores = layers.TimeDistributed(layers.Dense(1, activation="sigmoid"), name="frames")(features)
    x = layers.Dropout(0.3)(features)
    x = layers.Bidirectional(layers.LSTM(lstm_units))(x)
    x = layers.Dropout(0.3)(x)
    x = layers.Dense(64, activation="relu")(x)
    video = layers.Dense(1, activation="sigmoid", name="video")(x)
    return keras.Model(inputs, {"video": video, "frames": frame_scores}, name="b0_bilstm")
