"""Labelled data in the Real/Fake layout: file listing, splits, class weights and the tf.data image pipelines
(evaluation batches, and training batches mixed over domains and classes with augmentation and self-blended fakes)."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import tensorflow as tf

from model.face_path import cap
from model.face_recipe import FaceRecipe
from model.imaging import IMAGE_EXTENSIONS
from model.preprocessing import resize_faces
from train.augment import QualityAugmentation, harmless_view
from train.self_blend import self_blend_op

LABELS = {"real": 0, "fake": 1}
SPLITS = ("train", "validation", "test")
RECORD_SUFFIX = ".json"  # a cached face crop's record of where it came from, beside it


@dataclass
class Labelled:
    """Files and their labels (0 real, 1 fake)."""

    paths: list[str]
    labels: list[int]

    def __len__(self) -> int:
        return len(self.paths)

    def counts(self) -> dict[str, int]:
        fake = int(sum(self.labels))
        return {"real": len(self.labels) - fake, "fake": fake}


def _child(folder: Path, name: str) -> Path | None:
    """The subfolder of ``folder`` called ``name``, in any letter case."""
    for entry in sorted(folder.iterdir()) if folder.is_dir() else []:
        if entry.is_dir() and entry.name.lower() == name:
            return entry
    return None


def list_labelled(folder: Path, extensions: frozenset[str] = IMAGE_EXTENSIONS,
                  limit_per_class: int | None = None, seed: int = 0, real_only: bool = False) -> Labelled:
    """Every file under ``folder/Real`` and ``folder/Fake`` (recursive, any case) with its label; with
    ``real_only`` a folder without ``Fake/`` gives its real files alone."""
    paths: list[str] = []
    labels: list[int] = []
    for name, label in LABELS.items():
        class_dir = _child(folder, name)
        if class_dir is None and real_only and label == 1:
            continue
        if class_dir is None:
            raise FileNotFoundError(f"{folder} has no {name.capitalize()}/ folder")
        files = sorted(str(p) for p in class_dir.rglob("*") if p.suffix.lower() in extensions and p.is_file())
        if limit_per_class is not None and len(files) > limit_per_class:
            files = sorted(random.Random(seed).sample(files, limit_per_class))
        paths += files
        labels += [label] * len(files)
    if not paths:
        raise FileNotFoundError(f"no files with extensions {sorted(extensions)} under {folder}/Real or Fake")
    return Labelled(paths, labels)


def limited(data: Labelled, per_class: int, seed: int = 0) -> Labelled:
    """At most ``per_class`` files of each class, drawn at random (in file order)."""
    paths, labels = [], []
    for label in (0, 1):
        files = [p for p, y in zip(data.paths, data.labels) if y == label]
        if len(files) > per_class:
            files = sorted(random.Random(seed).sample(files, per_class))
        paths += files
        labels += [label] * len(files)
    return Labelled(paths, labels)


def holds_files(root: str | Path, extensions: frozenset[str]) -> bool:
    """Whether a folder holds any file with one of ``extensions`` (to tell videos, images and face caches apart)."""
    return Path(root).is_dir() and any(p.suffix.lower() in extensions for p in Path(root).rglob("*"))


def has_splits(root: str | Path) -> bool:
    """Whether ``root`` holds a Train/, Validation/ or Test/ folder (else it is one bare Real/Fake folder)."""
    return any(_child(Path(root), name) is not None for name in SPLITS)


def load_splits(root: str | Path, val_split: float = 0.2, seed: int = 0,
                extensions: frozenset[str] = IMAGE_EXTENSIONS, limit_per_class: int | None = None,
                real_only: bool = False) -> dict[str, Labelled]:
    """Train/Validation(/Test) from ``root``; a bare Real/Fake folder is split with ``val_split`` instead;
    ``real_only`` accepts folders without ``Fake/``."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"data folder not found: {root}")
    split_dirs = {name: _child(root, name) for name in SPLITS}
    if split_dirs["train"] is None:
        everything = list_labelled(root, extensions, limit_per_class, seed, real_only)
        return dict(zip(("train", "validation"), _stratified_split(everything, val_split, seed)))
    if split_dirs["validation"] is None:
        raise FileNotFoundError(f"{root} has Train/ but no Validation/ folder")
    return {name: list_labelled(folder, extensions, limit_per_class, seed, real_only)
            for name, folder in split_dirs.items() if folder is not None}


def _stratified_split(data: Labelled, fraction: float, seed: int) -> tuple[Labelled, Labelled]:
    """Split per class so both parts keep the class ratio."""
    if not 0.0 < fraction < 1.0:
        raise ValueError("--val-split must be between 0 and 1")
    rng = random.Random(seed)
    train, val = Labelled([], []), Labelled([], [])
    for label in (0, 1):
        items = [p for p, y in zip(data.paths, data.labels) if y == label]
        rng.shuffle(items)
        cut = max(1, round(len(items) * fraction)) if items else 0
        for part, chunk in ((val, items[:cut]), (train, items[cut:])):
            part.paths += chunk
            part.labels += [label] * len(chunk)
    return train, val


def class_weights(labels: list[int]) -> dict[int, float]:
    """Weights that make both classes count equally in the loss (balanced, as in scikit-learn)."""
    counts = np.bincount(np.asarray(labels, int), minlength=2)
    if counts.min() == 0:
        raise ValueError("training data needs both Real and Fake examples")
    return {label: float(len(labels) / (2 * count)) for label, count in enumerate(counts)}


def _decode(path: tf.Tensor, image_size: int, recipe: FaceRecipe | None = None) -> tf.Tensor:
    image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
    if recipe is not None and recipe.crop_ceiling:
        image = tf.ensure_shape(tf.numpy_function(partial(cap, recipe=recipe), [image], tf.uint8, stateful=False),
                                [None, None, 3])
    return tf.cast(resize_faces(image, image_size), tf.uint8)


def decoded_images(data: Labelled, image_size: int, recipe: FaceRecipe | None = None) -> tf.data.Dataset:
    """(uint8 face, label) pairs of image files, resized for the model (capped at ``recipe``'s crop ceiling first,
    as serving caps a face for a model of that recipe; as stored without one); unreadable files are skipped."""
    dataset = tf.data.Dataset.from_tensor_slices((data.paths, np.asarray(data.labels, np.float32)))
    dataset = dataset.map(lambda p, y: (_decode(p, image_size, recipe), y), num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.ignore_errors(log_warning=True)


def image_dataset(data: Labelled, image_size: int, batch_size: int, training: bool, seed: int = 0,
                  cache: bool = True) -> tf.data.Dataset:
    """Decoded, resized (and cached) faces; shuffled and augmented when ``training``. Unreadable files are skipped."""
    dataset = decoded_images(data, image_size)
    return batched(dataset.cache() if cache else dataset, len(data), batch_size, training, seed)


def batched(dataset: tf.data.Dataset, count: int, batch_size: int, training: bool, seed: int) -> tf.data.Dataset:
    """uint8 (face, label) pairs -> float32 0–255 batches; shuffled and augmented (``QualityAugmentation``, the
    same for both classes) when ``training``."""
    if training:
        dataset = dataset.shuffle(min(count, 20_000), seed=seed, reshuffle_each_iteration=True)
        augment = QualityAugmentation()
        dataset = dataset.map(lambda x, y: (augment(x), y), num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.map(lambda x, y: (tf.cast(x, tf.float32), y)).batch(batch_size).prefetch(tf.data.AUTOTUNE)


@dataclass(frozen=True)
class Shard:
    """This worker's share of the files under multi-worker training: every ``count``-th file from ``index``."""

    count: int = 1
    index: int = 0

    def of(self, paths: list[str]) -> list[str]:
        return paths[self.index::self.count] if self.count > 1 else paths


def read_record(crop: str | Path) -> dict:
    """The JSON record cached beside a face crop (``train.domains``; empty for files that are not cached crops)."""
    try:
        return json.loads(Path(crop).with_suffix(RECORD_SUFFIX).read_text())
    except (OSError, ValueError):
        return {}


def stored_recipe(stored) -> str | None:
    """The face recipe's key a cached clip (``train.extract_faces``' opened ``.npz``) was cut by; None if not kept."""
    return str(stored["face_recipe"]) if "face_recipe" in stored else None


def landmark_array(paths: list[str]) -> np.ndarray:
    """(n, 5, 2) float32: each crop's five points in fractions of its side, NaN where it has none."""
    points = np.full((len(paths), 5, 2), np.nan, np.float32)
    for index, path in enumerate(paths):
        found = read_record(path).get("landmarks")
        if found and len(found) == 5:
            points[index] = found
    return points


def _faces(paths: list[str], image_size: int, seed: int) -> tf.data.Dataset:
    """Endless shuffled (uint8 face, its five points) of one (domain, class)."""
    files = tf.data.Dataset.from_tensor_slices((paths, landmark_array(paths)))
    files = files.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True).repeat()
    faces = files.map(lambda p, points: (_decode(p, image_size), points), num_parallel_calls=tf.data.AUTOTUNE)
    return faces.ignore_errors(log_warning=True)


def _blend(face: tf.Tensor, points: tf.Tensor, image_size: int) -> tf.Tensor:
    out = tf.numpy_function(self_blend_op, [face, points], tf.uint8, stateful=True)
    return tf.ensure_shape(out, (image_size, image_size, 3))


def _pairs(data: Labelled, image_size: int, self_blend_share: float, seed: int, shard: Shard) -> tf.data.Dataset:
    """Endless (real, fake) pairs of one domain: (2, S, S, 3) uint8 faces, labels (0, 1). The fake is, with
    probability ``self_blend_share`` (always for a real-only domain), a self-blend of the very real beside it (the
    SBI pairing: the pair differs only by the blend), else one of the domain's own fakes."""
    reals = shard.of([p for p, y in zip(data.paths, data.labels) if y == 0])
    fakes = shard.of([p for p, y in zip(data.paths, data.labels) if y == 1])
    if not reals:
        raise ValueError("a domain has no real faces")
    real_stream = _faces(reals, image_size, seed)
    labels = tf.constant([0.0, 1.0])
    if not fakes:
        return real_stream.map(lambda x, p: (tf.stack([x, _blend(x, p, image_size)]), labels),
                               num_parallel_calls=tf.data.AUTOTUNE)

    def pair(real, fake):
        (x, p), (other, _) = real, fake
        made = tf.cond(tf.random.uniform(()) < self_blend_share, lambda: _blend(x, p, image_size), lambda: other)
        return tf.stack([x, made]), labels

    zipped = tf.data.Dataset.zip(real_stream, _faces(fakes, image_size, seed + 1))
    return zipped.map(pair, num_parallel_calls=tf.data.AUTOTUNE)


def stream_weights(domains: dict[str, tuple[Labelled, float]]) -> dict[str, float]:
    """Each domain's share of the (real, fake) pairs, by its weight."""
    total = sum(weight for _, weight in domains.values())
    return {name: weight / total for name, (_, weight) in domains.items()}


def mixed_dataset(domains: dict[str, tuple[Labelled, float]], image_size: int, batch_size: int,
                  self_blend_share: float = 0.0, seed: int = 0, shard: Shard = Shard(),
                  augmentation: QualityAugmentation | None = QualityAugmentation(),
                  views: bool = False) -> tf.data.Dataset:
    """Endless training batches of (real, fake) pairs of one domain each, domains drawn by weight: sources ->
    pairs -> augmentation (each face its own draw, whatever its label) -> batches (a pair is never split).

    ``domains`` maps a name to (files, weight); a domain without fakes is paired with self-blends of its reals.
    Each worker of a multi-worker run reads only its ``shard`` of every file list. ``views``: the second half of
    every batch is a harmless view of the first half, face by face (``train.augment.harmless_view``), for the
    view-consistency loss (``train.common.add_view_consistency``).
    """
    if batch_size % (4 if views else 2):
        raise ValueError("the batch size must be even (batches hold (real, fake) pairs), and a multiple of 4 with "
                         "views")
    streams = [_pairs(data, image_size, self_blend_share, seed + 2 * offset, shard)
               for offset, (data, _) in enumerate(domains.values())]
    weights = stream_weights(domains)
    dataset = tf.data.Dataset.sample_from_datasets(streams, list(weights.values()), seed=seed)
    if augmentation is not None:
        dataset = dataset.map(lambda x, y: (tf.stack([augmentation(x[0]), augmentation(x[1])]), y),
                              num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.unbatch().batch(batch_size // 2 if views else batch_size, drop_remainder=True)
    if views:
        dataset = dataset.map(lambda x, y: (tf.concat([x, tf.map_fn(harmless_view, x)], 0), tf.concat([y, y], 0)),
                              num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.map(lambda x, y: (tf.cast(x, tf.float32), y))
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    return dataset.with_options(options).prefetch(tf.data.AUTOTUNE)
