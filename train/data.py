"""Labelled data in the Real/Fake layout: file listing, splits, class weights and the tf.data image pipeline."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from model.imaging import IMAGE_EXTENSIONS
from model.preprocessing import resize_faces

LABELS = {"real": 0, "fake": 1}
SPLITS = ("train", "validation", "test")


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
                  limit_per_class: int | None = None, seed: int = 0) -> Labelled:
    """Every file under ``folder/Real`` and ``folder/Fake`` (recursive, any case) with its label."""
    paths: list[str] = []
    labels: list[int] = []
    for name, label in LABELS.items():
        class_dir = _child(folder, name)
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


def holds_files(root: str | Path, extensions: frozenset[str]) -> bool:
    """Whether a folder holds any file with one of ``extensions`` (to tell videos, images and face caches apart)."""
    return Path(root).is_dir() and any(p.suffix.lower() in extensions for p in Path(root).rglob("*"))


def load_splits(root: str | Path, val_split: float = 0.2, seed: int = 0,
                extensions: frozenset[str] = IMAGE_EXTENSIONS, limit_per_class: int | None = None
                ) -> dict[str, Labelled]:
    """Train/Validation(/Test) from ``root``; a bare Real/Fake folder is split with ``val_split`` instead."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"data folder not found: {root}")
    split_dirs = {name: _child(root, name) for name in SPLITS}
    if split_dirs["train"] is None:
        everything = list_labelled(root, extensions, limit_per_class, seed)
        return dict(zip(("train", "validation"), _stratified_split(everything, val_split, seed)))
    if split_dirs["validation"] is None:
        raise FileNotFoundError(f"{root} has Train/ but no Validation/ folder")
    return {name: list_labelled(folder, extensions, limit_per_class, seed)
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


def _decode(path: tf.Tensor, image_size: int) -> tf.Tensor:
    image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
    return tf.cast(resize_faces(image, image_size), tf.uint8)


def _augment_one(image: tf.Tensor) -> tf.Tensor:
    """Per-image augmentation on uint8: flip, JPEG re-compression, colour jitter. Returns float32 0–255."""
    image = tf.image.random_flip_left_right(image)
    image = tf.cond(tf.random.uniform(()) < 0.3, lambda: tf.image.random_jpeg_quality(image, 60, 95),
                    lambda: image)
    image = tf.image.convert_image_dtype(image, tf.float32)
    image = tf.image.random_brightness(image, 0.08)
    image = tf.image.random_contrast(image, 0.85, 1.15)
    image = tf.image.random_saturation(image, 0.85, 1.15)
    return tf.clip_by_value(image, 0.0, 1.0) * 255.0


def decoded_images(data: Labelled, image_size: int) -> tf.data.Dataset:
    """(uint8 face, label) pairs of image files, resized for the model; unreadable files are skipped."""
    dataset = tf.data.Dataset.from_tensor_slices((data.paths, np.asarray(data.labels, np.float32)))
    dataset = dataset.map(lambda p, y: (_decode(p, image_size), y), num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.ignore_errors(log_warning=True)


def image_dataset(data: Labelled, image_size: int, batch_size: int, training: bool, seed: int = 0,
                  cache: bool = True) -> tf.data.Dataset:
    """Decoded, resized (and cached) faces; shuffled and augmented when ``training``. Unreadable files are skipped."""
    dataset = decoded_images(data, image_size)
    return batched(dataset.cache() if cache else dataset, len(data), batch_size, training, seed)


def batched(dataset: tf.data.Dataset, count: int, batch_size: int, training: bool, seed: int) -> tf.data.Dataset:
    """uint8 (face, label) pairs -> float32 0–255 batches; shuffled and augmented when ``training``."""
    if training:
        geometry = keras.Sequential([
            keras.layers.RandomRotation(0.03, fill_mode="reflect", seed=seed),
            keras.layers.RandomZoom((-0.08, 0.08), fill_mode="reflect", seed=seed),
        ])
        dataset = dataset.shuffle(min(count, 20_000), seed=seed, reshuffle_each_iteration=True)
        dataset = dataset.map(lambda x, y: (_augment_one(x), y), num_parallel_calls=tf.data.AUTOTUNE)
        dataset = dataset.batch(batch_size)
        dataset = dataset.map(lambda x, y: (tf.clip_by_value(geometry(x, training=True), 0.0, 255.0), y),
                              num_parallel_calls=tf.data.AUTOTUNE)
    else:
        dataset = dataset.map(lambda x, y: (tf.cast(x, tf.float32), y)).batch(batch_size)
    return dataset.prefetch(tf.data.AUTOTUNE)
