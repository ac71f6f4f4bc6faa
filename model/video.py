"""Read video clips safely: frames spread over the clip, decoded one at a time so memory never grows with length.

Frame counts are trusted only where the container stores them (MP4, MOV, AVI). Matroska/WebM files, such as
browser webcam recordings, often carry no duration or a wrong one, and OpenCV then reports a frame count that is
zero, negative or simply wrong: such clips are counted with a first decoding pass that keeps no frame. Frames are
read by grabbing sequentially (seeking in long-GOP H.264 was over ten times slower on the project's clips), and
only the first ``max_seconds`` of a clip are analysed.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from model.imaging import InputError, regular_file_size, too_large

VIDEO_EXTENSIONS = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v"})
MAX_SECONDS = 60.0
FALLBACK_FPS = 30.0
MAX_FPS = 240.0
MATROSKA_MAGIC = b"\x1a\x45\xdf\xa3"
MAX_FRAME_PIXELS = 4096 * 2304  # 4K and a little more: a decoded frame is held a few at a time, each up to 28 MB


@dataclass(frozen=True)
class Frame:
    """One decoded frame: its index in the clip, its time in seconds and its RGB uint8 pixels."""

    index: int
    time_s: float
    rgb: np.ndarray


def spread(count: int, samples: int) -> np.ndarray:
    """``samples`` indices evenly spread over ``range(count)``, first and last included (repeats when short)."""
    if count <= 0 or samples <= 0:
        return np.zeros((0,), int)
    return np.linspace(0, count - 1, samples).round().astype(int)


def _capture(path: Path) -> cv2.VideoCapture:
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    if not capture.isOpened():
        capture.release()
        raise InputError("no video stream could be read from the file")
    capture.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)  # apply rotation metadata (phone clips)
    width, height = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    if width * height > MAX_FRAME_PIXELS:  # refused before a single frame is decoded
        capture.release()
        raise InputError(too_large("video", MAX_FRAME_PIXELS, (width, height), unit=" a frame"))
    return capture


def _frame_time(capture: cv2.VideoCapture, index: int, fps: float | None) -> float:
    """Seconds of the frame just grabbed: its timestamp where the container has one, else index / fps."""
    msec = capture.get(cv2.CAP_PROP_POS_MSEC)
    if math.isfinite(msec) and (msec > 0 or index == 0):
        return max(msec, 0.0) / 1000.0
    return index / (fps or FALLBACK_FPS)


@dataclass(frozen=True)
class Clip:
    """A readable clip: ``frame_count`` frames within the analysed span, ``truncated`` when the clip is longer."""

    path: Path
    frame_count: int
    fps: float | None
    truncated: bool

    def frames(self, samples: int) -> Iterator[Frame]:
        """Up to ``samples`` frames spread over the analysed span, in order, decoded in one sequential pass.

        Fewer come back when the clip ends early (a wrong frame count); raises ``InputError`` when none decodes.
        """
        return self.frames_at(spread(self.frame_count, samples))

    def frames_at(self, indices: np.ndarray | list[int]) -> Iterator[Frame]:
        """The frames at ``indices`` (any order, repeats ignored), in clip order, decoded in one sequential pass:
        the one frame reader of serving and training. Raises ``InputError`` when none decodes."""
        wanted = np.unique(np.asarray(indices, int))
        if not len(wanted):
            raise InputError("no frame of the video could be decoded")
        capture = _capture(self.path)
        position = decoded = 0
        try:
            for index in range(int(wanted[-1]) + 1):
                if not capture.grab():
                    break
                if index != wanted[position]:
                    continue
                position += 1
                ok, bgr = capture.retrieve()
                if ok and bgr is not None and bgr.size:
                    decoded += 1
                    yield Frame(index, _frame_time(capture, index, self.fps), cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        finally:
            capture.release()
        if decoded == 0:
            raise InputError("no frame of the video could be decoded")


def open_clip(path: str | Path, max_seconds: float = MAX_SECONDS) -> Clip:
    """Check that ``path`` holds a decodable video and count its frames within the first ``max_seconds``.

    Raises ``InputError`` (one short sentence) for missing, empty or unreadable files and for files without a video
    stream (audio only).
    """
    path = Path(path)
    try:
        size = regular_file_size(path)
        with path.open("rb") as handle:
            magic = handle.read(len(MATROSKA_MAGIC))
    except OSError as error:
        raise InputError(f"cannot open file: {error.strerror or error}") from None
    if size == 0:
        raise InputError("the file is empty")
    capture = _capture(path)
    try:
        fps = capture.get(cv2.CAP_PROP_FPS)
        fps = fps if math.isfinite(fps) and 0 < fps <= MAX_FPS else None
        limit = max(1, int(round(max_seconds * (fps or FALLBACK_FPS))))
        reported = capture.get(cv2.CAP_PROP_FRAME_COUNT)
        if magic != MATROSKA_MAGIC and math.isfinite(reported) and 0 < reported < 2**31:
            count, truncated = min(int(reported), limit), int(reported) > limit
        else:
            count, truncated = _count_frames(capture, limit, max_seconds, fps)
    finally:
        capture.release()
    if count <= 0:
        raise InputError("no frame of the video could be decoded")
    return Clip(path, count, fps, truncated)


def _count_frames(capture: cv2.VideoCapture, limit: int, max_seconds: float, fps: float | None) -> tuple[int, bool]:
    """Count frames by decoding them (keeping none) up to ``limit`` frames or ``max_seconds``; also says whether
    the clip goes on beyond that."""
    count = 0
    while capture.grab():
        if count >= limit or _frame_time(capture, count, fps) > max_seconds:
            return count, True
        count += 1
    return count, False
