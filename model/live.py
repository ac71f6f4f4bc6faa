"""Live camera mode: score the faces of each camera frame as it comes, and a rolling verdict over the last seconds.

The rolling verdict is the mean calibrated fake probability of each frame's most suspicious face over a short
window, judged with the image model's thresholds, so it speaks the same words as every other verdict. Frames that
arrive while one is being scored are never queued: the app's stream keeps only the newest.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from model.calibration import Thresholds
from model.image_detector import ImageDetector
from model.report import Report

LIVE_WINDOW_S = 3.0
LIVE_STREAM_EVERY_S = 0.25  # the browser sends a camera frame this often
LIVE_SECONDS = 60  # longest live session; then the stream stops and can be started again


@dataclass
class RollingVerdict:
    """The most suspicious face's probability of each recent frame (``(time, probability)``, None without a
    face) within ``window_s`` seconds, and how many frames were scored in all."""

    window_s: float = LIVE_WINDOW_S
    samples: deque[tuple[float, float | None]] = field(default_factory=deque)
    frames: int = 0

    def add(self, time_s: float, probability: float | None) -> None:
        """Add one scored frame and forget those older than the window."""
        self.samples.append((time_s, probability))
        self.frames += 1
        while self.samples and self.samples[0][0] < time_s - self.window_s:
            self.samples.popleft()

    @property
    def probabilities(self) -> list[float]:
        return [p for _, p in self.samples if p is not None]

    @property
    def fake_probability(self) -> float | None:
        """Mean over the window's frames with a face; None when none had one."""
        values = self.probabilities
        return float(np.mean(values)) if values else None

    def verdict(self, thresholds: Thresholds) -> str:
        """``real``, ``uncertain`` or ``fake`` for the window, or ``no_face``."""
        probability = self.fake_probability
        return "no_face" if probability is None else thresholds.verdict(probability)


class LiveScorer:
    """Scores camera frames with the image detector and keeps each session's rolling verdict."""

    def __init__(self, detector: ImageDetector, window_s: float = LIVE_WINDOW_S) -> None:
        self.detector = detector
        self.window_s = window_s

    @property
    def thresholds(self) -> Thresholds:
        return self.detector.scorer.thresholds

    def step(self, rgb: np.ndarray, rolling: RollingVerdict | None = None, now: float | None = None
             ) -> tuple[Report, RollingVerdict]:
        """This frame's report and the session's rolling verdict with it added (a new one for a new session)."""
        rolling = rolling if rolling is not None else RollingVerdict(self.window_s)
        report = self.detector.analyze(rgb)
        rolling.add(time.monotonic() if now is None else now, report.fake_probability)
        return report, rolling
