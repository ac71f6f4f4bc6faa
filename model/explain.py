"""Grad-CAM heatmaps: which regions of a face pushed a model's score towards fake.

Selvaraju et al. (2017): the gradients of the fake logit with respect to the model's last convolutional stage,
averaged over space, weight that stage's channels; their weighted sum, clipped at zero and scaled to [0, 1], is
the heatmap (1 = pushed hardest towards fake). Each model gets one compiled function, built on first use.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import keras
import numpy as np
import tensorflow as tf

from model.architectures import SEQUENCE_LAYER_NAMES, encoder_backbone

LEGEND = "Heatmaps: red marks the regions that pushed the score towards fake, blue those that did not."
_EPSILON = 1e-7

Forward = Callable[[tf.Tensor], tuple[tf.Tensor, tf.Tensor]]


class GradCam:
    """Heatmaps of one model through one compiled function. ``forward`` maps a batch of faces to the last
    convolutional stage's maps (n, h, w, c) and the fake probability that depends on them."""

    def __init__(self, forward: Forward, input_shape: tuple[int, ...]) -> None:
        self._forward = forward
        self._cams = tf.function(self._compute, input_signature=[tf.TensorSpec((None, *input_shape), tf.float32)])

    def _compute(self, faces: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            maps, probability = self._forward(faces)
            probability = tf.clip_by_value(tf.reshape(probability, [-1]), _EPSILON, 1.0 - _EPSILON)
            logit = tf.reduce_sum(tf.math.log(probability) - tf.math.log1p(-probability))
        weights = tf.reduce_mean(tape.gradient(logit, maps), axis=(1, 2), keepdims=True)
        cams = tf.nn.relu(tf.reduce_sum(weights * maps, axis=-1))
        cams /= tf.reduce_max(cams, axis=(1, 2), keepdims=True) + _EPSILON
        size = tf.shape(faces)[1:3]
        return tf.clip_by_value(tf.image.resize(cams[..., None], size, method="bilinear")[..., 0], 0.0, 1.0)

    def __call__(self, faces: np.ndarray | tf.Tensor) -> np.ndarray:
        """Heatmaps (n, size, size) in [0, 1] for a batch of faces as the model takes them."""
        return self._cams(tf.convert_to_tensor(faces, tf.float32)).numpy()


def last_conv_stage(model: keras.Model) -> keras.layers.Layer:
    """The last layer with a spatial (n, h, w, c) output: the end of a CNN's convolutional stages."""
    for layer in reversed(model.layers):
        shape = layer.output.shape
        if len(shape) == 4 and (shape[1] or 0) > 1:
            return layer
    raise ValueError(f"{model.name} has no convolutional stage to explain")


def image_cam(model: keras.Model) -> GradCam:
    """Grad-CAM of a face model (one face in, one fake probability out) at its last convolutional stage."""
    both = keras.Model(model.inputs, [last_conv_stage(model).output, model.output])
    return GradCam(lambda faces: tuple(both(faces, training=False)), tuple(model.input_shape[1:]))


def video_cam(model: keras.Model) -> GradCam:
    """Grad-CAM of a video model on the frames of one sequence: the gradient of the clip's fake logit with respect
    to the encoder's last convolutional stage (its registry entry's ``last_conv``) of each frame. The batch axis is
    the sequence's frames, in order (as many as the model takes)."""
    encoder = model.get_layer("encoder").layer
    entry = encoder_backbone(encoder)
    if entry is None:
        raise ValueError(f"{model.name} has no registry encoder to explain")
    stage = keras.Model(encoder.inputs, encoder.get_layer(entry.last_conv).output)
    head = [model.get_layer(name) for name in SEQUENCE_LAYER_NAMES]

    def forward(frames: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        maps = stage(frames, training=False)
        x = tf.reduce_mean(maps, axis=(1, 2))[None]  # the encoder's average pooling: (1, frames, features)
        for layer in head:
            x = layer(x, training=False)
        return maps, x

    return GradCam(forward, tuple(model.input_shape[2:]))


def overlay(crop: np.ndarray, heatmap: np.ndarray, strength: float = 0.45) -> np.ndarray:
    """The crop (RGB uint8) with the heatmap resized over it in the JET colours (red = towards fake)."""
    height, width = crop.shape[:2]
    heat = cv2.resize(np.clip(heatmap, 0.0, 1.0).astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
    colours = cv2.cvtColor(cv2.applyColorMap(np.uint8(np.round(heat * 255)), cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)
    return np.uint8(np.round((1.0 - strength) * crop.astype(np.float32) + strength * colours))
