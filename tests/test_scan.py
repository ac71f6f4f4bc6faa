"""The scan CLI as users run it: JSON Lines on stdout, a CSV, bad files reported, never a traceback."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import write_rgb

ROOT = Path(__file__).resolve().parents[1]
FIELDS = {"path", "kind", "verdict", "fake_probability", "faces", "model", "error"}


def run_scan(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "model.scan", "--quiet", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def scanned(tmp_path_factory, astronaut, faceless_path, small_image_model):
    folder = tmp_path_factory.mktemp("inputs")
    write_rgb(folder / "face.jpg", astronaut)
    write_rgb(folder / "nested" / "crop.png", astronaut[60:190, 160:290])
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "text.png").write_bytes(b"this is not a picture")
    (folder / "truncated.png").write_bytes((folder / "nested" / "crop.png").read_bytes()[:3000])
    cv2.imwrite(str(folder / "one_pixel.png"), np.zeros((1, 1, 3), np.uint8))
    cv2.imwrite(str(folder / "gray.png"), cv2.cvtColor(astronaut, cv2.COLOR_RGB2GRAY))
    cv2.imwrite(str(folder / "rgba.png"), cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGRA))
    cv2.imwrite(str(folder / "deep.png"), cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR).astype(np.uint16) * 257)
    from tests.test_imaging import _png_claiming

    (folder / "huge.png").write_bytes(_png_claiming(30000, 30000))
    other = tmp_path_factory.mktemp("others")
    (other / "folder.jpg").mkdir()
    os.mkfifo(other / "pipe.mp4")
    csv_path = folder / "out.csv"
    result = run_scan(str(folder), str(faceless_path), str(folder / "missing.jpg"), str(other / "folder.jpg"),
                      str(other / "pipe.mp4"), "--image-model", str(small_image_model), "--csv", str(csv_path))
    records = {Path(r["path"]).name: r for r in map(json.loads, result.stdout.splitlines())}
    return result, records, csv_path


def test_exit_zero_and_no_traceback(scanned):
    result, records, _ = scanned
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert len(records) == 14  # one line for every file and argument, the pipe and the empty folder included
    assert all(FIELDS <= set(record) for record in records.values())


@pytest.mark.parametrize("name", ["face.jpg", "gray.png", "rgba.png", "deep.png"])
def test_photos_with_a_face_get_a_verdict(scanned, name):
    record = scanned[1][name]
    assert record["verdict"] in {"real", "uncertain", "fake"}, record
    assert record["kind"] == "image" and record["error"] is None
    assert len(record["faces"]) == 1
    face = record["faces"][0]
    assert record["fake_probability"] == face["fake_probability"]
    assert 0.0 <= face["fake_probability"] <= 1.0 and face["score"] > 0.9 and len(face["box"]) == 4


@pytest.mark.parametrize("name, reason", [
    ("empty.jpg", "empty"), ("text.png", "not a readable image"), ("truncated.png", "corrupt or truncated"),
    ("huge.png", "too large"), ("missing.jpg", "cannot open"), ("pipe.mp4", "not a regular file"),
    ("folder.jpg", "a folder with no image or video file in it"),
])
def test_bad_files_get_an_error_with_a_reason(scanned, name, reason):
    record = scanned[1][name]
    assert record["verdict"] == "error" and record["fake_probability"] is None
    assert reason in record["error"] and "\n" not in record["error"]


@pytest.mark.parametrize("name", ["one_pixel.png", "gradient.png"])
def test_pictures_without_faces_are_no_face(scanned, name):
    record = scanned[1][name]
    assert record["verdict"] == "no_face" and record["faces"] == [] and record["fake_probability"] is None


def test_csv_has_one_row_per_file(scanned):
    _, records, csv_path = scanned
    with csv_path.open() as handle:
        rows = list(csv.DictReader(handle))
    assert {Path(row["path"]).name for row in rows} == set(records)
    assert {row["verdict"] for row in rows} >= {"error", "no_face"}


def test_faces_cropped_skips_detection(tmp_path, small_image_model, faceless_path):
    result = run_scan(str(faceless_path), "--faces-cropped", "--image-model", str(small_image_model))
    record = json.loads(result.stdout)
    assert record["verdict"] in {"real", "uncertain", "fake"}
    assert record["faces"][0]["box"] == [0, 0, 320, 240] and record["faces"][0]["score"] is None


def test_wrong_command_line_exits_two(small_image_model):
    assert run_scan().returncode == 2
    result = run_scan("x.jpg", "--image-model", "/nonexistent/model.keras")
    assert result.returncode == 2 and "cannot load the image model" in result.stderr


def test_uncertain_verdict_and_weak_evidence_flags(tmp_path, astronaut, uncertain_image_model):
    """Scores inside the model's uncertain band are called ``uncertain`` in the JSON and the CSV; a small face in
    a heavily compressed JPEG is flagged, with its size in pixels."""
    write_rgb(tmp_path / "face.png", astronaut)
    small = cv2.resize(cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR), (160, 160), interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(tmp_path / "small.jpg"), small, [cv2.IMWRITE_JPEG_QUALITY, 25])
    csv_path = tmp_path / "out.csv"
    result = run_scan(str(tmp_path / "face.png"), str(tmp_path / "small.jpg"), "--image-model",
                      str(uncertain_image_model), "--csv", str(csv_path))
    records = {Path(r["path"]).name: r for r in map(json.loads, result.stdout.splitlines())}
    face = records["face.png"]
    assert face["verdict"] == "uncertain" and (face["real_below"], face["threshold"]) == (0.001, 0.999)
    assert face["faces"][0]["verdict"] == "uncertain" and face["faces"][0]["flags"] == []
    assert face["faces"][0]["size_px"] > 100 and "jpeg_quality" not in face
    weak = records["small.jpg"]
    assert weak["jpeg_quality"] == 25 and weak["faces"], weak
    assert weak["faces"][0]["size_px"] < 64 and weak["faces"][0]["flags"] == ["small", "compressed"]
    with csv_path.open() as handle:
        rows = {Path(row["path"]).name: row for row in csv.DictReader(handle)}
    assert rows["face.png"]["verdict"] == "uncertain" and rows["face.png"]["real_below"] == "0.001"
    assert rows["small.jpg"]["flags"] == "compressed;small"


@pytest.mark.parametrize("entry_point, setting, enabled", [
    ("model.scan", None, True), ("train.image", None, True), ("app", None, True), ("model.scan", "0", False)])
def test_entry_points_turn_on_onednn_kernels_unless_told_not_to(entry_point, setting, enabled):
    """TensorFlow leaves its fast oneDNN CPU kernels off on AVX2 CPUs; every entry point turns them on, before
    TensorFlow is imported, and an explicit TF_ENABLE_ONEDNN_OPTS wins."""
    env = {key: value for key, value in os.environ.items() if key != "TF_ENABLE_ONEDNN_OPTS"}
    if setting is not None:
        env["TF_ENABLE_ONEDNN_OPTS"] = setting
    probe = (f"import {entry_point}\n"
             "from tensorflow.python.util import _pywrap_util_port\n"
             "print(_pywrap_util_port.IsMklEnabled())")
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == str(enabled)


def test_quiet_means_quiet_even_for_a_damaged_file(tmp_path, astronaut, small_image_model):
    """libjpeg's warning about a damaged JPEG goes nowhere with --quiet; the record says the file is damaged."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(astronaut).save(buffer, format="JPEG", quality=90)
    data = bytearray(buffer.getvalue())
    for position in np.random.default_rng(0).integers(1000, len(data) - 100, 10):
        data[position] ^= 0x5A
    (tmp_path / "damaged.jpg").write_bytes(bytes(data))
    result = run_scan(str(tmp_path / "damaged.jpg"), "--image-model", str(small_image_model))
    assert result.returncode == 0 and result.stderr == ""
    record = json.loads(result.stdout)
    assert record["damaged"].startswith("its JPEG data are corrupt") and record["verdict"] in {"uncertain", "no_face"}
