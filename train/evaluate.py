"""Evaluate a saved model: one row per domain, a robustness table, metrics JSON, ROC and confusion PNGs.

    python -m train.evaluate --model model/weights/image_model.keras --data ../shared/data/dfdc-faces \
        --data ../extra-data/photos --robustness
    python -m train.evaluate --model model/weights/video_model.keras --data ../shared/data/videos

Image models: each ``--data`` domain is scored on ``--split`` (or on Validation where it has no such split),
faces cut as in training (``train.domains``), with the model's stored calibration and its ``real`` /
``uncertain`` / ``fake`` thresholds; ``--calibrate`` fits both on the domains' pooled Validation first and stores
them (with ``--views``, over those views of each face, which the model is scored and served with from then on).
``--robustness`` scores the first domain again under JPEG re-compression, downscaling and blur.

    python -m train.evaluate --model model/weights/video_model.keras --data ../shared/data/videos \
        --data ../shared/data/celebdf-clips

Video models: one row per ``--data`` folder (its ``--split``; a bare Real/Fake folder as a whole) for the video
model, judged per clip as serving judges it (calibrated, ``real`` / ``uncertain`` / ``fake``), with its
per-frame ROC-AUC beside it, and one row for the image-model baseline on the same face crops (``--baseline``).
``--calibrate`` fits the clip and frame calibration and the clip thresholds on the first folder's Validation
clips first. Folders may hold videos (faces are found and cut as at serving time) or the face sequences cached
by ``train.extract_faces``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import keras
import numpy as np

from sklearn import metrics

from model.calibration import Thresholds
from model.face_recipe import FaceRecipe
from model.image_detector import FaceScorer
from model.preprocessing import IMAGE_SIZE
from model.tables import markdown_table
from model.store import (DEFAULT_IMAGE_MODEL, WEIGHTS_DIR, ModelInfo, ReliableInput, load_served_model,
                         write_metadata)
from model.video import VIDEO_EXTENSIONS
from model.video_detector import VideoModel
from model.views import checked_views
from train.data import Labelled, has_splits, list_labelled, load_splits
from train.degrade import DEGRADATIONS
from train.audit import audit_markdown, invariance_markdown, invariance_rows, shortcut_audit
from train.domains import DomainSplit, FaceCropper, domains_from_args, drawn, load_domains, people_names
from train.calibration import calibrate, calibrate_video
from train.flags import add_band_flags, add_views_flag, image_parser
from train.config import VALIDATION_PER_CLASS, TrainingError, check_band, read_config_file
from train.metrics import (binary_metrics, brier_score, plot_confusion, plot_roc, verdict_matrix,
                           verdict_shares)
from train.scoring import Network, face_networks, predict_videos, raw_scores
from train.sequences import SEQUENCE_EXTENSIONS, Clips, are_cached_sequences, load_clips


def read_clips(data: Labelled, frames: int, image_size: int, recipe: FaceRecipe) -> Clips:
    """Cached sequences as they are (the models resize the faces), or videos run through serving's face extraction
    now with the model's face ``recipe`` at ``image_size`` (unreadable clips and clips without a face abort:
    evaluation must be complete)."""
    if are_cached_sequences(data):
        return load_clips(data, recipe)
    from tqdm import tqdm

    from model.face_path import FaceCutter
    from train.extract_faces import ClipError, extract_clip

    cutter, clips = FaceCutter(recipe), Clips([], [], [], [])
    for path, label in tqdm(list(zip(data.paths, data.labels)), desc="clips", unit="clip", file=sys.stderr):
        try:
            sequence = extract_clip(path, cutter, frames, extra_frames=0, image_size=image_size)
        except ClipError as error:
            raise TrainingError(f"{path}: {error}; fix or remove it and evaluate again") from None
        clips.faces.append(sequence.faces)
        clips.serving.append(sequence.serving)
        clips.labels.append(label)
        clips.paths.append(str(path))
    return clips


def video_domain_rows(video_model: VideoModel, clips: Clips, name: str, split: str, out: Path,
                      baseline: FaceScorer | None = None, baseline_clips: Clips | None = None) -> list[dict[str, Any]]:
    """The clips of one domain judged as serving judges them (the serving frames, calibrated, at the stored
    thresholds): a row for the video model, with its per-frame ROC-AUC, and one for the ``baseline`` (the image
    model on the same frames' crops, ``baseline_clips`` where its face recipe cuts them otherwise, mean of its
    per-frame probabilities); ROC and confusion figures in ``out``."""
    sequences = [list(clips.serving_faces(i, video_model.frames)) for i in range(len(clips))]
    labels = np.asarray(clips.labels)
    frame_y = np.repeat(labels, video_model.frames)
    scored = video_model.score(sequences)
    video, per_frame = np.asarray([s.probability for s in scored]), np.concatenate([s.frames for s in scored])
    write_report(list(labels), video, video_model.thresholds, out, f"{split}_{name}",
                 f"{name} — {split} (clips, video model)")
    judged = [(video_model.name, video, per_frame, video_model.thresholds)]
    if baseline is not None:
        theirs = sequences if baseline_clips is None else [
            list(baseline_clips.serving_faces(i, video_model.frames)) for i in range(len(baseline_clips))]
        frame_scores = [baseline.score(sequence) for sequence in theirs]
        judged.append((f"{baseline.name}, mean per frame", np.asarray([f.mean() for f in frame_scores]),
                       np.concatenate(frame_scores), baseline.thresholds))
    rows = []
    for model_name, clip_scores, frame_scores, thresholds in judged:
        row = domain_row(list(labels), clip_scores, thresholds)
        rows.append({"domain": name, "split": split, "model": model_name, "clips": row.pop("faces"), **row,
                     "frame_roc_auc": binary_metrics(frame_y, frame_scores, 0.5)["roc_auc"]})
    return rows


def write_report(labels: list[int], scores: np.ndarray, thresholds: Thresholds, out: Path, name: str,
                 title: str) -> dict[str, Any]:
    """Compute the metrics at the thresholds and save ``{name}_metrics.json``, ``_roc.png`` and ``_confusion.png``
    (the three verdicts against the truth)."""
    out.mkdir(parents=True, exist_ok=True)
    result = binary_metrics(np.asarray(labels), scores, thresholds.fake_from)
    result["verdict_matrix"] = verdict_matrix(labels, scores, thresholds)
    (out / f"{name}_metrics.json").write_text(json.dumps(result, indent=2) + "\n")
    if result["roc_auc"] is not None:
        plot_roc(np.asarray(labels), scores, out / f"{name}_roc.png", title)
    plot_confusion(result["verdict_matrix"], out / f"{name}_confusion.png", title)
    return result


def calibrated_scores(networks: Sequence[Network], record: ModelInfo, data: Labelled, batch_size: int = 64,
                      degrade: str = "as given") -> np.ndarray:
    """The face model's calibrated fake probabilities for every file of ``data`` (optionally degraded first), each
    face scored as ``record`` scores it: over its views, with its members (``networks``, ``face_networks``)."""
    change = None if degrade == "as given" else DEGRADATIONS[degrade]
    return record.calibration(raw_scores(networks, data, batch_size, change))


def domain_row(labels: list[int], scores: np.ndarray, thresholds: Thresholds) -> dict[str, Any]:
    """ROC-AUC, Brier and the verdict shares of one domain (or subset) at the stored thresholds."""
    labels_array = np.asarray(labels)
    both = len(np.unique(labels_array)) == 2
    return {"faces": len(labels), "real": int((labels_array == 0).sum()), "fake": int((labels_array == 1).sum()),
            "roc_auc": float(metrics.roc_auc_score(labels_array, scores)) if both else None,
            "brier": brier_score(labels_array, scores), **verdict_shares(labels_array, scores, thresholds)}


def domain_table(networks: Sequence[Network], record: ModelInfo, parts: list[DomainSplit], out: Path, split: str,
                 batch_size: int = 64) -> list[dict[str, Any]]:
    """One row per domain (and per subset where a domain mixes crops and faces found in pictures), with ROC and
    confusion figures per domain in ``out``: the face model's ``networks`` judged by its ``record``."""
    thresholds = record.thresholds
    rows = []
    for part in parts:
        scores = calibrated_scores(networks, record, part.data, batch_size)
        name = part.domain.label
        write_report(part.data.labels, scores, thresholds, out, f"{split}_{name}", f"{name} — {split}")
        rows.append({"domain": name, "split": split, **domain_row(part.data.labels, scores, thresholds)})
        position = {path: i for i, path in enumerate(part.data.paths)}
        for subset, data in part.subsets().items():
            picked = np.asarray([position[p] for p in data.paths])
            rows.append({"domain": f"{name} · {subset}", "split": split,
                         **domain_row(data.labels, scores[picked], thresholds)})
    return rows


def robustness_table(networks: Sequence[Network], record: ModelInfo, data: Labelled, batch_size: int = 64
                     ) -> list[dict[str, Any]]:
    """The same faces as given and degraded: ROC-AUC, Brier and verdict shares under each condition."""
    return [{"condition": name, **domain_row(data.labels, calibrated_scores(networks, record, data, batch_size, name),
                                             record.thresholds)}
            for name in ("as given", *DEGRADATIONS)]


def reliable_input(rows: list[dict[str, Any]], data: Labelled, tolerance: float = 0.05) -> ReliableInput:
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
    return ReliableInput(int(min(sides)), int(min(qualities)))


def audit_tables(model_path: str | Path, model: keras.Model, domains: dict[str, Labelled]) -> dict[str, Any]:
    """The shortcut audit and the invariance table of the faces of ``domains``, through the serving scorer of the
    loaded ``model`` (its recipe, calibration and thresholds as stored now), printed and returned."""
    scorer = FaceScorer(model_path, network=model)
    audit = shortcut_audit(domains)
    invariance = invariance_rows(scorer.score, scorer.thresholds.verdict, scorer.recipe, domains)
    print("\n" + audit_markdown(audit) + "\n\n" + invariance_markdown(invariance))
    return {"shortcut_audit": audit, "invariance": invariance}


def report_folder(model: str | Path, out: str | None) -> Path:
    """Where figures and metrics JSON go: ``out``, else beside the model; for the shipped models, whose folder is
    part of the repository and of the Space, ``runs/evaluate/<model name>`` instead."""
    if out:
        return Path(out)
    path = Path(model).resolve()
    return Path("runs") / "evaluate" / path.stem if path.parent == WEIGHTS_DIR else path.parent


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m train.evaluate", description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[1:]))
    parser.add_argument("--model", required=True, help="a .keras file written by train.image or train.video")
    parser.add_argument("--data", action="append", default=None, metavar="PATH",
                        help="folder with Test/ (and Validation/) or one Real/+Fake/ folder (images; for video "
                        "models videos or cached face sequences); repeat for one row per domain")
    parser.add_argument("--config", default=None, metavar="FILE",
                        help="image models: take the domains (with their limits and people marks) from a recipe "
                        "file's [[data]] tables, e.g. configs/image_model.toml")
    parser.add_argument("--per-class", type=int, default=None,
                        help="image models: score at most this many faces per domain, class and split (drawn once, "
                        "seeded)")
    parser.add_argument("--audit", action="store_true",
                        help="image models: the shortcut audit (can trivial features tell each domain's Real from "
                        "its Fake?) and the invariance table (verdict changes of real faces under harmless changes)")
    parser.add_argument("--split", default="test", choices=("test", "validation", "train"))
    parser.add_argument("--out", default=None, help="where to write figures and metrics (default: beside the "
                        "model; runs/evaluate/NAME for the shipped models)")
    parser.add_argument("--calibrate", "--choose-threshold", dest="calibrate", action="store_true",
                        help="fit the calibration and choose the thresholds on Validation now, and store them with "
                        "the model")
    parser.add_argument("--robustness", action="store_true",
                        help="also score the first domain under JPEG 90/70/50, downscaling to 1/2 and 1/4, and blur")
    parser.add_argument("--store", action="store_true",
                        help="store the domain table (and the robustness table with the input limits it implies) "
                        "with the model, for the app's About tab and the scan's weak-evidence flags")
    add_views_flag(parser, "image models, with --calibrate: the views of each face whose mean score is calibrated, "
                   "stored and served from now on (default: the model's own)")
    parser.add_argument("--members", nargs="+", default=None, metavar="FILE",
                        help="image models, with --calibrate: other image models' files in the model's folder whose "
                        "raw scores (each over its own views, the face capped at its own crop ceiling) are averaged "
                        "with this model's in logit space, calibrated, stored and served from now on (none: this "
                        "network alone)")
    add_band_flags(parser, "--calibrate")
    parser.add_argument("--val-per-class", type=int, default=VALIDATION_PER_CLASS,
                        help="Validation faces per domain and class for --calibrate (as in training)")
    parser.add_argument("--face-cache", default="runs/face-cache", help="cache of faces cut from large pictures")
    parser.add_argument("--seed", type=int, default=1337, help="the sampling seed of --calibrate (as in training)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--baseline", default=str(DEFAULT_IMAGE_MODEL), metavar="IMAGE_MODEL",
                        help="video models: the image model scored beside them on the same face crops, averaged "
                        "per clip (none: skip)")
    args = parser.parse_args(argv)
    if not args.data and not args.config:
        parser.error("give --data folders or a --config recipe file")
    if (args.views or args.members) and not args.calibrate:
        parser.error("--views and --members change what the stored calibration was fitted on: give --calibrate "
                     "with them")
    try:
        evaluate(args)
    except (FileNotFoundError, ValueError) as error:  # TrainingError included
        parser.error(str(error))


def evaluate(args: argparse.Namespace) -> ModelInfo:
    """``main`` once its flags are parsed: the domain tables of an image or a video model, calibrated and stored
    when asked; returns the model's record as it is now. Raises ``TrainingError`` (or ``FileNotFoundError``) with
    one sentence."""
    model, info = load_served_model(args.model)
    out = report_folder(args.model, args.out)
    if info.kind == "video":
        if args.views:
            raise TrainingError("--views is for image models: a video model scores its frames as cut")
        return evaluate_video(args, model, info, out)
    if args.calibrate:
        check_band(args.max_people_called_fake, args.max_uncertain)
    tables = read_config_file(args.config, image_parser())[1] if args.config else ()
    domains = domains_from_args(args.data, None, tables)
    limits = {"validation": args.val_per_class, **({args.split: args.per_class} if args.per_class else {})}
    cropper = FaceCropper(args.face_cache, info.face_recipe)
    splits = load_domains(domains, cropper, seed=args.seed, splits=(args.split,), split_limits=limits)
    scored = {part.domain for part in splits.get(args.split, [])}
    # Validation is cut for calibrating, and for scoring the domains without the asked split.
    needing = domains if args.calibrate else [d for d in domains if d not in scored]
    if needing:
        splits.update(load_domains(needing, cropper, seed=args.seed, splits=("validation",), split_limits=limits))
    if args.calibrate:
        if "validation" not in splits:
            raise TrainingError("calibrating needs a Validation/ folder")
        info = replace(info, views=checked_views(args.views or info.views), **chosen_members(args, info))
    networks = face_networks(model, info)  # a calibration changes no network's views, size or face recipe
    if args.calibrate:
        per_domain = drawn(splits["validation"], args.val_per_class, args.seed)
        info = write_metadata(args.model, calibrate(info, networks, per_domain, people_names(domains),
                                                    args.batch_size, args.max_people_called_fake, args.max_uncertain))
        print_calibrated(info)
    parts = []
    for domain in domains:
        for split in (args.split, "validation"):
            part = next((p for p in splits.get(split, []) if p.domain == domain), None)
            if part is not None:
                parts.append((split, part))
                break
    rows = [row for split, part in parts for row in domain_table(networks, info, [part], out, split, args.batch_size)]
    result: dict[str, Any] = {"domains": rows}
    print(markdown_table(rows, "domain"))
    if args.audit:
        result.update(audit_tables(args.model, model, {part.domain.label: part.data for _, part in parts}))
    if args.robustness and parts:
        result["robustness"] = {"domain": parts[0][1].domain.label, "split": parts[0][0],
                                "rows": robustness_table(networks, info, parts[0][1].data, args.batch_size)}
        print("\n" + markdown_table(result["robustness"]["rows"], "condition"))
    out.mkdir(parents=True, exist_ok=True)
    (out / "domains_metrics.json").write_text(json.dumps(result, indent=2) + "\n")
    if args.store:
        measured = {key: result[key] for key in ("shortcut_audit", "invariance", "robustness") if key in result}
        if "robustness" in result:
            measured["reliable_input"] = reliable_input(result["robustness"]["rows"], parts[0][1].data)
        info = write_metadata(args.model, replace(info, test_domains=rows, **measured))
    print(f"\nwritten: {out / 'domains_metrics.json'}", file=sys.stderr)
    return info


def chosen_members(args: argparse.Namespace, info: ModelInfo) -> dict[str, tuple[str, ...] | None]:
    """The ``members`` that ``--members`` gives the record (nothing where it is not given; ``none`` removes them):
    image models in the model's folder that find and frame faces as it does (``ModelInfo.check_member``);
    ``ValueError`` otherwise."""
    if args.members is None:
        return {}
    names = tuple(name for name in args.members if name != "none")
    folder = Path(args.model).parent
    for name in names:
        path = folder / name
        if Path(name).name != name or not path.is_file():
            raise TrainingError(f"--members takes model files in {folder} (their names): {name} is not one")
        info.check_member(ModelInfo.read(path))
    return {"members": names or None}


def print_calibrated(info: ModelInfo) -> None:
    print(f"calibrated on Validation: real below {info.real_below:.4f}, fake from {info.fake_from:.4f}",
          file=sys.stderr)
    for name, shares in (info.validation_calibration or {}).get("domains", {}).items():
        called = shares["real_called_fake"]
        print(f"  {name}: {shares['faces']} faces, real called fake "
              f"{'-' if called is None else format(called, '.1%')}, uncertain {shares['uncertain']:.1%}",
              file=sys.stderr)


def video_domains(paths: list[str], split: str) -> list[tuple[str, str, Labelled]]:
    """(name, split, clips) of each video folder: its ``split`` (else Validation); a bare Real/Fake folder, such as
    ``celebdf-clips``, is a held-out check as a whole."""
    extensions = VIDEO_EXTENSIONS | SEQUENCE_EXTENSIONS
    found = []
    for path in paths:
        if not has_splits(path):
            found.append((Path(path).name, "all", list_labelled(Path(path), extensions)))
            continue
        splits = load_splits(path, extensions=extensions)
        chosen = split if split in splits else "validation"
        found.append((Path(path).name, chosen, splits[chosen]))
    return found


def evaluate_video(args: argparse.Namespace, model: keras.Model, info: ModelInfo, out: Path) -> ModelInfo:
    """The video branch of ``evaluate``: calibrate on the first folder's Validation clips if asked, then one row
    per folder for the video model and the image-model baseline; returns the record as it is now."""
    frames, image_size = info.frames, info.image_size
    read_size = max(image_size, IMAGE_SIZE)  # one extraction serves both models; each resizes to its own size
    domains = video_domains(args.data, args.split)
    if args.calibrate:
        validation = load_splits(args.data[0], extensions=VIDEO_EXTENSIONS | SEQUENCE_EXTENSIONS)
        if "validation" not in validation:
            raise TrainingError(f"calibrating needs a Validation/ folder in {args.data[0]}")
        clips = read_clips(validation["validation"], frames, read_size, info.face_recipe).resized(image_size)
        info = write_metadata(args.model, calibrate_video(info, clips.labels, *predict_videos(model, clips, frames)))
        print_calibrated(info)
    if args.baseline != "none" and not Path(args.baseline).is_file():
        raise TrainingError(f"baseline image model not found: {args.baseline} (--baseline none leaves it out)")
    video_model = VideoModel(args.model, network=model)
    baseline = FaceScorer(args.baseline) if args.baseline != "none" else None

    def baseline_clips(data: Labelled) -> Clips | None:
        """The clips cut again by the baseline's face recipe where it differs from the video model's (its crops
        capped otherwise); None where they are the same, or cached sequences that only one recipe cut."""
        if baseline is None or baseline.recipe == info.face_recipe:
            return None
        if are_cached_sequences(data):
            print(f"note: {baseline.name} cuts faces by another recipe than the cached clips' "
                  f"({baseline.recipe.to_json()}); its row scores their crops as cut", file=sys.stderr)
            return None
        return read_clips(data, frames, read_size, baseline.recipe)

    rows = [row for name, split, data in domains
            for row in video_domain_rows(video_model, read_clips(data, frames, read_size, info.face_recipe), name,
                                         split, out, baseline, baseline_clips(data))]
    print(markdown_table(rows, "domain"))
    out.mkdir(parents=True, exist_ok=True)
    (out / "domains_metrics.json").write_text(json.dumps({"domains": rows}, indent=2) + "\n")
    if args.store:  # replacing the one-threshold metrics of older trainers
        info = write_metadata(args.model, replace(info, test_domains=rows, test_metrics=None,
                                                  test_frame_metrics=None))
    print(f"\nwritten: {out / 'domains_metrics.json'}", file=sys.stderr)
    return info


if __name__ == "__main__":
    main()
