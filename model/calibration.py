"""Calibrated fake probabilities and the three verdicts (``real``, ``uncertain``, ``fake``) stored with a model.

A model's raw sigmoid output is mapped through Platt scaling fitted on Validation (``train.calibrate``):
``p = sigmoid(slope * logit(raw) + intercept)``. Two thresholds on the calibrated probability split it into
``real`` (below ``real_below``), ``fake`` (at or above ``fake_from``) and ``uncertain`` in between.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

Verdict = Literal["real", "uncertain", "fake"]  # a calibrated probability judged by two thresholds

EPSILON = 1e-6


def logit(probability: np.ndarray | float) -> np.ndarray:
    p = np.clip(np.asarray(probability, np.float64), EPSILON, 1.0 - EPSILON)
    return np.log(p / (1.0 - p))


def sigmoid(z: np.ndarray) -> np.ndarray:
    """The probability of a logit (float32): ``logit``'s inverse."""
    return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)


def mean_logit(probabilities: Sequence[np.ndarray]) -> np.ndarray:
    """The probability whose logit is the mean of the given probabilities' logits: how a model with members
    (``model.store.ModelInfo.members``) combines its networks' raw scores before calibrating; one is itself."""
    if len(probabilities) == 1:
        return np.asarray(probabilities[0], np.float32)
    return sigmoid(np.mean([logit(p) for p in probabilities], axis=0))


@dataclass(frozen=True)
class Calibration:
    """Platt scaling of a model's probabilities; the identity by default."""

    slope: float = 1.0
    intercept: float = 0.0

    def __call__(self, probability: np.ndarray) -> np.ndarray:
        return sigmoid(self.slope * logit(probability) + self.intercept)

    def frame_mean(self, per_frame: np.ndarray) -> np.ndarray:
        """Each clip's frame-mean score: the mean of its frames' probabilities (the last axis), each calibrated
        first. Serving and training compute a ``frame_mean`` video model's clip score here alone."""
        return self(per_frame).mean(axis=-1)

    def to_json(self) -> dict[str, Any]:
        return {"method": "platt", "slope": self.slope, "intercept": self.intercept}

    @classmethod
    def from_json(cls, stored: dict[str, Any]) -> Calibration:
        return cls(float(stored["slope"]), float(stored["intercept"]))


@dataclass(frozen=True)
class Thresholds:
    """``fake`` at or above ``fake_from``, ``real`` below ``real_below``, ``uncertain`` between."""

    real_below: float
    fake_from: float

    def verdict(self, probability: float) -> Verdict:
        if probability >= self.fake_from:
            return "fake"
        return "real" if probability < self.real_below else "uncertain"
