"""`python -m model.scan` on video files: the image contract plus per-frame results, both models, bad clips."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from model.scan import main
from tests.conftest import write_rgb
from tests.test_scan import run_scan
from tests.test_video_detector import face_frames, video_model_path  # noqa: F401  (a fixture)
from tests.test_video_io import numbered_frames, set_webm_duration, write_clip, write_wav

BASE_FIELDS = {"path", "kind", "verdict", "fake_probability", "threshold", "real_below", "faces", "model", "error"}
VIDEO_FIELDS = BASE_FIELDS | {"frames", "frames_with_face", "frames_sampled", "tracks", "video_model", "scores",
                              "truncated", "provenance", "flags", "score_verdicts"}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, astronaut) -> Path:
    folder = tmp_path_factory.mktemp("scan_videos")
    write_clip(folder / "clip.mp4", face_frames(astronaut, 12))
    set_webm_duration(write_clip(folder / "webcam.webm", face_frames(astronaut, 12)), None)
    write_clip(folder / "nobody.avi", numbered_frames(12))
    (folder / "noise.mov").write_bytes(np.random.default_rng(0).integers(0, 256, 4000, np.uint8).tobytes())
    (folder / "empty.mkv").write_bytes(b"")
    write_wav(folder / "voice.mp4")
    write_rgb(folder / "photo.jpg", astronaut)
    return folder


@pytest.fixture(scope="module")
def scanned(inputs, small_image_model, video_model_path):  # noqa: F811
    csv_path = inputs.parent / "scan.csv"
    result = run_scan(str(inputs), "--image-model", str(small_image_model), "--video-model", str(video_model_path),
                      "--frames", "6", "--csv", str(csv_path))
    records = {Path(r["path"]).name: r for r in map(json.loads, result.stdout.splitlines())}
    return result, records, csv_path


def scan_in_process(capsys, *args: str) -> dict[str, dict]:
    assert main(["--quiet", "--frames", "4", *args]) == 0
    return {Path(r["path"]).name: r for r in map(json.loads, capsys.readouterr().out.splitlines())}


def test_every_file_reported_without_traceback(scanned):
    result, records, _ = scanned
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert set(records) == {"clip.mp4", "webcam.webm", "nobody.avi", "noise.mov", "empty.mkv", "voice.mp4",
                            "photo.jpg"}
    assert records["photo.jpg"]["kind"] == "image" and records["photo.jpg"]["verdict"] in ("real", "uncertain", "fake")


@pytest.mark.parametrize("name", ["clip.mp4", "webcam.webm"])
def test_clips_use_the_video_model_by_default(scanned, name):
    record = scanned[1][name]
    assert set(record) == VIDEO_FIELDS and record["kind"] == "video"
    assert record["verdict"] in ("real", "uncertain", "fake") and record["video_model"] == "video"
    assert record["model"].endswith("@video_model.keras") and set(record["scores"]) == {"image", "video"}
    assert record["frames_sampled"] == record["frames_with_face"] == len(record["faces"]) == 6
    assert [frame["index"] for frame in record["frames"]] == [0, 2, 4, 7, 9, 11]
    for frame, face in zip(record["frames"], record["faces"]):
        assert set(frame) == {"index", "time_s", "box", "fake_probability", "faces"}
        assert frame["box"] == face["box"] and frame["fake_probability"] == face["fake_probability"]


def test_clip_without_face_is_no_face(scanned):
    record = scanned[1]["nobody.avi"]
    assert record["verdict"] == "no_face" and record["frames_with_face"] == 0 and record["frames_sampled"] == 6
    assert [frame["box"] for frame in record["frames"]] == [None] * 6


@pytest.mark.parametrize("name, reason", [("noise.mov", "no video stream"), ("voice.mp4", "no video stream"),
                                          ("empty.mkv", "the file is empty")])
def test_bad_clips_are_errors_with_a_reason(scanned, name, reason):
    record = scanned[1][name]
    assert record["kind"] == "video" and record["verdict"] == "error" and reason in record["error"]


def test_csv_counts_frames(scanned):
    with scanned[2].open() as handle:
        rows = {Path(row["path"]).name: row for row in csv.DictReader(handle)}
    assert (rows["clip.mp4"]["frames_with_face"], rows["clip.mp4"]["frames_sampled"]) == ("6", "6")
    assert rows["photo.jpg"]["frames_with_face"] == ""


def test_image_model_baseline_on_request(capsys, inputs, small_image_model, video_model_path):  # noqa: F811
    records = scan_in_process(capsys, str(inputs / "clip.mp4"), "--model", "image", "--image-model",
                              str(small_image_model), "--video-model", str(video_model_path))
    record = records["clip.mp4"]
    assert record["video_model"] == "image" and record["model"].endswith("@image_model.keras")
    assert record["scores"] == {"image": record["fake_probability"]}


def test_without_video_weights(capsys, inputs, small_image_model, tmp_path):
    absent = ["--image-model", str(small_image_model), "--video-model", str(tmp_path / "absent.keras")]
    records = scan_in_process(capsys, str(inputs / "clip.mp4"), *absent)
    assert records["clip.mp4"]["video_model"] == "image" and records["clip.mp4"]["verdict"] in ("real", "uncertain", "fake")
    records = scan_in_process(capsys, str(inputs / "clip.mp4"), str(inputs / "photo.jpg"), "--model", "video", *absent)
    assert records["clip.mp4"]["error"] == "video model not available"
    assert records["photo.jpg"]["verdict"] in ("real", "uncertain", "fake")


def test_bad_limits_exit_two(small_image_model):
    assert run_scan("x.mp4", "--frames", "0", "--image-model", str(small_image_model)).returncode == 2
