"""The weights that ship with the app: they load safely, fit a Space, agree with their cards, and a plain
`python -m model.scan clip.mp4` judges a clip with the shipped video model, frame by frame."""

from __future__ import annotations

import json
import re

import pytest

from model.architectures import VIDEO_FRAMES, VIDEO_IMAGE_SIZE, encoder_backbone
from model.backbones import BACKBONES, DEFAULT_BACKBONE
from model.preprocessing import IMAGE_SIZE
from model.tables import markdown_table
from model.store import DEFAULT_IMAGE_MODEL, DEFAULT_VIDEO_MODEL, ModelInfo, load_network, read_metadata
from tests.test_scan import run_scan
from tests.test_video_detector import face_frames
from tests.test_video_io import write_clip

SPACE_LIMIT_MB = 30


@pytest.mark.parametrize("path", [DEFAULT_IMAGE_MODEL, DEFAULT_VIDEO_MODEL], ids=["image", "video"])
def test_card_quotes_the_stored_thresholds_and_test_auc(path):
    record = ModelInfo.read(path)
    card = (path.parent / f"{path.stem.split('_')[0].upper()}_MODEL_CARD.md").read_text()
    assert path.stat().st_size < SPACE_LIMIT_MB * 2**20
    assert f"{record.fake_from:.4f}" in card and f"{record.real_below:.4f}" in card  # the thresholds the app applies
    assert record.to_json() == read_metadata(path)  # stored as the record writes it: no older keys left
    assert record.lineage[0].stage == "ImageNet"  # the whole lineage, from the first weights
    if record.kind == "video":  # the stored table, row for row
        for line in markdown_table(record.test_domains, "domain").splitlines()[2:]:
            assert line in card, line
    else:  # one row per domain (a subset of one class has no ROC-AUC: "—")
        for row in record.test_domains:
            auc = "—" if row["roc_auc"] is None else f"{row['roc_auc']:.3f}"
            assert re.search(rf"\| {re.escape(row['domain'])}[^|\n]* \| {row['faces']} \| {auc} \|", card), row
    assert "research" in card.lower()  # the data's licence


def test_the_defaults_are_what_ships():
    """The default backbone, face sizes and clip length are the shipped models': the video model's encoder is the
    image model's registry backbone at the image model's face size."""
    image, video = ModelInfo.read(DEFAULT_IMAGE_MODEL), ModelInfo.read(DEFAULT_VIDEO_MODEL)
    assert image.architecture == DEFAULT_BACKBONE and video.architecture == f"{DEFAULT_BACKBONE}_bilstm"
    assert image.image_size == video.image_size == IMAGE_SIZE == VIDEO_IMAGE_SIZE and video.frames == VIDEO_FRAMES
    network = load_network(DEFAULT_VIDEO_MODEL)
    assert encoder_backbone(network.get_layer("encoder").layer) is BACKBONES[DEFAULT_BACKBONE]
    assert network.input_shape == (None, VIDEO_FRAMES, VIDEO_IMAGE_SIZE, VIDEO_IMAGE_SIZE, 3)


def test_plain_scan_of_a_clip_uses_the_shipped_video_model(tmp_path, astronaut):
    clip = write_clip(tmp_path / "clip.mp4", face_frames(astronaut, 30))
    result = run_scan(str(clip))
    assert result.returncode == 0, result.stderr[-2000:]
    record = json.loads(result.stdout)
    shipped = ModelInfo.read(DEFAULT_VIDEO_MODEL)
    assert record["verdict"] in ("real", "uncertain", "fake") and record["video_model"] == "video"
    assert record["model"].endswith("@video_model.keras")
    assert record["threshold"] == pytest.approx(shipped.fake_from, abs=1e-4)
    assert len(record["frames"]) == 20 and record["frames_with_face"] >= 18
    assert all(0.0 <= row["fake_probability"] <= 1.0 for row in record["frames"] if row["box"] is not None)
    assert set(record["scores"]) == {"video", "image"}
