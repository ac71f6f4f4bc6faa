"""Model definitions. Every model takes RGB pixels in 0–255 and rescales them itself."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import keras
import numpy as np
from keras import layers

from model.backbones import BACKBONES, DEFAULT_BACKBONE, HEAD_LAYERS, Backbone
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


class BackboneWeightsError(RuntimeError):
    """The requested encoder weights cannot be had; the message says why in plain words."""


def encoder_backbone(encoder: keras.Model) -> Backbone | None:
    """The registry entry of a frame encoder (a registry backbone, by name); None for any other model."""
    return BACKBONES.get(encoder.name)


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


def build_frame_model(image_size: int = VIDEO_IMAGE_SIZE, backbone: str = DEFAULT_BACKBONE,
                      dropout: float = 0.3) -> keras.Model:
    """The video model's per-frame branch on its own, with random weights: a registry backbone's encoder and
    ``frame_head``, for training on face crops (``train.imagenet`` gives a backbone its ImageNet start)."""
    return frame_model_from_face_model(BACKBONES[backbone].face_model(image_size), dropout)


def frame_model_at(model: keras.Model, image_size: int, dropout: float = 0.3) -> keras.Model:
    """The same frame model, encoder and head weights included, for faces of ``image_size`` pixels.

    The encoders are fully convolutional and average-pooled, so none of their weights depend on the face size.
    """
    if model.input_shape[1] == image_size:
        return model
    face = BACKBONES[_encoder_in(model).name].face_model(image_size)  # the same weights in the same order
    face.set_weights(model.get_weights())
    return frame_model_from_face_model(face, dropout)


def _sequence_layers(lstm_units: int, dropout: float) -> list[keras.layers.Layer]:
    """The sequence head: named so its weights move between the embedding-only model and the full one."""
    return [layers.Dropout(dropout, name="sequence_dropout"),
            layers.Bidirectional(layers.LSTM(lstm_units), name="bilstm"),
            layers.Dropout(dropout, name="head_dropout"),
            layers.Dense(64, activation="relu", name="head_dense"),
            layers.Dense(1, activation="sigmoid", name="video")]


SEQUENCE_LAYER_NAMES = ("bilstm", "head_dense", "video")


def build_sequence_head(frames: int = VIDEO_FRAMES, features: int = BACKBONES[DEFAULT_BACKBONE].width,
                        lstm_units: int = 128, dropout: float = 0.3) -> keras.Model:
    """BiLSTM head on precomputed encoder features (batch, frames, features) -> (batch, 1)."""
    inputs = keras.Input((frames, features), name="features")
    x = inputs
    for layer in _sequence_layers(lstm_units, dropout):
        x = layer(x)
    return keras.Model(inputs, x, name="bilstm_head")


def build_video_model(frames: int = VIDEO_FRAMES, image_size: int = VIDEO_IMAGE_SIZE, lstm_units: int = 128,
                      dropout: float = 0.3, encoder: keras.Model | None = None) -> keras.Model:
    """A registry backbone's encoder on each face frame, a bidirectional LSTM over the sequence, a dense head.

    Input: (batch, frames, size, size, 3) pixels in 0–255. Outputs: ``video`` (batch, 1), the clip's fake
    probability, and ``frames`` (batch, frames, 1), per-frame fake probabilities from the encoder's own head.
    ``encoder`` reuses an existing (trained) encoder; without one, ``DEFAULT_BACKBONE``'s with random weights.
    """
    inputs = keras.Input((frames, image_size, image_size, 3), name="faces")
    encoder = encoder or BACKBONES[DEFAULT_BACKBONE].encoder(image_size)
    features = layers.TimeDistributed(encoder, name="encoder")(inputs)
    frame_scores = layers.TimeDistributed(layers.Dense(1, activation="sigmoid"), name="frames")(features)
    x = features
    for layer in _sequence_layers(lstm_units, dropout):
        x = layer(x)
    return keras.Model(inputs, {"video": x, "frames": frame_scores}, name=f"{encoder.name}_bilstm")


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
