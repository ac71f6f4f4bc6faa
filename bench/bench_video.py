"""Video path benchmark: a 720p clip with a moving face, analysed end to end; peak memory for 10-s and 60-s clips.

    python bench/bench_video.py [--image-model PATH] [--video-model PATH ...] [--repeats 5]
    python bench/bench_video.py --video-model model/weights/video_model.keras --video-model runs/previous.keras

Prints markdown tables. Several ``--video-model`` are loaded and timed one after the other in the same run (the
new model beside the old; the load is what the app does in the background at start-up). Peak memory, for the
first video model, is each clip's own child process's maximum resident set size, so the 10-s and 60-s figures
are independent of each other and of this process.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from model.faces import FaceDetector  # noqa: E402
from model.image_detector import FaceScorer  # noqa: E402
from model.store import DEFAULT_IMAGE_MODEL, DEFAULT_VIDEO_MODEL  # noqa: E402
from model.video import MAX_FRAME_PIXELS, open_clip  # noqa: E402
from model.video_detector import VideoDetector  # noqa: E402

WIDTH, HEIGHT, FPS = 1280, 720, 25
LARGEST_FRAME = (4096, MAX_FRAME_PIXELS // 4096)  # 4K wide at the frame limit: larger ones are refused
FACE_SIDE = 420


def moving_face(seconds: float, width: int = WIDTH, height: int = HEIGHT) -> Iterator[np.ndarray]:
    """RGB frames (720p by default): the astronaut photo gliding over a textured background, one at a time."""
    from skimage import data

    photo = cv2.resize(data.astronaut(), (FACE_SIDE, FACE_SIDE), interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(0)
    background = cv2.GaussianBlur(rng.integers(40, 200, (height, width, 3), dtype=np.uint8), (0, 0), 6)
    for index in range(int(seconds * FPS)):
        t = index / FPS
        x = int((width - FACE_SIDE) * (0.5 + 0.4 * np.sin(t * 0.6)))  # up to about 200 pixels a second at 720p
        y = int((height - FACE_SIDE) * (0.5 + 0.3 * np.sin(t * 1.3)))
        frame = background.copy()
        frame[y:y + FACE_SIDE, x:x + FACE_SIDE] = photo
        yield frame


def write_clip(path: Path, seconds: float, width: int = WIDTH, height: int = HEIGHT) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (width, height))
    for frame in moving_face(seconds, width, height):
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def timed(call: Callable[[], object], repeats: int) -> tuple[float, float]:
    """p50 and p95 wall time in seconds, after one warm-up call."""
    call()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return float(np.percentile(samples, 50)), float(np.percentile(samples, 95))


def peak_rss_mb() -> float:
    """This process's peak resident set size (getrusage; kilobytes on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def status_mb(field: str) -> float | None:
    """A memory figure from /proc/self/status (VmRSS, VmHWM), where there is one."""
    try:
        lines = Path("/proc/self/status").read_text().splitlines()
    except OSError:
        return None
    return next((int(line.split()[1]) / 1024 for line in lines if line.startswith(f"{field}:")), None)


def child(args: argparse.Namespace) -> None:
    """Run in a fresh process: load the models, analyse one clip twice (the first warms the graphs), print the
    memory figures of the second.

    The peak during that analysis alone comes from VmHWM after resetting it (``/proc/self/clear_refs``), since
    loading the models peaks higher than analysing a clip does.
    """
    detector = VideoDetector(FaceScorer(args.image_model), args.video_model, frames=args.frames)
    detector.analyze_file(args.child, model=args.model)
    before = status_mb("VmRSS")
    try:
        Path("/proc/self/clear_refs").write_text("5")
        reset = True
    except OSError:
        reset = False
    started = time.perf_counter()
    report = detector.analyze_file(args.child, model=args.model)
    print(json.dumps({"before_mb": before, "during_mb": status_mb("VmHWM") if reset else None,
                      "maxrss_mb": peak_rss_mb(), "seconds": time.perf_counter() - started,
                      "frames_with_face": report.clip.frames_with_face if report.clip else None}))


def memory_row(args: argparse.Namespace, clip: Path, model: str, video_model: str) -> dict:
    command = [sys.executable, __file__, "--child", str(clip), "--model", model, "--frames", str(args.frames),
               "--image-model", args.image_model, "--video-model", video_model]
    result = subprocess.run(command, capture_output=True, text=True, check=True, timeout=600)
    return json.loads(result.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image-model", default=str(DEFAULT_IMAGE_MODEL))
    parser.add_argument("--video-model", action="append", default=None,
                        help="a video model; repeat to measure several in one run (default: the shipped one)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--model", default="image", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not Path(args.image_model).exists():
        parser.error(f"no image model at {args.image_model}: train one or pass --image-model PATH")
    video_models = args.video_model or [str(DEFAULT_VIDEO_MODEL)]
    if args.child:
        args.video_model = video_models[0]
        child(args)
        return

    scorer = FaceScorer(args.image_model)
    rows, memory = [], []
    with tempfile.TemporaryDirectory() as tmp:
        clips = {f"{seconds} s 720p ({seconds * FPS} frames)": write_clip(Path(tmp) / f"face_{seconds}s.mp4", seconds)
                 for seconds in (10, 60)}
        worst = write_clip(Path(tmp) / "largest.mp4", 4, *LARGEST_FRAME)  # the largest frames a clip may have
        clips[f"4 s at {LARGEST_FRAME[0]}×{LARGEST_FRAME[1]}, the largest frames allowed ({4 * FPS} frames)"] = worst
        ten = next(iter(clips.values()))
        detectors: list[VideoDetector] = []
        for video_model in video_models:
            started = time.perf_counter()
            detector = VideoDetector(scorer, video_model, frames=args.frames)
            load = time.perf_counter() - started
            if detector.video_model is not None:
                rows.append((f"load {detector.video_model.name} (built and warmed, as the app does in the "
                             "background)", load, load, "one load"))
            # the image model is the same for every video model: timed with the first only
            for model in detector.available_models[:1] if detectors else detector.available_models:
                report = detector.analyze_file(ten, model=model)
                assert report.verdict in ("real", "uncertain", "fake"), report.error
                p50, p95 = timed(lambda: detector.analyze_file(ten, model=model), args.repeats)
                rows.append((f"10-s 720p clip, {args.frames} frames, `--model {model}` ({report.model})", p50, p95,
                             f"face in {report.clip.frames_with_face}/{report.clip.frames_sampled} frames"))
                if model == "video" and detector.shares_encoder:  # what sharing the encoder pass saves
                    detector.shares_encoder = False
                    p50, p95 = timed(lambda: detector.analyze_file(ten, model=model), args.repeats)
                    detector.shares_encoder = True
                    rows.append(("  the same with the image-model score from a second encoder pass", p50, p95,
                                 "not used: for comparison"))
            detectors.append(detector)
        detector = detectors[0]
        faces = detector.cutter.detector
        clip = open_clip(ten)
        p50, p95 = timed(lambda: sum(1 for _ in clip.frames(args.frames)), args.repeats)
        rows.append((f"  of which decoding {clip.frame_count} frames, keeping {args.frames}", p50, p95, ""))
        frames = [frame.rgb for frame in clip.frames(args.frames)]
        for side in (320, 480):
            found = sum(bool(f) for f in faces.detect_many(frames, side))
            p50, p95 = timed(lambda: faces.detect_many(frames, side), args.repeats)
            rows.append((f"  of which face detection, one batch, long side {side}", p50, p95,
                         f"face in {found}/{len(frames)} frames"))
        detector_480 = FaceDetector(480, faces.min_confidence)
        p50, p95 = timed(lambda: [detector_480.detect(frame) for frame in frames], args.repeats)
        rows.append(("  (face detection frame by frame, long side 480)", p50, p95, "not used: for comparison"))
        for name, path in clips.items():
            for model in detector.available_models:
                memory.append((name, model, memory_row(args, path, model, video_models[0])))

    print("| measurement | p50 | p95 | notes |\n|---|---|---|---|")
    for name, p50, p95, note in rows:
        print(f"| {name} | {p50:.2f} s | {p95:.2f} s | {note} |")
    print("\n| clip (25 fps) | model | analysis (warm) | RSS before | peak RSS during analysis | child maxrss |\n"
          "|---|---|---|---|---|---|")
    for name, model, row in memory:
        during = "n/a" if row["during_mb"] is None else f"{row['during_mb']:.0f} MB"
        print(f"| {name} | {model} | {row['seconds']:.2f} s | "
              f"{row['before_mb']:.0f} MB | {during} | {row['maxrss_mb']:.0f} MB |")

if __name__ == "__main__":
    main()
