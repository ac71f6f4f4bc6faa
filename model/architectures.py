"""Model definitions. Every model takes RGB pixels in 0–255 and rescales them itself."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

import keras
import numpy as np
from keras import layers

from model.backbones import BACKBONES, HEAD_LAYERS, Backbone
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
    x = _srm_stem(inputs, width)
    for multiple in (1, 2, 4, 8):
        x = _conv_bn(x, width * multiple)
        x = layers.MaxPooling2D(2)(x)
    x = _conv_bn(x, width * 8)
    return keras.Model(inputs, _pooled_head(x), name="residual_cnn")


def _srm_stem(inputs, width: int):
    """RGB scaled to 0–1 beside its batch-normalised SRM noise residuals, then a strided conv."""
    rgb = layers.Rescaling(1.0 / 255)(inputs)
    srm = layers.Conv2D(9, 5, padding="same", use_bias=False, trainable=False, name="srm")
    residuals = srm(rgb)
    srm.set_weights([_srm_kernels()])
    x = layers.Concatenate()([rgb, layers.BatchNormalization()(residuals)])
    return _conv_bn(x, width, strides=2)


def _pooled_head(x):
    """Average and max pooling side by side, dropout, one sigmoid unit: the fake probability."""
    x = layers.Concatenate()([layers.GlobalAveragePooling2D()(x), layers.GlobalMaxPooling2D()(x)])
    x = layers.Dropout(0.5)(x)
    return layers.Dense(1, activation="sigmoid", name="fake_probability")(x)


def _mbconv(x, filters: int, strides: int, expand: int = 4):
    """EfficientNet's inverted residual: 1×1 expansion, depthwise 3×3, squeeze-and-excitation, 1×1 projection."""
    channels = x.shape[-1]
    y = _conv_bn(x, channels * expand, kernel=1)
    y = layers.DepthwiseConv2D(3, strides=strides, padding="same", use_bias=False)(y)
    y = layers.ReLU()(layers.BatchNormalization()(y))
    squeeze = layers.GlobalAveragePooling2D(keepdims=True)(y)
    squeeze = layers.Conv2D(max(channels // 4, 4), 1, activation="relu")(squeeze)
    y = layers.Multiply()([y, layers.Conv2D(channels * expand, 1, activation="sigmoid")(squeeze)])
    y = layers.BatchNormalization()(layers.Conv2D(filters, 1, use_bias=False)(y))
    return layers.Add()([x, y]) if strides == 1 and channels == filters else y


def mbconv_cnn(image_size: int = IMAGE_SIZE, width: int = 16) -> keras.Model:
    """The residual CNN's input (RGB + SRM residuals) and head around EfficientNet-style MBConv stages."""
    inputs = keras.Input((image_size, image_size, 3), name="face")
    x = _srm_stem(inputs, width)
    for multiple in (1, 2, 4, 8):
        x = _mbconv(x, width * multiple, strides=2)
        x = _mbconv(x, width * multiple, strides=1)
    x = _conv_bn(x, width * 16, kernel=1)
    return keras.Model(inputs, _pooled_head(x), name="mbconv_cnn")


IMAGE_ARCHITECTURES: dict[str, Callable[..., keras.Model]] = {
    "meso4": meso4,
    "residual_cnn": residual_cnn,
    "residual_cnn_wide": partial(residual_cnn, width=32),
    "mbconv_cnn": mbconv_cnn,
}


IMAGE_MODEL_CHOICES = (*IMAGE_ARCHITECTURES, *BACKBONES)


def build_image_model(name: str = "residual_cnn", image_size: int = IMAGE_SIZE) -> keras.Model:
    """Build one of ``IMAGE_ARCHITECTURES`` (from-scratch CNNs) or a registry backbone's face model (random
    weights; ``train.imagenet`` gives them their ImageNet start) by name."""
    if name in BACKBONES:
        return BACKBONES[name].face_model(image_size)
    if name not in IMAGE_ARCHITECTURES:
        raise ValueError(f"unknown architecture {name!r}; choose from {', '.join(IMAGE_MODEL_CHOICES)}")
    return IMAGE_ARCHITECTURES[name](image_size=image_size)


VIDEO_FRAMES = 20  # a new video model's clip length; serving stretches or windows the face recipe's sampled frames
VIDEO_IMAGE_SIZE = IMAGE_SIZE  # the shipped video model's face side: its encoder is an image model's
ENCODER_NAME = "efficientnetb0"
BACKBONE_CHOICES = "imagenet|none|PATH"


class BackboneWeightsError(RuntimeError):
    """The requested backbone weights cannot be had; the message says why in plain words."""


def _efficientnet(image_size: int, weights: str | None) -> keras.Model:
    return keras.applications.EfficientNetB0(include_top=False, weights=weights,
                                             input_shape=(image_size, image_size, 3), pooling="avg")


def encoder_backbone(encoder: keras.Model) -> Backbone | None:
    """The registry entry of a frame encoder: a registry backbone by name; Keras's own EfficientNet-B0 (the
    first video models' encoder) is ``efficientnet_b0``. None for any other model."""
    if encoder.name in BACKBONES:
        return BACKBONES[encoder.name]
    return BACKBONES["efficientnet_b0"] if encoder.name.startswith(ENCODER_NAME) else None


def _encoder_in(model: keras.Model) -> keras.Model:
    """The encoder inside a saved frame or video model (plain or wrapped in TimeDistributed)."""
    for layer in model.layers:
        inner = getattr(layer, "layer", layer)
        if isinstance(inner, keras.Model) and encoder_backbone(inner) is not None:
            return inner
    raise BackboneWeightsError(f"{model.name} has no registry encoder to take weights from")


def is_face_model(model: keras.Model) -> bool:
    """Whether ``model`` is a registry backbone's face (image) model, built flat by ``Backbone.face_model``."""
    return model.name in BACKBONES and all(name in {layer.name for layer in model.layers} for name in HEAD_LAYERS)


def frame_model_from_face_model(model: keras.Model, dropout: float = 0.3) -> keras.Model:
    """A frame model (encoder + ``frame_head``) that shares the layers and weights of a trained face model: the
    image model's backbone becomes the video model's encoder, its head the per-frame head."""
    if not is_face_model(model):
        raise BackboneWeightsError(f"{model.name} is not a registry backbone's face model")
    encoder = keras.Model(model.inputs, model.get_layer(HEAD_LAYERS[0]).output, name=model.name)
    inputs = keras.Input(model.input_shape[1:], name="face")
    x = layers.Dropout(dropout, name="frame_dropout")(encoder(inputs))
    head = layers.Dense(1, activation="sigmoid", name="frame_head")
    frame_model = keras.Model(inputs, head(x), name=f"{model.name}_frames")
    head.set_weights(model.get_layer(HEAD_LAYERS[-1]).get_weights())
    return frame_model


def frame_encoder(image_size: int = VIDEO_IMAGE_SIZE, backbone_weights: str | None = None,
                  fallback: str | None = "none") -> keras.Model:
    """EfficientNet-B0 without its top, average-pooled: one 1280-d vector per face.

    Keras's EfficientNet rescales its input itself (a ``Rescaling(1/255)`` layer; its ``preprocess_input`` is the
    identity) and expects 0–255 pixels, like every model here: never feed it 0–1 values.

    ``backbone_weights``: ``"imagenet"`` (downloaded by Keras on first use), ``None``/``"none"`` (random
    initialisation), a ``.keras`` frame/video model written by ``train.video`` (its encoder is reused, carried
    over to ``image_size`` when it was trained on another face size) or a Keras weights file of EfficientNet-B0
    without top (``.weights.h5``). To use ImageNet weights offline, put Keras's ``efficientnetb0_notop.h5`` into
    ``~/.keras/models/`` and ask for ``"imagenet"``. When ImageNet weights cannot be downloaded, a plain message
    goes to stderr and ``fallback`` (``"none"`` or a path) is used instead; ``fallback=None`` raises
    ``BackboneWeightsError``.
    """
    choice = None if backbone_weights in (None, "", "none", "None") else str(backbone_weights)
    if choice == "imagenet":
        try:
            return _efficientnet(image_size, "imagenet")
        except Exception as error:  # Keras raises a bare Exception for download failures
            reason = f"ImageNet weights for EfficientNet-B0 could not be downloaded ({error})"
            if fallback is None:
                raise BackboneWeightsError(f"{reason}; pass --backbone-weights none or a weights file") from None
            print(f"{reason}; continuing with --backbone-fallback {fallback}", file=sys.stderr)
            return frame_encoder(image_size, fallback, fallback=None)
    if choice is None:
        return _efficientnet(image_size, None)
    path = Path(choice)
    if not path.is_file():
        raise BackboneWeightsError(f"backbone weights file not found: {path}")
    if path.suffix == ".keras":
        encoder = _encoder_in(keras.saving.load_model(path, compile=False, safe_mode=True))
        if encoder.input_shape[1:3] == (image_size, image_size):
            return encoder
        carried = _efficientnet(image_size, None)  # fully convolutional, average-pooled: weights fit any face size
        carried.set_weights(encoder.get_weights())
        return carried
    encoder = _efficientnet(image_size, None)
    try:
        encoder.load_weights(path)
    except (ValueError, OSError) as error:
        raise BackboneWeightsError(f"cannot load backbone weights from {path}: {error}") from None
    return encoder


def build_frame_model(image_size: int = VIDEO_IMAGE_SIZE, backbone_weights: str | None = None,
                      fallback: str | None = "none", dropout: float = 0.3) -> keras.Model:
    """The video model's per-frame branch on its own: encoder and ``frame_head``, for training on face crops."""
    inputs = keras.Input((image_size, image_size, 3), name="face")
    features = frame_encoder(image_size, backbone_weights, fallback)(inputs)
    x = layers.Dropout(dropout, name="frame_dropout")(features)
    outputs = layers.Dense(1, activation="sigmoid", name="frame_head")(x)
    return keras.Model(inputs, outputs, name="b0_frames")


def frame_model_at(model: keras.Model, image_size: int, dropout: float = 0.3) -> keras.Model:
    """The same frame model, encoder and head weights included, for faces of ``image_size`` pixels.

    The encoders are fully convolutional and average-pooled, so none of their weights depend on the face size.
    """
    if model.input_shape[1] == image_size:
        return model
    encoder = _encoder_in(model)
    if encoder.name in BACKBONES and encoder.name != "efficientnet_b0":
        face = BACKBONES[encoder.name].face_model(image_size)  # the same weights in the same order
        face.set_weights(model.get_weights())
        return frame_model_from_face_model(face, dropout)
    resized = build_frame_model(image_size, None, dropout=dropout)
    resized.set_weights(model.get_weights())
    return resized


def _sequence_layers(lstm_units: int, dropout: float) -> list[keras.layers.Layer]:
    """The sequence head: named so its weights move between the embedding-only model and the full one."""
    return [layers.Dropout(dropout, name="sequence_dropout"),
            layers.Bidirectional(layers.LSTM(lstm_units), name="bilstm"),
            layers.Dropout(dropout, name="head_dropout"),
            layers.Dense(64, activation="relu", name="head_dense"),
            layers.Dense(1, activation="sigmoid", name="video")]


SEQUENCE_LAYER_NAMES = ("bilstm", "head_dense", "video")


def build_sequence_head(frames: int = VIDEO_FRAMES, features: int = BACKBONES["efficientnet_b0"].width,
                        lstm_units: int = 128,
                        dropout: float = 0.3) -> keras.Model:
    """BiLSTM head on precomputed encoder features (batch, frames, features) -> (batch, 1)."""
    inputs = keras.Input((frames, features), name="features")
    x = inputs
    for layer in _sequence_layers(lstm_units, dropout):
        x = layer(x)
    return keras.Model(inputs, x, name="bilstm_head")


def build_video_model(frames: int = VIDEO_FRAMES, image_size: int = VIDEO_IMAGE_SIZE,
                      backbone_weights: str | None = None, lstm_units: int = 128, dropout: float = 0.3,
                      fallback: str | None = "none", encoder: keras.Model | None = None) -> keras.Model:
    """An encoder (EfficientNet-B0, or a registry backbone) on each face frame, a bidirectional LSTM over the
    sequence, a dense head.

    Input: (batch, frames, size, size, 3) pixels in 0–255. Outputs: ``video`` (batch, 1), the clip's fake
    probability, and ``frames`` (batch, frames, 1), per-frame fake probabilities from the encoder's own head.
    ``encoder`` reuses an existing (trained) encoder instead of building one from ``backbone_weights``.
    """
    inputs = keras.Input((frames, image_size, image_size, 3), name="faces")
    encoder = encoder or frame_encoder(image_size, backbone_weights, fallback)
    features = layers.TimeDistributed(encoder, name="encoder")(inputs)
    frame_scores = layers.TimeDistributed(layers.Dense(1, activation="sigmoid"), name="frames")(features)
    x = features
    for layer in _sequence_layers(lstm_units, dropout):
        x = layer(x)
    return keras.Model(inputs, {"video": x, "frames": frame_scores}, name="b0_bilstm")


def assemble_video_model(frame_model: keras.Model, head: keras.Model, frames: int) -> keras.Model:
    """One video model from a trained frame model (encoder + ``frame_head``) and a trained sequence head."""
    image_size = int(frame_model.input_shape[1])
    lstm_units = int(head.get_layer("bilstm").forward_layer.units)
    video = build_video_model(frames, image_size, lstm_units=lstm_units, dropout=head.get_layer("head_dropout").rate,
                              encoder=_encoder_in(frame_model))
    video.get_layer("frames").layer.set_weights(frame_model.get_layer("frame_head").get_weights())
    for name in SEQUENCE_LAYER_NAMES:
        video.get_layer(name).set_weights(head.get_layer(name).get_weights())
    return video
