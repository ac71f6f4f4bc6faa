"""One face recipe for serving and training: models record it, serving cuts faces by the loaded model's recipe,
and the training caches are keyed on it, so a changed margin rebuilds them instead of reusing other crops."""

from __future__ import annotations

import shutil
from dataclasses import replace

import numpy as np
import pytest

from model.face_recipe import FaceRecipe
from model.image_detector import FaceScorer, ImageDetector
from model.store import ModelInfo, upgrade, write_metadata
from train import domains, extract_faces
from train.data import Labelled
from train.extract_faces import FaceSequence


def test_a_recipe_round_trips_through_metadata_and_older_models_get_the_defaults():
    wider = replace(FaceRecipe(), margin=1.5)
    assert ModelInfo.from_json(upgrade({"face_recipe": wider.to_json()})).face_recipe == wider
    assert ModelInfo.from_json(upgrade({})).face_recipe == FaceRecipe(crop_ceiling=None)  # older models: no ceiling
    assert ModelInfo(kind="image", architecture="meso4").face_recipe.crop_ceiling == 128  # new models: the ceiling
    assert wider.key() != FaceRecipe().key() and wider.cut_key() != FaceRecipe().cut_key()
    assert replace(FaceRecipe(), crop_ceiling=None).cut_key() == FaceRecipe().cut_key()  # one cache of cut faces


def test_serving_cuts_faces_by_the_recipe_of_the_model_it_loaded(small_image_model, tmp_path, astronaut):
    wide_model = shutil.copy(small_image_model, tmp_path / "wide.keras")
    write_metadata(wide_model, replace(ModelInfo.read(small_image_model), face_recipe=replace(FaceRecipe(), margin=1.5)))
    plain = ImageDetector(FaceScorer(small_image_model)).analyze(astronaut)
    wide = ImageDetector(FaceScorer(wide_model)).analyze(astronaut)
    ratio = wide.faces[0].size_px / plain.faces[0].size_px
    assert abs(ratio - 1.5 / FaceRecipe().margin) < 0.05


def test_a_changed_recipe_invalidates_the_training_caches(tmp_path):
    picture = tmp_path / "portrait.jpg"
    picture.write_bytes(b"x")
    before = domains.FaceCropper(tmp_path / "cache", FaceRecipe()).target(picture)
    sequence = tmp_path / "clip.npz"
    FaceSequence(np.zeros((2, 8, 8, 3), np.uint8), np.arange(2), np.ones(2, bool), 2, FaceRecipe()).save(sequence, 1)
    assert extract_faces.is_current(sequence, 8, FaceRecipe())
    assert not extract_faces.is_current(sequence, 16, FaceRecipe())

    changed = replace(FaceRecipe(), margin=1.3)
    assert domains.FaceCropper(tmp_path / "cache", changed).target(picture) != before
    assert not extract_faces.is_current(sequence, 8, changed)  # cut by another recipe: extracted again


def test_training_refuses_a_clip_whose_faces_were_cut_by_another_recipe(tmp_path):
    """A cached face sequence feeds training only under the recipe that cut it: a model with another crop ceiling
    would otherwise learn from crops serving never gives it."""
    sequence = tmp_path / "clip.npz"
    FaceSequence(np.zeros((2, 8, 8, 3), np.uint8), np.arange(2), np.ones(2, bool), 2, FaceRecipe()).save(sequence, 1)
    clips = Labelled([str(sequence)], [1])
    faces, _ = domains.FaceCropper(tmp_path / "cache", FaceRecipe(), quiet=True).crops(clips)
    assert len(faces.paths) == 2
    sharper = replace(FaceRecipe(), crop_ceiling=224)
    with pytest.raises(ValueError, match="--crop-ceiling 224"):
        domains.FaceCropper(tmp_path / "cache", sharper, quiet=True).crops(clips)
