"""What the image and video trainers share: command-line flags, distribution strategy, callbacks and fitting."""

from __future__ import annotations

import argparse
import csv
import os
import platform
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from train.data import class_weights


def add_common_flags(parser: argparse.ArgumentParser, epochs: int, batch_size: int, lr: float) -> None:
    """Flags every trainer takes."""
    parser.add_argument("--data", required=True, help="folder with Train/ and Validation/ (optionally Test/), "
                        "each holding Real/ and Fake/; or one Real/+Fake/ folder with --val-split")
    parser.add_argument("--out", default=None, help="run folder for checkpoints, logs and the final model")
    parser.add_argument("--logdir", default=None, help="TensorBoard log folder (default: OUT/tensorboard)")
    parser.add_argument("--epochs", type=int, default=epochs)
    parser.add_argument("--batch-size", type=int, default=batch_size)
    parser.add_argument("--lr", type=float, default=lr, help="initial learning rate (Adam)")
    parser.add_argument("--val-split", type=float, default=0.2,
                        help="fraction held out for validation when DATA has no Train/Validation folders")
    parser.add_argument("--patience", type=int, default=4, help="epochs without Validation AUC gain before stopping")
    parser.add_argument("--seed", type=int, default=1337)
    parser.add_argument("--limit-per-class", type=int, default=None,
                        help="use at most this many files per class and split (quick experiments)")
    parser.add_argument("--strategy", choices=("default", "mirrored", "multiworker"), default="default",
                        help="tf.distribute strategy: mirrored for several GPUs, multiworker for several hosts "
                        "(set TF_CONFIG)")


def make_strategy(name: str) -> tf.distribute.Strategy:
    """The tf.distribute strategy named on the command line."""
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        if "TF_CONFIG" not in os.environ:
            raise SystemExit("--strategy multiworker needs the TF_CONFIG environment variable (see TensorFlow docs)")
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def logged_val_aucs(history_csv: Path) -> list[float]:
    """Validation AUC of every epoch logged so far, an interrupted and resumed run's earlier epochs included."""
    if not history_csv.exists():
        return []
    with history_csv.open() as handle:
        return [float(row["val_auc"]) for row in csv.DictReader(handle) if row.get("val_auc")]


def make_callbacks(out: Path, logdir: Path, patience: int) -> list[keras.callbacks.Callback]:
    """Best-AUC checkpoint, resumable backup, early stopping, LR schedule, TensorBoard and a CSV log."""
    best_so_far = max(logged_val_aucs(out / "history.csv"), default=None)
    return [
        keras.callbacks.BackupAndRestore(str(out / "backup")),
        keras.callbacks.ModelCheckpoint(str(out / "best.keras"), monitor="val_auc", mode="max", save_best_only=True,
                                        initial_value_threshold=best_so_far),
        keras.callbacks.EarlyStopping(monitor="val_auc", mode="max", patience=patience, restore_best_weights=True),
        keras.callbacks.ReduceLROnPlateau(monitor="val_auc", mode="max", factor=0.5,
                                          patience=max(1, patience // 2), min_lr=1e-6),
        keras.callbacks.TensorBoard(str(logdir)),
        keras.callbacks.CSVLogger(str(out / "history.csv"), append=True),
    ]


def compile_binary(model: keras.Model, lr: float) -> None:
    """Adam on binary cross-entropy, tracking AUC and accuracy."""
    model.compile(optimizer=keras.optimizers.Adam(lr), loss="binary_crossentropy",
                  metrics=[keras.metrics.AUC(name="auc"), keras.metrics.BinaryAccuracy(name="accuracy")])


def command_line(parser: argparse.ArgumentParser, argv: list[str] | None) -> str:
    """The command as the user typed it, for the model's provenance."""
    return f"{parser.prog} {shlex.join(sys.argv[1:] if argv is None else argv)}"


def fit(model: keras.Model, train_ds: tf.data.Dataset, val_ds: tf.data.Dataset, labels: list[int],
        args: argparse.Namespace, out: Path) -> tuple[keras.Model, dict[str, Any]]:
    """Train with class weights and the standard callbacks; returns the best model and a run summary."""
    logdir = Path(args.logdir) if args.logdir else out / "tensorboard"
    started = time.time()
    model.fit(train_ds, validation_data=val_ds, epochs=args.epochs, class_weight=class_weights(labels),
              callbacks=make_callbacks(out, logdir, args.patience), verbose=2 if os.environ.get("CI") else "auto")
    aucs = logged_val_aucs(out / "history.csv")
    best_path = out / "best.keras"
    best = keras.saving.load_model(best_path, compile=False, safe_mode=True) if best_path.exists() else model
    return best, {
        "epochs_run": len(aucs),
        "best_val_auc": max(aucs, default=None),
        "wall_time_s": round(time.time() - started, 1),
        "hardware": f"{platform.machine()} {os.cpu_count()} cores, "
                    f"{len(tf.config.list_physical_devices('GPU'))} GPU(s), TensorFlow {tf.__version__}",
    }
