"""Image path benchmark: scan latency end to end, model latency per crop, training throughput. Prints a table.

    python bench/bench_image.py [--image-model PATH] [--repeats 30]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from model.architectures import build_image_model  # noqa: E402
from model.image_detector import FaceScorer, ImageDetector  # noqa: E402
from model.imaging import read_image  # noqa: E402
from model.store import DEFAULT_IMAGE_MODEL  # noqa: E402
from train.common import compile_binary  # noqa: E402
from train.data import Labelled, image_dataset  # noqa: E402


def photo_with_face(width: int, height: int) -> np.ndarray:
    """The astronaut photo scaled to the frame's height and placed on a grey canvas of the given size."""
    from skimage import data

    face = data.astronaut()
    side = min(height, width)
    canvas = np.full((height, width, 3), 90, np.uint8)
    canvas[:side, (width - side) // 2:(width - side) // 2 + side] = cv2.resize(face, (side, side))
    return canvas


def percentiles(samples: list[float]) -> tuple[float, float]:
    return float(np.percentile(samples, 50)), float(np.percentile(samples, 95))


def time_calls(call, repeats: int) -> list[float]:
    call()  # warm-up: graph tracing, first allocations
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def training_faces(folder: Path, count: int = 64) -> Labelled:
    """``count`` 224-px noise pictures written as JPEG files, half labelled fake: input for the training pipeline."""
    rng = np.random.default_rng(0)
    paths = []
    for index in range(count):
        path = folder / f"{index}.jpg"
        cv2.imwrite(str(path), rng.integers(0, 256, (224, 224, 3), dtype=np.uint8))
        paths.append(str(path))
    return Labelled(paths, [index % 2 for index in range(count)])


def augmentation_throughput(image_size: int, folder: Path, batches: int = 20) -> float:
    """Faces per second out of the training input pipeline alone (decoded and cached, then augmented)."""
    iterator = iter(image_dataset(training_faces(folder), image_size, 32, training=True).repeat())
    for _ in range(3):  # the first pass fills the decode cache
        next(iterator)
    started = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return batches * 32 / (time.perf_counter() - started)


def training_throughput(architecture: str, image_size: int, folder: Path, steps: int = 20) -> float:
    """Images per second of real training steps, data pipeline (decode, augment) included."""
    dataset = image_dataset(training_faces(folder), image_size, 32, training=True).repeat()
    model = build_image_model(architecture, image_size)
    compile_binary(model, 1e-3)
    iterator = iter(dataset)
    model.train_on_batch(*next(iterator))
    started = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(*next(iterator))
    return steps * 32 / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image-model", default=str(DEFAULT_IMAGE_MODEL))
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()

    scorer = FaceScorer(args.image_model)
    detector = ImageDetector(scorer)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for width, height in ((640, 480), (1920, 1080)):
            path = Path(tmp) / f"photo_{width}x{height}.jpg"
            cv2.imwrite(str(path), cv2.cvtColor(photo_with_face(width, height), cv2.COLOR_RGB2BGR))
            verdict = detector.analyze_file(path).verdict
            assert verdict in {"real", "uncertain", "fake"}, "the benchmark photo must show a face"
            p50, p95 = percentiles(time_calls(lambda: detector.analyze_file(path), args.repeats))
            rows.append((f"scan {width}×{height} photo (read + detect + score)", f"{p50:.1f} ms", f"{p95:.1f} ms"))
            rgb = read_image(path)
            p50, p95 = percentiles(time_calls(lambda: detector.faces.detect(rgb), args.repeats))
            rows.append((f"  of which face detection, {width}×{height}", f"{p50:.1f} ms", f"{p95:.1f} ms"))
        crop = photo_with_face(200, 200)
        p50, p95 = percentiles(time_calls(lambda: scorer.score([crop]), args.repeats * 3))
        rows.append((f"model only, 1 crop ({scorer.name})", f"{p50:.1f} ms", f"{p95:.1f} ms"))
        architecture = scorer.metadata.get("architecture", "residual_cnn")
        rate = training_throughput(architecture, scorer.image_size, Path(tmp))
        rows.append((f"training throughput, {architecture} at {scorer.image_size}px, batch 32", f"{rate:.0f} img/s", ""))
        rate = augmentation_throughput(scorer.image_size, Path(tmp))
        rows.append((f"  training input alone (quality augmentation) at {scorer.image_size}px", f"{rate:.0f} faces/s",
                     ""))

    print("| measurement | p50 | p95 |\n|---|---|---|")
    for name, p50, p95 in rows:
        print(f"| {name} | {p50} | {p95} |")


if __name__ == "__main__":
    main()
