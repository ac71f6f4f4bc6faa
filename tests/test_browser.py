"""The app in a real browser: Debian's Chromium driven by Playwright, with a fake camera showing a face.

Skips when Chromium is not installed (.ci/run installs it with apt). Screenshots go to $SCREENSHOTS_DIR or a
temporary folder whose path is printed.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.browser_support import (CHROMIUM_ARGS, ROOT, AppServer, camera_frames, chromium_path, small_video_model,
                                   write_y4m)

EXAMPLES = ROOT / "assets" / "examples"
TIMEOUT_MS = 120_000
MAX_FILE_MB = 2  # the examples and a few seconds of webcam video are far smaller

pytestmark = pytest.mark.skipif(chromium_path() is None, reason="Debian's chromium is not installed")


@pytest.fixture(scope="module")
def app(small_image_model, tmp_path_factory):
    video_model = small_video_model(tmp_path_factory.mktemp("models") / "video_model.keras")
    with AppServer("--image-model", str(small_image_model), "--video-model", str(video_model),
                   "--max-file-mb", str(MAX_FILE_MB)) as server:
        yield server


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = Path(os.getenv("SCREENSHOTS_DIR") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots: {folder}")
    return folder


@pytest.fixture(scope="module")
def browser(tmp_path_factory, astronaut):
    sync_api = pytest.importorskip("playwright.sync_api")
    camera = write_y4m(tmp_path_factory.mktemp("camera") / "face.y4m", camera_frames(astronaut))
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(),
                                             args=[*CHROMIUM_ARGS, f"--use-file-for-fake-video-capture={camera}"])
        yield browser
        browser.close()


@pytest.fixture()
def page(browser, app):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.grant_permissions(["camera", "microphone"])
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(app.url)
    page.wait_for_selector("#image-input")
    yield page
    context.close()
    assert not errors, errors


def test_upload_image_shows_verdict_boxes_and_crops(page, shots):
    page.screenshot(path=shots / "01_loaded.png", full_page=True)
    page.locator("#image-input input[type=file]").set_input_files(str(EXAMPLES / "two_faces.jpg"))
    page.click("#image-button")
    heading = page.wait_for_selector("#image-verdict h2")
    assert heading.inner_text() in ("Likely real", "Uncertain", "Likely fake")
    assert "2 faces scored" in page.inner_text("#image-verdict")
    page.wait_for_selector("#image-boxed img")
    page.wait_for_function("document.querySelectorAll('#image-crops img').length == 2")
    page.wait_for_function("document.querySelectorAll('#image-heatmaps img').length == 2")
    assert "red marks the regions" in page.inner_text("#image-heatmap-legend")
    assert "missing credentials prove nothing" in page.inner_text("#image-verdict")
    assert "fake" in page.inner_text("#image-confidence") and "real" in page.inner_text("#image-confidence")
    page.get_by_text("JSON report").first.click()
    page.wait_for_selector("#image-report-file a")
    assert "two_faces_report" in page.inner_text("#image-report-file")
    page.screenshot(path=shots / "02_image_result.png", full_page=True)


def test_no_face_and_unreadable_file_messages(page, shots, tmp_path):
    page.locator("#image-input input[type=file]").set_input_files(str(EXAMPLES / "no_face.jpg"))
    page.click("#image-button")
    assert page.wait_for_selector("#image-verdict h2").inner_text() == "No face found"
    page.screenshot(path=shots / "03_no_face.png", full_page=True)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a picture" * 20)
    page.get_by_role("button", name="Remove Image").click()
    page.locator("#image-input input[type=file]").set_input_files(str(broken))
    page.click("#image-button")
    page.locator("[data-testid=toast-text]", has_text="Not a readable image file.").wait_for()
    page.wait_for_timeout(800)  # the toast slides in
    page.screenshot(path=shots / "04_unreadable.png")


def test_upload_over_the_limit_is_refused_with_one_sentence(page, shots, tmp_path):
    big = tmp_path / "big.jpg"
    big.write_bytes((EXAMPLES / "astronaut.jpg").read_bytes() + bytes(MAX_FILE_MB * 2**20))
    page.locator("#image-input input[type=file]").set_input_files(str(big))
    toast = page.locator("[data-testid=toast-text]", has_text="exceed the maximum allowed size")
    toast.wait_for()
    assert "big.jpg" in toast.inner_text()
    page.wait_for_timeout(800)
    page.screenshot(path=shots / "04b_too_large.png")


def test_webcam_snapshot_shows_verdict(page, shots):
    page.get_by_role("tab", name="Webcam").click()
    page.get_by_text("Click to Access Webcam").click()
    page.wait_for_function("document.querySelector('#webcam-input video')?.readyState >= 2")
    page.wait_for_timeout(500)  # a few frames of the fake camera
    page.screenshot(path=shots / "05_webcam_live.png", full_page=True)
    page.get_by_role("button", name="capture photo").click()
    heading = page.wait_for_selector("#webcam-verdict h2")
    assert heading.inner_text() in ("Likely real", "Uncertain", "Likely fake")
    assert "1 face scored" in page.inner_text("#webcam-verdict")
    page.wait_for_function("document.querySelectorAll('#webcam-crops img').length == 1")
    page.screenshot(path=shots / "06_webcam_result.png", full_page=True)


def test_live_webcam_mode_boxes_faces_and_rolls_a_verdict(page, shots):
    """Streaming the fake camera (a face) gives boxed frames and a rolling verdict within seconds, and stops."""
    page.get_by_role("tab", name="Webcam").click()
    page.get_by_role("tab", name="Live").click()
    live = page.locator("#live-input")
    live.get_by_text("Click to Access Webcam").click()
    page.wait_for_function("document.querySelector('#live-input video')?.readyState >= 2")
    live.locator("button", has_text="Record").click()  # streams frames until "Stop"
    heading = page.wait_for_selector("#live-verdict h2", timeout=30_000)
    page.wait_for_function("/Frames scored this session: ([3-9]|[1-9][0-9])/.test("
                           "document.querySelector('#live-verdict').innerText)", timeout=30_000)
    assert heading.inner_text() in ("Likely real", "Uncertain", "Likely fake")
    assert "camera frames with a face in the last" in page.inner_text("#live-verdict")
    page.wait_for_selector("#live-boxes img")
    page.screenshot(path=shots / "06b_webcam_live_mode.png", full_page=True)
    live.locator("button", has_text="Stop").click()
    page.wait_for_timeout(1500)
    scored = page.inner_text("#live-verdict")
    page.wait_for_timeout(1500)
    assert page.inner_text("#live-verdict") == scored  # nothing more is scored once stopped
    page.screenshot(path=shots / "06c_webcam_live_stopped.png", full_page=True)


def test_video_upload_shows_plot_and_crops(page, shots):
    page.get_by_role("tab", name="Video").click()
    page.locator("#video-input input[type=file]").set_input_files(str(EXAMPLES / "astronaut_clip.webm"))
    page.wait_for_selector("#video-input video")
    page.click("#video-button")  # the video model is the default
    page.wait_for_selector("#video-verdict h2")
    verdict = page.inner_text("#video-verdict")
    assert "sampled frames" in verdict and "image model alone gives" in verdict
    page.wait_for_selector("#video-plot canvas, #video-plot svg")
    page.wait_for_function("document.querySelectorAll('#video-crops img').length >= 10")
    page.wait_for_function("document.querySelectorAll('#video-heatmaps img').length >= 10")
    page.screenshot(path=shots / "07_video_result.png", full_page=True)
    # The same clip judged again by the other model, on the same page: the plot keeps its threshold lines and
    # its legend names the series drawn now.
    page.get_by_label("Image model (frame by frame)").check()
    page.click("#video-button")
    page.wait_for_function("!document.querySelector('#video-verdict').innerText.includes('image model alone')")
    page.wait_for_timeout(1000)
    legend = page.locator("#video-plot svg .role-legend").text_content()
    assert all(name in legend for name in ("fake probability", "fake threshold", "real threshold")), legend
    assert page.locator("#video-plot svg .mark-line path").count() == 3
    page.screenshot(path=shots / "07b_video_result_image_model.png", full_page=True)


def test_a_phone_sees_every_sampled_face_of_a_clip(browser, app, shots):
    """At 390 px wide, every crop and heatmap of a clip lies inside its gallery and the screen: no column runs off
    the right edge, no row hides behind a scrollbar of the gallery's own."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(app.url)
    page.get_by_role("tab", name="Video").click()
    page.locator("#video-input input[type=file]").set_input_files(str(EXAMPLES / "astronaut_clip.webm"))
    page.wait_for_selector("#video-input video")
    page.click("#video-button")
    page.wait_for_function("document.querySelectorAll('#video-heatmaps img').length >= 10")
    outside = page.evaluate("""() => ['#video-crops', '#video-heatmaps'].flatMap(id => {
        const gallery = document.querySelector(id).getBoundingClientRect();
        return [...document.querySelectorAll(id + ' .grid-container img')].map(img => img.getBoundingClientRect())
            .filter(r => r.top < gallery.top - 1 || r.bottom > gallery.bottom + 1 || r.right > innerWidth + 1)
            .map(r => id + ' ' + Math.round(r.left) + ',' + Math.round(r.top));
    })""")
    assert outside == []
    assert page.locator("#video-crops .grid-container img").count() >= 10
    page.locator("#video-crops").scroll_into_view_if_needed()
    page.screenshot(path=shots / "07_video_result_phone.png")
    context.close()


def test_video_recorded_from_the_webcam(page, shots):
    page.get_by_role("tab", name="Video").click()
    video = page.locator("#video-input")
    video.get_by_role("button", name="Capture from camera").click()
    video.get_by_text("Click to Access Webcam").click()
    record = video.get_by_role("button", name="start recording")  # the same button reads "Stop" while recording
    record.click()
    page.wait_for_timeout(2500)
    record.click()
    page.wait_for_selector("#video-input video[src]")
    page.get_by_label("Image model (frame by frame)").check()
    page.click("#video-button")
    page.wait_for_selector("#video-verdict h2")
    verdict = page.inner_text("#video-verdict")
    assert "sampled frames" in verdict and "image model alone" not in verdict
    page.screenshot(path=shots / "08_video_recorded_result.png", full_page=True)


def test_about_tab_shows_model_card_and_limits(page, shots):
    page.get_by_role("tab", name="About").click()
    card = page.locator("#about-card")
    card.get_by_text("Decision threshold").first.wait_for()
    assert "Image model" in card.inner_text()
    assert "Accuracy drops on other data" in page.inner_text("#about-limits")
    page.screenshot(path=shots / "09_about.png", full_page=True)


def test_uncertain_verdict_is_shown_in_a_neutral_colour(browser, uncertain_image_model, shots, tmp_path):
    """With a model whose uncertain band covers its scores, the heading says "Uncertain" in grey, with why."""
    with AppServer("--image-model", str(uncertain_image_model), "--video-model", str(tmp_path / "none.keras")) as app:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(app.url)
        page.locator("#image-input input[type=file]").set_input_files(str(EXAMPLES / "astronaut.jpg"))
        page.click("#image-button")
        heading = page.wait_for_selector("#image-verdict h2 .verdict-uncertain")
        assert heading.inner_text() == "Uncertain"
        assert heading.evaluate("node => getComputedStyle(node).color") == "rgb(107, 114, 128)"
        assert "too often wrong to call either way" in page.inner_text("#image-verdict")
        page.screenshot(path=str(shots / "uncertain_verdict.png"), full_page=True)
        context.close()


def test_readme_screenshots_with_the_shipped_models(browser, shots):
    """The README's screenshots (assets/screenshots/ holds copies): the shipped image model's heatmaps on the
    two-faces example, and the live mode on the fake camera."""
    with AppServer() as app:
        context = browser.new_context(viewport={"width": 1280, "height": 1180})
        context.grant_permissions(["camera"])
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(app.url)
        page.locator("#image-input input[type=file]").set_input_files(str(EXAMPLES / "two_faces.jpg"))
        page.click("#image-button")
        page.wait_for_function("document.querySelectorAll('#image-heatmaps img').length == 2")
        page.locator("#image-heatmap-legend").scroll_into_view_if_needed()
        page.wait_for_timeout(500)
        page.screenshot(path=shots / "readme_heatmaps.jpg", type="jpeg", quality=80)
        page.get_by_role("tab", name="Webcam").click()
        page.get_by_role("tab", name="Live").click()
        page.locator("#live-input").get_by_text("Click to Access Webcam").click()
        page.wait_for_function("document.querySelector('#live-input video')?.readyState >= 2")
        page.locator("#live-input button", has_text="Record").click()
        page.wait_for_function("/Frames scored this session: ([5-9]|[1-9][0-9])/.test("
                               "document.querySelector('#live-verdict').innerText)", timeout=30_000)
        # Stopped first: while streaming, the boxed frame and the verdict text update a moment apart, and a
        # screenshot between the two shows one frame's box beside another frame's numbers.
        page.locator("#live-input button", has_text="Stop").click()
        page.wait_for_timeout(1500)
        page.screenshot(path=shots / "readme_live.jpg", type="jpeg", quality=80)
        context.close()
