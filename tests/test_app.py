"""The app as its users reach it: a real `python app.py` server on a free port, called through gradio_client.

Also, without a server, what the app wires to its components: boxes (ui.drawing), verdict lines (ui.wording),
confidences and time plot (ui.charts), captioned galleries (ui.galleries), the report file (ui.json_report).
"""

from __future__ import annotations

import json
import re
import os
import subprocess
import sys
import time
import urllib.request
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from model.calibration import Thresholds
from model.report import ClipSummary, Report, SampledFrameResult, ScoredFace
from model.store import ModelInfo, write_metadata
from tests.browser_support import ROOT, AppServer, small_video_model
from tests.test_provenance import signing_chain  # noqa: F401  (a fixture)

EXAMPLES = ROOT / "assets" / "examples"
SCAN_FIELDS = {"path", "kind", "verdict", "fake_probability", "threshold", "real_below", "faces", "model", "error"}
VERDICTS = {"real", "uncertain", "fake"}
VERDICT_HEADING = re.compile(r'^## <span class="verdict-(real|uncertain|fake)">(Likely real|Uncertain|Likely fake)</span>')
MAX_FILE_MB = 1


# ---------------------------------------------------------------- what a result shows (no server)

def _report(faces: list[tuple[tuple[int, int, int, int], float]], threshold: float = 0.5) -> Report:
    crop = np.full((20, 20, 3), 128, np.uint8)
    report = Report(path="/tmp/gradio/abc/photo.jpg", kind="image", thresholds=Thresholds(threshold, threshold),
                    model="meso4@m.keras")
    report.faces = [ScoredFace(box, 0.99, p, crop) for box, p in faces]
    if faces:
        report.fake_probability = max(p for _, p in faces)
    return report


def _clip(report: Report, frames: list[tuple[float, float | None]], **summary) -> Report:
    """``report`` as a clip's, with sampled frames (time, main face's probability or None)."""
    report.kind = "video"
    report.clip = ClipSummary(model=summary.pop("model", "image"), frames=[
        SampledFrameResult(index, time_s, int(p is not None), None if p is None else (0, 0, 10, 10), p)
        for index, (time_s, p) in enumerate(frames)], **summary)
    return report


def test_annotate_boxes_every_face_in_its_colour():
    from ui import drawing

    rgb = np.full((400, 600, 3), 255, np.uint8)
    report = _report([((50, 100, 80, 80), 0.9), ((300, 120, 60, 60), 0.1)])
    boxed = drawing.annotate(rgb, report)
    assert boxed.shape == rgb.shape and rgb.min() == 255  # a copy; the input is untouched
    assert tuple(boxed[140, 50]) == drawing.FAKE_RGB  # left edge of the fake face's box
    assert tuple(boxed[150, 300]) == drawing.REAL_RGB
    large = drawing.annotate(np.zeros((3000, 4000, 3), np.uint8), report)
    assert max(large.shape[:2]) == drawing.DISPLAY_SIDE


def test_verdicts_confidences_and_captions(tmp_path):
    from ui.charts import confidences
    from ui.galleries import face_gallery
    from ui.wording import verdict_markdown

    report = _report([((0, 0, 10, 10), 0.8), ((20, 0, 10, 10), 0.3)], threshold=0.6)
    assert confidences(report) == {"fake": 0.8, "real": 0.2}
    text = verdict_markdown(report)
    assert "Likely fake" in text and "0.80" in text and "2 faces" in text
    gallery = face_gallery(report, tmp_path)
    assert [caption for _, caption in gallery] == ["1: fake 0.80", "2: real 0.30"]
    assert all(Path(path).stat().st_size > 0 for path, _ in gallery)
    empty = _report([])
    assert confidences(empty) is None and face_gallery(empty, tmp_path) == []
    assert "No face found" in verdict_markdown(empty)


def test_a_clip_says_when_the_two_models_disagree_and_rounds_apart_close_numbers():
    from ui.wording import probability_line, verdict_markdown

    report = _clip(_report([((0, 0, 10, 10), 0.72)], threshold=0.6), [(i / 10, 0.72) for i in range(8)],
                   model="video", scores={"video": 0.72, "image": 0.32},
                   score_verdicts={"video": "fake", "image": "real"})
    assert "**The two models disagree:**" in verdict_markdown(report, "clip")
    report.clip.score_verdicts = {"video": "fake", "image": "uncertain"}
    text = verdict_markdown(report, "clip")
    assert "disagree" not in text and "The image model alone gives 0.32" in text
    close = _report([((0, 0, 10, 10), 0.3799)], threshold=0.6)
    close.thresholds = Thresholds(0.3784, 0.6308)
    assert "**0.380**" in probability_line(close) and "real below 0.378" in probability_line(close)


def test_record_and_report_file(tmp_path):
    from ui.json_report import record, report_text, write_report
    from ui.report_folders import request_folder

    data = record(_report([((1, 2, 3, 4), 0.25)]))
    assert set(data) == SCAN_FIELDS and data["path"] == "photo.jpg"  # no server paths leak out
    first, second = request_folder(tmp_path), request_folder(tmp_path)
    assert first != second and first.parent == tmp_path
    path = write_report(data, first)
    assert path.name == "photo_report.json" and json.loads(path.read_text()) == data
    assert json.loads(report_text(data)) == data
    os.utime(first, (0, 0))
    request_folder(tmp_path)
    assert not first.exists() and second.exists()  # request folders older than 10 minutes are removed


def test_timeline_has_faces_only_and_the_thresholds():
    from ui.charts import timeline
    from ui.wording import verdict_markdown

    report = _clip(_report([((0, 0, 10, 10), 0.7)]), [(0.0, 0.7), (0.5, None), (0.9, 0.4)])
    frame = timeline(report)
    points = frame[frame["series"] == "fake probability"]
    assert points["time (s)"].tolist() == [0.0, 0.9] and points["fake probability"].tolist() == [0.7, 0.4]
    # The same three series whatever the band (a band without width draws its two lines on each other).
    assert frame["series"].unique().tolist() == ["fake probability", "fake threshold", "real threshold"]
    assert (frame[frame["series"] != "fake probability"]["fake probability"] == 0.5).all()
    assert "2 of 3" in verdict_markdown(report, "clip")
    report.clip.model, report.clip.scores, report.clip.truncated = "video", {"image": 0.31, "video": 0.7}, True
    assert "image model alone gives 0.31" in verdict_markdown(report) and "first part" in verdict_markdown(report)
    faceless = _clip(_report([]), [(i / 10, None) for i in range(20)])
    assert "in any of the 20 sampled frames" in verdict_markdown(faceless)
    assert "front-facing clip" in verdict_markdown(faceless)
    assert timeline(_report([])).empty


def test_about_lists_metrics_cards_and_limits(tmp_path):
    from ui import about

    card = tmp_path / "IMAGE_MODEL_CARD.md"
    card.write_text("---\nlicense: other\n---\n# Image model card\nTrained on things.\n")
    info = ModelInfo(kind="image", architecture="meso4", image_size=256, real_below=0.42, fake_from=0.42,
                     data="/data/dfdc-faces", counts={"train": {"real": 3, "fake": 5}},
                     test_metrics={"count": 10, "accuracy": 0.9, "roc_auc": 0.95, "balanced_accuracy": None},
                     path=Path("image_model.keras"))
    text = about.about_markdown([("Image model", info), ("Video model", None)], [card])
    assert "| ROC-AUC | 0.950 |" in text and "0.420" in text and "dfdc-faces" in text and "train 3 real" in text
    assert "\n## Image model card" in text and "license: other" not in text and "Not installed" in text
    assert "Accuracy drops on other data" in about.LIMITS and "research only" in about.LIMITS
    assert "Uncertain" in about.LIMITS
    banded = replace(info, real_below=0.3, data=[{"name": "dfdc-faces", "weight": 1.0}],
                     test_domains=[{"domain": "dfdc-faces", "split": "test", "faces": 10, "roc_auc": 0.9, "brier": 0.1,
                                    "real_called_fake": 0.05, "fakes_caught": 0.8, "uncertain": 0.2}])
    section = about.model_section("Image model", banded)
    assert "real below 0.300, fake at 0.420 or above, uncertain in between" in section
    assert "| dfdc-faces | 10 | 0.900 | 0.100 | 5.0 % | 80.0 % | 20.0 % |" in section
    assert "mirror image" not in section
    assert "mean of 2 views: the face as cut and its mirror image, so which way" in about.model_section(
        "Image model", replace(banded, views=("as_cut", "mirrored")))
    assert "4 views: the face as cut, its mirror image, the face at half size and the face in grey\n" in (
        about.model_section("Image model", replace(banded, views=("as_cut", "mirrored", "half_size", "greyscale"))))
    assert "first shrunk to at most 224 px" in about.model_section("Image model", replace(
        banded, face_recipe=replace(banded.face_recipe, crop_ceiling=224)))
    # A model column is code (never an e-mail link); a domain the shortcut audit flagged is said to be one.
    flagged = replace(banded, test_domains=[{**banded.test_domains[0], "model": "lite0_bilstm@model.keras"}],
                      shortcut_audit={"dfdc-faces": {"roc_auc": 0.99, "flagged": True}, "other": {"flagged": False}},
                      path=Path("video_model.keras"))
    section = about.model_section("Video model", flagged)
    assert "| dfdc-faces | `lite0_bilstm@model.keras` | 10 |" in section
    assert "*dfdc-faces*: trivial features alone" in section and "ROC-AUC 0.990" in section and "*other*" not in section
    for name in ("image_test_roc.png", "video_test_confusion.png", "logo.png"):
        (tmp_path / name).write_bytes(b"png")
    assert about.about_images(tmp_path, ["image"]) == [(str(tmp_path / "image_test_roc.png"), "image test roc")]
    (tmp_path / "image_model.keras").write_bytes(b"")
    (tmp_path / "VIDEO_MODEL_CARD.md").write_text("# Video model card\n")
    assert about.model_cards([tmp_path / "image_model.keras"]) == [card]
    assert about.model_cards([tmp_path / "image_model.keras", tmp_path / "video_model.keras"]) == [
        card, tmp_path / "VIDEO_MODEL_CARD.md"]


# ---------------------------------------------------------------- the running app

@pytest.fixture(scope="module")
def video_model(tmp_path_factory) -> Path:
    return small_video_model(tmp_path_factory.mktemp("models") / "video_model.keras")


@pytest.fixture(scope="module")
def app(small_image_model, video_model):
    """The app with both models, its address given the Gradio way (GRADIO_SERVER_NAME / GRADIO_SERVER_PORT)."""
    with AppServer("--image-model", str(small_image_model), "--video-model", str(video_model),
                   "--max-file-mb", str(MAX_FILE_MB), address_from_env=True) as server:
        yield server


@pytest.fixture(scope="module")
def client(app):
    from gradio_client import Client

    return Client(app.url, verbose=False)


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad")
    photo = (EXAMPLES / "astronaut.jpg").read_bytes()
    files = {"text.jpg": b"this is not a picture", "truncated.jpg": photo[:4000], "empty.png": b"",
             "big.jpg": photo + bytes(MAX_FILE_MB * 2**20), "clip.mp4": b"\x00\x00\x00\x18ftypmp42" + bytes(500)}
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def analyze_image(client, path):
    from gradio_client import handle_file

    return client.predict(handle_file(str(path)), api_name="/analyze_image")


def test_named_endpoints(client):
    info = client.view_api(print_info=False, return_format="dict")
    assert set(info["named_endpoints"]) == {"/analyze_image", "/analyze_video"}
    image, explain = info["named_endpoints"]["/analyze_image"]["parameters"]
    assert image["parameter_name"] == "image" and explain["parameter_name"] == "explain"
    assert explain["parameter_default"] is True
    video, model, explain = info["named_endpoints"]["/analyze_video"]["parameters"]
    assert video["parameter_name"] == "video" and model["parameter_name"] == "model"
    assert model["parameter_default"] == "video" and model["type"]["enum"] == ["video", "image"]
    assert explain["parameter_name"] == "explain" and explain["parameter_default"] is True
    assert not info["unnamed_endpoints"]


def test_config_has_no_analytics_and_the_upload_limit(app):
    with urllib.request.urlopen(app.url + "config", timeout=10) as response:
        config = json.load(response)
    assert config["analytics_enabled"] is False
    assert config["max_file_size"] == MAX_FILE_MB * 2**20


def test_photo_with_face(client):
    verdict, confidence, boxed, crops, report_file, report_text, heatmaps = analyze_image(client,
                                                                                        EXAMPLES / "astronaut.jpg")
    assert VERDICT_HEADING.match(verdict) and "1 face scored" in verdict
    scores = {item["label"]: item["confidence"] for item in confidence["confidences"]}
    assert set(scores) == {"fake", "real"} and scores["fake"] + scores["real"] == pytest.approx(1, abs=1e-3)
    assert confidence["label"] in ("fake", "real")
    from PIL import Image

    with Image.open(boxed) as image:
        assert image.size == (512, 512)
    assert len(crops) == 1 and crops[0]["caption"].startswith("1: ")
    report = json.loads(report_text)
    assert json.loads(Path(report_file).read_text()) == report and Path(report_file).name == "astronaut_report.json"
    assert set(report) == SCAN_FIELDS | {"jpeg_quality", "provenance"} and report["kind"] == "image"
    assert "missing credentials prove nothing" in report["provenance"]["summary"] in verdict
    assert report["path"] == "astronaut.jpg" and report["jpeg_quality"] > 50
    assert report["verdict"] in VERDICTS and report["fake_probability"] == scores["fake"]
    [face] = report["faces"]
    assert face["verdict"] == report["verdict"] and face["size_px"] > 100 and face["flags"] == []
    assert len(report["faces"]) == 1 and report["faces"][0]["score"] > 0.9
    [heatmap] = heatmaps
    assert heatmap["caption"] == crops[0]["caption"]
    with Image.open(heatmap["image"]) as overlay, Image.open(crops[0]["image"]) as crop:
        assert overlay.size == crop.size


def test_reports_match_the_scan_cli(client, small_image_model, video_model):
    """The app's JSON reports and `python -m model.scan` agree field for field on the same photo and clip."""
    from gradio_client import handle_file

    photo, clip = EXAMPLES / "two_faces.jpg", EXAMPLES / "astronaut_clip.webm"
    *_, photo_report, _ = analyze_image(client, photo)
    *_, clip_report, _ = client.predict(handle_file(str(clip)), "video", api_name="/analyze_video")
    result = subprocess.run([sys.executable, "-m", "model.scan", "--quiet", "--image-model", str(small_image_model),
                             "--video-model", str(video_model), "--model", "video", str(photo), str(clip)],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    scanned = [json.loads(line) for line in result.stdout.splitlines()]
    for report, expected in zip((json.loads(photo_report), json.loads(clip_report)), scanned, strict=True):
        assert set(report) == set(expected)
        assert {**report, "path": None} == {**expected, "path": None}
        assert report["path"] == Path(expected["path"]).name
    assert len(scanned[0]["faces"]) == 2 and scanned[1]["video_model"] == "video"


def test_signed_picture_shows_its_content_credentials(client, tmp_path, signing_chain):
    """A picture the test signs with C2PA: the credentials are shown beside the verdict and in the report."""
    from tests.test_provenance import sign_with_c2pa

    signed = sign_with_c2pa(signing_chain, EXAMPLES / "astronaut.jpg", tmp_path / "signed.jpg")
    verdict, *_, report_text, _ = analyze_image(client, signed)
    provenance = json.loads(report_text)["provenance"]
    assert provenance["c2pa"]["claim_generator"].startswith("deepfake-detector-tests")
    assert provenance["claims_generated"] is True and provenance["c2pa"]["trusted"] is False
    assert "Content Credentials signed by Test Signer" in verdict and "not a trusted issuer" in verdict


def test_heatmaps_can_be_turned_off(client):
    from gradio_client import handle_file

    *_, report_text, heatmaps = client.predict(handle_file(str(EXAMPLES / "two_faces.jpg")), False,
                                               api_name="/analyze_image")
    assert heatmaps == [] and len(json.loads(report_text)["faces"]) == 2


def test_image_without_face_is_a_result(client):
    verdict, confidence, boxed, crops, report_file, report_text, heatmaps = analyze_image(client,
                                                                                        EXAMPLES / "no_face.jpg")
    assert "No face found" in verdict and "nothing to score" in verdict
    assert not confidence.get("confidences") and crops == [] and heatmaps == [] and boxed
    report = json.loads(report_text)
    assert report["verdict"] == "no_face" and report["faces"] == [] and report["fake_probability"] is None


@pytest.mark.parametrize(("name", "message"), [("text.jpg", "Not a readable image file."),
                                               ("truncated.jpg", "The image is corrupt or truncated."),
                                               ("empty.png", "The file is empty.")])
def test_bad_image_gets_one_sentence(client, bad_files, name, message):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError) as caught:
        analyze_image(client, bad_files / name)
    assert str(caught.value) == message


def _raw_upload(url: str, size: int) -> tuple[int, bytes]:
    """POST ``size`` bytes straight to the upload route, as a client that never analyses them would."""
    boundary = "----raw"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"x.jpg\"\r\n"
            f"Content-Type: image/jpeg\r\n\r\n").encode() + bytes(size) + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(url + "gradio_api/upload", data=body, method="POST",
                                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_upload_over_the_limit_is_refused(app, client, bad_files):
    with pytest.raises(ValueError, match="exceeds the maximum file size"):
        analyze_image(client, bad_files / "big.jpg")
    # The server refuses it too, with one sentence, when a client does not check first.
    status, body = _raw_upload(app.url, (bad_files / "big.jpg").stat().st_size)
    assert status == 413 and b"maximum allowed size" in body


@pytest.mark.parametrize("model", ["video", "image"])
def test_short_video(client, model):
    from gradio_client import handle_file

    verdict, confidence, plot, crops, report_file, report_text, heatmaps = client.predict(
        handle_file(str(EXAMPLES / "astronaut_clip.webm")), model, api_name="/analyze_video")
    report = json.loads(report_text)
    assert SCAN_FIELDS <= set(report) and report["kind"] == "video" and report["path"] == "astronaut_clip.webm"
    assert report["video_model"] == model and f"`{report['model']}`" in verdict
    assert report["frames_sampled"] >= 10 and report["frames_with_face"] >= report["frames_sampled"] - 2
    assert f"{report['frames_with_face']} of {report['frames_sampled']}" in verdict
    assert report["verdict"] in VERDICTS and confidence["confidences"][0]["confidence"] >= 0.5
    columns = plot["value"]["columns"] if "value" in plot else plot["columns"]
    rows = plot["value"]["data"] if "value" in plot else plot["data"]
    assert columns == ["time (s)", "fake probability", "series"]
    assert sum(row[2] == "fake probability" for row in rows) == report["frames_with_face"]
    assert len(crops) == len(heatmaps) == len(report["faces"]) > 0
    assert [h["caption"] for h in heatmaps] == [c["caption"] for c in crops]
    assert json.loads(Path(report_file).read_text()) == report


def test_video_without_a_face_is_a_result(client, tmp_path):
    import cv2
    from gradio_client import handle_file

    path = tmp_path / "landscape.webm"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"VP80"), 10, (480, 360))
    for _ in range(10):
        writer.write(cv2.imread(str(EXAMPLES / "no_face.jpg")))
    writer.release()
    verdict, confidence, _, crops, _, report_text, _ = client.predict(handle_file(str(path)), "image",
                                                                      api_name="/analyze_video")
    report = json.loads(report_text)
    assert "No face found" in verdict and "sampled frames" in verdict
    assert report["verdict"] == "no_face" and report["frames_with_face"] == 0 and crops == []


def test_video_errors_are_one_sentence(client, bad_files):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    for name in ("clip.mp4", "text.jpg"):
        with pytest.raises(AppError) as caught:
            client.predict(handle_file(str(bad_files / name)), "image", api_name="/analyze_video")
        message = str(caught.value)
        assert message and "\n" not in message and "Traceback" not in message and len(message) < 120
    with pytest.raises(AppError, match="not in the list of choices"):
        client.predict(handle_file(str(EXAMPLES / "astronaut_clip.webm")), "audio", api_name="/analyze_video")


def test_keeps_serving_without_tracebacks(app, client, bad_files):
    test_bad_image_gets_one_sentence(client, bad_files, "text.jpg", "Not a readable image file.")
    verdict, *_ = analyze_image(client, EXAMPLES / "astronaut.jpg")
    assert VERDICT_HEADING.match(verdict)
    assert app.process.poll() is None
    assert "Traceback" not in app.output()


def test_uncertain_verdict_through_the_endpoint(uncertain_image_model, tmp_path):
    """A model whose uncertain band covers its scores: the app says "Uncertain", why, and keeps the probability."""
    from gradio_client import Client

    with AppServer("--image-model", str(uncertain_image_model), "--video-model", str(tmp_path / "none.keras")) as server:
        verdict, confidence, _, crops, _, report_text, _ = analyze_image(Client(server.url, verbose=False),
                                                                         EXAMPLES / "astronaut.jpg")
        css = urllib.request.urlopen(server.url + "config", timeout=10).read().decode()
    from ui.wording import UNCERTAIN_MESSAGE

    assert verdict.startswith('## <span class="verdict-uncertain">Uncertain</span>')
    assert UNCERTAIN_MESSAGE in verdict and "uncertain in between" in verdict
    report = json.loads(report_text)
    assert report["verdict"] == "uncertain" and (report["real_below"], report["threshold"]) == (0.001, 0.999)
    assert report["faces"][0]["verdict"] == "uncertain" and crops[0]["caption"].startswith("1: uncertain ")
    assert confidence["confidences"] and report["fake_probability"] is not None
    assert ".verdict-uncertain" in css  # the neutral colour is served with the page


def test_uncertain_clip_verdict_through_the_scan_and_the_endpoint(small_image_model, tmp_path):
    """A video model whose uncertain band covers its scores: the scan and /analyze_video both say "uncertain", and
    the timeline draws both edges of the band."""
    from gradio_client import Client, handle_file

    model = small_video_model(tmp_path / "video_model.keras")
    write_metadata(model, replace(ModelInfo.read(model), real_below=0.001, fake_from=0.999))
    clip = EXAMPLES / "astronaut_clip.webm"
    result = subprocess.run([sys.executable, "-m", "model.scan", "--quiet", "--image-model", str(small_image_model),
                             "--video-model", str(model), str(clip)], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    [scanned] = [json.loads(line) for line in result.stdout.splitlines()]
    assert scanned["verdict"] == "uncertain" and scanned["video_model"] == "video"
    assert (scanned["real_below"], scanned["threshold"]) == (0.001, 0.999)
    with AppServer("--image-model", str(small_image_model), "--video-model", str(model)) as server:
        verdict, _, plot, *_, report_text, _ = Client(server.url, verbose=False).predict(
            handle_file(str(clip)), "video", False, api_name="/analyze_video")
    report = json.loads(report_text)
    assert verdict.startswith('## <span class="verdict-uncertain">Uncertain</span>')
    assert report["verdict"] == "uncertain" and report["fake_probability"] == scanned["fake_probability"]
    rows = plot["value"]["data"] if "value" in plot else plot["data"]
    assert {row[2] for row in rows} == {"fake probability", "fake threshold", "real threshold"}


def test_missing_model_is_one_line_and_exit_2(tmp_path):
    started = time.monotonic()
    result = subprocess.run([sys.executable, str(ROOT / "app.py"), "--image-model", str(tmp_path / "none.keras")],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "cannot load the models" in result.stderr and "Traceback" not in result.stderr
    assert time.monotonic() - started < 60


@pytest.mark.parametrize(("payload", "reason"), [
    ("assets/examples/astronaut.jpg", "handle_file"),  # a bare path string instead of handle_file(...)
    (42, "got int"),
    ({"path": "http://127.0.0.1:9/nowhere.jpg", "meta": {"_type": "gradio.FileData"}}, "could not"),
], ids=["path-string", "number", "unreachable-url"])
def test_wrong_types_through_the_api_get_one_sentence(app, client, payload, reason):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError) as caught:
        client.predict(payload, api_name="/analyze_image")
    message = str(caught.value)
    assert reason in message and "show_error" not in message and "\n" not in message
    assert "Traceback" not in app.output()


def test_file_metadata_is_shown_as_text_never_as_markdown_or_html():
    """EXIF strings from a stranger's file reach the verdict escaped: no emphasis, link or tag of theirs renders."""
    from ui.wording import provenance_line

    report = _report([((0, 0, 10, 10), 0.8)], threshold=0.6)
    report.provenance = {"summary": "The file's metadata names the software '**bold** <b>html</b> "
                                    "[link](http://x) <script>alert(1)</script> `code` # _under_'."}
    line = provenance_line(report)
    assert "<b>" not in line and "<script>" not in line and "&lt;script&gt;" in line
    assert "\\*\\*bold\\*\\*" in line and "\\[link\\]" in line and "\\`code\\`" in line and "\\_under\\_" in line
    assert line.startswith("**What the file says about itself:**")  # the app's own emphasis stays


def test_no_request_folder_outlives_the_app_and_crafted_metadata_does_not_stall_it(small_image_model, video_model,
                                                                                    tmp_path):
    """A killed run's report folder is removed at the next start; SIGTERM removes this run's, with every boxed
    picture, crop and report in it; a picture with a crafted 60 KB XMP packet is answered while other users are."""
    import signal
    import threading

    from gradio_client import Client, handle_file
    from PIL import Image

    leftover = tmp_path / "deepfake-reports-killed"
    leftover.mkdir()
    (leftover / "owner.pid").write_text("999999999")  # no such process
    crafted = tmp_path / "crafted.jpg"
    Image.open(EXAMPLES / "astronaut.jpg").save(crafted, xmp=b"<x " + b"a" * 60_000)
    with AppServer("--image-model", str(small_image_model), "--video-model", str(video_model),
                   "--upload-quota-mb", "2", extra_env={"TMPDIR": str(tmp_path)}) as server:
        assert not leftover.exists()
        assert [_raw_upload(server.url, 700_000)[0] for _ in range(3)] == [200, 200, 429]  # 2 MB per client
        client = Client(server.url, verbose=False)
        waits: list[float] = []

        def other_user() -> None:
            for _ in range(10):
                start = time.monotonic()
                urllib.request.urlopen(server.url + "config", timeout=30).read()
                waits.append(time.monotonic() - start)

        neighbour = threading.Thread(target=other_user)
        neighbour.start()
        start = time.monotonic()
        verdict, *_ = client.predict(handle_file(str(crafted)), api_name="/analyze_image")
        answered_s = time.monotonic() - start
        neighbour.join()
        assert "face" in verdict and answered_s < 15 and max(waits) < 2.0
        folders = list(tmp_path.glob("deepfake-reports-*"))
        assert len(folders) == 1 and any(path.is_dir() for path in folders[0].iterdir())  # a request's files
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=60) is not None
    assert not list(tmp_path.glob("deepfake-reports-*"))
