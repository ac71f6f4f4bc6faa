"""A model with members: its record names other image networks beside it whose scores, each over its own views and
with the face capped at its own crop ceiling, are averaged with its own in logit space before the one calibration;
serving, evaluation and calibration score it alike."""

from __future__ import annotations

import shutil
from dataclasses import replace

import keras
import numpy as np
import pytest
from PIL import Image

from model.architectures import build_image_model
from model.calibration import Calibration, logit, sigmoid
from model.face_path import FaceCutter, cap
from model.face_recipe import FaceRecipe
from model.image_detector import FaceScorer
from model.preprocessing import resize_faces
from model.store import ModelInfo, save_model, write_metadata
from train import evaluate
from train.domains import Domain, FaceCropper, load_domains
from train.scoring import face_networks, raw_scores
from ui.about import model_section

SMALL = FaceRecipe(crop_ceiling=32)  # the member sees every face at most 32 px: its scores differ from uncapped ones


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """A folder with two untrained networks: ``image_model.keras`` (the default recipe) naming ``small.keras`` (the
    same face framing, capped at 32 px) as its member, with a calibration that is not the identity."""
    folder = tmp_path_factory.mktemp("members")
    keras.utils.set_random_seed(5)
    member = build_image_model("meso4", image_size=64)
    save_model(member, folder / "small.keras", ModelInfo(kind="image", architecture="meso4", image_size=64,
                                                         face_recipe=SMALL))
    network = build_image_model("meso4", image_size=64)
    record = ModelInfo(kind="image", architecture="meso4", image_size=64, members=("small.keras",),
                       calibration=Calibration(1.3, -0.2))
    return network, member, save_model(network, folder / "image_model.keras", record).path


@pytest.fixture(scope="module")
def crops(astronaut) -> list[np.ndarray]:
    """The astronaut's face as serving cuts it (about 200 px), and a shifted cut of it."""
    (_, crop), = FaceCutter(FaceRecipe()).faces(astronaut)
    return [crop, np.ascontiguousarray(crop[4:, 3:])]


def keras_raw(network: keras.Model, crops: list[np.ndarray], recipe: FaceRecipe) -> np.ndarray:
    """The Keras network's raw scores of the crops capped at ``recipe``'s ceiling, resized to its input."""
    batch = np.stack([resize_faces(cap(crop, recipe), 64) for crop in crops])
    return np.asarray(network(batch, training=False)).reshape(-1)


def test_a_model_with_a_member_scores_the_mean_logit_of_both_each_face_capped_at_its_own_ceiling(pair, crops):
    network, member, path = pair
    scorer = FaceScorer(path)
    assert [m.name for m in scorer.members] == ["meso4@small.keras"] and scorer.members[0].recipe == SMALL
    ours, theirs = keras_raw(network, crops, FaceRecipe()), keras_raw(member, crops, SMALL)
    assert not np.allclose(theirs, keras_raw(member, crops, FaceRecipe()), atol=1e-4)  # the cap matters
    expected = Calibration(1.3, -0.2)(sigmoid((logit(ours) + logit(theirs)) / 2))
    np.testing.assert_allclose(scorer.score(crops), expected, atol=1e-4)


def test_a_member_that_frames_faces_otherwise_is_refused(pair, tmp_path):
    network, member, path = pair
    for name in ("image_model.keras", "small.keras"):
        shutil.copy(path.parent / name, tmp_path / name)
        shutil.copy((path.parent / name).with_suffix(".json"), (tmp_path / name).with_suffix(".json"))
    write_metadata(tmp_path / "small.keras", replace(ModelInfo.read(tmp_path / "small.keras"),
                                                     face_recipe=replace(SMALL, margin=1.5)))
    with pytest.raises(ValueError, match="may differ from it in their crop ceiling alone"):
        FaceScorer(tmp_path / "image_model.keras")


def test_evaluate_calibrates_a_model_with_members_as_serving_scores_it(pair, tiny_faces, tmp_path, capsys):
    network, member, path = pair
    folder = tmp_path / "model"
    shutil.copytree(path.parent, folder)
    model = folder / "image_model.keras"
    write_metadata(model, replace(ModelInfo.read(model), members=None))
    common = ["--model", str(model), "--data", str(tiny_faces), "--out", str(tmp_path / "report"),
              "--face-cache", str(tmp_path / "cache"), "--val-per-class", "600"]
    with pytest.raises(SystemExit) as stop:
        evaluate.main(common + ["--members", "small.keras"])
    assert stop.value.code == 2 and "give --calibrate with them" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        evaluate.main(common + ["--calibrate", "--members", "elsewhere.keras"])
    assert stop.value.code == 2 and "is not one" in capsys.readouterr().err
    evaluate.main(common + ["--calibrate", "--members", "small.keras"])
    record = ModelInfo.read(model)
    assert record.members == ("small.keras",) and record.validation_calibration["faces"] == 16
    assert "more network (`small.keras`" in model_section("Image model", record)
    # evaluation's scores of the Validation crops are serving's scores of the same crops
    [part] = load_domains([Domain(tiny_faces)], FaceCropper(tmp_path / "cache", record.face_recipe),
                          splits=("validation",))["validation"]
    evaluated = record.calibration(raw_scores(face_networks(network, record), part.data))
    served = FaceScorer(model).score([np.asarray(Image.open(p).convert("RGB")) for p in part.data.paths])
    np.testing.assert_allclose(evaluated, served, atol=1e-4)
    alone = record.calibration(raw_scores(face_networks(network, replace(record, members=None)), part.data))
    assert not np.allclose(evaluated, alone, atol=1e-3)
    evaluate.main(common + ["--calibrate", "--members", "none"])
    assert ModelInfo.read(model).members is None
