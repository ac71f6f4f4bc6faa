"""The views of a face whose mean is an image model's score (its record's ``views``): the face as cut, its mirror
image, the face at half its size (shrunk and enlarged back) and the face in grey. With its mirror image a verdict
cannot turn on which way a face looks, and the network's sensitivity to the faintest pixel changes is averaged over
two readings of the same face. The half-size and grey views are there to be measured (``train.evaluate --calibrate
--views``; the image card has the table): added to the shipped pair they moved real faces less under greyscale and
halving, but made the mirror image matter again. Serving, calibration, evaluation and the trainer's calibration all
score faces through ``mean_over_views``, so they cannot drift apart. (TensorFlow is imported when faces are scored,
not with the record.)"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, NamedTuple

import numpy as np

if TYPE_CHECKING:
    import tensorflow as tf


def _as_cut(faces: tf.Tensor) -> tf.Tensor:
    return faces


def _mirrored(faces: tf.Tensor) -> tf.Tensor:
    """Left and right swapped."""
    import tensorflow as tf

    return tf.reverse(faces, axis=[2])


def _half_size(faces: tf.Tensor) -> tf.Tensor:
    """Shrunk to half the side (area averaging) and enlarged back: the face as a smaller picture would give it."""
    import tensorflow as tf

    size = tf.shape(faces)[1:3]
    small = tf.image.resize(tf.cast(faces, tf.float32), size // 2, method="area")
    return tf.cast(tf.clip_by_value(tf.round(tf.image.resize(small, size)), 0.0, 255.0), faces.dtype)


def _greyscale(faces: tf.Tensor) -> tf.Tensor:
    """Colour removed (luminance in all three channels)."""
    import tensorflow as tf

    grey = tf.image.rgb_to_grayscale(tf.cast(faces, tf.float32))
    return tf.cast(tf.clip_by_value(tf.round(tf.image.grayscale_to_rgb(grey)), 0.0, 255.0), faces.dtype)


class View(NamedTuple):
    """A view: how it changes a batch of faces, and how the About tab names it."""

    change: Callable[[tf.Tensor], tf.Tensor]
    words: str


VIEWS: dict[str, View] = {
    "as_cut": View(_as_cut, "the face as cut"),
    "mirrored": View(_mirrored, "its mirror image"),
    "half_size": View(_half_size, "the face at half size"),
    "greyscale": View(_greyscale, "the face in grey"),
}
AS_CUT = ("as_cut",)  # a model's views where its record names none: the face as cut, alone


def described(views: tuple[str, ...]) -> str:
    """The views in words, for people: "the face as cut, its mirror image and the face at half size"."""
    words = [VIEWS[view].words for view in views]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def checked_views(views: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """``views`` as a tuple, or ``ValueError`` naming what is not a view (or an empty list, or a repeat)."""
    if not views or len(set(views)) != len(views) or any(view not in VIEWS for view in views):
        raise ValueError(f"views must be distinct names among {', '.join(VIEWS)}; got {', '.join(views) or 'none'}")
    return tuple(views)


def mean_over_views(network: Callable[[tf.Tensor], Any], faces: tf.Tensor, views: tuple[str, ...]) -> np.ndarray:
    """The mean of ``network``'s raw fake probabilities over ``views`` of each face of a batch (n, size, size, 3),
    every view in one call."""
    import tensorflow as tf

    batch = faces if views == AS_CUT else tf.concat([VIEWS[view].change(faces) for view in views], axis=0)
    return np.asarray(network(batch), np.float32).reshape(len(views), -1).mean(axis=0)
