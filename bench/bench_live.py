"""Live webcam mode benchmark: frames scored per second and end-to-end lag, and which rolling verdict is steadier.

    python bench/bench_live.py [--image-model PATH] [--video-model PATH] [--seconds 20]

A camera thread sends frames of a clip every ``LIVE_STREAM_EVERY_S`` (what the browser sends) into a slot that
keeps only the newest, as Gradio's stream does; the scoring loop takes the newest frame whenever it is free.
Lag is the time from a frame's sending to its verdict. Steadiness: over the same frames in clip order, the
rolling per-frame average (what the app shows) against the video model over the last window of face crops:
standard deviation of the rolling score and verdict changes. Clips: the example clip, plus one real and one fake
FaceForensics++ test clip when ../shared/data is there. Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from model.image_detector import FaceScorer, ImageDetector  # noqa: E402
from model.live import LIVE_STREAM_EVERY_S, LIVE_WINDOW_S, LiveScorer, RollingVerdict  # noqa: E402
from model.store import DEFAULT_IMAGE_MODEL, DEFAULT_VIDEO_MODEL  # noqa: E402
from model.video import open_clip  # noqa: E402

EXAMPLE = ROOT / "assets" / "examples" / "astronaut_clip.webm"
FFPP_TEST = ROOT.parent / "shared" / "data" / "videos" / "Test"


def camera_frames(path: Path, count: int = 40) -> list[np.ndarray]:
    """``count`` frames spread over a clip, as a camera would show it."""
    return [frame.rgb for frame in open_clip(path).frames(count)]


def throughput(live: LiveScorer, frames: list[np.ndarray], seconds: float) -> dict[str, float]:
    """Run the camera thread and the scoring loop for ``seconds``; frames scored per second and lag."""
    newest: list[tuple[int, float] | None] = [None]
    lock, stop = threading.Lock(), threading.Event()

    def camera() -> None:
        sent = 0
        while not stop.is_set():
            with lock:
                newest[0] = (sent, time.perf_counter())
            sent += 1
            time.sleep(LIVE_STREAM_EVERY_S)

    thread = threading.Thread(target=camera, daemon=True)
    thread.start()
    lags, scored, last, rolling = [], 0, -1, None
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        with lock:
            item = newest[0]
        if item is None or item[0] == last:
            time.sleep(0.005)
            continue
        last, sent_at = item
        _, rolling = live.step(frames[last % len(frames)], rolling)
        lags.append(time.perf_counter() - sent_at)
        scored += 1
    elapsed = time.perf_counter() - started
    stop.set()
    thread.join()
    sent = last + 1
    return {"fps": scored / elapsed, "sent_fps": 1 / LIVE_STREAM_EVERY_S, "dropped": 1 - scored / max(sent, 1),
            "lag_p50": float(np.percentile(lags, 50)) * 1000, "lag_p95": float(np.percentile(lags, 95)) * 1000}


def steadiness(live: LiveScorer, video, frames: list[np.ndarray]) -> dict[str, tuple[float, int, str]]:
    """Rolling score's standard deviation, verdict changes and last verdict for both rolling verdicts."""
    rolling, crops, series = RollingVerdict(LIVE_WINDOW_S), [], {"per-frame average": [], "video model": []}
    thresholds = {"per-frame average": live.thresholds}
    if video is not None:
        thresholds["video model"] = video.thresholds
    window = max(1, round(LIVE_WINDOW_S / LIVE_STREAM_EVERY_S))
    for index, rgb in enumerate(frames):
        report, rolling = live.step(rgb, rolling, now=index * LIVE_STREAM_EVERY_S)
        if report.faces:
            crops.append(max(report.faces, key=lambda face: face.fake_probability).crop)
        if rolling.fake_probability is not None:
            series["per-frame average"].append(rolling.fake_probability)
        if video is not None and crops:
            series["video model"].append(video.score([crops[-window:]])[0].probability)
    results = {}
    for name, values in series.items():
        if name in thresholds and values:
            verdicts = [thresholds[name].verdict(v) for v in values]
            changes = sum(a != b for a, b in zip(verdicts, verdicts[1:]))
            results[name] = (float(np.std(values)), changes, verdicts[-1])
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image-model", default=str(DEFAULT_IMAGE_MODEL))
    parser.add_argument("--video-model", default=str(DEFAULT_VIDEO_MODEL))
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()

    live = LiveScorer(ImageDetector(FaceScorer(args.image_model)))
    clips = {"example (astronaut)": EXAMPLE}
    for label in ("Real", "Fake"):
        found = sorted((FFPP_TEST / label).glob("*.mp4")) if FFPP_TEST.is_dir() else []
        if found:
            clips[f"FF++ Test {label.lower()}: {found[0].name}"] = found[0]
    frames = {name: camera_frames(path) for name, path in clips.items()}
    live.step(frames["example (astronaut)"][0])  # warm-up

    print("| clip | sent | scored | dropped | lag p50 | lag p95 |\n|---|---|---|---|---|---|")
    for name, clip_frames in frames.items():
        result = throughput(live, clip_frames, args.seconds)
        print(f"| {name} | {result['sent_fps']:.1f} fps | {result['fps']:.2f} fps | {100 * result['dropped']:.0f} % "
              f"| {result['lag_p50']:.0f} ms | {result['lag_p95']:.0f} ms |")

    from model.video_detector import VideoModel

    video = VideoModel(args.video_model) if Path(args.video_model).exists() else None
    print("\n| clip | rolling verdict | std of rolling score | verdict changes | last verdict |\n|---|---|---|---|---|")
    for name, clip_frames in frames.items():
        for kind, (spread, changes, last) in steadiness(live, video, clip_frames).items():
            print(f"| {name} | {kind} | {spread:.3f} | {changes} | {last} |")


if __name__ == "__main__":
    main()
