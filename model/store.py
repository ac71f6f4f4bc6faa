"""Saving and loading models with their metadata (decision threshold, input size, provenance) beside them, and
``ModelInfo``: that metadata read once, into typed fields, for everything that serves a model."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from model.calibration import Calibration, Thresholds
from model.face_recipe import FaceRecipe

if TYPE_CHECKING:  # Keras is imported where a model is saved or loaded: ``--help`` must not wait for TensorFlow
    import keras

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
DEFAULT_IMAGE_MODEL = WEIGHTS_DIR / "image_model.keras"
DEFAULT_VIDEO_MODEL = WEIGHTS_DIR / "video_model.keras"


def metadata_path(model_path: str | Path) -> Path:
    """The JSON file that travels with a ``.keras`` file."""
    return Path(model_path).with_suffix(".json")


def save_model(model: keras.Model, path: str | Path, metadata: dict[str, Any]) -> Path:
    """Save ``model`` and its metadata JSON side by side; returns the model path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    write_metadata(path, metadata)
    return path


def write_metadata(model_path: str | Path, metadata: dict[str, Any]) -> None:
    """(Re)write the metadata JSON of a saved model."""
    metadata_path(model_path).write_text(json.dumps(metadata, indent=2, sort_keys=True) + "\n")


def read_metadata(model_path: str | Path) -> dict[str, Any]:
    """Metadata of a saved model; an empty dict when none was written."""
    path = metadata_path(model_path)
    return json.loads(path.read_text()) if path.exists() else {}


def load_model(path: str | Path) -> tuple[keras.Model, dict[str, Any]]:
    """Load a ``.keras`` model in safe mode (no Lambda layers, no pickles) with its metadata."""
    import keras

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"model file not found: {path}")
    return keras.saving.load_model(path, compile=False, safe_mode=True), read_metadata(path)


@dataclass(frozen=True)
class ReliableInput:
    """Below these a face gives weak evidence (flags ``small``, ``compressed``): the limits the model card's
    robustness table measured (``train.evaluate --robustness --store``); these defaults for models without one."""

    min_face_px: int = 64
    min_jpeg_quality: int = 50

    @classmethod
    def from_metadata(cls, metadata: dict[str, Any]) -> ReliableInput:
        stored = metadata.get("reliable_input") or {}
        return cls(**{key: int(stored[key]) for key in ("min_face_px", "min_jpeg_quality") if key in stored})


@dataclass(frozen=True)
class ModelInfo:
    """A saved model's metadata, read once. ``kind``: ``image``, ``video`` (or a video trainer's ``frames`` stage);
    ``frames``: clip length of a video model (None for image models); ``clip_score``: which of a video model's
    outputs its clip verdict calibrates (``sequence``: the BiLSTM's; ``frame_mean``: the mean of its per-frame
    outputs), chosen out of fold by the trainer; ``metadata``: the whole JSON, for model cards and for the commands
    that extend it."""

    path: Path
    kind: str
    architecture: str
    image_size: int | None
    frames: int | None
    thresholds: Thresholds
    calibration: Calibration
    frame_calibration: Calibration
    recipe: FaceRecipe
    reliable_input: ReliableInput
    metadata: dict[str, Any] = field(repr=False, compare=False)
    clip_score: str = "sequence"

    @property
    def name(self) -> str:
        """How reports name the model: ``architecture@file``."""
        return f"{self.architecture}@{self.path.name}"

    @classmethod
    def from_metadata(cls, path: str | Path, metadata: dict[str, Any],
                      input_shape: tuple[int | None, ...] | None = None, network: str | None = None) -> ModelInfo:
        """The typed view of ``metadata``; the loaded network's ``input_shape`` and name fill in what older files
        left out (a 5-D input is a video model's ``(batch, frames, size, size, 3)``)."""
        clip = input_shape is not None and len(input_shape) == 5
        kind = metadata.get("kind") or ("video" if clip else "image")
        size = metadata.get("image_size") or (input_shape[2 if clip else 1] if input_shape else None)
        frames = metadata.get("frames") or (input_shape[1] if clip else None)
        return cls(path=Path(path), kind=kind, architecture=metadata.get("architecture") or network or kind,
                   image_size=None if size is None else int(size), frames=None if frames is None else int(frames),
                   thresholds=Thresholds.from_metadata(metadata), calibration=Calibration.from_metadata(metadata),
                   frame_calibration=Calibration.from_metadata(metadata, "frame_calibration"),
                   recipe=FaceRecipe.from_metadata(metadata), reliable_input=ReliableInput.from_metadata(metadata),
                   metadata=metadata, clip_score=metadata.get("clip_score", "sequence"))

    @classmethod
    def read(cls, path: str | Path) -> ModelInfo:
        """The metadata of a model file without loading the network (for the About tab while it loads)."""
        return cls.from_metadata(path, read_metadata(path))


def load_served_model(path: str | Path, network: keras.Model | None = None) -> tuple[keras.Model, ModelInfo]:
    """``load_model`` with the metadata as a ``ModelInfo``: what the detectors and evaluation use. ``network``: the
    file's network, already loaded (not loaded again); its metadata is read now (a calibration may just have
    rewritten it)."""
    model = load_model(path)[0] if network is None else network
    return model, ModelInfo.from_metadata(path, read_metadata(path), tuple(model.input_shape), model.name)
