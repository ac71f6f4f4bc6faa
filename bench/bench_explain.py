"""Heatmap benchmark: Grad-CAM cost per face (image and video model) and /analyze_image with and without heatmaps
through the real server. Prints a Markdown table; the target is p50 with heatmaps ≤ 1.5× the p50 without.

    python bench/bench_explain.py [--image-model PATH] [--video-model PATH] [--requests 30]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_image import percentiles, time_calls  # noqa: E402
from model.store import DEFAULT_IMAGE_MODEL, DEFAULT_VIDEO_MODEL  # noqa: E402
from tests.browser_support import AppServer  # noqa: E402

PHOTO = ROOT / "assets" / "examples" / "two_faces.jpg"


def model_rows(image_model: str, video_model: str, repeats: int) -> list[tuple[str, float, float]]:
    """In-process cost of scoring and of explaining faces with each model."""
    from model.image_detector import FaceScorer, ImageDetector
    from model.video_detector import VideoModel

    detector = ImageDetector(FaceScorer(image_model))
    crops = [face.crop for face in detector.analyze_file(PHOTO).faces]
    scorer = detector.scorer
    rows = [(f"image model: score 1 face ({scorer.name})", *percentiles(time_calls(lambda: scorer.score(crops[:1]),
                                                                                   repeats))),
            ("image model: heatmap of 1 face", *percentiles(time_calls(lambda: scorer.explain(crops[:1]), repeats)))]
    if Path(video_model).exists():
        video = VideoModel(video_model)
        sequence = (crops * video.frames)[:video.frames]
        score = percentiles(time_calls(lambda: video.score([sequence]), max(3, repeats // 5)))
        explain = percentiles(time_calls(lambda: video.explain(sequence), max(3, repeats // 5)))
        rows += [(f"video model: score a {video.frames}-face sequence ({video.name})", *score),
                 (f"video model: heatmaps of its {video.frames} faces", *explain),
                 ("video model: heatmap per face", explain[0] / video.frames, explain[1] / video.frames)]
    return rows


def endpoint_rows(image_model: str, video_model: str, requests: int) -> list[tuple[str, float, float]]:
    """/analyze_image through the real server, requests with and without heatmaps interleaved."""
    import time

    from gradio_client import Client, handle_file

    samples: dict[bool, list[float]] = {False: [], True: []}
    with AppServer("--image-model", image_model, "--video-model", video_model) as server:
        client = Client(server.url, verbose=False)
        for explain in (False, True):  # warm-up
            client.predict(handle_file(str(PHOTO)), explain, api_name="/analyze_image")
        for _ in range(requests):
            for explain in (False, True):
                started = time.perf_counter()
                client.predict(handle_file(str(PHOTO)), explain, api_name="/analyze_image")
                samples[explain].append((time.perf_counter() - started) * 1000)
    without, with_heatmaps = percentiles(samples[False]), percentiles(samples[True])
    return [("/analyze_image, 2 faces, without heatmaps", *without),
            ("/analyze_image, 2 faces, with heatmaps", *with_heatmaps),
            ("ratio with / without (target ≤ 1.5)", with_heatmaps[0] / without[0], with_heatmaps[1] / without[1])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image-model", default=str(DEFAULT_IMAGE_MODEL))
    parser.add_argument("--video-model", default=str(DEFAULT_VIDEO_MODEL))
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()
    rows = model_rows(args.image_model, args.video_model, args.requests)
    rows += endpoint_rows(args.image_model, args.video_model, args.requests)
    print("| measurement | p50 | p95 |\n|---|---|---|")
    for name, p50, p95 in rows:
        unit = "" if name.startswith("ratio") else " ms"
        print(f"| {name} | {p50:.2f}{unit} | {p95:.2f}{unit} |")


if __name__ == "__main__":
    main()
