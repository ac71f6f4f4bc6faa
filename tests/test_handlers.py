"""The app's handlers called as plain functions (``ui.tabs``), without a server: what each returns for a picture, a
snapshot, a camera frame and a clip, and the one sentence each gives for missing or bad input. The live-server
tests in test_app.py call the same functions through Gradio."""

from __future__ import annotations

import json
from pathlib import Path

import gradio as gr
import pytest

from tests.browser_support import small_video_model

EXAMPLES = Path(__file__).resolve().parents[1] / "assets" / "examples"


@pytest.fixture(scope="module")
def tabs(small_image_model, tmp_path_factory):
    """ui.tabs with its services built around the small models, as ``app.main`` builds them."""
    from ui import tabs

    folder = tmp_path_factory.mktemp("handlers")
    video_model = small_video_model(folder / "video_model.keras")
    services = tabs.start_services(small_image_model, video_model, folder / "reports")
    services.videos.result(timeout=300)
    demo = tabs.build_demo(services, small_image_model, video_model, delete_cache=(300, 600))
    assert isinstance(demo, gr.Blocks) and tabs.services() is services
    return tabs


def test_a_picture_gives_the_seven_outputs_of_its_endpoint(tabs):
    verdict, confidence, picture, crops, report_file, report_text, heatmaps = tabs.analyze_image(
        str(EXAMPLES / "astronaut.jpg"), explain=True)
    report = json.loads(report_text)
    assert verdict.startswith("## ") and report["kind"] == "image" and len(report["faces"]) == 1
    assert confidence == {"fake": report["fake_probability"], "real": round(1 - report["fake_probability"], 4)}
    assert Path(picture).is_file() and Path(report_file).is_file() and len(crops) == len(heatmaps) == 1
    assert json.loads(Path(report_file).read_text()) == report


def test_missing_and_bad_input_are_one_sentence(tabs, tmp_path):
    with pytest.raises(gr.Error, match="Upload or paste an image first"):
        tabs.analyze_image(None)
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a picture")
    with pytest.raises(gr.Error) as caught:
        tabs.analyze_image(str(bad))
    assert str(caught.value.message) == "Not a readable image file."
    with pytest.raises(gr.Error, match="Upload or record a video first"):
        tabs.analyze_video(None)


def test_a_cleared_snapshot_changes_nothing_and_a_taken_one_is_analysed(tabs):
    assert all(value == gr.skip() for value in tabs.analyze_snapshot(None))
    assert json.loads(tabs.analyze_snapshot(str(EXAMPLES / "astronaut.jpg"), False)[5])["faces"]


def test_a_live_frame_comes_back_boxed_with_a_rolling_verdict(tabs, astronaut):
    boxed, verdict, rolling = tabs.analyze_live(astronaut, None)
    assert boxed.shape[2] == 3 and "Frames scored this session: 1" in verdict
    _, _, rolling = tabs.analyze_live(astronaut, rolling)
    assert rolling.frames == 2
    assert tabs.analyze_live(None, rolling)[2] is rolling


@pytest.mark.parametrize("model", ["video", "image"])
def test_a_clip_gives_the_plot_data_and_its_report(tabs, model):
    verdict, _, plot, crops, _, report_text, heatmaps = tabs.analyze_video(
        str(EXAMPLES / "astronaut_clip.webm"), model, False)
    report = json.loads(report_text)
    assert report["kind"] == "video"
    assert report["video_model"] == model and report["frames_with_face"] == 20 and not heatmaps
    assert set(plot["series"]) == {"fake probability", "fake threshold", "real threshold"}
    assert "sampled frames" in verdict and len(crops) == 20


def test_handlers_say_so_when_nothing_set_their_models(monkeypatch):
    from ui import tabs

    monkeypatch.setattr(tabs, "_services", None)
    with pytest.raises(RuntimeError, match="build_demo"):
        tabs.services()
