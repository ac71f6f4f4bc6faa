"""Reading clips: every container the app accepts, wrong frame counts, the length bound, rotation, bad files."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import wave
from pathlib import Path

import cv2
import numpy as np
import pytest

from model.imaging import InputError
from model.video import Clip, open_clip, spread
from tests.conftest import SHARED_DATA

FOURCCS = {".mp4": "mp4v", ".mov": "mp4v", ".webm": "VP80", ".mkv": "VP80", ".avi": "MJPG"}
DURATION_ID = b"\x44\x89\x88"  # Matroska Segment Info > Duration, an 8-byte float in timecode units
needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="the ffmpeg command is not installed")


def write_clip(path: Path, frames: list[np.ndarray], fps: float = 10.0) -> Path:
    """Write RGB frames with OpenCV's FFmpeg backend (codec chosen by the file extension)."""
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*FOURCCS[path.suffix]), fps, (width, height))
    assert writer.isOpened(), f"this OpenCV cannot write {path.suffix}"
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def numbered_frames(count: int, height: int = 96) -> list[np.ndarray]:
    """Frames whose white square moves 3 pixels right each frame, so that a decoded frame tells its index."""
    frames = []
    for index in range(count):
        frame = np.full((height, 3 * count + 40, 3), 40, np.uint8)
        frame[36:60, 8 + 3 * index:32 + 3 * index] = 255
        frames.append(frame)
    return frames


def index_of(rgb: np.ndarray) -> int:
    """The index drawn by ``numbered_frames``, read back from the square's position."""
    columns = np.flatnonzero(rgb[36:60].mean(axis=(0, 2)) > 150)
    return int(round((columns.mean() - 19.5) / 3))


def set_webm_duration(path: Path, factor: float | None) -> None:
    """Scale the stored duration of a WebM file, or blank it out (``None``) as browser recorders leave it."""
    data = bytearray(path.read_bytes())
    at = data.find(DURATION_ID)
    assert at > 0
    if factor is None:
        data[at:at + 11] = b"\xec\x89" + bytes(9)  # an EBML Void element of the same length
    else:
        (duration,) = struct.unpack(">d", data[at + 3:at + 11])
        data[at + 3:at + 11] = struct.pack(">d", duration * factor)
    path.write_bytes(bytes(data))


def sampled(clip: Clip, samples: int) -> list[tuple[int, int, float]]:
    """(index reported, index read from the pixels, time) of each sampled frame."""
    return [(frame.index, index_of(frame.rgb), frame.time_s) for frame in clip.frames(samples)]


def test_spread_includes_both_ends_and_repeats_when_short():
    assert spread(100, 5).tolist() == [0, 25, 50, 74, 99]
    assert spread(2, 4).tolist() == [0, 0, 1, 1]
    assert spread(0, 4).tolist() == []


@pytest.mark.parametrize("suffix", sorted(FOURCCS))
def test_each_container_is_sampled_evenly(tmp_path, suffix):
    path = write_clip(tmp_path / f"clip{suffix}", numbered_frames(40), fps=10)
    clip = open_clip(path)
    assert (clip.frame_count, clip.fps, clip.truncated) == (40, 10.0, False)
    frames = sampled(clip, 5)
    assert [index for index, _, _ in frames] == [0, 10, 20, 29, 39]
    assert [seen for _, seen, _ in frames] == [0, 10, 20, 29, 39]
    assert [time for _, _, time in frames] == pytest.approx([0.0, 1.0, 2.0, 2.9, 3.9], abs=0.01)


@pytest.mark.parametrize("factor", [None, 0.3, 3.0])
def test_webm_with_missing_or_wrong_duration_is_counted(tmp_path, factor):
    path = write_clip(tmp_path / "recording.webm", numbered_frames(40), fps=10)
    set_webm_duration(path, factor)
    reported = cv2.VideoCapture(str(path)).get(cv2.CAP_PROP_FRAME_COUNT)
    assert reported != 40  # OpenCV is misled, as with browser recordings
    clip = open_clip(path)
    assert clip.frame_count == 40
    assert [seen for _, seen, _ in sampled(clip, 4)] == [0, 13, 26, 39]


@pytest.mark.parametrize("suffix", [".mp4", ".webm"])
def test_long_clips_are_cut_at_max_seconds(tmp_path, suffix):
    path = write_clip(tmp_path / f"long{suffix}", numbered_frames(50), fps=10)
    clip = open_clip(path, max_seconds=2.0)
    assert clip.truncated and clip.frame_count == 20
    frames = sampled(clip, 3)
    assert frames[0][1] == 0 and frames[-1][1] == clip.frame_count - 1 and frames[-1][2] <= 2.0


def test_more_samples_than_frames_gives_each_frame_once(tmp_path):
    clip = open_clip(write_clip(tmp_path / "short.avi", numbered_frames(6), fps=5))
    assert [seen for _, seen, _ in sampled(clip, 20)] == list(range(6))


def test_frames_are_decoded_lazily_one_at_a_time(tmp_path):
    clip = open_clip(write_clip(tmp_path / "clip.mp4", numbered_frames(30), fps=10))
    frames = clip.frames(10)
    first = next(frames)
    assert first.index == 0 and first.rgb.shape == (96, 130, 3) and first.rgb.dtype == np.uint8
    frames.close()  # releases the decoder without reading the rest


@needs_ffmpeg
def test_rotation_metadata_is_applied_as_players_do(tmp_path):
    landscape = np.zeros((96, 128, 3), np.uint8)
    landscape[:, :32] = 255  # a white band on the left
    source = write_clip(tmp_path / "landscape.mp4", [landscape] * 5)
    rotated, shown = tmp_path / "portrait.mp4", tmp_path / "shown.png"
    for command in (["-i", str(source), "-c", "copy", "-metadata:s:v:0", "rotate=90", str(rotated)],
                    ["-i", str(rotated), "-frames:v", "1", str(shown)]):  # ffmpeg's own, rotated, rendering
        subprocess.run(["ffmpeg", "-v", "error", "-y", *command], check=True, timeout=60)
    frame = next(open_clip(rotated).frames(1)).rgb
    assert frame.shape == (128, 96, 3)
    assert np.abs(frame.astype(int) - cv2.imread(str(shown))[..., ::-1]).mean() < 5


def write_wav(path: Path, seconds: float = 0.5, rate: int = 8000) -> Path:
    tone = (np.sin(np.arange(int(seconds * rate)) * 2 * np.pi * 440 / rate) * 20000).astype("<i2")
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(tone.tobytes())
    return path


@pytest.fixture
def bad_clips(tmp_path) -> Path:
    """Files users send by mistake, all with video extensions."""
    good = write_clip(tmp_path / "good.mp4", numbered_frames(20)).read_bytes()
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "text.webm").write_text("not a video at all\n" * 50)
    (tmp_path / "noise.avi").write_bytes(np.random.default_rng(0).integers(0, 256, 20000, np.uint8).tobytes())
    (tmp_path / "truncated.mp4").write_bytes(good[:len(good) // 2])
    write_wav(tmp_path / "voice.mp4")
    (tmp_path / "folder.mkv").mkdir()
    return tmp_path


def test_clips_with_frames_over_the_limit_are_refused_before_a_frame_is_decoded(tmp_path):
    """A 5000×4000 clip: one sentence, worded as for pictures, and the decoder never holds one of its frames."""
    import sys

    clip = write_clip(tmp_path / "huge.avi", [np.zeros((4000, 5000, 3), np.uint8)] * 3)
    with pytest.raises(InputError) as caught:
        open_clip(clip)
    assert str(caught.value) == "the video is too large (5000×4000 pixels a frame; limit 9 megapixels a frame)"
    script = ("import resource, sys\nfrom model.video import open_clip\nbefore = resource.getrusage("
              "resource.RUSAGE_SELF).ru_maxrss\ntry:\n    open_clip(sys.argv[1])\nexcept ValueError:\n    pass\n"
              "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)")
    grown_kb = int(subprocess.run([sys.executable, "-c", script, str(clip)], capture_output=True, text=True,
                                  timeout=120, cwd=Path(__file__).resolve().parents[1]).stdout.split()[-1])
    assert grown_kb < 30_000  # one decoded frame alone would be 60 MB


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_named_pipe_is_refused_without_being_opened(tmp_path):
    os.mkfifo(tmp_path / "pipe.mp4")
    with pytest.raises(InputError, match="not a regular file"):
        open_clip(tmp_path / "pipe.mp4")  # opening it would wait for a writer forever


@pytest.mark.parametrize("name, reason", [
    ("empty.mp4", "the file is empty"),
    ("missing.mp4", "cannot open file"),
    ("folder.mkv", "a folder, not a file"),
    ("text.webm", "no video stream"),
    ("noise.avi", "no video stream"),
    ("truncated.mp4", "no video stream"),
    ("voice.mp4", "no video stream"),
])
def test_unreadable_files_raise_one_sentence(bad_clips, name, reason):
    with pytest.raises(InputError) as caught:
        open_clip(bad_clips / name)
    assert reason in str(caught.value) and "\n" not in str(caught.value)


@needs_ffmpeg
@pytest.mark.parametrize("suffix, codec", [(".mp4", "aac"), (".webm", "libopus")])
def test_audio_only_clip_has_no_video_stream(tmp_path, suffix, codec):
    path = tmp_path / f"audio{suffix}"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-c:a", codec,
                    str(path)], check=True, timeout=60)
    with pytest.raises(InputError, match="no video stream"):
        open_clip(path)


REAL_CLIPS = sorted((SHARED_DATA / "videos").glob("Test/*/*.mp4"))


@pytest.mark.skipif(not REAL_CLIPS, reason="the shared FaceForensics++ clips are not here")
def test_a_real_clip_is_counted_and_sampled():
    clip = open_clip(REAL_CLIPS[0])
    capture = cv2.VideoCapture(str(REAL_CLIPS[0]))
    decoded = 0
    while capture.grab():
        decoded += 1
    assert clip.frame_count == decoded
    frames = list(clip.frames(20))
    assert len(frames) == 20 and frames[-1].index == decoded - 1
    assert all(a.time_s < b.time_s for a, b in zip(frames, frames[1:]))
