"""Cached face sequences (written by ``train.extract_faces``): loading, frame resampling, encoder embeddings and
the batches the video trainer feeds to Keras, with sequence-level augmentation."""

from __future__ import annotations

import math
from dataclasses import dataclass

import keras
import numpy as np

from model.video import spread
from train.data import Labelled

SEQUENCE_EXTENSIONS = frozenset({".npz"})


@dataclass
class Clips:
    """Face sequences of labelled clips: ``faces[i]`` is (N_i, S, S, 3) uint8, ``serving[i]`` marks the frames
    that serving samples (the model's input at evaluation)."""

    faces: list[np.ndarray]
    serving: list[np.ndarray]
    labels: list[int]
    paths: list[str]

    def __len__(self) -> int:
        return len(self.faces)

    @property
    def image_size(self) -> int:
        return int(self.faces[0].shape[1])

    def serving_faces(self, index: int, frames: int) -> np.ndarray:
        """The (frames, S, S, 3) input serving would build for clip ``index``."""
        faces = self.faces[index][self.serving[index]]
        return faces[spread(len(faces), frames)]


def load_clips(data: Labelled) -> Clips:
    """Read every cached ``.npz`` of ``data`` (labels come from the folders, like for images)."""
    clips = Clips([], [], [], [])
    for path, label in zip(data.paths, data.labels):
        with np.load(path) as stored:
            faces = stored["faces"]
            serving = stored["serving"] if "serving" in stored else np.ones(len(faces), bool)
        clips.faces.append(faces)
        clips.serving.append(serving.astype(bool))
        clips.labels.append(int(label))
        clips.paths.append(str(path))
    if len({faces.shape[1:] for faces in clips.faces}) > 1:
        raise ValueError("the cached sequences have different face sizes; extract them again with one --image-size")
    return clips


def frame_arrays(clips: Clips, frames: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Every face of every clip as one image array with its clip's label, for training a frame model; with
    ``frames``, only the ``frames`` faces serving would score per clip (for validation and test)."""
    faces = [clips.serving_faces(i, frames) if frames else clips.faces[i] for i in range(len(clips))]
    labels = np.concatenate([[label] * len(f) for label, f in zip(clips.labels, faces)]).astype(np.float32)
    return np.concatenate(faces), labels


def random_subset(count: int, frames: int, rng: np.random.Generator) -> np.ndarray:
    """A random order-preserving choice of ``frames`` of ``count`` frames (training-time resampling)."""
    if count < frames:
        return np.sort(rng.choice(count, frames, replace=True))
    return np.sort(rng.choice(count, frames, replace=False))


def embed(encoder: keras.Model, clips: Clips, flip: bool = False, batch_size: int = 128) -> list[np.ndarray]:
    """Encoder features (N_i, D) of every frame of every clip (mirrored faces when ``flip``)."""
    everything = np.concatenate(clips.faces)
    if flip:
        everything = everything[:, :, ::-1]
    features = np.concatenate([np.asarray(encoder(everything[start:start + batch_size].astype(np.float32),
                                                  training=False))
                               for start in range(0, len(everything), batch_size)])
    bounds = np.cumsum([0] + [len(faces) for faces in clips.faces])
    return [features[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


class SequenceBatches(keras.utils.PyDataset):
    """Batches of (frames, ...) sequences with their labels.

    Training: shuffled each epoch, a random order-preserving subset of all cached frames per clip, mirrored half
    of the time (``mirrored`` holds precomputed mirrored versions, e.g. embeddings; otherwise pixels are
    flipped). Evaluation: the serving frames, in order.
    """

    def __init__(self, items: list[np.ndarray], serving: list[np.ndarray], labels: list[int], frames: int,
                 batch_size: int, training: bool, mirrored: list[np.ndarray] | None = None, seed: int = 0,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.items, self.serving, self.mirrored = items, serving, mirrored
        self.labels = np.asarray(labels, np.float32)
        self.frames, self.batch_size, self.training = frames, batch_size, training
        self.rng = np.random.default_rng(seed)
        self.order = np.arange(len(items))
        self.on_epoch_end()

    def __len__(self) -> int:
        return math.ceil(len(self.items) / self.batch_size)

    def on_epoch_end(self) -> None:
        if self.training:
            self.rng.shuffle(self.order)

    def _one(self, index: int) -> np.ndarray:
        if not self.training:
            chosen = self.items[index][self.serving[index]]
            return chosen[spread(len(chosen), self.frames)]
        flip = self.rng.random() < 0.5
        source = self.mirrored[index] if flip and self.mirrored is not None else self.items[index]
        sequence = source[random_subset(len(source), self.frames, self.rng)]
        if flip and self.mirrored is None:
            sequence = sequence[:, :, ::-1]
        return sequence

    def __getitem__(self, batch: int) -> tuple[np.ndarray, np.ndarray]:
        chosen = self.order[batch * self.batch_size:(batch + 1) * self.batch_size]
        x = np.stack([self._one(int(i)) for i in chosen]).astype(np.float32)
        return x, self.labels[chosen]

