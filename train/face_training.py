"""The face trainer both trainers use (the image model, and the video model's frame stage): domains, balanced and
augmented batches with self-blended fakes, a frozen-backbone warm-up, the fit with its callbacks, per-domain
Validation, calibration and the per-domain Test table.

Sources -> sampling -> augmentation -> batches live in ``train.data``; which folders and how much each counts in
``train.domains``; this module runs the training on them.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any, Callable

import keras
import numpy as np
import tensorflow as tf
from sklearn.metrics import roc_auc_score

from model.backbones import BACKBONES, set_backbone_trainable
from model.store import ModelInfo, Training, save_model
from train.calibration import calibrate
from train.common import add_view_consistency, compile_binary, fit, make_strategy
from train.config import FaceTrainConfig, TrainingError
from train.flags import COSINE_FLOOR, SELECTION, WARMUP_LR
from train.augment import QualityAugmentation
from train.data import Labelled, Shard, image_dataset, mixed_dataset, stream_weights
from train.audit import audit_lines, shortcut_audit
from train.domains import DomainSplit, FaceCropper, domains_from_args, drawn, load_domains, people_names, pooled
from train.evaluate import domain_table
from train.scoring import face_networks, predict_images



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


def train_face_model(config: FaceTrainConfig, build: Callable[[], keras.Model], image_size: int,
                     record: ModelInfo, start_is_candidate: bool = False) -> ModelInfo:
    """Train the model ``build`` makes on the domains of ``--data``/``--data-spec``: balanced, augmented batches
    with self-blended fakes, the best Validation checkpoint, then calibration and thresholds on Validation and
    the per-domain Test table; saves ``model.keras`` in the run folder with ``record`` and what training adds, and
    returns that record.
    ``start_is_candidate``: ``build`` gives trained weights, kept unless an epoch beats them on Validation.
    Raises ``TrainingError`` when the domains cannot be read."""
    strategy = make_strategy(config.strategy)  # before any TensorFlow op (face cutting runs some): collectives need it
    try:
        domains = domains_from_args(list(config.data), config.data_spec, config.data_tables)
        cropper = FaceCropper(config.face_cache, record.face_recipe)
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
    train_ds = mixed_dataset(train, image_size, batch, config.self_blend_share, config.seed, worker_shard(strategy),
                             augmentation=QualityAugmentation(greyscale=config.greyscale_share),
                             views=config.view_consistency > 0)
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
        if config.view_consistency > 0:
            add_view_consistency(model, config.view_consistency, config.view_consistency_on)
    validation = pooled(per_domain)
    val_ds = image_dataset(validation, image_size, batch, training=False)
    several = len(per_domain) > 1
    validators = (DomainValidation(per_domain, image_size, batch),) if several else ()
    model, summary = fit(model, train_ds, val_ds, None, config.fit_settings, out, steps_per_epoch=steps,
                         monitor=SELECTION[config.select_on] if several else "val_auc", validators=validators,
                         start_is_candidate=start_is_candidate)

    training = replace(record.training or Training(), **summary, self_blend_share=config.self_blend_share,
                       greyscale_share=config.greyscale_share,
                       view_consistency=config.view_consistency,
                       view_consistency_on=config.view_consistency_on if config.view_consistency else None,
                       steps_per_epoch=steps, batch_size=batch,
                       optimizer={"lr": config.lr, "lr_schedule": config.lr_schedule,
                                  "weight_decay": config.weight_decay, "warmup_steps": config.warmup_steps,
                                  "batch_norm": config.batch_norm})
    record = replace(
        record, image_size=image_size, face_recipe=cropper.cutter.recipe, shortcut_audit=audit, command=config.command,
        data=[{"path": str(d.path), "weight": d.weight, "name": d.label} for d in domains], training=training,
        counts={name: {part.domain.label: part.data.counts() for part in parts} for name, parts in splits.items()})
    networks = face_networks(model, record)
    record = calibrate(record, networks, per_domain, people_names(domains),
                       max_people_called_fake=config.max_people_called_fake, max_uncertain=config.max_uncertain)
    if config.test and "test" in splits:
        record = replace(record, test_domains=domain_table(networks, record, splits["test"], out, "test"))
    return save_model(model, out / "model.keras", record)


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
