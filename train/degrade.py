"""Fixed degradations of a uint8 face for the robustness table: what messaging apps and re-uploads do to faces."""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

from train.augment import gaussian_blur


def _jpeg(quality: int) -> Callable[[tf.Tensor], tf.Tensor]:
    return lambda face: tf.image.adjust_jpeg_quality(face, quality)


def _downscale(factor: int) -> Callable[[tf.Tensor], tf.Tensor]:
    def apply(face: tf.Tensor) -> tf.Tensor:
        size = tf.shape(face)[:2]
        small = tf.image.resize(tf.cast(face, tf.float32), size // factor, antialias=True)
        return tf.cast(tf.clip_by_value(tf.round(tf.image.resize(small, size)), 0, 255), tf.uint8)
    return apply


def _blur(face: tf.Tensor) -> tf.Tensor:
    out = gaussian_blur(tf.cast(face, tf.float32), tf.constant(1.5))
    return tf.cast(tf.clip_by_value(tf.round(out), 0, 255), tf.uint8)


DEGRADATIONS: dict[str, Callable[[tf.Tensor], tf.Tensor]] = {
    "JPEG 90": _jpeg(90), "JPEG 70": _jpeg(70), "JPEG 50": _jpeg(50),
    "downscaled to 1/2": _downscale(2), "downscaled to 1/4": _downscale(4), "Gaussian blur σ 1.5": _blur,
}
