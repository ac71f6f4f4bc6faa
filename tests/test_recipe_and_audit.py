"""The image model's recipe file, the shortcut audit, the invariance table and thresholds chosen for people."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from model.calibration import Thresholds
from model.face_recipe import FaceRecipe
from model.store import DEFAULT_IMAGE_MODEL, ModelInfo
from tests.conftest import write_rgb
from train.audit import changed_crops, shortcut_audit
from train.calibration import for_people, within_uncertain
from train.config import parse_with_config
from train.data import Labelled
from train.domains import FaceCropper, domain_from_table, domains_from_args
from train.image import build_parser

SHIPPED_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "image_model.toml"


def test_a_recipe_file_sets_the_same_flags_as_the_command_line(tmp_path):
    recipe = tmp_path / "recipe.toml"
    recipe.write_text('backbone = "meso4"\nimage_size = 64\nlr = 2e-4\nlr_schedule = "plateau"\n'
                      'self_blend_share = 0.25\ngreyscale_share = 0.5\nsteps_per_epoch = 7\ntest = false\n'
                      'max_people_called_fake = 0.04\nmax_uncertain = 0.25\n'
                      'crop_ceiling = "none"\n'
                      '[[data]]\npath = "x/faces"\nweight = 2\nlimit_per_class = 10\npeople = true\n')
    from_file = parse_with_config(build_parser(), ["--config", str(recipe)])
    from_flags = parse_with_config(build_parser(), [
        "--backbone", "meso4", "--image-size", "64", "--lr", "2e-4", "--lr-schedule", "plateau",
        "--self-blend-share", "0.25", "--greyscale-share", "0.5", "--steps-per-epoch", "7", "--no-test",
        "--crop-ceiling", "none", "--max-people-called-fake", "0.04", "--max-uncertain", "0.25"])
    for name, value in vars(from_flags).items():
        if name not in ("config", "config_file", "data_tables"):
            assert getattr(from_file, name) == value, name
    domain, = domains_from_args(None, None, from_file.data_tables)
    assert (domain.path, domain.weight, domain.limit_per_class, domain.people) == (Path("x/faces"), 2.0, 10, True)
    overridden = parse_with_config(build_parser(), ["--config", str(recipe), "--lr", "1e-3"])
    assert overridden.lr == 1e-3 and overridden.image_size == 64  # the command line wins
    assert from_file.crop_ceiling is None and build_parser().parse_args([]).crop_ceiling == FaceRecipe().crop_ceiling


@pytest.mark.parametrize("value", ["8", "wide"])
def test_a_crop_ceiling_that_leaves_no_face_or_is_no_size_is_a_usage_error(value, capsys):
    with pytest.raises(SystemExit) as stop:
        build_parser().parse_args(["--crop-ceiling", value])
    assert stop.value.code == 2 and "--crop-ceiling" in capsys.readouterr().err


def test_the_shipped_recipe_file_names_only_real_flags_and_the_trainers_defaults_are_its_network():
    args = parse_with_config(build_parser(), ["--config", str(SHIPPED_CONFIG)])
    assert args.architecture == "efficientnet_lite0" and args.image_size == 224
    shipped = ModelInfo.read(DEFAULT_IMAGE_MODEL)  # the recipe's views and face recipe are the shipped model's
    assert tuple(args.views) == shipped.views and args.crop_ceiling == shipped.face_recipe.crop_ceiling
    assert [domain_from_table(t).people for t in args.data_tables].count(True) >= 2
    defaults = build_parser().parse_args([])
    assert (defaults.architecture, defaults.image_size) == ("efficientnet_lite0", 224)


def test_each_member_of_the_shipped_image_model_is_built_by_its_own_recipe_file():
    """The shipped image model's members ship beside it, each with its recipe in ``configs/`` (named as its file),
    framing faces as the model does, from ImageNet's weights, small enough for the Space."""
    shipped = ModelInfo.read(DEFAULT_IMAGE_MODEL)
    assert shipped.members == ("image_model_128px.keras",)
    for path in shipped.member_paths:
        member = ModelInfo.read(path)
        args = parse_with_config(build_parser(), ["--config", str(SHIPPED_CONFIG.parent / f"{path.stem}.toml")])
        assert args.crop_ceiling == member.face_recipe.crop_ceiling == 128 and tuple(args.views) == member.views
        assert member.face_recipe.cut_key() == shipped.face_recipe.cut_key() and member.kind == "image"
        assert member.lineage[0].stage == "ImageNet" and path.stat().st_size < 30 * 2**20


def test_a_recipe_file_with_an_unknown_key_is_a_usage_error(tmp_path, capsys):
    recipe = tmp_path / "recipe.toml"
    recipe.write_text("learning_rate = 0.1\n")
    with pytest.raises(SystemExit) as stop:
        parse_with_config(build_parser(), ["--config", str(recipe)])
    assert stop.value.code == 2 and "no such flag: learning_rate" in capsys.readouterr().err


@pytest.fixture(scope="module")
def astronaut_variants(astronaut) -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    variants = []
    for _ in range(10):
        top, left = rng.integers(0, 60), rng.integers(90, 170)
        picture = astronaut[top:top + 300, left:left + 300]
        variants.append(np.clip(picture * rng.uniform(0.8, 1.2, 3), 0, 255).astype(np.uint8))
    return variants


def test_the_audit_flags_a_domain_whose_classes_differ_only_in_size(tmp_path, astronaut_variants):
    """The same faces in both classes, the fakes saved larger: trivial features tell them apart (flagged); saved at
    one size, they cannot (not flagged)."""
    cropper = FaceCropper(tmp_path / "cache", FaceRecipe(), quiet=True)

    def domain(name: str, fake_side: int) -> Labelled:
        paths, labels = [], []
        for index, picture in enumerate(astronaut_variants):
            for label, side in ((0, 240), (1, fake_side)):
                path = write_rgb(tmp_path / name / str(label) / f"{index}.png",
                                 cv2.resize(picture, (side, side), interpolation=cv2.INTER_AREA))
                crop = cropper.cut_picture(path)
                assert crop is not None
                paths.append(str(crop))
                labels.append(label)
        return Labelled(paths, labels)

    audit = shortcut_audit({"sizes": domain("sizes", 400), "alike": domain("alike", 240)})
    assert audit["sizes"]["flagged"] and audit["sizes"]["roc_auc"] > 0.9
    assert max(list(audit["sizes"]["features"].values())[:1]) == 1.0  # one feature alone separates them
    assert not audit["alike"]["flagged"] and audit["alike"]["roc_auc"] <= 0.7


def test_harmless_changes_cut_the_same_face_again(astronaut):
    from model.face_path import FaceCutter

    box = FaceCutter(FaceRecipe()).detector.detect(astronaut)[0].box
    crops = changed_crops(astronaut, box, FaceRecipe())
    assert set(crops) >= {"as given", "greyscale", "JPEG 50", "half size", "mirrored", "margin +15 %"}
    given = crops["as given"]
    assert np.array_equal(crops["mirrored"], given[:, ::-1])
    grey = crops["greyscale"]
    assert np.array_equal(grey[..., 0], grey[..., 1]) and not np.array_equal(grey, given)
    assert crops["half size"].shape[0] < given.shape[0] or given.shape[0] == FaceRecipe().crop_ceiling


def test_the_fake_threshold_rises_until_few_real_photos_of_people_are_called_fake():
    people = np.linspace(0.0, 0.99, 100)  # real photos: the top 10 score 0.89 and above
    thresholds = for_people(Thresholds(0.3, 0.6), people, 0.05)
    assert thresholds.real_below == 0.3 and np.mean(people >= thresholds.fake_from) <= 0.05
    assert np.mean(people >= thresholds.fake_from) >= 0.04  # no higher than it must be
    assert for_people(Thresholds(0.3, 0.995), people, 0.05).fake_from == 0.995  # never lowered


def test_the_real_threshold_rises_until_a_domain_leaves_few_faces_uncertain():
    scores = np.linspace(0.0, 0.99, 100)  # a domain: 40 of its faces between 0.3 and 0.7
    thresholds = within_uncertain(Thresholds(0.3, 0.7), scores, 0.25)
    assert thresholds.fake_from == 0.7 and thresholds.real_below > 0.3
    uncertain = np.mean((scores >= thresholds.real_below) & (scores < thresholds.fake_from))
    assert 0.24 <= uncertain <= 0.25  # no higher than it must be: the faces moved are called real, none fake
    assert within_uncertain(Thresholds(0.3, 0.7), scores, 0.5) == Thresholds(0.3, 0.7)  # never lowered
    none_left = within_uncertain(Thresholds(0.3, 0.7), scores, 0.0)
    assert none_left.real_below <= none_left.fake_from == 0.7  # never past the fake threshold
    assert not np.any((scores >= none_left.real_below) & (scores < none_left.fake_from))
