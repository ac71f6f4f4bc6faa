"""Shared fixtures: real photos, tiny data sets and small saved models, all made on the fly."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
import pytest

import model  # noqa: E402, F401  (TensorFlow's settings, before any test imports TensorFlow)

if TYPE_CHECKING:
    import keras

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def write_rgb(path: Path, rgb: np.ndarray) -> Path:
    """Write an RGB array with OpenCV (which expects BGR)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write {path}")
    return path


@pytest.fixture(scope="session", autouse=True)
def tflite_cache(tmp_path_factory) -> Path:
    """Networks converted for TensorFlow Lite go to a folder of the test session, not the user's cache (child
    processes, the app and the scan CLI, inherit it)."""
    from model.tflite import CACHE_ENV

    folder = tmp_path_factory.mktemp("tflite-cache")
    os.environ[CACHE_ENV] = str(folder)
    return folder


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """A real photo with one face (scikit-image ships it, no download)."""
    from skimage import data

    return data.astronaut()


@pytest.fixture(scope="session")
def astronaut_path(tmp_path_factory, astronaut) -> Path:
    return write_rgb(tmp_path_factory.mktemp("photos") / "astronaut.jpg", astronaut)


@pytest.fixture(scope="session")
def faceless_path(tmp_path_factory) -> Path:
    """A 320×240 picture of smooth gradients: no face in it."""
    x = np.linspace(0, 255, 320, dtype=np.float32)
    y = np.linspace(0, 255, 240, dtype=np.float32)[:, None]
    rgb = np.stack([np.broadcast_to(x, (240, 320)), np.broadcast_to(y, (240, 320)),
                    np.full((240, 320), 128.0)], axis=-1).astype(np.uint8)
    return write_rgb(tmp_path_factory.mktemp("photos") / "gradient.png", rgb)


@pytest.fixture(scope="session")
def tiny_faces(tmp_path_factory, astronaut) -> Path:
    """A Train/Validation/Test Real/Fake folder of small photos of one real face (the astronaut's, moved, scaled and
    tinted a little each time), which the face path finds and cuts as it cuts any picture; fakes are blurred so a
    model can tell them apart."""
    root = tmp_path_factory.mktemp("tiny_faces")
    rng = np.random.default_rng(0)
    for split, count in (("Train", 16), ("Validation", 8), ("Test", 8)):
        for label in ("Real", "Fake"):
            for index in range(count):
                top, left = rng.integers(10, 50), rng.integers(110, 150)
                side = int(rng.integers(72, 110))
                face = cv2.resize(astronaut[top:top + 220, left:left + 220], (side, side), interpolation=cv2.INTER_AREA)
                face = np.clip(face * rng.uniform(0.85, 1.15, 3), 0, 255).astype(np.uint8)
                if label == "Fake":
                    face = cv2.GaussianBlur(face, (5, 5), 0)
                write_rgb(root / split / label / f"{index}.jpg", face)
    return root


@pytest.fixture(scope="session")
def small_image_model(tmp_path_factory) -> Path:
    """A real (untrained) image model saved with metadata, small enough to load in a second."""
    from model.architectures import build_image_model
    from model.store import ModelInfo, save_model

    model = build_image_model("meso4", image_size=64)
    path = tmp_path_factory.mktemp("models") / "image_model.keras"
    return save_model(model, path, ModelInfo(kind="image", architecture="meso4", image_size=64)).path


def save_lite_image_model(path: Path, image_size: int) -> tuple[keras.Model, Path]:
    """An untrained EfficientNet-Lite0 image model saved with metadata at ``path``: the network and the path."""
    from model.backbones import BACKBONES
    from model.store import ModelInfo, save_model

    model = BACKBONES["efficientnet_lite0"].face_model(image_size)
    return model, save_model(model, path, ModelInfo(kind="image", architecture=model.name, image_size=image_size)).path


@pytest.fixture(scope="session")
def uncertain_image_model(tmp_path_factory, small_image_model) -> Path:
    """The small image model with an uncertain band that covers every score it gives (0.001 to 0.999)."""
    from model.store import ModelInfo, write_metadata

    path = tmp_path_factory.mktemp("uncertain") / "image_model.keras"
    path.write_bytes(small_image_model.read_bytes())
    return write_metadata(path, replace(ModelInfo.read(small_image_model), real_below=0.001, fake_from=0.999)).path
