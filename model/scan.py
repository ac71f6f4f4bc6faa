"""Score image and video files for deepfakes and print one JSON object per file (JSON Lines).

    python -m model.scan photo.jpg clip.mp4 folder/ --csv results.csv [--model video|image] [--explain DIR]

``--explain DIR`` writes a Grad-CAM heatmap over every scored face (PNG, the size of the crop; for clips, the
main face of each sampled frame) and names it in the record: ``faces[k].heatmap``, and ``frames[i].heatmap``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from model.imaging import IMAGE_EXTENSIONS, InputError
from model.report import Report, error_report
from model.store import DEFAULT_IMAGE_MODEL, DEFAULT_VIDEO_MODEL
from model.video import MAX_SECONDS, VIDEO_EXTENSIONS

if TYPE_CHECKING:
    from model.image_detector import ImageDetector

CSV_FIELDS = ("path", "kind", "verdict", "fake_probability", "threshold", "real_below", "faces", "flags", "model",
              "error", "frames_with_face", "frames_sampled")


def kind_of(path: Path) -> str:
    """``video`` for known video extensions, else ``image``."""
    return "video" if path.suffix.lower() in VIDEO_EXTENSIONS else "image"


def collect_inputs(paths: list[str]) -> tuple[list[Path], int]:
    """Files as given, and every image or video file under folders (recursively, sorted); and how many other
    files those folders held (skipped). A folder without any stays in the list, so that it gets its own line."""
    found: list[Path] = []
    skipped = 0
    for raw in paths:
        path = Path(raw)
        if not path.is_dir():
            found.append(path)
            continue
        files = sorted(p for p in path.rglob("*") if p.is_file())
        media = [p for p in files if p.suffix.lower() in IMAGE_EXTENSIONS | VIDEO_EXTENSIONS]
        found += media or [path]
        skipped += len(files) - len(media)
    return found, skipped


def scan_one(path: Path, analyze_image: Callable[..., Report], analyze_video: Callable[[Path], Report],
             faces_cropped: bool) -> Report:
    """Analyse one file; every failure becomes an error report with a one-line reason. Anything but a regular file
    (a folder without pictures, a pipe, a device) is refused before it is opened (the picture and clip readers
    check, ``model.imaging.regular_file_size``)."""
    kind = kind_of(path)
    try:
        if path.is_dir():
            raise InputError("a folder with no image or video file in it")
        if kind == "video":
            return analyze_video(path)
        return analyze_image(path, faces_cropped=faces_cropped)
    except InputError as error:
        return error_report(str(path), kind, str(error))
    except Exception as error:  # a bad file must never stop a scan
        return error_report(str(path), kind, f"{type(error).__name__}: {error}")


def csv_row(record: dict[str, Any]) -> dict[str, Any]:
    """Flatten a JSON record for CSV: faces become their count, their flags one ``;``-separated list."""
    faces = record.get("faces") or []
    flags = sorted({flag for face in faces for flag in face.get("flags") or []})
    return {**{name: record.get(name) for name in CSV_FIELDS}, "faces": len(faces), "flags": ";".join(flags)}


def unique_stem(path: Path, used: set[str]) -> str:
    """The file's stem, numbered when another input of the scan already had it (heatmap file names)."""
    stem, number = path.stem, 1
    while stem in used:
        number += 1
        stem = f"{path.stem}_{number}"
    used.add(stem)
    return stem


def silence_native_stderr() -> None:
    """Send what C libraries write to the process's standard error (libjpeg's and libpng's warnings, OpenCV's,
    TensorFlow's logs) to /dev/null, while Python's ``sys.stderr`` keeps the terminal."""
    try:
        kept = os.dup(2)
        sys.stderr.flush()
        sink = os.open(os.devnull, os.O_WRONLY)
        os.dup2(sink, 2)
        os.close(sink)
        sys.stderr = os.fdopen(kept, "w", buffering=1)
    except OSError:  # no file descriptor 2 to redirect (embedded interpreters): leave it
        pass


def status(quiet: bool) -> Callable[[str], None]:
    """Progress lines on stderr (never on stdout, which carries the JSON Lines); silent with ``--quiet``."""
    return (lambda message: None) if quiet else (lambda message: print(message, file=sys.stderr, flush=True))


def video_analyzer(parser: argparse.ArgumentParser, args: argparse.Namespace,
                   images: ImageDetector) -> Callable[[Path], Report]:
    """Load the video path once (sharing the image model) and pick the model for videos."""
    from model.video_detector import VideoDetector

    say = status(args.quiet)
    say(f"loading the video model {args.video_model} (its graph takes a while to build on a CPU)...")
    started = time.monotonic()
    try:
        videos = VideoDetector(images.scorer, args.video_model, frames=args.frames, max_seconds=args.max_seconds)
    except (ValueError, OSError) as error:
        parser.error(f"cannot load the video model: {error}")
    say(f"video model ready in {time.monotonic() - started:.0f} s")
    model = args.model or videos.available_models[0]
    return partial(videos.analyze_file, model=model, explain=args.explain is not None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model.scan", description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", help="image or video files, or folders to scan recursively")
    parser.add_argument("--faces-cropped", action="store_true",
                        help="each image is already a face crop: skip face detection")
    parser.add_argument("--csv", default=None, help="also write the results to this CSV file")
    parser.add_argument("--image-model", default=str(DEFAULT_IMAGE_MODEL), help="a .keras image model")
    parser.add_argument("--video-model", default=str(DEFAULT_VIDEO_MODEL), help="a .keras video model")
    parser.add_argument("--model", choices=("video", "image"), default=None,
                        help="how videos are judged: the video model, or the image model on each sampled frame, "
                        "averaged (the baseline; its score is always in the report's `scores`). "
                        "Default: video when the video model exists, else image")
    parser.add_argument("--frames", type=int, default=None,
                        help="frames sampled per video (default: the face recipe of the model judging videos)")
    parser.add_argument("--max-seconds", type=float, default=MAX_SECONDS,
                        help="analyse only the first seconds of longer videos")
    parser.add_argument("--explain", default=None, metavar="DIR",
                        help="write a heatmap PNG per scored face into DIR (red: regions that pushed the score "
                        "towards fake) and name it in the record")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress bar, and nothing the decoders and TensorFlow print (a damaged file is said "
                        "in its record); usage errors still show")
    args = parser.parse_args(argv)
    if args.quiet and argv is None:  # the command line (a caller in the same process keeps its own stderr)
        silence_native_stderr()

    from model import load_tensorflow

    load_tensorflow()
    from tqdm import tqdm

    from model.image_detector import FaceScorer, ImageDetector
    from ui.heatmap_files import write_heatmaps

    if (args.frames is not None and args.frames < 1) or args.max_seconds <= 0:
        parser.error("--frames and --max-seconds must be positive")
    say = status(args.quiet)
    inputs, skipped = collect_inputs(args.paths)
    if skipped:
        say(f"skipping {skipped} file{'s' * (skipped != 1)} in the folders that are neither images nor videos")
    say(f"loading the image model {args.image_model}...")
    try:
        detector = ImageDetector(FaceScorer(args.image_model))
    except (FileNotFoundError, ValueError, OSError) as error:
        parser.error(f"cannot load the image model: {error}")
    analyze_video = video_analyzer(parser, args, detector) if any(kind_of(p) == "video" for p in inputs) else None
    csv_file = open(args.csv, "w", newline="") if args.csv else None
    writer = csv.DictWriter(csv_file, fieldnames=CSV_FIELDS) if csv_file else None
    if writer:
        writer.writeheader()
    analyze_image = partial(detector.analyze_file, explain=args.explain is not None)
    stems: set[str] = set()
    for path in tqdm(inputs, unit="file", disable=args.quiet, file=sys.stderr):
        report = scan_one(path, analyze_image, analyze_video, args.faces_cropped)
        heatmaps = write_heatmaps(report, args.explain, unique_stem(path, stems)) if args.explain is not None else None
        record = report.to_json(heatmap_paths=heatmaps)
        print(json.dumps(record), flush=True)
        if writer:
            writer.writerow(csv_row(record))
    if csv_file:
        csv_file.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
