"""Image path benchmark: scan latency end to end, model latency per crop, training throughput. Prints a table.

    python bench/bench_image.py [--image-model PATH ...] [--repeats 30]
    python bench/bench_image.py --image-model model/weights/image_model.keras --image-model runs/previous.keras
    python bench/bench_image.py --architectures efficientnet_lite0:224 efficientnet_lite1:240 residual_cnn:256

Several ``--image-model`` are measured one after the other in the same run (the new model beside the old one);
``--architectures NAME:SIZE ...`` measures only the cost of untrained networks (training faces/s with the real
input pipeline, inference ms per face), for recipe sweeps.
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


def model_rows(path: str, repeats: int, folder: Path) -> list[tuple[str, str, str]]:
    """Photo scans end to end, face detection, the model per crop and its training cost, for one saved model."""
    scorer = FaceScorer(path)
    detector = ImageDetector(scorer)
    rows = []
    for width, height in ((640, 480), (1920, 1080)):
        photo = folder / f"photo_{width}x{height}.jpg"
        cv2.imwrite(str(photo), cv2.cvtColor(photo_with_face(width, height), cv2.COLOR_RGB2BGR))
        verdict = detector.analyze_file(photo).verdict
        assert verdict in {"real", "uncertain", "fake"}, "the benchmark photo must show a face"
        p50, p95 = percentiles(time_calls(lambda: detector.analyze_file(photo), repeats))
        rows.append((f"{scorer.name}: scan {width}×{height} photo (read + detect + score)", f"{p50:.1f} ms",
                     f"{p95:.1f} ms"))
        rgb = read_image(photo)
        p50, p95 = percentiles(time_calls(lambda: detector.cutter.detector.detect(rgb), repeats))
        rows.append((f"  of which face detection, {width}×{height}", f"{p50:.1f} ms", f"{p95:.1f} ms"))
    crop = photo_with_face(200, 200)
    p50, p95 = percentiles(time_calls(lambda: scorer.score([crop]), repeats * 3))
    rows.append((f"  model only, 1 crop at {scorer.image_size} px", f"{p50:.1f} ms", f"{p95:.1f} ms"))
    architecture = scorer.info.architecture
    rate = training_throughput(architecture, scorer.image_size, folder)
    rows.append((f"  training throughput, {architecture} at {scorer.image_size}px, batch 32", f"{rate:.1f} img/s", ""))
    rate = augmentation_throughput(scorer.image_size, folder)
    rows.append((f"  training input alone (quality augmentation) at {scorer.image_size}px", f"{rate:.0f} faces/s", ""))
    return rows


def architecture_rows(name: str, size: int, repeats: int, folder: Path) -> list[tuple[str, str, str]]:
    """Training faces/s and inference ms per face (batch of 32) of an untrained network at ``size`` pixels."""
    import tensorflow as tf

    model = build_image_model(name, size)
    predict = tf.function(lambda x: model(x, training=False))
    batch = tf.random.uniform((32, size, size, 3), 0, 255)
    p50, p95 = percentiles(time_calls(lambda: predict(batch).numpy(), max(3, repeats // 5)))
    rate = training_throughput(name, size, folder)
    return [(f"{name} at {size} px ({model.count_params():,} parameters): inference per face, batch 32",
             f"{p50 / 32:.1f} ms", f"{p95 / 32:.1f} ms"),
            ("  training throughput, batch 32", f"{rate:.1f} img/s", "")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image-model", action="append", default=None,
                        help="a saved image model; repeat to measure several in one run (default: the shipped one)")
    parser.add_argument("--architectures", nargs="+", default=None, metavar="NAME:SIZE",
                        help="measure only the cost of these untrained networks")
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.architectures:
            for spec in args.architectures:
                name, _, size = spec.partition(":")
                rows += architecture_rows(name, int(size or 256), args.repeats, Path(tmp))
        else:
            for path in args.image_model or [str(DEFAULT_IMAGE_MODEL)]:
                rows += model_rows(path, args.repeats, Path(tmp))

    print("| measurement | p50 | p95 |\n|---|---|---|")
    for name, p50, p95 in rows:
        print(f"| {name} | {p50} | {p95} |")


if __name__ == "__main__":
    main()
