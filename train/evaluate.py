"""Evaluate a saved model on a Real/Fake folder: metrics JSON, ROC curve and confusion matrix PNGs.

    python -m train.evaluate --model model/weights/image_model.keras --data ../shared/data/dfdc-faces
    python -m train.evaluate --model model/weights/video_model.keras --data ../shared/data/videos

Video models are scored per clip (video-level metrics, ``<split>_*``) and per face frame, each frame carrying
its clip's label (frame-level metrics, ``<split>_frames_*``). ``--data`` may hold videos (faces are found and
cut as at serving time) or the face sequences cached by ``train.extract_faces``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from model.store import load_model, write_metadata
from model.video import VIDEO_EXTENSIONS
from train.data import Labelled, image_dataset, load_splits
from train.metrics import binary_metrics, choose_threshold, plot_confusion, plot_roc
from train.sequences import SEQUENCE_EXTENSIONS, Clips, load_clips


def predict(model: keras.Model, dataset: tf.data.Dataset, count: int) -> np.ndarray:
    """Fake probabilities for the ``count`` faces of an evaluation dataset, in order. Unreadable files (which the
    dataset skips) abort: evaluation must be complete, and its labels aligned."""
    scores = np.concatenate([np.asarray(model(x, training=False)).reshape(-1) for x, _ in dataset])
    if len(scores) != count:
        raise SystemExit(f"{count - len(scores)} files could not be read; fix or remove them and evaluate again")
    return scores


def predict_images(model: keras.Model, data: Labelled, image_size: int, batch_size: int = 64) -> np.ndarray:
    """Fake probabilities for every file of ``data``."""
    return predict(model, image_dataset(data, image_size, batch_size, training=False, cache=False), len(data))


def predict_videos(model: keras.Model, clips: Clips, frames: int, batch_size: int = 4
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Video fake probabilities (n,) and per-frame ones (n, frames) on the serving frames of every clip."""
    video, per_frame = [], []
    for start in range(0, len(clips), batch_size):
        x = np.stack([clips.serving_faces(i, frames) for i in range(start, min(start + batch_size, len(clips)))])
        outputs = model(x.astype(np.float32), training=False)
        video.append(np.asarray(outputs["video"]).reshape(-1))
        per_frame.append(np.asarray(outputs["frames"]).reshape(len(x), -1))
    return np.concatenate(video), np.concatenate(per_frame)


def read_clips(data: Labelled, frames: int, image_size: int) -> Clips:
    """Cached sequences as they are, or videos run through serving's face extraction now (unreadable clips and
    clips without a face abort: evaluation must be complete)."""
    if all(Path(p).suffix.lower() in SEQUENCE_EXTENSIONS for p in data.paths):
        clips = load_clips(data)
        if clips.image_size != image_size:
            raise SystemExit(f"the cached faces are {clips.image_size} px but the model takes {image_size} px")
        return clips
    from tqdm import tqdm

    from model.faces import FaceDetector
    from train.extract_faces import ClipError, extract_clip

    detector, clips = FaceDetector(), Clips([], [], [], [])
    for path, label in tqdm(list(zip(data.paths, data.labels)), desc="clips", unit="clip", file=sys.stderr):
        try:
            sequence = extract_clip(path, detector, frames, extra_frames=0, image_size=image_size)
        except ClipError as error:
            raise SystemExit(f"{path}: {error}; fix or remove it and evaluate again") from None
        clips.faces.append(sequence.faces)
        clips.serving.append(sequence.serving)
        clips.labels.append(label)
        clips.paths.append(str(path))
    return clips


def frame_labels(clips: Clips, frames: int) -> np.ndarray:
    """Each clip's label repeated for its ``frames`` frames (flattened like ``predict_videos``'s frame scores)."""
    return np.repeat(np.asarray(clips.labels), frames)


def video_reports(model: keras.Model, clips: Clips, metadata: dict[str, Any], out: Path, split: str
                  ) -> dict[str, Any]:
    """Video- and frame-level metrics and figures for one split of clips."""
    frames = int(metadata["frames"])
    video, per_frame = predict_videos(model, clips, frames)
    title = f"{metadata.get('architecture', model.name)} — {split}"
    return {
        "video": write_report(clips.labels, video, metadata["threshold"], out, split, f"{title} (videos)"),
        "frames": write_report(list(frame_labels(clips, frames)), per_frame.reshape(-1),
                               metadata.get("frame_threshold", 0.5), out, f"{split}_frames", f"{title} (frames)"),
    }


def choose_video_thresholds(model: keras.Model, clips: Clips, frames: int) -> dict[str, float]:
    """Video and frame decision thresholds chosen on held-out clips."""
    video, per_frame = predict_videos(model, clips, frames)
    return {"threshold": choose_threshold(np.asarray(clips.labels), video),
            "frame_threshold": choose_threshold(frame_labels(clips, frames), per_frame.reshape(-1))}


def write_report(labels: list[int], scores: np.ndarray, threshold: float, out: Path, name: str,
                 title: str) -> dict[str, Any]:
    """Compute the metrics at ``threshold`` and save ``{name}_metrics.json``, ``_roc.png`` and ``_confusion.png``."""
    out.mkdir(parents=True, exist_ok=True)
    result = binary_metrics(np.asarray(labels), scores, threshold)
    (out / f"{name}_metrics.json").write_text(json.dumps(result, indent=2) + "\n")
    if result["roc_auc"] is not None:
        plot_roc(np.asarray(labels), scores, out / f"{name}_roc.png", title)
    plot_confusion(result["confusion_matrix"], out / f"{name}_confusion.png", title)
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m train.evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a .keras file written by train.image or train.video")
    parser.add_argument("--data", required=True, help="folder with Test/ (and Validation/) or one Real/+Fake/ folder "
                        "(images; for video models videos or cached face sequences)")
    parser.add_argument("--split", default="test", choices=("test", "validation", "train"))
    parser.add_argument("--out", default=None, help="where to write the report (default: beside the model)")
    parser.add_argument("--choose-threshold", action="store_true",
                        help="choose the threshold on Validation now and store it with the model")
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args(argv)

    try:
        model, metadata = load_model(args.model)
        video = metadata.get("kind") == "video" or len(model.input_shape) == 5
        if video:
            splits = load_splits(args.data, extensions=VIDEO_EXTENSIONS | SEQUENCE_EXTENSIONS)
        else:
            splits = load_splits(args.data)
    except (FileNotFoundError, ValueError) as error:
        parser.error(str(error))
    if video:
        evaluate_video(parser, args, model, metadata, splits)
        return
    image_size = int(metadata.get("image_size", model.input_shape[1]))
    if args.choose_threshold or "threshold" not in metadata:
        if "validation" not in splits:
            parser.error("choosing a threshold needs a Validation/ folder")
        val = splits["validation"]
        metadata["threshold"] = choose_threshold(np.asarray(val.labels),
                                                 predict_images(model, val, image_size, args.batch_size))
        write_metadata(args.model, metadata)
        print(f"threshold chosen on Validation: {metadata['threshold']:.4f}", file=sys.stderr)
    split = args.split if args.split in splits else "train"
    data = splits[split]
    scores = predict_images(model, data, image_size, args.batch_size)
    out = Path(args.out) if args.out else Path(args.model).parent
    result = write_report(data.labels, scores, metadata["threshold"], out, split,
                          f"{metadata.get('architecture', model.name)} — {split}")
    print(json.dumps(result, indent=2))


def evaluate_video(parser: argparse.ArgumentParser, args: argparse.Namespace, model: keras.Model,
                   metadata: dict[str, Any], splits: dict[str, Labelled]) -> None:
    """The video branch of ``main``."""
    metadata.setdefault("frames", int(model.input_shape[1]))
    metadata.setdefault("image_size", int(model.input_shape[2]))
    frames, image_size = int(metadata["frames"]), int(metadata["image_size"])
    if args.choose_threshold or "threshold" not in metadata:
        if "validation" not in splits:
            parser.error("choosing a threshold needs a Validation/ folder")
        metadata.update(choose_video_thresholds(model, read_clips(splits["validation"], frames, image_size), frames))
        write_metadata(args.model, metadata)
        print(f"threshold chosen on Validation: {metadata['threshold']:.4f}", file=sys.stderr)
    split = args.split if args.split in splits else "train"
    out = Path(args.out) if args.out else Path(args.model).parent
    result = video_reports(model, read_clips(splits[split], frames, image_size), metadata, out, split)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
