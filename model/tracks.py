"""Link the faces found in sampled video frames into tracks, one per person, and pick the main one.

Sampled frames can be a fraction of a second or several seconds apart, so a face may move far between them:
a face joins a track when its centre lies within ``MAX_SHIFT`` face sizes of the centre of the track's last box
per sampled frame since then, and the two boxes are of similar size (a plain overlap test would split a face that
moves between samples). A track survives frames where its face was missed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

Box = tuple[int, int, int, int]

MAX_SHIFT = 2.0
MAX_SIZE_RATIO = 2.0


@dataclass
class Track:
    """One face followed over sampled frames: ``members`` are (frame position, face position in that frame)."""

    id: int
    members: list[tuple[int, int]] = field(default_factory=list)
    boxes: list[Box] = field(default_factory=list)

    @property
    def frames(self) -> list[int]:
        return [frame for frame, _ in self.members]

    def add(self, frame: int, face: int, box: Box) -> None:
        self.members.append((frame, face))
        self.boxes.append(box)

    def mean_area(self) -> float:
        return sum(w * h for _, _, w, h in self.boxes) / len(self.boxes)


def distance(a: Box, b: Box) -> float | None:
    """How far apart two boxes are, in face sizes (centre distance over the geometric mean side); ``None`` when
    they cannot be the same face (too different in size)."""
    size_a, size_b = math.sqrt(a[2] * a[3]), math.sqrt(b[2] * b[3])
    if max(size_a, size_b) > MAX_SIZE_RATIO * min(size_a, size_b):
        return None
    shift = math.hypot(a[0] + a[2] / 2 - b[0] - b[2] / 2, a[1] + a[3] / 2 - b[1] - b[3] / 2)
    return shift / math.sqrt(size_a * size_b)


def _speed(track: Track, frame: int, box: Box) -> float | None:
    """Face sizes moved per sampled frame if ``box`` continued ``track``; ``None`` when it cannot."""
    shift = distance(track.boxes[-1], box)
    if shift is None:
        return None
    speed = shift / (frame - track.members[-1][0])
    return speed if speed <= MAX_SHIFT else None


def link_tracks(boxes_per_frame: list[list[Box]]) -> list[Track]:
    """Tracks over the sampled frames, main track first (most frames, then largest face), ids in that order.

    Each frame's faces are matched greedily, slowest moves first, to the last box of each track; a face matches
    at most one track and unmatched faces start new tracks.
    """
    tracks: list[Track] = []
    for frame, boxes in enumerate(boxes_per_frame):
        pairs = sorted((speed, t, f) for t, track in enumerate(tracks) for f, box in enumerate(boxes)
                       if (speed := _speed(track, frame, box)) is not None)
        used_tracks: set[int] = set()
        used_faces: set[int] = set()
        for _, t, f in pairs:
            if t not in used_tracks and f not in used_faces:
                tracks[t].add(frame, f, boxes[f])
                used_tracks.add(t)
                used_faces.add(f)
        for f, box in enumerate(boxes):
            if f not in used_faces:
                tracks.append(Track(id=len(tracks)))
                tracks[-1].add(frame, f, box)
    tracks.sort(key=lambda track: (len(track.members), track.mean_area()), reverse=True)
    for new_id, track in enumerate(tracks):
        track.id = new_id
    return tracks
