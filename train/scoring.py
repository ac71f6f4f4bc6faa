"""A model's raw fake probabilities for labelled faces and clips, in order (for calibration and evaluation)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

import keras
import numpy as np
import tensorflow as tf

from model.calibration import mean_logit
from model.store import ModelInfo, load_served_model
from model.views import AS_CUT, mean_over_views
from train.config import TrainingError
from train.data import Labelled, batched, decoded_images, image_dataset
from train.sequences import Clips


def predict(model: keras.Model, dataset: tf.data.Dataset, count: int, views: tuple[str, ...] = AS_CUT) -> np.ndarray:
    """Fake probabilities for the ``count`` faces of an evaluation dataset, in order, each the mean over ``views``
    (a model's record says which). Unreadable files (which the dataset skips) abort: evaluation must be complete,
    and its labels aligned."""
    network = partial(model, training=False)
    scores = np.concatenate([mean_over_views(network, x, views) for x, _ in dataset])
    if len(scores) != count:
        raise TrainingError(f"{count - len(scores)} files could not be read; fix or remove them and evaluate again")
    return scores


def faces_per_call(batch_size: int, views: tuple[str, ...]) -> int:
    """How many faces a batch may hold for a network call over every view of each to read ``batch_size`` images
    at most: four views of 64 faces at once exhaust 24 GiB."""
    return max(1, batch_size // len(views))


def predict_images(model: keras.Model, data: Labelled, image_size: int, batch_size: int = 64,
                   views: tuple[str, ...] = AS_CUT) -> np.ndarray:
    """Fake probabilities for every file of ``data``, each the mean over ``views`` (``batch_size`` images a call)."""
    dataset = image_dataset(data, image_size, faces_per_call(batch_size, views), training=False, cache=False)
    return predict(model, dataset, len(data), views)


Network = tuple[keras.Model, ModelInfo]  # a face network with its record


def face_networks(model: keras.Model, record: ModelInfo) -> list[Network]:
    """The networks whose raw scores ``record`` combines: ``model`` itself, then its members (``members``), loaded."""
    return [(model, record)] + [load_served_model(path) for path in record.member_paths]


def raw_scores(networks: Sequence[Network], data: Labelled, batch_size: int = 64,
               change: Callable[[tf.Tensor], tf.Tensor] | None = None) -> np.ndarray:
    """The raw fake probability of every file of ``data`` as a record combines its ``networks`` (``mean_logit``):
    each network over its own views, every face capped at that network's crop ceiling as serving caps it, then
    resized to its input and changed by ``change`` (a degradation of the robustness table), if given."""
    scores = []
    for model, record in networks:
        dataset = decoded_images(data, record.image_size, record.face_recipe)
        if change is not None:
            dataset = dataset.map(lambda x, y: (change(x), y), num_parallel_calls=tf.data.AUTOTUNE)
        batches = batched(dataset, len(data), faces_per_call(batch_size, record.views), training=False, seed=0)
        scores.append(predict(model, batches, len(data), record.views))
    return mean_logit(scores)


def predict_videos(model: keras.Model, clips: Clips, frames: int, batch_size: int = 4
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Video fake probabilities (n,) and per-frame ones (n, frames) on the serving frames of every clip."""
    video, per_frame = [], []
    for start in range(0, len(clips), batch_size):
        x = np.stack([clips.serving_faces(i, frames) for i in range(start, min(start + batch_size, len(clips)))])
        outputs = model(x.astype(np.float32), training=False)
        video.append(np.asarray(outputs["video"]).reshape(-1))
        per_frame.append(np.asarray(outputs["frames"]).reshape(len(x), -1))
    return np.concatenate(video), np.concatenate(per_frame)
