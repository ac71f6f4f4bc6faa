"""Deepfake detector web app: Image, Webcam and Video tabs, the model card, and two API endpoints.

    python app.py [--host 0.0.0.0] [--port 7860] [--share] [--image-model PATH] [--video-model PATH]

Wiring only: detection lives in model/, what is shown for a result in ui/presentation.py.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no version check or telemetry calls at start

import argparse  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from concurrent.futures import Future  # noqa: E402
from collections.abc import Callable  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from dataclasses import dataclass, fields  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import model  # noqa: E402, F401  (TensorFlow's settings, before anything imports TensorFlow)
from model.imaging import MAX_FILE_BYTES  # noqa: E402
from model.store import DEFAULT_IMAGE_MODEL, DEFAULT_VIDEO_MODEL, ModelInfo  # noqa: E402
from ui.upload_quota import DEFAULT_CLIENT_MB, TOTAL_SHARE, UPLOAD_WINDOW_S, UploadQuota  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python app.py", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=None,
                        help="interface to listen on (default: $GRADIO_SERVER_NAME or 127.0.0.1; 0.0.0.0 for all)")
    parser.add_argument("--port", type=int, default=None,
                        help="port (default: $GRADIO_SERVER_PORT or the first free one from 7860)")
    parser.add_argument("--share", action="store_true", help="also open a temporary public gradio.live link")
    parser.add_argument("--image-model", default=os.getenv("DEEPFAKE_IMAGE_MODEL", str(DEFAULT_IMAGE_MODEL)),
                        help="the .keras image model (default: $DEEPFAKE_IMAGE_MODEL or the shipped one)")
    parser.add_argument("--video-model", default=os.getenv("DEEPFAKE_VIDEO_MODEL", str(DEFAULT_VIDEO_MODEL)),
                        help="the .keras video model (default: $DEEPFAKE_VIDEO_MODEL or the shipped one)")
    parser.add_argument("--concurrency", type=int, default=int(os.getenv("DEEPFAKE_CONCURRENCY", "2")),
                        help="analyses run at the same time; the rest wait in the queue (default 2)")
    parser.add_argument("--queue-size", type=int, default=64, help="most requests waiting in the queue")
    parser.add_argument("--max-file-mb", type=float, default=MAX_FILE_BYTES / 2**20,
                        help="largest upload in MB (default %(default).0f)")
    parser.add_argument("--upload-quota-mb", type=float, default=DEFAULT_CLIENT_MB,
                        help=f"most MB one client may upload in {UPLOAD_WINDOW_S // 60} minutes (the server takes "
                        f"{TOTAL_SHARE} times that from everyone; default %(default).0f)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    COMMAND_LINE = parse_args()  # --help and usage errors answer at once, before Gradio and TensorFlow load
model.load_tensorflow()

import gradio as gr  # noqa: E402
from starlette.middleware import Middleware  # noqa: E402

from ui import presentation as show  # noqa: E402
from ui.report_folders import open_report_dir  # noqa: E402
from model.explain import LEGEND  # noqa: E402
from model.faces import FaceDetector  # noqa: E402
from model.image_detector import FaceScorer, ImageDetector  # noqa: E402
from model.imaging import InputError, read_image  # noqa: E402
from model.live import LIVE_SECONDS, LIVE_STREAM_EVERY_S, LIVE_WINDOW_S, LiveScorer, RollingVerdict  # noqa: E402
from model.report import Report  # noqa: E402
from model.video_detector import VideoDetector, models_for  # noqa: E402

ROOT = Path(__file__).resolve().parent
ASSETS = ROOT / "assets"
EXAMPLES = ASSETS / "examples"
ON_SPACES = bool(os.getenv("SPACE_ID"))
UPLOAD_LIFETIME = (300, UPLOAD_WINDOW_S)  # (every, older than) seconds: uploads and results are removed this soon
SHIPPED_MODELS = {DEFAULT_IMAGE_MODEL.resolve(), Path(DEFAULT_VIDEO_MODEL).resolve()}
log = logging.getLogger("app")

MODEL_CHOICES = {"video": "Video model (whole clip)", "image": "Image model (frame by frame)"}
RESULT_HELP = ("Fake probability is the model's calibrated estimate that a face was manipulated. The verdict "
               "compares the most suspicious face with two thresholds chosen on held-out faces: **Likely fake** above "
               "the upper one, **Likely real** below the lower one, **Uncertain** in between, where the model was "
               "too often wrong to say. Faces that are small or heavily compressed are flagged as weak evidence.")


def sentence(message: str) -> str:
    """An InputError's fragment as one sentence for a notification."""
    message = message.strip() or "the file could not be analysed"
    return message[0].upper() + message[1:] + ("" if message.endswith((".", "!", "?")) else ".")


@contextmanager
def user_errors(kind: str):
    """Turn a bad input into one short sentence for the user; anything unexpected is logged, not shown."""
    try:
        yield
    except gr.Error:
        raise
    except InputError as error:
        raise gr.Error(sentence(str(error)), print_exception=False) from None
    except Exception:
        log.exception("analysing a %s failed", kind)
        raise gr.Error(f"Something went wrong while analysing this {kind}. Please try another file.",
                       print_exception=False) from None


def guarded(component: gr.components.Component, reader=None) -> gr.components.Component:
    """Make a component's input checks end in one short sentence and no server-side traceback.

    gr.Image opens uploads with PIL and gr.Radio checks its choices before any handler runs; ``reader``, such as
    read_image, gives the precise reason when preprocessing fails. The instance's method is wrapped because a
    component subclass would make Gradio write a .pyi file beside this one.
    """
    preprocess = component.preprocess

    def checked(payload):
        try:
            return preprocess(payload)
        except gr.Error as error:
            error.print_exception = False
            raise
        except Exception:
            message = "this input could not be read"
            try:
                if reader is not None:
                    reader(payload.path)
            except InputError as error:  # empty, too large, not an image...
                message = str(error)
            except Exception:
                pass
            raise gr.Error(sentence(message), print_exception=False) from None

    component.preprocess = checked
    return component


def payload_problem(payload: Any) -> str:
    """Why an API payload is not a file the app can read, in one sentence that says what to send instead."""
    how = "send files with gradio_client.handle_file(path_or_url)"
    if isinstance(payload, str):
        return f"A bare text string is not a file: {how}"
    if isinstance(payload, dict) and (payload.get("url") or payload.get("path")):
        name = payload.get("orig_name") or payload.get("url") or payload.get("path")
        return f"The file {name} could not be fetched or read"
    return f"Expected an image or video file, got {type(payload).__name__}: {how}"


def guard_api_payloads(demo: gr.Blocks) -> None:
    """Payloads of the wrong type (a path string instead of ``handle_file``, a number, a URL that cannot be
    fetched) fail in Gradio's own input handling, before any component or handler: answer them with one sentence
    and no server-side traceback, as bad files are. The instance's method is wrapped, like ``guarded``'s."""
    preprocess = demo.preprocess_data

    async def checked(block_fn, inputs, state, explicit_call=False):
        try:
            return await preprocess(block_fn, inputs, state, explicit_call)
        except gr.Error as error:
            error.print_exception = False
            raise
        except Exception:
            files = [value for value, block in zip(inputs, block_fn.inputs)
                     if isinstance(block, (gr.Image, gr.Video, gr.File))]
            raise gr.Error(sentence(payload_problem(files[0] if files else None)), print_exception=False) from None

    demo.preprocess_data = checked


def heatmap_toggle(prefix: str) -> gr.Checkbox:
    """Whether heatmaps are computed (on by default; off is a little faster)."""
    return gr.Checkbox(True, label="Show where the model looked (heatmaps)", elem_id=f"{prefix}-explain")


def heatmap_gallery(prefix: str, columns: int = 4, height: int = 240) -> gr.Gallery:
    """The gallery of heatmap overlays, with its one-line legend."""
    gallery = gr.Gallery(label="Where the model looked", columns=columns, fit_columns=False, height=height,
                         object_fit="contain", elem_id=f"{prefix}-heatmaps", elem_classes=[show.RESULT_GALLERY])
    gr.Markdown(LEGEND, elem_id=f"{prefix}-heatmap-legend")
    return gallery


@dataclass(frozen=True)
class Result:
    """What a result panel shows, field by field; the fields' order is the endpoints' output order."""

    verdict: str
    confidence: dict[str, float] | None
    picture: Any  # the picture with its faces boxed (a file), or a clip's fake probability over time
    crops: list[tuple[str, str]]
    report_file: str
    report_json: str
    heatmaps: list[tuple[str, str]]

    def values(self) -> list[Any]:
        return [getattr(self, field.name) for field in fields(self)]

    @classmethod
    def unchanged(cls) -> list[Any]:
        return [gr.skip()] * len(fields(cls))


@dataclass(frozen=True)
class ResultPanel:
    """The components of one tab's result, one per ``Result`` field: the Image and Webcam tabs show the boxed
    picture beside the verdict, the Video tab the fake probability over time."""

    verdict: gr.Markdown
    confidence: gr.Label
    picture: gr.components.Component
    crops: gr.Gallery
    report_file: gr.File
    report_json: gr.Code
    heatmaps: gr.Gallery

    @property
    def outputs(self) -> list[gr.components.Component]:
        return [getattr(self, field.name) for field in fields(self)]

    @classmethod
    def build(cls, prefix: str, clip: bool = False) -> ResultPanel:
        columns, height = (5, 260) if clip else (6, 150)
        with gr.Row() if not clip else gr.Column():
            with gr.Column(scale=2):
                verdict = gr.Markdown(label="Verdict", elem_id=f"{prefix}-verdict")
                # No heading: the top class ("real 62 %") would read as a verdict beside an "Uncertain" one.
                confidence = gr.Label(label="Calibrated probability (fake vs real)", show_heading=False,
                                      elem_id=f"{prefix}-confidence")
            if clip:
                picture = gr.LinePlot(x="time (s)", y="fake probability", color="series", y_lim=[0, 1],
                                      label="Fake probability over time", elem_id=f"{prefix}-plot",
                                      color_map={"fake probability": "#dc2626", "fake threshold": "#6b7280",
                                                 "real threshold": "#16a34a"})
            else:
                picture = gr.Image(label="Faces found", show_label=False, type="filepath", interactive=False,
                                   scale=3, elem_id=f"{prefix}-boxed")
        crops = gr.Gallery(label="Sampled face crops" if clip else "Face crops", columns=columns, fit_columns=False,
                           height=height, object_fit="contain", elem_id=f"{prefix}-crops",
                           elem_classes=[show.RESULT_GALLERY])
        heatmaps = heatmap_gallery(prefix, columns=columns if clip else 4, height=250 if clip else 240)
        with gr.Accordion("JSON report", open=False):
            report_file = gr.File(label="Download", elem_id=f"{prefix}-report-file")
            report_json = gr.Code(label="Report", language="json", interactive=False, buttons=["copy"],
                                  elem_id=f"{prefix}-report-json")
        return cls(verdict, confidence, picture, crops, report_file, report_json, heatmaps)


def build_app(image_detector: ImageDetector, videos: Future[VideoDetector], report_dir: Path,
              image_model_path: str | Path = DEFAULT_IMAGE_MODEL,
              video_model_path: str | Path = DEFAULT_VIDEO_MODEL) -> gr.Blocks:
    """The Blocks app around the loaded image detector and the video detector being loaded (``videos``); handlers
    only call model/ and ui/presentation.py.

    The About tab shows the cards written beside the loaded models, and the test figures in assets/ only for the
    shipped models they were made for.
    """
    video_models = models_for(video_model_path)
    has_video = "video" in video_models

    def result(report: Report, subject: str, picture: Callable[[Path], Any]) -> Result:
        """The panel's fields for one report; its files (picture, crops, heatmaps, JSON) go to a fresh folder."""
        data, folder = show.record(report), show.request_folder(report_dir)
        return Result(show.verdict_markdown(report, subject), show.confidences(report), picture(folder),
                      show.face_gallery(report, folder), str(show.write_report(data, folder)), show.report_text(data),
                      show.heatmap_gallery(report, folder))

    def analyze_image(image: str | None, explain: bool = True):
        """Find and score every face in one image file; ``explain`` adds a heatmap per face.

        Returns: verdict (markdown), confidences {"fake", "real"}, picture with boxes, face crops, JSON report file,
        JSON report (the scan CLI's fields plus `provenance`), heatmap overlays (red: towards fake).
        """
        if not image:
            raise gr.Error("Upload or paste an image first.", print_exception=False)
        with user_errors("image"):
            rgb = read_image(image)
            report = image_detector.analyze(rgb, path=image, explain=explain)
            return result(report, "picture", lambda folder: show.save_picture(show.annotate(rgb, report),
                                                                            folder / "faces.jpg")).values()

    def analyze_snapshot(image: str | None, explain: bool = True):
        if not image:  # the snapshot was cleared
            return Result.unchanged()
        return analyze_image(image, explain)

    live = LiveScorer(image_detector)

    def analyze_live(frame, rolling: RollingVerdict | None):
        """One camera frame of a live session: the frame with its faces boxed, the rolling verdict, the state."""
        if frame is None:
            return gr.skip(), gr.skip(), rolling
        with user_errors("camera frame"):
            report, rolling = live.step(frame, rolling)
            return show.annotate(frame, report), show.live_markdown(rolling, report, live.thresholds), rolling

    def analyze_video(video: str | None, model: str = video_models[0], explain: bool = True):
        """Score the faces of one video clip with the video model or the image model frame by frame; ``explain``
        adds a heatmap per sampled face.

        Returns: verdict (markdown), confidences {"fake", "real"}, fake probability over time, sampled face crops,
        JSON report file, JSON report (the scan CLI's fields plus per-frame results), heatmap overlays of the
        sampled faces from the model that judged the clip (red: towards fake).
        """
        if not video:
            raise gr.Error("Upload or record a video first.", print_exception=False)
        try:
            video_detector = videos.result()  # waits while the video model is still loading
        except Exception:
            raise gr.Error("The video model could not be loaded; the server log says why.",
                           print_exception=False) from None
        with user_errors("video"):
            report = video_detector.analyze_file(video, model=model, explain=explain)
            if report.verdict == "error":
                raise InputError(report.error or "the video could not be read")
            return result(report, "clip", lambda folder: show.timeline(report)).values()

    with gr.Blocks(title="Deepfake detector", analytics_enabled=False, delete_cache=UPLOAD_LIFETIME) as demo:
        gr.Markdown("# Deepfake detector\nFinds the faces in a picture or a clip and estimates, for each, how likely "
                    "it is to be manipulated. A research demo: read the **About** tab before trusting a verdict.")
        with gr.Tabs():
            with gr.Tab("Image", id="image"):
                with gr.Row():
                    with gr.Column(scale=2):
                        image_in = guarded(gr.Image(label="Image (upload, drop or paste)", type="filepath",
                                                    sources=["upload", "clipboard"], image_mode=None, height=320,
                                                    elem_id="image-input"), read_image)
                        image_explain = heatmap_toggle("image")
                        image_button = gr.Button("Analyze image", variant="primary", elem_id="image-button")
                        gr.Examples([[str(p)] for p in sorted(EXAMPLES.glob("*.jpg"))], inputs=[image_in],
                                    cache_examples=False, label="Examples (made by this project)")
                    with gr.Column(scale=3):
                        image_out = ResultPanel.build("image")
                gr.Markdown(RESULT_HELP)
            with gr.Tab("Webcam", id="webcam"), gr.Tabs():
                with gr.Tab("Snapshot", id="snapshot"):
                    gr.Markdown("Take a snapshot with your camera; it is analysed as soon as it is taken. Uploads, "
                                "snapshots and results are deleted from the server after about an hour.")
                    with gr.Row():
                        with gr.Column(scale=2):
                            snapshot = guarded(gr.Image(label="Camera", sources=["webcam"], type="filepath",
                                                        image_mode=None, height=320, elem_id="webcam-input"),
                                               read_image)
                            snapshot_explain = heatmap_toggle("webcam")
                        with gr.Column(scale=3):
                            webcam_out = ResultPanel.build("webcam")
                with gr.Tab("Live", id="live"):
                    gr.Markdown(f"Press record to stream your camera: a few frames a second are scored (frames that "
                                f"arrive while one is scored are skipped, never queued) and the verdict rolls over "
                                f"the last {LIVE_WINDOW_S:g} seconds. A session stops after {LIVE_SECONDS} seconds "
                                "of scoring; press record again to go on. Live frames are not stored.")
                    with gr.Row():
                        with gr.Column(scale=2):
                            live_in = gr.Image(label="Live camera", sources=["webcam"], streaming=True,
                                               type="numpy", height=320, elem_id="live-input")
                        with gr.Column(scale=3):
                            live_verdict = gr.Markdown(elem_id="live-verdict")
                            live_boxes = gr.Image(label="Faces in the latest scored frame", type="numpy",
                                                  format="jpeg", interactive=False, height=320,
                                                  elem_id="live-boxes")
                    live_state = gr.State(None)
            with gr.Tab("Video", id="video"):
                with gr.Row():
                    with gr.Column(scale=2):
                        video_in = guarded(gr.Video(label="Video (upload or record)", sources=["upload", "webcam"],
                                                    include_audio=True, height=320, elem_id="video-input"))
                        model_in = guarded(gr.Radio([(MODEL_CHOICES[m], m) for m in video_models],
                                                    value=video_models[0], label="Model",
                                                    interactive=len(video_models) > 1, elem_id="video-model"))
                        video_explain = heatmap_toggle("video")
                        video_button = gr.Button("Analyze video", variant="primary", elem_id="video-button")
                        clips = sorted(EXAMPLES.glob("*.webm"))
                        if clips:
                            gr.Examples([[str(p)] for p in clips], inputs=[video_in], cache_examples=False,
                                        label="Examples (made by this project)")
                    with gr.Column(scale=3):
                        video_out = ResultPanel.build("video", clip=True)
            with gr.Tab("About", id="about"):
                models = [("Image model", image_detector.scorer.info),
                          ("Video model", ModelInfo.read(video_model_path) if has_video else None)]
                loaded = [image_model_path] + ([video_model_path] if has_video else [])
                shipped = [show.model_kind(path) for path in loaded if Path(path).resolve() in SHIPPED_MODELS]
                gr.Markdown(show.LIMITS, elem_id="about-limits")
                gr.Markdown(show.about_markdown(models, []), elem_id="about-card")
                with gr.Row():
                    for path, caption in show.about_images(ASSETS, shipped):
                        # The figure carries its own title: a label would sit on top of it.
                        gr.Image(path, label=caption, show_label=False, interactive=False, buttons=["fullscreen"])
                for card in show.model_cards(loaded):
                    with gr.Accordion(f"Model card: {Path(card).name} (training, data, every measurement)",
                                      open=False):
                        gr.Markdown(show.card_markdown(card), elem_classes=["about-model-card"])

        image_button.click(analyze_image, [image_in, image_explain], image_out.outputs, api_name="analyze_image",
                           concurrency_id="analysis")
        snapshot.change(analyze_snapshot, [snapshot, snapshot_explain], webcam_out.outputs, api_visibility="private",
                        concurrency_id="analysis", trigger_mode="always_last")
        live_in.stream(analyze_live, [live_in, live_state], [live_boxes, live_verdict, live_state],
                       stream_every=LIVE_STREAM_EVERY_S, time_limit=LIVE_SECONDS, concurrency_id="live",
                       concurrency_limit=1, api_visibility="private", show_progress="hidden")
        video_button.click(analyze_video, [video_in, model_in, video_explain], video_out.outputs,
                           api_name="analyze_video", concurrency_id="analysis")
    return demo


def load_image_detector(args: argparse.Namespace) -> ImageDetector:
    """Load the image model and warm the face finder and the model up, so that the first request is fast."""
    detector = ImageDetector(FaceScorer(args.image_model), FaceDetector())
    warm_up = EXAMPLES / "astronaut.jpg"
    if warm_up.exists():
        detector.analyze_file(warm_up)
    return detector


def load_video_detector(image_detector: ImageDetector, path: str | Path) -> VideoDetector:
    """Load the video model (building its graph takes many seconds on a CPU) and analyse the example clip once,
    sharing the image model and the face finder. Runs in the background while the app already serves."""
    started = time.monotonic()
    try:
        detector = VideoDetector(image_detector.scorer, path, faces=image_detector.faces)
        clip = EXAMPLES / "astronaut_clip.webm"
        if clip.exists():
            detector.analyze_file(clip, model=detector.available_models[0])
    except Exception:
        log.exception("cannot load the video model %s: the Video tab will report it", path)
        raise
    log.info("video path ready in %.1f s (%s)", time.monotonic() - started, ", ".join(detector.available_models))
    return detector


def settle(future: Future, function, *args) -> None:
    """Run ``function(*args)`` and put its result, or its exception, in ``future``."""
    try:
        future.set_result(function(*args))
    except BaseException as error:
        future.set_exception(error)


def upload_quota(args: argparse.Namespace) -> Middleware:
    """The upload route's quota: ``--upload-quota-mb`` per client, ``TOTAL_SHARE`` times that for everyone."""
    per_client = int(args.upload_quota_mb * 2**20)
    return Middleware(UploadQuota, per_client_bytes=per_client, total_bytes=per_client * TOTAL_SHARE,
                      behind_proxy=ON_SPACES)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    args = parse_args(argv) if argv is not None or __name__ != "__main__" else COMMAND_LINE
    try:
        image_detector = load_image_detector(args)
    except (FileNotFoundError, ValueError, OSError) as error:
        print(f"app.py: cannot load the models: {error}\n"
              "The shipped ones are in model/weights/ (a clone made without git-lfs needs `git lfs pull`); "
              "--image-model and --video-model choose others.", file=sys.stderr)
        return 2
    videos: Future[VideoDetector] = Future()
    threading.Thread(target=settle, args=(videos, load_video_detector, image_detector, args.video_model),
                     name="video-model", daemon=True).start()
    report_dir = open_report_dir()
    demo = build_app(image_detector, videos, report_dir, args.image_model, args.video_model)
    guard_api_payloads(demo)
    demo.queue(default_concurrency_limit=args.concurrency, max_size=args.queue_size)
    if args.share and ON_SPACES:
        log.info("--share is ignored on Hugging Face Spaces: the Space already has a public address")
    log.info("image model %s ready; loading the video path in the background", image_detector.scorer.name)
    demo.launch(server_name=args.host, server_port=args.port, share=args.share and not ON_SPACES,
                max_file_size=f"{args.max_file_mb:g}mb", show_error=False, run_history=False,
                css=show.APP_CSS, app_kwargs={"middleware": [upload_quota(args)]})
    return 0


if __name__ == "__main__":
    sys.exit(main())
