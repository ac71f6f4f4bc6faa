"""The result of analysing one file: the JSON contract shared by the scan CLI and the app."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from model.calibration import Thresholds

VERDICTS = ("real", "uncertain", "fake", "no_face", "error")


@dataclass
class ScoredFace:
    """A face, its detector confidence (None when the input was already a crop), its fake probability, the
    reasons, if any, why the input itself makes a verdict on it weak (``flags``: ``small``, ``compressed``) and,
    when asked for, its Grad-CAM ``heatmap`` (model resolution, 0–1) and the file it was written to."""

    box: tuple[int, int, int, int]
    score: float | None
    fake_probability: float
    crop: np.ndarray = field(repr=False)
    flags: list[str] = field(default_factory=list)
    heatmap: np.ndarray | None = field(default=None, repr=False)
    heatmap_path: str | None = None

    @property
    def size_px(self) -> int:
        """The side of the square crop the model saw, in the input's pixels."""
        return int(min(self.crop.shape[:2]))

    def to_json(self, thresholds: Thresholds | None = None) -> dict[str, Any]:
        data = {"box": [int(v) for v in self.box], "score": None if self.score is None else round(self.score, 4),
                "fake_probability": round(float(self.fake_probability), 4), "size_px": self.size_px,
                "flags": list(self.flags)}
        if thresholds is not None:
            data["verdict"] = thresholds.verdict(self.fake_probability)
        if self.heatmap_path is not None:
            data["heatmap"] = self.heatmap_path
        return data


@dataclass
class Report:
    """Everything said about one input; ``to_json`` gives the documented fields. ``threshold``: fake at or above;
    ``real_below``: real below; ``uncertain`` between (equal for models without an uncertain band)."""

    path: str | None
    kind: str
    verdict: str
    fake_probability: float | None = None
    faces: list[ScoredFace] = field(default_factory=list)
    model: str | None = None
    threshold: float | None = None
    real_below: float | None = None
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def thresholds(self) -> Thresholds | None:
        if self.threshold is None:
            return None
        return Thresholds(self.threshold if self.real_below is None else self.real_below, self.threshold)

    def decide(self, thresholds: Thresholds) -> None:
        """Store ``thresholds`` and set the verdict from ``fake_probability``."""
        self.threshold, self.real_below = thresholds.fake_from, thresholds.real_below
        if self.fake_probability is not None:
            self.verdict = thresholds.verdict(self.fake_probability)

    def to_json(self) -> dict[str, Any]:
        probability = None if self.fake_probability is None else round(float(self.fake_probability), 4)
        thresholds = self.thresholds
        return {"path": self.path, "kind": self.kind, "verdict": self.verdict, "fake_probability": probability,
                "threshold": None if thresholds is None else round(thresholds.fake_from, 4),
                "real_below": None if thresholds is None else round(thresholds.real_below, 4),
                "faces": [face.to_json(thresholds) for face in self.faces], "model": self.model, "error": self.error,
                **self.extra}


def error_report(path: str | None, kind: str, message: str) -> Report:
    """A report for an input that could not be analysed, with a one-line reason."""
    return Report(path=path, kind=kind, verdict="error", error=message.splitlines()[0] if message else "error")
