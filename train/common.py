"""What the image and video trainers share: command-line flags, distribution strategy, callbacks and fitting."""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from model.store import ModelInfo, Stage
from train.config import MIN_LR, REDUCE_LR_FACTOR, FitSettings, TrainingError, ViewFaces
from train.data import class_weights


def make_strategy(name: str) -> tf.distribute.Strategy:
    """The tf.distribute strategy named on the command line."""
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        if "TF_CONFIG" not in os.environ:
            raise TrainingError("--strategy multiworker needs the TF_CONFIG environment variable (see TensorFlow "
                                "docs)")
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def logged_val_aucs(history_csv: Path, monitor: str = "val_auc") -> list[float]:
    """The monitored Validation AUC of every epoch logged so far, an interrupted and resumed run's earlier epochs
    included."""
    if not history_csv.exists():
        return []
    with history_csv.open() as handle:
        return [float(row[monitor]) for row in csv.DictReader(handle) if row.get(monitor)]


def make_callbacks(out: Path, logdir: Path, patience: int, monitor: str = "val_auc", floor: float | None = None,
                   plateau: bool = True) -> list[keras.callbacks.Callback]:
    """Best-AUC checkpoint, resumable backup, early stopping, LR schedule, TensorBoard and a CSV log; all of them
    follow ``monitor``, a Validation AUC in the epoch's logs. The checkpoint is replaced only by an epoch that
    beats every epoch logged so far and ``floor`` (the starting weights' AUC of a fine-tune). ``plateau``: halve
    the learning rate when ``monitor`` stalls (off when the optimizer follows a schedule of its own)."""
    best_so_far = max([*logged_val_aucs(out / "history.csv", monitor), *([] if floor is None else [floor])],
                      default=None)
    return [
        keras.callbacks.BackupAndRestore(str(out / "backup")),
        keras.callbacks.ModelCheckpoint(str(out / "best.keras"), monitor=monitor, mode="max", save_best_only=True,
                                        initial_value_threshold=best_so_far),
        keras.callbacks.EarlyStopping(monitor=monitor, mode="max", patience=patience, restore_best_weights=True),
        *([keras.callbacks.ReduceLROnPlateau(monitor=monitor, mode="max", factor=REDUCE_LR_FACTOR,
                                             patience=max(1, patience // 2), min_lr=MIN_LR)] if plateau else []),
        keras.callbacks.TensorBoard(str(logdir)),
        keras.callbacks.CSVLogger(str(out / "history.csv"), append=True),
    ]


def compile_binary(model: keras.Model, lr: float | keras.optimizers.schedules.LearningRateSchedule,
                   weight_decay: float = 0.0) -> None:
    """Adam (AdamW with decoupled ``weight_decay`` when it is above 0) on binary cross-entropy, tracking AUC and
    accuracy; ``lr`` is a rate or a schedule."""
    optimizer = (keras.optimizers.AdamW(lr, weight_decay=weight_decay) if weight_decay > 0
                 else keras.optimizers.Adam(lr))
    model.compile(optimizer=optimizer, loss="binary_crossentropy",
                  metrics=[keras.metrics.AUC(name="auc"), keras.metrics.BinaryAccuracy(name="accuracy")])


def add_view_consistency(model: keras.Model, weight: float, on: ViewFaces = "real") -> None:
    """Add to ``model``'s training loss ``weight`` × the mean squared gap between its probability for each face of
    the batch's first half and for its harmless view, the face at the same place in the second half (batches of
    ``train.data.mixed_dataset(views=True)``): a verdict that greyscale, white balance, JPEG, size or a tighter
    cut moves is penalised where it is made. ``on``: the mean over the real faces only (a self-blend's colour
    mismatch is evidence the fake may keep), or over every face. Validation losses are left as they are."""
    plain = model.compute_loss

    def compute_loss(x=None, y=None, y_pred=None, sample_weight=None, training=True):
        loss = plain(x, y, y_pred, sample_weight, training=training)
        if not training:
            return loss
        faces, views = tf.split(y_pred, 2)
        counted = tf.ones_like(faces)
        if on == "real":
            counted = 1.0 - tf.reshape(tf.split(tf.cast(y, faces.dtype), 2)[0], tf.shape(faces))
        gap = tf.reduce_sum(counted * tf.square(faces - views)) / tf.maximum(tf.reduce_sum(counted), 1.0)
        return loss + weight * gap

    model.compute_loss = compute_loss


def prepare_multi_worker(model: keras.Model, dataset: tf.data.Dataset) -> None:
    """Work around Keras 3's ``fit`` under ``MultiWorkerMirroredStrategy`` (keras-team/keras#20585).

    ``fit`` builds the loss, metric and optimizer state by averaging one distributed batch across workers in
    eager mode, which that strategy rejects ("Attempt to convert a value (PerReplica...)"): the state is built
    here from a plain batch and that step skipped. Its per-step logs are then averaged across workers along
    axis 0, which scalars lack: the steps report each value as a one-element vector.
    """
    x, y = next(iter(dataset))
    with model.distribute_strategy.scope():
        model._symbolic_build(data_batch=(x, y, None))
    model._maybe_symbolic_build = lambda *args, **kwargs: None
    for name in ("train_step", "test_step"):
        step = getattr(model, name)
        setattr(model, name, lambda data, step=step: {key: tf.reshape(value, (1,)) for key, value in step(data).items()})


def command_line(parser: argparse.ArgumentParser, argv: list[str] | None) -> str:
    """The command as the user typed it, for the model's lineage (its stage's command)."""
    return f"{parser.prog} {shlex.join(sys.argv[1:] if argv is None else argv)}"


def lineage(started: ModelInfo | None, start: str, command: str, config: str | None = None) -> tuple[Stage, ...]:
    """Every start of the model a run trains, first to last: the lineage of ``started`` (the record of the saved
    model at ``start`` it starts from) and this run, or, from scratch, ``start`` (the weights it starts from:
    ImageNet's package, random...) and this run; ``config``: the run's recipe file."""
    if started is None:
        return Stage("start", weights=start), Stage("this run", command=command, config=config)
    earlier = started.lineage
    return (*earlier, Stage(f"stage {len(earlier)}", start=start, command=command, config=config))


def score_start(model: keras.Model, val_ds: tf.data.Dataset, validators: tuple[keras.callbacks.Callback, ...],
                out: Path, monitor: str) -> float | None:
    """The Validation ``monitor`` of the weights a fine-tune starts from, so that they stay the model unless an epoch
    beats them: scored once, before the first epoch, saved as the first ``best.keras`` and recorded in
    ``start.json``. A resumed run reads the record; one resumed from before this record existed has none (None)."""
    record = out / "start.json"
    if record.exists():
        return float(json.loads(record.read_text())[monitor])
    if logged_val_aucs(out / "history.csv", monitor):
        return None
    scores = model.evaluate(val_ds, return_dict=True, verbose=0)
    logs = {f"val_{name}": float(np.mean(value)) for name, value in scores.items()}
    for validator in validators:
        validator.set_model(model)
        validator.on_epoch_end(-1, logs)
    model.save(out / "best.keras")
    record.write_text(json.dumps(logs, indent=2))
    print(f"starting weights: Validation {monitor} {logs[monitor]:.4f}; an epoch must beat it to replace them")
    return logs[monitor]


def fit(model: keras.Model, train_ds: tf.data.Dataset, val_ds: tf.data.Dataset, labels: list[int] | None,
        settings: FitSettings, out: Path, steps_per_epoch: int | None = None, monitor: str = "val_auc",
        validators: tuple[keras.callbacks.Callback, ...] = (), start_is_candidate: bool = False
        ) -> tuple[keras.Model, dict[str, Any]]:
    """Train with the standard callbacks, weighting classes by ``labels`` (None: batches are balanced already;
    endless datasets need ``steps_per_epoch``); returns the best model by ``monitor`` and a run summary.
    ``validators`` run first at each epoch's end and add their figures to its logs, for ``monitor`` to name.
    ``start_is_candidate`` (fine-tunes of trained weights): the starting weights compete with the epochs, and are
    returned when no epoch beats them on ``monitor`` (``selected_epoch`` 0 in the summary)."""
    logdir = settings.tensorboard_dir(out)
    started = time.time()
    if isinstance(model.distribute_strategy, tf.distribute.MultiWorkerMirroredStrategy):
        prepare_multi_worker(model, train_ds)
    start = score_start(model, val_ds, validators, out, monitor) if start_is_candidate else None
    model.fit(train_ds, validation_data=val_ds, epochs=settings.epochs, steps_per_epoch=steps_per_epoch,
              class_weight=class_weights(labels) if labels is not None else None,
              callbacks=[*validators, *make_callbacks(out, logdir, settings.patience, monitor, start,
                                                      plateau=settings.plateau)],
              verbose=2 if os.environ.get("CI") else "auto")
    aucs = logged_val_aucs(out / "history.csv", monitor)
    best_path = out / "best.keras"
    best = keras.saving.load_model(best_path, compile=False, safe_mode=True) if best_path.exists() else model
    improved = bool(aucs) and (start is None or max(aucs) > start)
    return best, {
        "epochs_run": len(aucs),
        "best_val_auc": max(aucs) if improved else start,
        "start_val_auc": start,
        "selected_epoch": int(np.argmax(aucs)) + 1 if improved else 0,
        "selected_on": monitor,
        "wall_time_s": round(time.time() - started, 1),
        "hardware": f"{platform.machine()} {os.cpu_count()} cores, "
                    f"{len(tf.config.list_physical_devices('GPU'))} GPU(s), TensorFlow {tf.__version__}",
    }
