"""The result of analysing one file: the JSON contract shared by the scan CLI and the app."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from model.calibration import Thresholds

VERDICTS = ("real", "uncertain", "fake", "no_face", "error")


def rounded(value: float | None, digits: int = 4) -> float | None:
    """A probability as the JSON contract writes it."""
    return None if value is None else round(float(value), digits)


@dataclass
class ScoredFace:
    """A face, its detector confidence (None when the input was already a crop), its fake probability, the
    reasons, if any, why the input itself makes a verdict on it weak (``flags``: ``small``, ``compressed``) and,
    when asked for, its Grad-CAM ``heatmap`` (model resolution, 0–1)."""

    box: tuple[int, int, int, int]
    score: float | None
    fake_probability: float
    crop: np.ndarray = field(repr=False)
    flags: list[str] = field(default_factory=list)
    heatmap: np.ndarray | None = field(default=None, repr=False)

    @property
    def size_px(self) -> int:
        """The side of the square crop the model saw, in the input's pixels."""
        return int(min(self.crop.shape[:2]))

    def to_json(self, thresholds: Thresholds | None = None, heatmap_path: str | None = None) -> dict[str, Any]:
        """The face's fields; its call under ``thresholds``, and ``heatmap_path`` (its heatmap's file), when given."""
        data = {"box": [int(v) for v in self.box], "score": rounded(self.score),
                "fake_probability": rounded(self.fake_probability), "size_px": self.size_px,
                "flags": list(self.flags)}
        if thresholds is not None:
            data["verdict"] = thresholds.verdict(self.fake_probability)
        if heatmap_path is not None:
            data["heatmap"] = heatmap_path
        return data


@dataclass
class SampledFrameResult:
    """One sampled frame of a clip: where it is, how many faces it showed, and the main face's box and fake
    probability (None where the main face was not found in it)."""

    index: int
    time_s: float
    faces: int
    box: tuple[int, int, int, int] | None = None
    fake_probability: float | None = None

    def to_json(self, heatmap_path: str | None = None) -> dict[str, Any]:
        """The frame's fields, and ``heatmap_path`` (its main face's heatmap file) when given."""
        data = {"index": self.index, "time_s": round(self.time_s, 3), "faces": self.faces,
                "box": None if self.box is None else [int(v) for v in self.box],
                "fake_probability": rounded(self.fake_probability)}
        if heatmap_path is not None:
            data["heatmap"] = heatmap_path
        return data


@dataclass
class TrackResult:
    """A face followed across sampled frames (frame indices) and its mean fake probability, when scored."""

    id: int
    frames: list[int]
    mean_fake_probability: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "frames": list(self.frames),
                "mean_fake_probability": rounded(self.mean_fake_probability)}


@dataclass
class ClipSummary:
    """What a clip's report adds: the model that judged it (``video``, or ``image`` frame by frame), every
    sampled frame, every face track, the main face's probability under every model that ran (``scores``, with the
    verdict each would give), whether only the clip's first part was read, and ``flags`` (``few_frames``: the
    main face was found in too few frames for a confident verdict)."""

    model: str
    frames: list[SampledFrameResult] = field(default_factory=list)
    tracks: list[TrackResult] = field(default_factory=list)
    scores: dict[str, float] = field(default_factory=dict)
    score_verdicts: dict[str, str] = field(default_factory=dict)
    truncated: bool = False
    flags: list[str] = field(default_factory=list)

    @property
    def frames_sampled(self) -> int:
        return len(self.frames)

    @property
    def frames_with_face(self) -> int:
        """Sampled frames in which the main face was found."""
        return len(self.scored_frames)

    @property
    def scored_frames(self) -> list[SampledFrameResult]:
        """The frames with the main face, in order: one per face of the report."""
        return [frame for frame in self.frames if frame.fake_probability is not None]

    def to_json(self, heatmap_paths: Mapping[int, str] | None = None) -> dict[str, Any]:
        """The clip's fields; ``heatmap_paths`` (frame index → heatmap file) names the frames' heatmaps."""
        paths = heatmap_paths or {}
        return {"frames": [frame.to_json(paths.get(frame.index)) for frame in self.frames],
                "frames_with_face": self.frames_with_face, "frames_sampled": self.frames_sampled,
                "tracks": [track.to_json() for track in self.tracks], "video_model": self.model,
                "truncated": self.truncated, "flags": list(self.flags),
                "scores": {name: rounded(value) for name, value in self.scores.items()},
                "score_verdicts": dict(self.score_verdicts)}


@dataclass
class Report:
    """Everything said about one input; ``to_json`` gives the documented fields.

    The verdict is derived, never stored: ``error`` when ``error`` is set, ``no_face`` without a probability, else
    the ``thresholds``' call on ``fake_probability`` (``real`` below ``real_below``, ``fake`` from ``fake_from``,
    ``uncertain`` between), kept ``uncertain`` when a clip's evidence is weak (``few_frames``) or the file is
    damaged (``damaged``: why, in a few words; its decoder filled the damaged parts with guesses). ``jpeg_quality``
    and ``provenance`` (what the file says about its origin, beside the score, never in it) are for files;
    ``clip`` for videos."""

    path: str | None
    kind: str
    fake_probability: float | None = None
    faces: list[ScoredFace] = field(default_factory=list)
    model: str | None = None
    thresholds: Thresholds | None = None
    error: str | None = None
    jpeg_quality: int | None = None
    provenance: dict[str, Any] | None = None
    clip: ClipSummary | None = None
    damaged: str | None = None

    @property
    def verdict(self) -> str:
        if self.error is not None:
            return "error"
        if self.fake_probability is None or self.thresholds is None:
            return "no_face"
        call = self.thresholds.verdict(self.fake_probability)
        weak = (self.clip is not None and "few_frames" in self.clip.flags) or self.damaged is not None
        return "uncertain" if weak else call

    def frame_of(self, position: int) -> SampledFrameResult | None:
        """The sampled frame whose main face is the face at ``position`` (a clip has one scored frame per face, in
        order); None for a picture's faces."""
        frames = self.clip.scored_frames if self.clip is not None else []
        return frames[position] if position < len(frames) else None

    def to_json(self, heatmap_paths: Mapping[int, str] | None = None) -> dict[str, Any]:
        """The documented fields; ``heatmap_paths`` (face position → written heatmap file) names each face's
        heatmap file as its ``heatmap``, and for a clip also its frame's."""
        paths = heatmap_paths or {}
        thresholds = self.thresholds
        data = {"path": self.path, "kind": self.kind, "verdict": self.verdict,
                "fake_probability": rounded(self.fake_probability),
                "threshold": None if thresholds is None else rounded(thresholds.fake_from),
                "real_below": None if thresholds is None else rounded(thresholds.real_below),
                "faces": [face.to_json(thresholds, paths.get(position)) for position, face in enumerate(self.faces)],
                "model": self.model, "error": self.error}
        if self.clip is not None:
            frames = {frame.index: path for position, path in paths.items()
                      if (frame := self.frame_of(position)) is not None}
            data.update(self.clip.to_json(frames))
        if self.jpeg_quality is not None:
            data["jpeg_quality"] = self.jpeg_quality
        if self.damaged is not None:
            data["damaged"] = self.damaged
        if self.provenance is not None:
            data["provenance"] = self.provenance
        return data


def error_report(path: str | None, kind: str, message: str) -> Report:
    """A report for an input that could not be analysed, with a one-line reason."""
    return Report(path=path, kind=kind, error=message.splitlines()[0] if message else "error")
