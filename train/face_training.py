"""The face trainer both trainers use (the image model, and the video model's frame stage): domains, balanced and
augmented batches with self-blended fakes, a frozen-backbone warm-up, the fit with its callbacks, per-domain
Validation, calibration and the per-domain Test table.

Sources -> sampling -> augmentation -> batches live in ``train.data``; which folders and how much each counts in
``train.domains``; this module runs the training on them.
"""

from __future__ import annotations

import argparse
import math
from typing import Any, Callable

import keras
import numpy as np
import tensorflow as tf
from sklearn.metrics import roc_auc_score

from model.backbones import BACKBONES, set_backbone_trainable
from model.face_recipe import FACE_RECIPE
from model.store import save_model
from train.calibration import calibrate
from train.common import compile_binary, fit, make_strategy
from train.config import VALIDATION_PER_CLASS, FaceTrainConfig, TrainingError
from train.data import Labelled, Shard, image_dataset, mixed_dataset, stream_weights
from train.audit import audit_lines, shortcut_audit
from train.domains import DomainSplit, FaceCropper, domains_from_args, drawn, load_domains, people_reals, pooled
from train.evaluate import domain_table
from train.scoring import predict_images

SELECTION = {"pooled": "val_auc", "mean": "val_auc_mean", "worst": "val_auc_worst"}
WARMUP_LR = 1e-3
COSINE_FLOOR = 0.05


class DomainValidation(keras.callbacks.Callback):
    """Each Validation domain's ROC-AUC at the end of every epoch, added to the epoch's logs (and so to
    ``history.csv``) as ``val_auc_<domain>``, with their mean ``val_auc_mean`` and minimum ``val_auc_worst``.

    Either is a better criterion than the AUC of all domains pooled, which also rewards telling the domains apart
    and lets a nearly separable domain (the ``photos``) hide losses on the hard ones.
    """

    def __init__(self, domains: dict[str, Labelled], image_size: int, batch_size: int) -> None:
        super().__init__()
        self.domains, self.image_size, self.batch_size = domains, image_size, batch_size

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        aucs = {name: float(roc_auc_score(data.labels, predict_images(self.model, data, self.image_size,
                                                                      self.batch_size)))
                for name, data in self.domains.items()}
        for name, auc in aucs.items():
            print(f"epoch {epoch + 1}: Validation ROC-AUC {auc:.4f} on {name}")
        if logs is not None:
            logs.update({f"val_auc_{name}": auc for name, auc in aucs.items()})
            logs.update(val_auc_mean=float(np.mean(list(aucs.values()))), val_auc_worst=min(aucs.values()))


def worker_shard(strategy: tf.distribute.Strategy) -> Shard:
    """This worker's share of the files under ``multiworker``; everything otherwise."""
    resolver = getattr(strategy, "cluster_resolver", None)
    spec = resolver.cluster_spec().as_dict() if resolver is not None else {}
    if not spec:
        return Shard()
    chiefs = len(spec.get("chief", []))
    index = int(resolver.task_id or 0) + (chiefs if resolver.task_type == "worker" else 0)
    return Shard(max(chiefs + len(spec.get("worker", [])), 1), index)


def training_sources(parts: list[DomainSplit]) -> dict[str, tuple[Labelled, float]]:
    """What the sampler draws from: each domain with its weight; a domain that mixes faces of small and of large
    pictures (each kind with real faces) is split into both, by the square root of their sizes, so that the few
    large pictures (the photos people bring) are seen more often than their count, without being repeated
    endlessly."""
    sources = {}
    for part in parts:
        subsets = part.subsets()
        if not subsets or not all(0 in data.labels for data in subsets.values()):
            sources[part.domain.label] = (part.data, part.domain.weight)
            continue
        roots = {kind: math.sqrt(len(data)) for kind, data in subsets.items()}
        for kind, data in subsets.items():
            sources[f"{part.domain.label} · {kind}"] = (data, part.domain.weight * roots[kind] / sum(roots.values()))
    return sources


def add_face_training_flags(parser: argparse.ArgumentParser) -> None:
    """Flags of every trainer of a per-face model on domains (the image model, the video model's frame stage)."""
    parser.add_argument("--self-blend-share", type=float, default=0.0, metavar="SHARE",
                        help="share of the fake examples self-blended from real faces (0 to 1; default 0)")
    parser.add_argument("--steps-per-epoch", type=int, default=None,
                        help="batches per epoch (default: one pass over the training faces)")
    parser.add_argument("--val-per-class", type=int, default=VALIDATION_PER_CLASS,
                        help="Validation faces per domain and class used to select and calibrate the model")
    parser.add_argument("--face-cache", default="runs/face-cache",
                        help="where faces cut from large pictures and face sequences are cached")
    parser.add_argument("--select-on", choices=sorted(SELECTION), default="mean",
                        help="Validation ROC-AUC that picks the best epoch (and drives early stopping and the LR "
                        "schedule) when there are several domains: the mean or the worst of the domains' own AUCs, or "
                        "the AUC of all domains pooled (default: mean)")
    parser.add_argument("--lr-schedule", choices=("plateau", "cosine"), default="plateau",
                        help="halve the rate when Validation stalls (default), or cosine decay over all the epochs' "
                        f"steps to {COSINE_FLOOR:g} of it")
    parser.add_argument("--weight-decay", type=float, default=0.0,
                        help="decoupled weight decay (AdamW) when above 0 (default 0: Adam)")
    parser.add_argument("--warmup-steps", type=int, default=0, metavar="STEPS",
                        help=f"batches that train the head alone (backbone frozen, lr {WARMUP_LR:g}) before every "
                        "layer trains at --lr; for pretrained backbones (default 0)")
    parser.add_argument("--batch-norm", choices=("train", "frozen"), default="train",
                        help="BatchNormalization of the backbone: trained, or kept at its starting statistics and "
                        "scales (default: train)")
    parser.add_argument("--max-people-called-fake", type=float, default=0.05, metavar="SHARE",
                        help="the fake threshold is raised until at most this share of the Validation real faces of "
                        "each domain marked people (photos of people) are called fake (default 0.05)")
    parser.add_argument("--test", action=argparse.BooleanOptionalAction, default=True,
                        help="score the domains' Test splits at the end (--no-test in recipe sweeps, which must "
                        "select on Validation only)")


def train_face_model(config: FaceTrainConfig, build: Callable[[], keras.Model], image_size: int,
                     metadata: dict[str, Any], start_is_candidate: bool = False) -> dict[str, Any]:
    """Train the model ``build`` makes on the domains of ``--data``/``--data-spec``: balanced, augmented batches
    with self-blended fakes, the best Validation checkpoint, then calibration and thresholds on Validation and
    the per-domain Test table; saves ``model.keras`` in the run folder with ``metadata`` and what training adds.
    ``start_is_candidate``: ``build`` gives trained weights, kept unless an epoch beats them on Validation.
    Raises ``TrainingError`` when the domains cannot be read."""
    strategy = make_strategy(config.strategy)  # before any TensorFlow op (face cutting runs some): collectives need it
    try:
        domains = domains_from_args(list(config.data), config.data_spec, config.data_tables)
        cropper = FaceCropper(config.face_cache, FACE_RECIPE)
        splits = load_domains(domains, cropper, config.val_split, config.seed, config.limit_per_class,
                              splits=("train", "validation", "test") if config.test else ("train", "validation"),
                              split_limits={"validation": config.val_per_class})
    except (FileNotFoundError, ValueError) as error:
        raise TrainingError(str(error)) from None
    if "validation" not in splits:
        raise TrainingError("no domain has a Validation split")
    for name, parts in splits.items():
        for part in parts:
            print(f"{name} {part.domain.label} (weight {part.domain.weight:g}): {part.data.counts()}")
    train = training_sources(splits["train"])
    for name, share in stream_weights(train).items():
        print(f"sampling {name}: {100 * share:.1f} % of the (real, fake) pairs")
    per_domain = drawn(splits["validation"], config.val_per_class, config.seed)
    audit = shortcut_audit(per_domain)
    for line in audit_lines(audit):
        print(line)

    out = config.out
    batch = config.batch_size * strategy.num_replicas_in_sync
    train_ds = mixed_dataset(train, image_size, batch, config.self_blend_share, config.seed, worker_shard(strategy))
    steps = config.steps_per_epoch or max(1, sum(len(data) for data, _ in train.values()) // batch)
    with strategy.scope():
        model = build()
    if config.warmup_steps > 0 and not (out / "backup").exists() and not (out / "history.csv").exists():
        warm_up(model, train_ds, config.warmup_steps, strategy)
    with strategy.scope():
        set_trainable(model, config.batch_norm == "train")
        lr = (keras.optimizers.schedules.CosineDecay(config.lr, config.epochs * steps, alpha=COSINE_FLOOR)
              if config.lr_schedule == "cosine" else config.lr)
        compile_binary(model, lr, config.weight_decay)
    validation = pooled(per_domain)
    val_ds = image_dataset(validation, image_size, batch, training=False)
    several = len(per_domain) > 1
    validators = (DomainValidation(per_domain, image_size, batch),) if several else ()
    model, summary = fit(model, train_ds, val_ds, None, config.fit_settings, out, steps_per_epoch=steps,
                         monitor=SELECTION[config.select_on] if several else "val_auc", validators=validators,
                         start_is_candidate=start_is_candidate)

    metadata = {
        **metadata, "image_size": image_size,
        "data": [{"path": str(d.path), "weight": d.weight, "name": d.label} for d in domains],
        "self_blend_share": config.self_blend_share, "steps_per_epoch": steps, "batch_size": batch,
        "face_recipe": FACE_RECIPE.to_json(), "shortcut_audit": audit,
        "optimizer": {"lr": config.lr, "lr_schedule": config.lr_schedule, "weight_decay": config.weight_decay,
                      "warmup_steps": config.warmup_steps, "batch_norm": config.batch_norm},
        "command": config.command,
        "counts": {name: {part.domain.label: part.data.counts() for part in parts} for name, parts in splits.items()},
        **summary,
    }
    people = people_reals(splits["validation"], per_domain)
    metadata.update(calibrate(model, validation, image_size, people=people,
                              max_people_called_fake=config.max_people_called_fake))
    if config.test and "test" in splits:
        metadata["test_domains"] = domain_table(model, metadata, splits["test"], out, "test")
    save_model(model, out / "model.keras", metadata)
    return metadata


def set_trainable(model: keras.Model, batch_norm: bool) -> None:
    """Every layer trains; with ``batch_norm`` False a registry backbone's BatchNormalization stays fixed."""
    if model.name in BACKBONES:
        set_backbone_trainable(model, True, batch_norm)
    elif not batch_norm:
        raise TrainingError(f"--batch-norm frozen needs a registry backbone, not {model.name}")


def warm_up(model: keras.Model, train_ds: tf.data.Dataset, steps: int, strategy: tf.distribute.Strategy) -> None:
    """Train the head of a registry backbone's face model alone for ``steps`` batches, so that a random head does
    not send large gradients into pretrained layers."""
    if model.name not in BACKBONES:
        raise TrainingError(f"--warmup-steps needs a registry backbone, not {model.name}")
    with strategy.scope():
        set_backbone_trainable(model, False)
        compile_binary(model, WARMUP_LR)
    print(f"warm-up: the head alone for {steps} batches (backbone frozen)")
    model.fit(train_ds, epochs=1, steps_per_epoch=steps, verbose=2)
