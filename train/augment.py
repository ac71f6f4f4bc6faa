"""Augmentation that makes image quality uninformative: the same random draws for real and fake faces.

Resolution, sharpness, noise and compression separate the classes of single-domain data (DFDC fakes are
blurrier than their sources; generated faces are cleaner than photos), and colour must not carry the verdict
either, so every face, whatever its label, is randomly rescaled, blurred or sharpened, noised, colour-jittered,
white-balanced, sometimes turned grey, flipped, slightly moved and re-compressed.
All ops are TensorFlow ops, for ``tf.data.Dataset.map``. ``clip`` draws once for a stack of frames, so the
faces of one video clip keep one look (one colour shift, one resolution, one JPEG quality), as a real clip does.
"""

from __future__ import annotations

from dataclasses import dataclass

import tensorflow as tf

# The ranges of each step, drawn uniformly (the probabilities are the fields of ``QualityAugmentation``).
BRIGHTNESS = 0.12  # ± share of the 0–1 range
CONTRAST = (0.75, 1.25)
SATURATION = (0.5, 1.5)
HUE = 0.03
CHANNEL_GAIN = 0.12  # ± per colour channel: white balance (warmer, cooler, greener) says nothing about the label
ROTATION_RAD = 0.1  # ± about 6°
ZOOM = (0.92, 1.08)
SHIFT = 0.04  # ± share of the side
BLUR_SIGMA = (0.4, 2.2)
SHARPEN_AMOUNT = (0.3, 1.5)
SHARPEN_SIGMA = (0.8, 2.0)
MIN_NOISE = 1.0  # Gaussian noise σ from MIN_NOISE to QualityAugmentation.max_noise (0–255)
# The harmless changes, named once: the invariance audit (``train.audit``) makes them to real faces and the
# view-consistency loss trains on them (``harmless_view``, each view one of them, mirrored or not).
WHITE_BALANCE = 0.10  # ± per colour channel
JPEG_QUALITIES = (90, 70, 50)
HALF_SIZE = 0.5  # the picture's side, then back
MARGIN_CHANGE = 0.15  # ± share of the crop's margin


@dataclass(frozen=True)
class QualityAugmentation:
    """Probabilities and ranges of each step (pixels for sizes, 0–255 for noise)."""

    rescale: float = 0.6
    min_side: int = 48
    max_side: int = 512
    blur: float = 0.25
    sharpen: float = 0.15
    noise: float = 0.2
    max_noise: float = 8.0
    jpeg: float = 0.7
    min_quality: int = 30
    jpeg_twice: float = 0.25
    colour: float = 0.8
    white_balance: float = 0.5
    greyscale: float = 0.1
    affine: float = 0.5

    def __call__(self, image: tf.Tensor) -> tf.Tensor:
        """One augmented copy of a uint8 (S, S, 3) face; returns uint8 of the same size."""
        return tf.ensure_shape(self.clip(image[None])[0], image.shape)

    def clip(self, frames: tf.Tensor) -> tf.Tensor:
        """The frames of one clip, uint8 (N, S, S, 3), augmented with one draw of every step for all of them
        (only the noise differs per frame, as sensor noise does); returns uint8 of the same shape."""
        size = tf.shape(frames)[1:3]
        x = tf.cast(frames, tf.float32)
        x = _maybe(0.5, x, lambda v: tf.reverse(v, axis=[2]))
        x = _maybe(self.colour, x, _colour_jitter)
        x = _maybe(self.white_balance, x, _channel_gain)
        x = _maybe(self.greyscale, x, _greyscale)
        x = _maybe(self.affine, x, _small_affine)
        x = _maybe(self.rescale, x, lambda v: _rescale(v, size, self.min_side, self.max_side))
        x = _maybe(self.blur, x, lambda v: gaussian_blur(v, tf.random.uniform((), *BLUR_SIGMA)))
        x = _maybe(self.sharpen, x, _sharpen)
        x = _maybe(self.noise, x, lambda v: v + tf.random.normal(tf.shape(v), 0.0,
                                                                 tf.random.uniform((), MIN_NOISE, self.max_noise)))
        x = tf.cast(tf.clip_by_value(tf.round(x), 0.0, 255.0), tf.uint8)
        x = _maybe(self.jpeg, x, lambda v: _jpeg(v, self.min_quality))
        x = _maybe(self.jpeg * self.jpeg_twice, x, lambda v: _jpeg(v, self.min_quality))
        return x


def harmless_view(face: tf.Tensor) -> tf.Tensor:
    """A uint8 (S, S, 3) face changed as the invariance audit changes real faces (greyscale, white balance, JPEG
    50–90, half size, a tighter cut: one of them), mirrored half of the time; uint8 of the same shape."""
    size = tf.shape(face)[:2]
    x = _maybe(0.5, tf.cast(face, tf.float32), lambda v: tf.reverse(v, axis=[1]))
    crop = tf.random.uniform((), 1.0 / (1.0 + MARGIN_CHANGE), 1.0)
    box = tf.stack([(1.0 - crop) / 2, (1.0 - crop) / 2, (1.0 + crop) / 2, (1.0 + crop) / 2])[None]
    changes = [
        lambda: _greyscale(x),
        lambda: tf.clip_by_value(x * tf.random.uniform((3,), 1.0 - WHITE_BALANCE, 1.0 + WHITE_BALANCE), 0.0, 255.0),
        lambda: tf.cast(tf.image.adjust_jpeg_quality(tf.cast(x, tf.uint8),
                                                     tf.random.uniform((), min(JPEG_QUALITIES), max(JPEG_QUALITIES) + 1, tf.int32)), tf.float32),
        lambda: tf.image.resize(tf.image.resize(x, tf.cast(tf.cast(size, tf.float32) * HALF_SIZE, tf.int32),
                                                antialias=True), size),
        lambda: tf.image.crop_and_resize(x[None], box, [0], size)[0],
    ]
    x = tf.switch_case(tf.random.uniform((), 0, len(changes), tf.int32), changes)
    return tf.ensure_shape(tf.cast(tf.clip_by_value(tf.round(x), 0.0, 255.0), tf.uint8), face.shape)


def _maybe(probability: float, x: tf.Tensor, op) -> tf.Tensor:
    if probability <= 0:
        return x
    return tf.cond(tf.random.uniform(()) < probability, lambda: op(x), lambda: x)


def _colour_jitter(x: tf.Tensor) -> tf.Tensor:
    x = x / 255.0
    x = tf.image.random_brightness(x, BRIGHTNESS)
    x = tf.image.random_contrast(x, *CONTRAST)
    x = tf.image.random_saturation(x, *SATURATION)
    x = tf.image.random_hue(x, HUE)
    return tf.clip_by_value(x, 0.0, 1.0) * 255.0


def _greyscale(x: tf.Tensor) -> tf.Tensor:
    """Colour removed: the luminance in all three channels (unrounded; the caller rounds once at the end)."""
    return tf.image.grayscale_to_rgb(tf.image.rgb_to_grayscale(x))


def _channel_gain(x: tf.Tensor) -> tf.Tensor:
    """Each colour channel scaled by its own gain: a white-balance shift."""
    gains = tf.random.uniform((3,), 1.0 - CHANNEL_GAIN, 1.0 + CHANNEL_GAIN)
    return tf.clip_by_value(x * gains, 0.0, 255.0)


def _small_affine(x: tf.Tensor) -> tf.Tensor:
    """Rotation up to ±6°, zoom ±8 %, shift up to ±4 % (reflect padding), one projective transform."""
    size = tf.cast(tf.shape(x)[1:3], tf.float32)
    angle = tf.random.uniform((), -ROTATION_RAD, ROTATION_RAD)
    scale = tf.random.uniform((), *ZOOM)
    shift = tf.random.uniform((2,), -SHIFT, SHIFT) * size
    cos, sin = tf.cos(angle) / scale, tf.sin(angle) / scale
    cy, cx = size[0] / 2.0, size[1] / 2.0
    transform = tf.stack([cos, -sin, cx - cos * cx + sin * cy - shift[1],
                          sin, cos, cy - sin * cx - cos * cy - shift[0], 0.0, 0.0])
    return tf.raw_ops.ImageProjectiveTransformV3(images=x, transforms=transform[None],
                                                 output_shape=tf.shape(x)[1:3], interpolation="BILINEAR",
                                                 fill_mode="REFLECT", fill_value=0.0)


def _rescale(x: tf.Tensor, size: tf.Tensor, min_side: int, max_side: int) -> tf.Tensor:
    """Down- or upscale to a side drawn log-uniformly in [min_side, max_side], then back to ``size``."""
    side = tf.exp(tf.random.uniform((), tf.math.log(float(min_side)), tf.math.log(float(max_side))))
    side = tf.cast(tf.round(side), tf.int32)
    methods = ["bilinear", "bicubic", "area", "nearest"]
    pick = tf.random.uniform((), 0, len(methods), tf.int32)
    small = tf.image.resize(x, tf.stack([side, side]), antialias=True)
    branches = [lambda m=m: tf.image.resize(small, size, method=m) for m in methods]
    return tf.switch_case(pick, branches)


def _gaussian_weights(sigma: tf.Tensor, radius: int = 4) -> tf.Tensor:
    steps = tf.range(-radius, radius + 1, dtype=tf.float32)
    weights = tf.exp(-(steps ** 2) / (2.0 * sigma ** 2))
    return weights / tf.reduce_sum(weights)


def _convolution_matrix(length: tf.Tensor, weights: tf.Tensor) -> tf.Tensor:
    """The (length, length) matrix that convolves a signal with ``weights`` (odd length), its edges reflected as
    ``tf.pad``'s REFLECT mode does (the edge sample itself not repeated)."""
    radius = weights.shape[0] // 2
    taps = tf.abs(tf.range(length)[:, None] + tf.range(-radius, radius + 1)[None, :])
    taps = tf.where(taps >= length, 2 * (length - 1) - taps, taps)
    return tf.reduce_sum(tf.one_hot(taps, length) * weights[None, :, None], axis=1)


def gaussian_blur(x: tf.Tensor, sigma: tf.Tensor) -> tf.Tensor:
    """Gaussian blur (radius 4, reflected edges) of a (N, H, W, 3) stack or one (H, W, 3) image.

    The kernel is separable, so the blur is two matrix products, one per axis: about ten times faster on CPU than
    a depthwise 2-D convolution, which made blurring most of the augmentation's cost.
    """
    if x.shape.rank == 3:
        return gaussian_blur(x[None], sigma)[0]
    weights = _gaussian_weights(sigma)
    rows = _convolution_matrix(tf.shape(x)[1], weights)
    columns = _convolution_matrix(tf.shape(x)[2], weights)
    return tf.einsum("nikc,jk->nijc", tf.einsum("ij,njkc->nikc", rows, x), columns)


def _sharpen(x: tf.Tensor) -> tf.Tensor:
    """Unsharp mask of random strength."""
    amount = tf.random.uniform((), *SHARPEN_AMOUNT)
    return x + amount * (x - gaussian_blur(x, tf.random.uniform((), *SHARPEN_SIGMA)))


def _jpeg(x: tf.Tensor, min_quality: int) -> tf.Tensor:
    """Every frame re-compressed at one random quality."""
    quality = tf.random.uniform((), min_quality, 101, tf.int32)
    return tf.map_fn(lambda frame: tf.image.adjust_jpeg_quality(frame, quality), x)
