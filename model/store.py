"""Saving and loading models with their metadata (decision threshold, input size, provenance) beside them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
