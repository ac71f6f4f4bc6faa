"""Evaluate a saved model on a Real/Fake folder: metrics JSON, ROC curve and confusion matrix PNGs.

    python -m train.evaluate --model model/weights/image_model.keras --data ../shared/data/dfdc-faces
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import keras
import numpy as np

from model.store import load_model, read_metadata, write_metadata
from train.data import Labelled, image_dataset, load_splits
from train.metrics import binary_metrics, choose_threshold, plot_confusion, plot_roc


def predict_images(model: keras.Model, data: Labelled, image_size: int, batch_size: int = 64) -> np.ndarray:
    """Fake probabilities for every readable file of ``data`` (unreadable ones abort: evaluation must be complete)."""
    dataset = image_dataset(data, image_size, batch_size, training=False, cache=False)
    scores = np.concatenate([np.asarray(model(x, training=False)).reshape(-1) for x, _ in dataset])
    if len(scores) != len(data):
        raise SystemExit(f"{len(data) - len(scores)} files could not be read; fix or remove them and evaluate again")
    return scores


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
    parser.add_argument("--model", required=True, help="a .keras file written by train.image")
    parser.add_argument("--data", required=True, help="folder with Test/ (and Validation/) or one Real/+Fake/ folder")
    parser.add_argument("--split", default="test", choices=("test", "validation", "train"))
    parser.add_argument("--out", default=None, help="where to write the report (default: beside the model)")
    parser.add_argument("--choose-threshold", action="store_true",
                        help="choose the threshold on Validation now and store it with the model")
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args(argv)

    try:
        model, metadata = load_model(args.model)
        splits = load_splits(args.data)
    except (FileNotFoundError, ValueError) as error:
        parser.error(str(error))
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


if __name__ == "__main__":
    main()
