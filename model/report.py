"""The result of analysing one file: the JSON contract shared by the scan CLI and the app."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


def verdict_for(probability: float, threshold: float) -> str:
    """``fake`` at or above the model's decision threshold, else ``real``."""
    return "fake" if probability >= threshold else "real"


@dataclass
class ScoredFace:
    """A face, its detector confidence (None when the input was already a crop) and its fake probability."""

    box: tuple[int, int, int, int]
    score: float | None
    fake_probability: float
    crop: np.ndarray = field(repr=False)

    def to_json(self) -> dict[str, Any]:
        return {"box": [int(v) for v in self.box], "score": None if self.score is None else round(self.score, 4),
                "fake_probability": round(float(self.fake_probability), 4)}


@dataclass
class Report:
    """Everything said about one input; ``to_json`` gives the documented fields."""

    path: str | None
    kind: str
    verdict: str
    fake_probability: float | None = None
    faces: list[ScoredFace] = field(default_factory=list)
    model: str | None = None
    threshold: float | None = None
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        probability = None if self.fake_probability is None else round(float(self.fake_probability), 4)
        return {"path": self.path, "kind": self.kind, "verdict": self.verdict, "fake_probability": probability,
                "threshold": None if self.threshold is None else round(self.threshold, 4),
                "faces": [face.to_json() for face in self.faces], "model": self.model, "error": self.error,
                **self.extra}


def error_report(path: str | None, kind: str, message: str) -> Report:
    """A report for an input that could not be analysed, with a one-line reason."""
    return Report(path=path, kind=kind, verdict="error", error=message.splitlines()[0] if message else "error")
