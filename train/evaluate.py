"""Evaluate a saved model: one row per domain, a robustness table, metrics JSON, ROC and confusion PNGs.

    python -m train.evaluate --model model/weights/image_model.keras --data ../shared/data/dfdc-faces \
        --data ../extra-data/photos --robustness
    python -m train.evaluate --model model/weights/video_model.keras --data ../shared/data/videos

Image models: each ``--data`` domain is scored on ``--split`` (or on Validation where it has no such split),
faces cut as in training (``train.domains``), with the model's stored calibration and its ``real`` /
``uncertain`` / ``fake`` thresholds; ``--calibrate`` fits both on the domains' pooled Validation first and stores
them. ``--robustness`` scores the first domain again under JPEG re-compression, downscaling and blur.

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
from sklearn import metrics

from model.calibration import Calibration, Thresholds
from model.presentation import markdown_table
from train.data import Labelled, batched, decoded_images, image_dataset, load_splits
from train.degrade import DEGRADATIONS
from train.domains import DomainSplit, FaceCropper, domains_from_args, load_domains, pooled
from train.metrics import (binary_metrics, brier_score, choose_threshold, choose_thresholds,
                           expected_calibration_error, fit_calibration, plot_confusion, plot_roc, verdict_shares)
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


def calibrated_scores(model: keras.Model, metadata: dict[str, Any], data: Labelled, image_size: int,
                      batch_size: int = 64, degrade: str = "as given") -> np.ndarray:
    """The model's calibrated fake probabilities for every file of ``data`` (optionally degraded first)."""
    if degrade == "as given":
        raw = predict_images(model, data, image_size, batch_size)
    else:
        dataset = decoded_images(data, image_size).map(lambda x, y: (DEGRADATIONS[degrade](x), y),
                                                       num_parallel_calls=tf.data.AUTOTUNE)
        raw = predict(model, batched(dataset, len(data), batch_size, training=False, seed=0), len(data))
    return Calibration.from_metadata(metadata)(raw)


def calibrate(model: keras.Model, validation: Labelled, image_size: int, batch_size: int = 64) -> dict[str, Any]:
    """Platt scaling and the two verdict thresholds fitted on Validation, with Brier and ECE before and after."""
    labels = np.asarray(validation.labels)
    raw = predict_images(model, validation, image_size, batch_size)
    calibration = fit_calibration(labels, raw)
    calibrated = calibration(raw)
    thresholds = choose_thresholds(labels, calibrated)
    return {"calibration": calibration.to_json(), "threshold": thresholds.fake_from,
            "real_below": thresholds.real_below,
            "validation_calibration": {
                "faces": len(labels), "brier_before": brier_score(labels, raw), "brier_after": brier_score(labels, calibrated),
                "ece_before": expected_calibration_error(labels, raw),
                "ece_after": expected_calibration_error(labels, calibrated),
                **verdict_shares(labels, calibrated, thresholds)}}


def domain_row(labels: list[int], scores: np.ndarray, thresholds: Thresholds) -> dict[str, Any]:
    """ROC-AUC, Brier and the verdict shares of one domain (or subset) at the stored thresholds."""
    labels_array = np.asarray(labels)
    both = len(np.unique(labels_array)) == 2
    return {"faces": len(labels), "real": int((labels_array == 0).sum()), "fake": int((labels_array == 1).sum()),
            "roc_auc": float(metrics.roc_auc_score(labels_array, scores)) if both else None,
            "brier": brier_score(labels_array, scores), **verdict_shares(labels_array, scores, thresholds)}


def domain_table(model: keras.Model, metadata: dict[str, Any], parts: list[DomainSplit], out: Path, split: str,
                 batch_size: int = 64) -> list[dict[str, Any]]:
    """One row per domain (and per subset where a domain mixes crops and faces found in pictures), with ROC and
    confusion figures per domain in ``out``."""
    image_size = int(metadata.get("image_size", model.input_shape[1]))
    thresholds = Thresholds.from_metadata(metadata)
    rows = []
    for part in parts:
        scores = calibrated_scores(model, metadata, part.data, image_size, batch_size)
        name = part.domain.label
        write_report(part.data.labels, scores, thresholds.fake_from, out, f"{split}_{name}", f"{name} — {split}")
        rows.append({"domain": name, "split": split, **domain_row(part.data.labels, scores, thresholds)})
        position = {path: i for i, path in enumerate(part.data.paths)}
        for subset, data in part.subsets().items():
            picked = np.asarray([position[p] for p in data.paths])
            rows.append({"domain": f"{name} · {subset}", "split": split,
                         **domain_row(data.labels, scores[picked], thresholds)})
    return rows


def robustness_table(model: keras.Model, metadata: dict[str, Any], data: Labelled, batch_size: int = 64
                     ) -> list[dict[str, Any]]:
    """The same faces as given and degraded: ROC-AUC, Brier and verdict shares under each condition."""
    image_size = int(metadata.get("image_size", model.input_shape[1]))
    thresholds = Thresholds.from_metadata(metadata)
    return [{"condition": name, **domain_row(data.labels, calibrated_scores(model, metadata, data, image_size,
                                                                             batch_size, name), thresholds)}
            for name in ("as given", *DEGRADATIONS)]


def reliable_input(rows: list[dict[str, Any]], data: Labelled, tolerance: float = 0.05) -> dict[str, int]:
    """The smallest face side and lowest JPEG quality whose robustness rows keep ROC-AUC within ``tolerance`` of
    the faces as given: below them a verdict is flagged as weak evidence."""
    from PIL import Image

    with Image.open(data.paths[0]) as first:
        side = min(first.size)
    base = next(row["roc_auc"] for row in rows if row["condition"] == "as given")
    holds = {row["condition"]: row["roc_auc"] is not None and row["roc_auc"] >= base - tolerance for row in rows}
    sides = [side] + [side // factor for factor in (2, 4) if holds.get(f"downscaled to 1/{factor}")
                      and all(holds.get(f"downscaled to 1/{f}") for f in (2, 4) if f <= factor)]
    qualities = [100] + [q for q in (90, 70, 50) if all(holds.get(f"JPEG {k}") for k in (90, 70, 50) if k >= q)]
    return {"min_face_px": int(min(sides)), "min_jpeg_quality": int(min(qualities))}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m train.evaluate", description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[1:]))
    parser.add_argument("--model", required=True, help="a .keras file written by train.image or train.video")
    parser.add_argument("--data", required=True, action="append", metavar="PATH",
                        help="folder with Test/ (and Validation/) or one Real/+Fake/ folder (images; for video "
                        "models videos or cached face sequences); repeat for one row per domain")
    parser.add_argument("--split", default="test", choices=("test", "validation", "train"))
    parser.add_argument("--out", default=None, help="where to write the report (default: beside the model)")
    parser.add_argument("--calibrate", "--choose-threshold", dest="calibrate", action="store_true",
                        help="fit the calibration and choose the thresholds on Validation now, and store them with "
                        "the model")
    parser.add_argument("--robustness", action="store_true",
                        help="also score the first domain under JPEG 90/70/50, downscaling to 1/2 and 1/4, and blur")
    parser.add_argument("--store", action="store_true",
                        help="store the domain table (and the robustness table with the input limits it implies) "
                        "with the model, for the app's About tab and the scan's weak-evidence flags")
    parser.add_argument("--val-per-class", type=int, default=600,
                        help="Validation faces per domain and class for --calibrate (as in training)")
    parser.add_argument("--face-cache", default="runs/face-cache", help="cache of faces cut from large pictures")
    parser.add_argument("--seed", type=int, default=1337, help="the sampling seed of --calibrate (as in training)")
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args(argv)

    try:
        model, metadata = load_model(args.model)
    except (FileNotFoundError, ValueError) as error:
        parser.error(str(error))
    out = Path(args.out) if args.out else Path(args.model).parent
    if metadata.get("kind") == "video" or len(model.input_shape) == 5:
        try:
            splits = load_splits(args.data[0], extensions=VIDEO_EXTENSIONS | SEQUENCE_EXTENSIONS)
        except (FileNotFoundError, ValueError) as error:
            parser.error(str(error))
        evaluate_video(parser, args, model, metadata, splits)
        return
    image_size = int(metadata.get("image_size", model.input_shape[1]))
    try:
        domains = domains_from_args(args.data, None)
        wanted = ("validation", args.split) if args.calibrate else (args.split, "validation")
        splits = load_domains(domains, FaceCropper(args.face_cache, image_size), seed=args.seed, splits=wanted)
    except (FileNotFoundError, ValueError) as error:
        parser.error(str(error))
    if args.calibrate:
        if "validation" not in splits:
            parser.error("calibrating needs a Validation/ folder")
        metadata.update(calibrate(model, pooled(splits["validation"], args.val_per_class, args.seed), image_size,
                                  args.batch_size))
        write_metadata(args.model, metadata)
        print(f"calibrated on Validation: real below {metadata['real_below']:.4f}, fake from "
              f"{metadata['threshold']:.4f}", file=sys.stderr)
    parts = []
    for domain in domains:
        for split in (args.split, "validation"):
            part = next((p for p in splits.get(split, []) if p.domain == domain), None)
            if part is not None:
                parts.append((split, part))
                break
    rows = [row for split, part in parts for row in domain_table(model, metadata, [part], out, split,
                                                                  args.batch_size)]
    result: dict[str, Any] = {"domains": rows}
    print(markdown_table(rows, "domain"))
    if args.robustness and parts:
        result["robustness"] = {"domain": parts[0][1].domain.label, "split": parts[0][0],
                                "rows": robustness_table(model, metadata, parts[0][1].data, args.batch_size)}
        print("\n" + markdown_table(result["robustness"]["rows"], "condition"))
    out.mkdir(parents=True, exist_ok=True)
    (out / "domains_metrics.json").write_text(json.dumps(result, indent=2) + "\n")
    if args.store:
        metadata["test_domains"] = rows
        if "robustness" in result:
            metadata["robustness"] = result["robustness"]
            metadata["reliable_input"] = reliable_input(result["robustness"]["rows"], parts[0][1].data)
        write_metadata(args.model, metadata)
    print(f"\nwritten: {out / 'domains_metrics.json'}", file=sys.stderr)


def evaluate_video(parser: argparse.ArgumentParser, args: argparse.Namespace, model: keras.Model,
                   metadata: dict[str, Any], splits: dict[str, Labelled]) -> None:
    """The video branch of ``main``."""
    metadata.setdefault("frames", int(model.input_shape[1]))
    metadata.setdefault("image_size", int(model.input_shape[2]))
    frames, image_size = int(metadata["frames"]), int(metadata["image_size"])
    if args.calibrate or "threshold" not in metadata:
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
