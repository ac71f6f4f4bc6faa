"""Cached face sequences (written by ``train.extract_faces``): loading, frame resampling, encoder embeddings and
the batches the video trainer feeds to Keras, with sequence-level augmentation.

Sequence augmentation keeps a clip consistent, as a real clip is: every view of a Train clip is its faces
augmented with one draw for the whole clip (``QualityAugmentation.clip``: one colour shift, resolution, blur,
JPEG quality), then embedded; each epoch a clip is seen through one of its views, as a random order-preserving
subset of its cached frames (temporal jitter), sometimes with frames dropped and the rest stretched the way
serving stretches a short face track.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from model.face_recipe import FaceRecipe
from model.preprocessing import resize_faces
from model.video import spread
from train.augment import QualityAugmentation
from train.data import Labelled, stored_recipe

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

    def resized(self, size: int) -> Clips:
        """The same clips with faces of ``size`` pixels (as serving resizes a crop for a model)."""
        if size == self.image_size:
            return self
        faces = [np.asarray(resize_faces(f, size), np.uint8) for f in self.faces]
        return Clips(faces, self.serving, self.labels, self.paths)

    def serving_faces(self, index: int, frames: int) -> np.ndarray:
        """The (frames, S, S, 3) input serving would build for clip ``index``."""
        return serving_sequence(self.faces[index], self.serving[index], frames)


def are_cached_sequences(data: Labelled) -> bool:
    """Whether every file of ``data`` is a cached face sequence (``train.extract_faces``), not a video."""
    return all(Path(p).suffix.lower() in SEQUENCE_EXTENSIONS for p in data.paths)


def load_clips(data: Labelled, recipe: FaceRecipe) -> Clips:
    """Read every cached ``.npz`` of ``data`` (labels come from the folders, like for images); raises
    ``ValueError`` for a clip whose faces another face recipe than ``recipe`` (the model's) cut."""
    clips = Clips([], [], [], [])
    for path, label in zip(data.paths, data.labels):
        with np.load(path) as stored:
            recipe.require_cut(stored_recipe(stored), str(path))
            faces = stored["faces"]
            serving = stored["serving"] if "serving" in stored else np.ones(len(faces), bool)
        clips.faces.append(faces)
        clips.serving.append(serving.astype(bool))
        clips.labels.append(int(label))
        clips.paths.append(str(path))
    if len({faces.shape[1:] for faces in clips.faces}) > 1:
        raise ValueError("the cached sequences have different face sizes; extract them again with one --image-size")
    return clips


def random_subset(count: int, frames: int, rng: np.random.Generator) -> np.ndarray:
    """A random order-preserving choice of ``frames`` of ``count`` frames (training-time resampling)."""
    if count < frames:
        return np.sort(rng.choice(count, frames, replace=True))
    return np.sort(rng.choice(count, frames, replace=False))


def jittered_frames(count: int, frames: int, rng: np.random.Generator, drop: float = 0.3,
                    keep_at_least: float = 0.6) -> np.ndarray:
    """Training frame positions: a random order-preserving subset of ``count`` cached frames; with probability
    ``drop``, only 60–100 % of ``frames`` are kept (faces the detector missed) and stretched to ``frames`` by
    repeating, as ``VideoModel.score`` stretches a short track."""
    kept = frames
    if rng.random() < drop:
        kept = int(rng.integers(math.ceil(keep_at_least * frames), frames + 1))
    chosen = random_subset(count, kept, rng)
    return chosen[spread(kept, frames)]


def embed(encoder: keras.Model, faces: list[np.ndarray], batch_size: int = 128) -> list[np.ndarray]:
    """Encoder features (N_i, D) of every face of every clip (``faces[i]`` is clip i's (N_i, S, S, 3) faces)."""
    everything = np.concatenate(faces)
    features = np.concatenate([np.asarray(encoder(everything[start:start + batch_size].astype(np.float32),
                                                  training=False))
                               for start in range(0, len(everything), batch_size)])
    bounds = np.cumsum([0] + [len(f) for f in faces])
    return [features[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def augmented_views(encoder: keras.Model, clips: Clips, views: int, seed: int = 0,
                    augmentation: QualityAugmentation = QualityAugmentation()) -> list[list[np.ndarray]]:
    """``views`` embeddings of every clip, each clip's faces augmented with one draw per view and clip."""
    tf.random.set_seed(seed)
    augment = tf.function(augmentation.clip, input_signature=[tf.TensorSpec((None, None, None, 3), tf.uint8)])
    return [embed(encoder, [augment(tf.constant(faces)).numpy() for faces in clips.faces])
            for _ in range(views)]


def weights_digest(model: keras.Model) -> str:
    """A short hash of a model's weights: which encoder made a set of features."""
    digest = hashlib.sha1()
    for weights in model.get_weights():
        digest.update(np.ascontiguousarray(weights).tobytes())
    return digest.hexdigest()[:16]


def cached_embeddings(encoder: keras.Model, clips: dict[str, Clips], views: int, seed: int, cache_dir: str | Path
                      ) -> tuple[dict[str, list[np.ndarray]], list[list[np.ndarray]]]:
    """Each split's plain encoder features and ``views`` augmented views of the Train clips, computed once and
    cached under ``cache_dir/features`` keyed on the encoder's weights, its input size, every clip file (path,
    size, modification time; a changed face recipe rewrites them) and the views' count and seed."""
    files = {name: [(p, Path(p).stat().st_size, Path(p).stat().st_mtime_ns) for p in c.paths]
             for name, c in clips.items()}
    key = json.dumps({"encoder": weights_digest(encoder), "size": int(encoder.input_shape[1]), "files": files,
                      "views": views, "seed": seed}, sort_keys=True)
    path = Path(cache_dir) / "features" / f"{hashlib.sha1(key.encode()).hexdigest()[:20]}.npz"
    if path.exists():
        with np.load(path) as stored:
            features = {name: [stored[f"{name}/{i}"] for i in range(len(c))] for name, c in clips.items()}
            augmented = [[stored[f"view{v}/{i}"] for i in range(len(clips["train"]))] for v in range(views)]
        return features, augmented
    features = {name: embed(encoder, c.faces) for name, c in clips.items()}
    augmented = augmented_views(encoder, clips["train"], views, seed)
    arrays = {f"{name}/{i}": f for name, split in features.items() for i, f in enumerate(split)}
    arrays.update({f"view{v}/{i}": f for v, view in enumerate(augmented) for i, f in enumerate(view)})
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.stem + ".partial.npz")
    np.savez(partial, **arrays)
    partial.replace(path)
    return features, augmented


def serving_sequence(items: np.ndarray, serving: np.ndarray, frames: int) -> np.ndarray:
    """The ``frames`` items of a clip that serving scores: its serving frames, spread evenly."""
    chosen = items[serving]
    return chosen[spread(len(chosen), frames)]


class SequenceBatches(keras.utils.PyDataset):
    """Batches of (frames, ...) sequences with their labels.

    Training: shuffled each epoch; each clip through one of its ``views`` (e.g. its plain and augmented
    embeddings; without views, its items mirrored half of the time) and ``jittered_frames`` of it. Evaluation:
    the serving frames, in order.
    """

    def __init__(self, items: list[np.ndarray], serving: list[np.ndarray], labels: list[int], frames: int,
                 batch_size: int, training: bool, views: list[list[np.ndarray]] | None = None, seed: int = 0,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.items, self.serving, self.views = items, serving, views
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
            return serving_sequence(self.items[index], self.serving[index], self.frames)
        if self.views:
            source = self.views[int(self.rng.integers(len(self.views)))][index]
            return source[jittered_frames(len(source), self.frames, self.rng)]
        sequence = self.items[index][jittered_frames(len(self.items[index]), self.frames, self.rng)]
        return sequence[:, :, ::-1] if self.rng.random() < 0.5 else sequence

    def __getitem__(self, batch: int) -> tuple[np.ndarray, np.ndarray]:
        chosen = self.order[batch * self.batch_size:(batch + 1) * self.batch_size]
        x = np.stack([self._one(int(i)) for i in chosen]).astype(np.float32)
        return x, self.labels[chosen]
