"""Preprocessing shared by training and serving, so that both feed the models identical pixels."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

IMAGE_SIZE = 224  # the shipped image model's input side


def resize_faces(images: tf.Tensor | np.ndarray, size: int) -> tf.Tensor:
    """Resize RGB face crops (H, W, 3) or a batch of them to ``size``×``size``: float32 holding whole 0–255 values.

    Rounding to whole values lets training cache the result as uint8 without changing a pixel; the models
    rescale their inputs themselves. One crop goes through the batch graph as a batch of one, so that the graph
    only ever sees batches and tracing can generalise their shapes without losing their rank.
    """
    images = tf.convert_to_tensor(images)
    if images.shape.rank == 3:
        return _resize_batch(images[None], size)[0]
    return _resize_batch(images, size)


@tf.function(reduce_retracing=True)
def _resize_batch(images: tf.Tensor, size: int) -> tf.Tensor:
    """A graph: the same pixels as op by op, in half the time for crops of varying sizes."""
    resized = tf.image.resize(tf.cast(images, tf.float32), (size, size), method="bilinear", antialias=True)
    return tf.round(tf.clip_by_value(resized, 0.0, 255.0))


def square_box(box: tuple[int, int, int, int], frame_shape: tuple[int, ...], margin: float
               ) -> tuple[int, int, int, int]:
    """Grow an (x, y, w, h) face box into a square with ``margin``, moved inside the frame where possible."""
    height, width = frame_shape[:2]
    x, y, w, h = box
    side = int(round(min(max(w, h) * margin, height, width)))
    cx, cy = x + w / 2.0, y + h / 2.0
    left = int(round(min(max(cx - side / 2.0, 0), width - side)))
    top = int(round(min(max(cy - side / 2.0, 0), height - side)))
    return left, top, max(side, 1), max(side, 1)


def crop_face(frame: np.ndarray, box: tuple[int, int, int, int], margin: float) -> np.ndarray:
    """Cut the square face crop that matches the framing of the training data (face plus a little context)."""
    left, top, side, _ = square_box(box, frame.shape, margin)
    return frame[top:top + side, left:left + side]
