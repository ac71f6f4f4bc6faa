"""The views of a face whose mean is an image model's score (its record's ``views``): the face as cut alone, or
with its mirror image too. A verdict then cannot turn on which way a face looks, and the network's sensitivity to
the faintest pixel changes is averaged over two readings of the same face. Serving, calibration, evaluation and the
trainer's calibration all score faces through ``mean_over_views``, so they cannot drift apart. (TensorFlow is
imported when faces are scored, not with the record.)"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import numpy as np

if TYPE_CHECKING:
    import tensorflow as tf


def _as_cut(faces: tf.Tensor) -> tf.Tensor:
    return faces


def _mirrored(faces: tf.Tensor) -> tf.Tensor:
    """Left and right swapped."""
    import tensorflow as tf

    return tf.reverse(faces, axis=[2])


VIEWS: dict[str, Callable[[tf.Tensor], tf.Tensor]] = {"as_cut": _as_cut, "mirrored": _mirrored}
AS_CUT = ("as_cut",)  # a model's views where its record names none: the face as cut, alone


def checked_views(views: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """``views`` as a tuple, or ``ValueError`` naming what is not a view (or an empty list, or a repeat)."""
    if not views or len(set(views)) != len(views) or any(view not in VIEWS for view in views):
        raise ValueError(f"views must be distinct names among {', '.join(VIEWS)}; got {', '.join(views) or 'none'}")
    return tuple(views)


def mean_over_views(network: Callable[[tf.Tensor], Any], faces: tf.Tensor, views: tuple[str, ...]) -> np.ndarray:
    """The mean of ``network``'s raw fake probabilities over ``views`` of each face of a batch (n, size, size, 3),
    every view in one call."""
    import tensorflow as tf

    batch = faces if views == AS_CUT else tf.concat([VIEWS[view](faces) for view in views], axis=0)
    return np.asarray(network(batch), np.float32).reshape(len(views), -1).mean(axis=0)
