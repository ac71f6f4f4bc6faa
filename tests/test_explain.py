"""Grad-CAM heatmaps from the shipped models: finite, in [0, 1], not flat, face-specific; their files are written
without changing the report, and --explain writes them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from model.report import ClipSummary, Report, SampledFrameResult, ScoredFace
from model.store import DEFAULT_IMAGE_MODEL, DEFAULT_VIDEO_MODEL

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "assets" / "examples"


@pytest.fixture(scope="module")
def detector():
    from model.image_detector import FaceScorer, ImageDetector

    return ImageDetector(FaceScorer(DEFAULT_IMAGE_MODEL))


def assert_heatmap(heatmap: np.ndarray, side: int) -> None:
    assert heatmap.shape == (side, side) and np.isfinite(heatmap).all()
    assert heatmap.min() >= 0.0 and heatmap.max() <= 1.0
    assert heatmap.max() - heatmap.min() > 0.5  # not flat: some regions matter far more than others


def test_image_heatmaps_differ_between_faces(detector):
    report = detector.analyze_file(EXAMPLES / "two_faces.jpg", explain=True)
    first, second = (face.heatmap for face in report.faces)
    for heatmap in (first, second):
        assert_heatmap(heatmap, detector.scorer.image_size)
    assert np.abs(first - second).mean() > 0.05
    again = detector.scorer.explain([report.faces[0].crop])[0]
    np.testing.assert_allclose(again, first, atol=1e-5)  # one compiled function, the same answer


def test_no_heatmaps_unless_asked(detector):
    report = detector.analyze_file(EXAMPLES / "astronaut.jpg")
    assert report.faces and all(face.heatmap is None for face in report.faces)
    assert "heatmap" not in report.to_json()["faces"][0]


def test_overlay_keeps_the_crop_size_and_colours_hot_regions_red():
    from model.explain import overlay

    crop = np.full((90, 70, 3), 128, np.uint8)
    heatmap = np.zeros((32, 32), np.float32)
    heatmap[:, 16:] = 1.0
    result = overlay(crop, heatmap)
    assert result.shape == crop.shape and result.dtype == np.uint8
    hot, cold = result[45, 65].astype(int), result[45, 5].astype(int)
    assert hot[0] > hot[2] and cold[2] > cold[0]  # red where the map is high, blue where it is low


def test_video_model_heatmaps_per_frame(detector):
    from model.video_detector import VideoModel

    model = VideoModel(DEFAULT_VIDEO_MODEL)
    report = detector.analyze_file(EXAMPLES / "two_faces.jpg")
    crops = [face.crop for face in report.faces] * 3  # a six-frame sequence, stretched to the model's length
    heatmaps = model.explain(crops)
    assert heatmaps.shape == (6, model.image_size, model.image_size)
    for heatmap in heatmaps[:2]:
        assert_heatmap(heatmap, model.image_size)
    assert np.abs(heatmaps[0] - heatmaps[1]).mean() > 0.05


def test_writing_heatmaps_names_them_by_face_or_frame_and_leaves_the_report_as_it_was(tmp_path):
    from ui.heatmap_files import write_heatmaps

    crop, heatmap = np.full((24, 24, 3), 128, np.uint8), np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8)
    box = (0, 0, 24, 24)
    picture = Report("two.jpg", "image", 0.7, [ScoredFace(box, 0.9, 0.7, crop, heatmap=heatmap),
                                               ScoredFace(box, 0.9, 0.2, crop)])  # the second without a heatmap
    frames = [SampledFrameResult(0, 0.0, 0), SampledFrameResult(5, 0.5, 1, box, 0.6),
              SampledFrameResult(9, 0.9, 1, box, 0.4)]  # a face in frames 5 and 9 only
    clip = Report("clip.mp4", "video", 0.5, [ScoredFace(box, 0.9, p, crop, heatmap=heatmap) for p in (0.6, 0.4)],
                  clip=ClipSummary("video", frames=frames))
    for report, stem, names in [(picture, "two", {0: "two_face1.png"}),
                                (clip, "clip", {0: "clip_frame5.png", 1: "clip_frame9.png"})]:
        before = report.to_json()
        paths = write_heatmaps(report, tmp_path / stem, stem)
        assert report.to_json() == before and "heatmap" not in str(before)
        assert {position: Path(path).name for position, path in paths.items()} == names
        assert sorted(p.name for p in (tmp_path / stem).iterdir()) == sorted(names.values())
        assert all(cv2.imread(path).shape == crop.shape for path in paths.values())
        named = report.to_json(heatmap_paths=paths)  # the same record, its faces' and frames' heatmaps named
        assert [face.get("heatmap") for face in named["faces"]] == [paths.get(k) for k in range(len(report.faces))]
        rows = [*zip(named["faces"], before["faces"]), *zip(named.get("frames", []), before.get("frames", []))]
        assert all({**row, "heatmap": None} == {**was, "heatmap": None} for row, was in rows)
        assert {**named, "faces": [], "frames": []} == {**before, "faces": [], "frames": []}
    assert [frame.get("heatmap") for frame in named["frames"]] == [None, paths[0], paths[1]]


def test_scan_explain_writes_the_files_it_names(tmp_path):
    out = tmp_path / "heatmaps"
    result = subprocess.run([sys.executable, "-m", "model.scan", "--quiet", "--explain", str(out),
                             str(EXAMPLES / "two_faces.jpg"), str(EXAMPLES / "astronaut_clip.webm"),
                             str(EXAMPLES / "no_face.jpg")], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    photo, clip, empty = (json.loads(line) for line in result.stdout.splitlines())
    named = [face["heatmap"] for face in photo["faces"]]
    assert [Path(p).name for p in named] == ["two_faces_face1.png", "two_faces_face2.png"]
    for face, path in zip(photo["faces"], named):
        assert cv2.imread(path).shape[:2] == (face["size_px"], face["size_px"])
    frames = [frame for frame in clip["frames"] if frame["fake_probability"] is not None]
    assert frames and all(Path(frame["heatmap"]).name == f"astronaut_clip_frame{frame['index']}.png"
                          for frame in frames)
    assert [face["heatmap"] for face in clip["faces"]] == [frame["heatmap"] for frame in frames]
    assert empty["verdict"] == "no_face" and empty["faces"] == []
    assert sorted(p.name for p in out.iterdir()) == sorted(Path(p).name for p in named + [f["heatmap"] for f in frames])
