"""The app's tabs, each built beside its handlers, as Gradio's own demos write them: ``analyze_image``,
``analyze_snapshot``, ``analyze_live`` and ``analyze_video`` are module-level functions that take the loaded models
from ``services()`` (set once by ``build_demo``), so that they can be called and tested without a server.

Handlers only call model/ and the ui/ modules that word, chart, draw and file a result: no detection or math here.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from model.image_detector import FaceScorer, ImageDetector
from model.imaging import InputError, read_image
from model.live import LIVE_SECONDS, LIVE_STREAM_EVERY_S, LIVE_WINDOW_S, LiveScorer, RollingVerdict
from model.report import Report
from model.store import DEFAULT_IMAGE_MODEL, DEFAULT_VIDEO_MODEL, ModelInfo
from model.video_detector import ModelChoice, VideoDetector, models_for
from ui import about, charts, galleries, json_report, wording
from ui.drawing import annotate, save_picture
from ui.guards import guarded, user_errors
from ui.panels import RESULT_HELP, Result, ResultPanel, heatmap_toggle
from ui.report_folders import request_folder

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "assets"
EXAMPLES = ASSETS / "examples"
SHIPPED_MODELS = {DEFAULT_IMAGE_MODEL.resolve(), Path(DEFAULT_VIDEO_MODEL).resolve()}
MODEL_CHOICES = {"video": "Video model (whole clip)", "image": "Image model (frame by frame)"}
log = logging.getLogger("app")


@dataclass(frozen=True)
class Services:
    """What the handlers use: the loaded image detector, the video detector being loaded in the background, the
    live scorer and the folder that holds each request's files."""

    image: ImageDetector
    videos: Future[VideoDetector]
    report_dir: Path
    live: LiveScorer


_services: Services | None = None


def start_services(image_model_path: str | Path, video_model_path: str | Path, report_dir: Path) -> Services:
    """Load the image model and warm it and the face finder up (the first request is then fast), and start loading
    the video model in the background (its graph takes many seconds on a CPU). Raises ``FileNotFoundError``,
    ``ValueError`` or ``OSError`` when the image model cannot be loaded."""
    image = ImageDetector(FaceScorer(image_model_path))
    if (EXAMPLES / "astronaut.jpg").exists():
        image.analyze_file(EXAMPLES / "astronaut.jpg")
    videos: Future[VideoDetector] = Future()
    threading.Thread(target=_settle, args=(videos, _load_video_detector, image, video_model_path),
                     name="video-model", daemon=True).start()
    return Services(image, videos, report_dir, LiveScorer(image))


def _load_video_detector(image: ImageDetector, path: str | Path) -> VideoDetector:
    """The video detector sharing the image model (and the face finder's networks), warmed on the example clip."""
    started = time.monotonic()
    try:
        detector = VideoDetector(image.scorer, path)
        if (EXAMPLES / "astronaut_clip.webm").exists():
            detector.analyze_file(EXAMPLES / "astronaut_clip.webm", model=detector.available_models[0])
    except Exception:
        log.exception("cannot load the video model %s: the Video tab will report it", path)
        raise
    log.info("video path ready in %.1f s (%s)", time.monotonic() - started, ", ".join(detector.available_models))
    return detector


def _settle(future: Future, function: Callable[..., Any], *args: Any) -> None:
    """Run ``function(*args)`` and put its result, or its exception, in ``future``."""
    try:
        future.set_result(function(*args))
    except BaseException as error:
        future.set_exception(error)


def services() -> Services:
    """The models and folders the handlers work with (``build_demo`` sets them)."""
    if _services is None:
        raise RuntimeError("build_demo(services, ...) sets the app's models before a handler runs")
    return _services


def result(report: Report, subject: str, picture: Callable[[Path], Any]) -> Result:
    """The panel's fields for one report; its files (picture, crops, heatmaps, JSON) go to a fresh folder."""
    data, folder = json_report.record(report), request_folder(services().report_dir)
    return Result(wording.verdict_markdown(report, subject), charts.confidences(report), picture(folder),
                  galleries.face_gallery(report, folder), str(json_report.write_report(data, folder)),
                  json_report.report_text(data), galleries.heatmap_gallery(report, folder))


# ---------------------------------------------------------------- Image

def analyze_image(image: str | None, explain: bool = True) -> list[Any]:
    """Find and score every face in one image file; ``explain`` adds a heatmap per face.

    Returns: verdict (markdown), confidences {"fake", "real"}, picture with boxes, face crops, JSON report file,
    JSON report (the scan CLI's fields plus `provenance`), heatmap overlays (red: towards fake).
    """
    if not image:
        raise gr.Error("Upload or paste an image first.", print_exception=False)
    with user_errors("image"):
        rgb = read_image(image)
        report = services().image.analyze(rgb, path=image, explain=explain)
        return result(report, "picture", lambda folder: save_picture(annotate(rgb, report),
                                                                        folder / "faces.jpg")).values()


def image_tab() -> None:
    with gr.Row():
        with gr.Column(scale=2):
            image_in = guarded(gr.Image(label="Image (upload, drop or paste)", type="filepath",
                                        sources=["upload", "clipboard"], image_mode=None, height=320,
                                        elem_id="image-input"), read_image)
            explain = heatmap_toggle("image")
            button = gr.Button("Analyze image", variant="primary", elem_id="image-button")
            gr.Examples([[str(p)] for p in sorted(EXAMPLES.glob("*.jpg"))], inputs=[image_in],
                        cache_examples=False, label="Examples (made by this project)")
        with gr.Column(scale=3):
            panel = ResultPanel.build("image")
    gr.Markdown(RESULT_HELP)
    button.click(analyze_image, [image_in, explain], panel.outputs, api_name="analyze_image",
                 concurrency_id="analysis")


# ---------------------------------------------------------------- Webcam

def analyze_snapshot(image: str | None, explain: bool = True) -> list[Any]:
    """A webcam snapshot, analysed as soon as it is taken (nothing when it was cleared)."""
    if not image:
        return Result.unchanged()
    return analyze_image(image, explain)


def analyze_live(frame: Any, rolling: RollingVerdict | None) -> tuple[Any, Any, RollingVerdict | None]:
    """One camera frame of a live session: the frame with its faces boxed, the rolling verdict, the state."""
    if frame is None:
        return gr.skip(), gr.skip(), rolling
    live = services().live
    with user_errors("camera frame"):
        report, rolling = live.step(frame, rolling)
        return annotate(frame, report), wording.live_markdown(rolling, report, live.thresholds), rolling


def webcam_tab(kept_s: int | None) -> None:
    """Snapshot and Live; ``kept_s``: how long the server keeps uploads and results (None: until it stops)."""
    kept = f"after about {kept_s // 60} minutes" if kept_s else "when the app stops"
    with gr.Tabs():
        with gr.Tab("Snapshot", id="snapshot"):
            gr.Markdown("Take a snapshot with your camera; it is analysed as soon as it is taken. Uploads, "
                        f"snapshots and results are deleted from the server {kept}.")
            with gr.Row():
                with gr.Column(scale=2):
                    snapshot = guarded(gr.Image(label="Camera", sources=["webcam"], type="filepath",
                                                image_mode=None, height=320, elem_id="webcam-input"), read_image)
                    explain = heatmap_toggle("webcam")
                with gr.Column(scale=3):
                    panel = ResultPanel.build("webcam")
            snapshot.change(analyze_snapshot, [snapshot, explain], panel.outputs, api_visibility="private",
                            concurrency_id="analysis", trigger_mode="always_last")
        with gr.Tab("Live", id="live"):
            gr.Markdown(f"Press record to stream your camera: a few frames a second are scored (frames that arrive "
                        f"while one is scored are skipped, never queued) and the verdict rolls over the last "
                        f"{LIVE_WINDOW_S:g} seconds. A session stops after {LIVE_SECONDS} seconds of scoring; press "
                        "record again to go on. Live frames are not stored.")
            with gr.Row():
                with gr.Column(scale=2):
                    live_in = gr.Image(label="Live camera", sources=["webcam"], streaming=True, type="numpy",
                                       height=320, elem_id="live-input")
                with gr.Column(scale=3):
                    verdict = gr.Markdown(elem_id="live-verdict")
                    boxes = gr.Image(label="Faces in the latest scored frame", type="numpy", format="jpeg",
                                     interactive=False, height=320, elem_id="live-boxes")
            state = gr.State(None)
            live_in.stream(analyze_live, [live_in, state], [boxes, verdict, state],
                           stream_every=LIVE_STREAM_EVERY_S, time_limit=LIVE_SECONDS, concurrency_id="live",
                           concurrency_limit=1, api_visibility="private", show_progress="hidden")


# ---------------------------------------------------------------- Video

def analyze_video(video: str | None, model: ModelChoice = "video", explain: bool = True) -> list[Any]:
    """Score the faces of one video clip with the video model or the image model frame by frame; ``explain``
    adds a heatmap per sampled face.

    Returns: verdict (markdown), confidences {"fake", "real"}, fake probability over time, sampled face crops,
    JSON report file, JSON report (the scan CLI's fields plus per-frame results), heatmap overlays of the
    sampled faces from the model that judged the clip (red: towards fake).
    """
    if not video:
        raise gr.Error("Upload or record a video first.", print_exception=False)
    try:
        detector = services().videos.result()  # waits while the video model is still loading
    except Exception:
        raise gr.Error("The video model could not be loaded; the server log says why.",
                       print_exception=False) from None
    with user_errors("video"):
        report = detector.analyze_file(video, model=model, explain=explain)
        if report.verdict == "error":
            raise InputError(report.error or "the video could not be read")
        return result(report, "clip", lambda folder: charts.timeline(report)).values()


def video_tab(video_models: list[str]) -> None:
    with gr.Row():
        with gr.Column(scale=2):
            video_in = guarded(gr.Video(label="Video (upload or record)", sources=["upload", "webcam"],
                                        include_audio=True, height=320, elem_id="video-input"))
            model_in = guarded(gr.Radio([(MODEL_CHOICES[m], m) for m in video_models], value=video_models[0],
                                        label="Model", interactive=len(video_models) > 1, elem_id="video-model"))
            explain = heatmap_toggle("video")
            button = gr.Button("Analyze video", variant="primary", elem_id="video-button")
            clips = sorted(EXAMPLES.glob("*.webm"))
            if clips:
                gr.Examples([[str(p)] for p in clips], inputs=[video_in], cache_examples=False,
                            label="Examples (made by this project)")
        with gr.Column(scale=3):
            panel = ResultPanel.build("video", clip=True)
    button.click(analyze_video, [video_in, model_in, explain], panel.outputs, api_name="analyze_video",
                 concurrency_id="analysis")


# ---------------------------------------------------------------- About

def about_tab(image_info: ModelInfo, image_model_path: str | Path, video_model_path: str | Path | None) -> None:
    """The limits, each model's facts and tables, the test figures of the shipped models (made for them only)
    and the cards beside the loaded models."""
    models = [("Image model", image_info), ("Video model", ModelInfo.read(video_model_path) if video_model_path
                                            else None)]
    loaded = [image_model_path] + ([video_model_path] if video_model_path else [])
    shipped = [about.model_kind(path) for path in loaded if Path(path).resolve() in SHIPPED_MODELS]
    gr.Markdown(about.LIMITS, elem_id="about-limits")
    gr.Markdown(about.about_markdown(models, []), elem_id="about-card")
    with gr.Row():
        for path, caption in about.about_images(ASSETS, shipped):
            # The figure carries its own title: a label would sit on top of it.
            gr.Image(path, label=caption, show_label=False, interactive=False, buttons=["fullscreen"])
    for card in about.model_cards(loaded):
        with gr.Accordion(f"Model card: {Path(card).name} (training, data, every measurement)", open=False):
            gr.Markdown(about.card_markdown(card), elem_classes=["about-model-card"])


def build_demo(app_services: Services, image_model_path: str | Path = DEFAULT_IMAGE_MODEL,
               video_model_path: str | Path = DEFAULT_VIDEO_MODEL,
               delete_cache: tuple[int, int] | None = None) -> gr.Blocks:
    """The Blocks app around ``app_services`` (which the handlers then use); ``delete_cache``: Gradio's (every,
    older than) seconds for uploads and results."""
    global _services
    _services = app_services
    video_models = models_for(video_model_path)
    with gr.Blocks(title="Deepfake detector", analytics_enabled=False, delete_cache=delete_cache) as demo:
        gr.Markdown("# Deepfake detector\nFinds the faces in a picture or a clip and estimates, for each, how likely "
                    "it is to be manipulated. A research demo: read the **About** tab before trusting a verdict.")
        with gr.Tabs():
            with gr.Tab("Image", id="image"):
                image_tab()
            with gr.Tab("Webcam", id="webcam"):
                webcam_tab(delete_cache[1] if delete_cache else None)
            with gr.Tab("Video", id="video"):
                video_tab(video_models)
            with gr.Tab("About", id="about"):
                about_tab(app_services.image.scorer.info, image_model_path,
                          video_model_path if "video" in video_models else None)
    return demo
