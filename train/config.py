"""A training run's settings, parsed from its command line once into a frozen record.

Each trainer's ``main`` parses its flags and builds its config (``ImageConfig``, ``VideoConfig``) with
``from_namespace``; everything below reads the config and never the parser. Library code raises
``TrainingError`` with one sentence; only ``main`` turns it into a usage message (``parser.error``).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal, TypeVar

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

VALIDATION_PER_CLASS = 600  # Validation faces per domain and class that select and calibrate a model
REDUCE_LR_FACTOR = 0.5  # the plateau schedule: the rate is halved after patience // 2 stalled epochs
MIN_LR = 1e-6
MAX_PEOPLE_CALLED_FAKE = 0.05  # the band: at most this share of a people domain's Validation real faces called fake,
MAX_UNCERTAIN = 0.3  # and at most this share of the Validation faces, pooled and of each domain, left uncertain

Config = TypeVar("Config", bound="TrainConfig")
ViewFaces = Literal["real", "all"]  # the faces whose verdicts the view-consistency loss holds to their views


class TrainingError(ValueError):
    """A run that cannot go ahead as asked (flags that do not fit together, data that is not there)."""


def read_config_file(path: str | Path, parser: argparse.ArgumentParser) -> tuple[dict[str, Any], tuple[dict, ...]]:
    """A recipe file (TOML): its flags (keys are the trainer's long flags with ``_`` for ``-``) and its
    ``[[data]]`` tables. Raises ``TrainingError`` for a file that cannot be read or a key no flag has."""
    try:
        with open(path, "rb") as handle:
            recipe = tomllib.load(handle)
    except OSError as error:
        raise TrainingError(f"cannot read the config {path}: {error.strerror or error}") from None
    except tomllib.TOMLDecodeError as error:
        raise TrainingError(f"{path} is not valid TOML: {error}") from None
    tables = recipe.pop("data", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise TrainingError(f"{path}: data must be [[data]] tables")
    dest = {option[2:].replace("-", "_"): action.dest for action in parser._actions
            for option in action.option_strings if option.startswith("--")}
    unknown = sorted(key for key in recipe if key not in dest or key in ("help", "config"))
    if unknown:
        raise TrainingError(f"{path}: no such flag: {', '.join(unknown)}")
    return {dest[key]: value for key, value in recipe.items()}, tuple(tables)


def parse_with_config(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Parse ``argv``; with ``--config FILE`` the file's flags are the defaults that the command line overrides,
    and its ``[[data]]`` tables are added to the domains (``namespace.data_tables``)."""
    first, _ = parser.parse_known_args(argv)
    tables: tuple[dict, ...] = ()
    if getattr(first, "config", None):
        try:
            flags, tables = read_config_file(first.config, parser)
        except TrainingError as error:
            parser.error(str(error))
        parser.set_defaults(**flags)
    namespace = parser.parse_args(argv)
    namespace.data_tables, namespace.config_file = tables, getattr(first, "config", None)
    return namespace


def check_share(flag: str, value: float) -> None:
    """Raise ``TrainingError`` unless ``flag``'s ``value`` is a share (0 to 1)."""
    if not 0.0 <= value <= 1.0:
        raise TrainingError(f"{flag} must be a share from 0 to 1, not {value:g}")


def check_band(max_people_called_fake: float, max_uncertain: float) -> None:
    """Raise ``TrainingError`` unless both bounds of the verdict band are shares (0 to 1)."""
    check_share("--max-people-called-fake", max_people_called_fake)
    check_share("--max-uncertain", max_uncertain)


@dataclass(frozen=True)
class FitSettings:
    """How long and how ``train.common.fit`` trains: epochs, early-stopping patience, TensorBoard folder (None:
    the run folder's ``tensorboard``), and whether the rate halves when Validation stalls (``plateau``; off when
    the optimizer follows a schedule of its own)."""

    epochs: int
    patience: int
    logdir: str | None = None
    plateau: bool = True

    def tensorboard_dir(self, out: Path) -> Path:
        """Where TensorBoard logs go: ``logdir``, else the run folder's ``tensorboard``."""
        return Path(self.logdir) if self.logdir else out / "tensorboard"


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """Flags every trainer takes (``train.flags.add_common_flags``) and the command as typed."""

    data: tuple[str, ...]
    data_spec: str | None = None
    data_tables: tuple[dict[str, Any], ...] = ()
    config_file: str | None = None
    out: Path
    logdir: str | None
    epochs: int
    batch_size: int
    lr: float
    val_split: float
    patience: int
    seed: int
    limit_per_class: int | None
    strategy: str
    command: str

    @classmethod
    def from_namespace(cls: type[Config], namespace: argparse.Namespace, **values) -> Config:
        """The config of the parsed flags (``values`` override them or add what flags do not give)."""
        given = {f.name: getattr(namespace, f.name) for f in fields(cls) if hasattr(namespace, f.name)}
        config = cls(**{**given, **values})
        config.check()
        return config

    def check(self) -> None:
        """Raise ``TrainingError`` when the flags do not fit together."""

    @property
    def fit_settings(self) -> FitSettings:
        return FitSettings(self.epochs, self.patience, self.logdir)


@dataclass(frozen=True, kw_only=True)
class FaceTrainConfig(TrainConfig):
    """Flags of a per-face trainer (``train.flags.add_face_training_flags``)."""

    self_blend_share: float
    greyscale_share: float
    view_consistency: float
    view_consistency_on: ViewFaces
    steps_per_epoch: int | None
    val_per_class: int
    face_cache: str
    select_on: str
    lr_schedule: str
    weight_decay: float
    warmup_steps: int
    batch_norm: str
    max_people_called_fake: float
    max_uncertain: float
    test: bool

    def check(self) -> None:
        super().check()
        if not 0.0 <= self.self_blend_share < 1.0:
            raise TrainingError("--self-blend-share must be in [0, 1)")
        check_share("--greyscale-share", self.greyscale_share)
        check_band(self.max_people_called_fake, self.max_uncertain)
        if self.view_consistency < 0:
            raise TrainingError("--view-consistency must be 0 or more")
        if self.view_consistency > 0 and self.batch_size % 4:
            raise TrainingError("--view-consistency needs a batch size that is a multiple of 4")

    @property
    def fit_settings(self) -> FitSettings:
        return FitSettings(self.epochs, self.patience, self.logdir, plateau=self.lr_schedule == "plateau")
