"""Saving and loading models with their record beside them: ``ModelInfo``, one typed record of what a model is
(kind, input, face recipe, calibration, thresholds), where it came from (data, lineage, training) and how it
measured (tables). The record's JSON keys are its field names; this module alone writes them, and reads every file
through ``upgrade``, the one converter of older files' keys.

    python -m model.store upgrade model/weights/image_model.keras   # rewrite a file's metadata, weights untouched
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from model.calibration import Calibration, Thresholds
from model.face_recipe import FaceRecipe
from model.views import AS_CUT, checked_views

if TYPE_CHECKING:  # Keras is imported where a model is saved or loaded: ``--help`` must not wait for TensorFlow
    import keras

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
DEFAULT_IMAGE_MODEL = WEIGHTS_DIR / "image_model.keras"
DEFAULT_VIDEO_MODEL = WEIGHTS_DIR / "video_model.keras"


@dataclass(frozen=True)
class ReliableInput:
    """Below these a face gives weak evidence (flags ``small``, ``compressed``): the limits the model card's
    robustness table measured (``train.evaluate --robustness --store``); these defaults for models without one."""

    min_face_px: int = 64
    min_jpeg_quality: int = 50


@dataclass(frozen=True)
class Stage:
    """One step of a model's lineage: ``stage`` names it; the first says which ``weights`` it started from
    (ImageNet's package and version, random, a file); each later one the model file it started from (``start``),
    its ``command``, its recipe file (``config``) and the ``commit`` it ran at, where known."""

    stage: str
    weights: str | None = None
    start: str | None = None
    command: str | None = None
    config: str | None = None
    commit: str | None = None


@dataclass(frozen=True)
class Training:
    """How the last stage trained: the fit's summary (``train.common.fit``) and the trainer's settings; None where
    a trainer has no such thing (``lstm_units``, ``augmented_views``, ``frame_head``: video models; ``stage``:
    ``train.video``'s stage)."""

    stage: str | None = None
    epochs_run: int | None = None
    selected_epoch: int | None = None
    selected_on: str | None = None
    best_val_auc: float | None = None
    start_val_auc: float | None = None
    fitted_on: str | None = None
    wall_time_s: float | None = None
    hardware: str | None = None
    batch_size: int | None = None
    steps_per_epoch: int | None = None
    optimizer: dict[str, Any] | None = None
    self_blend_share: float | None = None
    greyscale_share: float | None = None  # of the training faces, turned grey by the augmentation
    view_consistency: float | None = None
    view_consistency_on: str | None = None  # "real" or "all" faces
    lstm_units: int | None = None
    augmented_views: int | None = None
    frame_head: str | None = None


Table = list[dict[str, Any]]


@dataclass(frozen=True)
class ModelInfo:
    """A saved model's record. ``kind``: ``image``, ``video`` or ``frames`` (a video trainer's frame stage);
    ``frames``: a video model's clip length; ``views``: the views of a face whose mean raw probability an image
    model calibrates (``model.views``); ``members``: other image models' files, beside this one, whose raw scores
    (each over its own views, the face capped at its own crop ceiling) are averaged with this network's in logit
    space (``model.calibration.mean_logit``) before the calibration, which is fitted on that mean (None: this
    network alone); ``real_below`` / ``fake_from``: the verdict band on the calibrated
    probability; ``frame_calibration``, ``frame_threshold``: a video model's per-frame ones; ``clip_score``: which
    of a video model's outputs its clip verdict calibrates (``sequence``: the BiLSTM's; ``frame_mean``: the mean of
    its per-frame probabilities, each calibrated by ``frame_calibration``); ``data``: the training domains (a list
    of name, path and weight; one folder for a video model); ``counts``: items per split; ``recipe_file``: the
    recipe file's text. The tables: ``validation``, ``validation_calibration`` (what calibrating measured),
    ``test_domains`` (one row per domain), ``test_metrics`` / ``test_frame_metrics`` (older trainers' one-threshold
    metrics), ``robustness``, ``shortcut_audit``, ``invariance``. ``path``: the file it was read from or written
    to, not stored in it. Fields that are None are left out of the JSON."""

    kind: str
    architecture: str
    image_size: int | None = None
    frames: int | None = None
    face_recipe: FaceRecipe = FaceRecipe()
    views: tuple[str, ...] = AS_CUT
    members: tuple[str, ...] | None = None
    calibration: Calibration = Calibration()
    real_below: float = 0.5
    fake_from: float = 0.5
    frame_calibration: Calibration | None = None
    frame_threshold: float | None = None
    clip_score: str | None = None
    reliable_input: ReliableInput = ReliableInput()
    data: Table | str | None = None
    counts: dict[str, Any] | None = None
    command: str | None = None
    recipe_file: str | None = None
    lineage: tuple[Stage, ...] = ()
    training: Training | None = None
    validation: dict[str, Any] | None = None
    validation_calibration: dict[str, Any] | None = None
    test_domains: Table | None = None
    test_metrics: dict[str, Any] | None = None
    test_frame_metrics: dict[str, Any] | None = None
    robustness: dict[str, Any] | None = None
    shortcut_audit: dict[str, Any] | None = None
    invariance: Table | None = None
    path: Path | None = field(default=None, compare=False)

    @property
    def name(self) -> str:
        """How reports name the model: ``architecture@file``."""
        return self.architecture if self.path is None else f"{self.architecture}@{self.path.name}"

    @property
    def member_paths(self) -> list[Path]:
        """The files of the networks in ``members``, in this record's folder (none without members)."""
        if not self.members:
            return []
        if self.path is None:
            raise ValueError("a model with members is read from its file: they lie beside it")
        return [self.path.parent / name for name in self.members]

    def check_member(self, member: ModelInfo) -> None:
        """Raise ``ValueError`` unless ``member`` can join this model's score: an image model that finds and frames
        faces as this one does (its crop ceiling may differ)."""
        if member.kind != "image" or member.face_recipe.cut_key() != self.face_recipe.cut_key():
            raise ValueError(f"{member.name} is no image model that finds and frames faces as {self.name} does: a "
                             "model's members may differ from it in their crop ceiling alone")

    @property
    def thresholds(self) -> Thresholds:
        """The verdict band: ``real`` below ``real_below``, ``fake`` from ``fake_from``."""
        return Thresholds(self.real_below, self.fake_from)

    def to_json(self) -> dict[str, Any]:
        """The stored form: one key per field that is not None (``path`` is where it is stored, not part of it)."""
        return {f.name: _to_json(getattr(self, f.name)) for f in fields(self)
                if f.name != "path" and getattr(self, f.name) is not None}

    @classmethod
    def from_json(cls, stored: dict[str, Any], path: str | Path | None = None) -> ModelInfo:
        """The record ``to_json`` stored (older files go through ``upgrade`` first); raises ``ValueError`` on a
        key that is no field."""
        unknown = set(stored) - {f.name for f in fields(cls) if f.name != "path"}
        if unknown:
            raise ValueError(f"unknown model metadata keys: {', '.join(sorted(unknown))}")
        return cls(**{key: READERS.get(key, _same)(value) for key, value in stored.items()},
                   path=None if path is None else Path(path))

    @classmethod
    def read(cls, path: str | Path, network: keras.Model | None = None) -> ModelInfo:
        """The record of a model file, through ``upgrade``; ``network``, the file's loaded network, fills in what
        older files left out (without it, for the About tab while the model loads, they stay unknown)."""
        shape = None if network is None else tuple(network.input_shape)
        return cls.from_json(upgrade(read_metadata(path), shape, None if network is None else network.name), path)


def _to_json(value: Any) -> Any:
    if hasattr(value, "to_json"):
        return value.to_json()
    if is_dataclass(value):
        return {key: item for key, item in asdict(value).items() if item is not None}
    if isinstance(value, tuple):
        return [_to_json(item) for item in value]
    return value


def _same(value: Any) -> Any:
    return value


READERS: dict[str, Callable[[Any], Any]] = {
    "face_recipe": lambda stored: FaceRecipe(**stored),
    "views": checked_views,
    "members": tuple,
    "calibration": Calibration.from_json,
    "frame_calibration": Calibration.from_json,
    "reliable_input": lambda stored: ReliableInput(**stored),
    "lineage": lambda stored: tuple(Stage(**stage) for stage in stored),
    "training": lambda stored: Training(**stored),
}

LEGACY_STARTS = ("initial_weights", "backbone", "backbone_weights")  # what older files said a model started from


def upgrade(metadata: dict[str, Any], input_shape: tuple[int | None, ...] | None = None,
            network: str | None = None) -> dict[str, Any]:
    """The one converter of older metadata to the record's keys (current files come back as they are): ``threshold``
    becomes ``fake_from`` (``real_below`` no higher; both 0.5 where none was stored), ``initial_weights`` /
    ``backbone`` / ``backbone_weights`` and ``init`` become a lineage (dropped where one is stored), the training
    summary's flat keys go into ``training``, an empty calibration and null values are left out; the loaded
    network's ``input_shape`` and name fill in ``kind``, ``image_size``, ``frames`` and ``architecture`` (a 5-D
    input is a video model's ``(batch, frames, size, size, 3)``), and a video model without them gets identity
    per-frame calibration and its ``sequence`` clip score; a recipe without a crop ceiling (or no recipe) had none.
    Values are kept as they are."""
    stored = {key: value for key, value in metadata.items() if value is not None}
    threshold = stored.pop("threshold", None)
    fake_from = float(stored.get("fake_from", 0.5 if threshold is None else threshold))
    stored.update(fake_from=fake_from, real_below=min(float(stored.get("real_below", fake_from)), fake_from))
    for key in ("calibration", "frame_calibration"):
        if not stored.get(key, True):
            del stored[key]
    # a file saved before its recipe (or the crop ceiling) was recorded cut faces without a ceiling
    stored["face_recipe"] = {"crop_ceiling": None, **stored.get("face_recipe", {})}
    clip = input_shape is not None and len(input_shape) == 5
    stored.setdefault("kind", "video" if clip else "image")
    stored.setdefault("architecture", network or stored["kind"])
    if input_shape:
        sizes = {"image_size": input_shape[2 if clip else 1], "frames": input_shape[1] if clip else None}
        stored.update({key: int(value) for key, value in sizes.items() if value is not None and key not in stored})
    if stored["kind"] == "video":
        stored.setdefault("frame_calibration", Calibration().to_json())
        stored.setdefault("clip_score", "sequence")
    starts = [stored.pop(key) for key in LEGACY_STARTS if key in stored]
    init = stored.pop("init", None)
    if "lineage" not in stored and (starts or init):
        run = {"stage": "this run", "start": init, "command": stored.get("command")}
        stored["lineage"] = [{"stage": "start", "weights": starts[0] if starts else "unknown"},
                             {key: value for key, value in run.items() if value is not None}]
    training = {f.name: stored.pop(f.name) for f in fields(Training) if f.name in stored}
    if training:
        stored["training"] = {**stored.get("training", {}), **training}
    return stored


def metadata_path(model_path: str | Path) -> Path:
    """The JSON file that travels with a ``.keras`` file."""
    return Path(model_path).with_suffix(".json")


def save_model(model: keras.Model, path: str | Path, record: ModelInfo) -> ModelInfo:
    """Save ``model`` and its record side by side; returns the record with its ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    return write_metadata(path, record)


def write_metadata(model_path: str | Path, record: ModelInfo) -> ModelInfo:
    """(Re)write the metadata JSON of a saved model; returns the record with its ``path``."""
    metadata_path(model_path).write_text(json.dumps(record.to_json(), indent=2, sort_keys=True) + "\n")
    return replace(record, path=Path(model_path))


def read_metadata(model_path: str | Path) -> dict[str, Any]:
    """A model's metadata JSON as stored (older files with older keys); an empty dict when none was written."""
    path = metadata_path(model_path)
    return json.loads(path.read_text()) if path.exists() else {}


def load_network(path: str | Path) -> keras.Model:
    """Load a ``.keras`` network in safe mode (no Lambda layers, no pickles); the project's own layers
    (``model.backbones.Luminance``) are registered first."""
    import keras

    import model.backbones  # noqa: F401  (registers the layers a saved network may hold)

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"model file not found: {path}")
    return keras.saving.load_model(path, compile=False, safe_mode=True)


def load_served_model(path: str | Path, network: keras.Model | None = None) -> tuple[keras.Model, ModelInfo]:
    """The network at ``path`` with its record: what the detectors, evaluation and the trainers use. ``network``:
    the file's network, already loaded (not loaded again); the record is read now (a calibration may just have
    rewritten it)."""
    model = load_network(path) if network is None else network
    return model, ModelInfo.read(path, model)


def upgrade_file(path: str | Path) -> bool:
    """Rewrite a model's metadata through ``upgrade`` (the network is loaded only where the file leaves out what
    its input shape says); the weights are not touched. Returns whether the file changed."""
    stored = read_metadata(path)
    shape_needed = not {"kind", "architecture", "image_size"} <= set(stored) or (
        stored["kind"] == "video" and "frames" not in stored)
    record = ModelInfo.read(path, load_network(path) if shape_needed else None)
    if record.to_json() == stored:
        return False
    write_metadata(path, record)
    return True


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m model.store", description="Model files' metadata.")
    commands = parser.add_subparsers(dest="command", required=True)
    upgrading = commands.add_parser("upgrade", help="rewrite older metadata in the record's keys (idempotent; "
                                    "the .keras file is not touched)")
    upgrading.add_argument("models", nargs="+", metavar="MODEL.keras")
    args = parser.parse_args(argv)
    for model in args.models:
        print(f"{model}: {'upgraded' if upgrade_file(model) else 'already current'}")


if __name__ == "__main__":
    main()
