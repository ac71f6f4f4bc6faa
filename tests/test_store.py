"""A model's record: older metadata read through the one converter (renamed keys, a lineage, input sizes from the
network), values kept to the digit, converting twice changes nothing, and ``python -m model.store upgrade``."""

from __future__ import annotations

import json
import shutil

import pytest

from model.calibration import Calibration, Thresholds
from model.store import (DEFAULT_IMAGE_MODEL, DEFAULT_VIDEO_MODEL, ModelInfo, Stage, Training, main, read_metadata,
                         upgrade)

LEGACY_IMAGE = {"architecture": "meso4", "image_size": 64, "threshold": 0.7, "real_below": 0.3,
                "initial_weights": "random", "command": "python -m train.image", "epochs_run": 3,
                "best_val_auc": 0.9165811711965897, "calibration": {"method": "platt", "slope": 1.111799,
                                                                     "intercept": 0.835867},
                "test_domains": [{"domain": "d", "roc_auc": 0.7666666666666667, "brier": None}]}


def test_older_keys_become_the_record_s_fields():
    info = ModelInfo.from_json(upgrade(LEGACY_IMAGE))
    assert (info.kind, info.real_below, info.fake_from) == ("image", 0.3, 0.7)
    assert info.lineage == (Stage("start", weights="random"), Stage("this run", command="python -m train.image"))
    assert info.training == Training(epochs_run=3, best_val_auc=0.9165811711965897)
    assert info.calibration == Calibration(1.111799, 0.835867) and info.test_domains == LEGACY_IMAGE["test_domains"]
    assert ModelInfo.from_json(upgrade({"threshold": 0.7})).thresholds == Thresholds(0.7, 0.7)  # no uncertain band
    assert ModelInfo.from_json(upgrade({})).thresholds == Thresholds(0.5, 0.5)


def test_a_model_without_kind_is_known_by_its_input_shape():
    video = ModelInfo.from_json(upgrade({"threshold": 0.4}, (None, 20, 224, 224, 3), "b0_bilstm"), "video.keras")
    assert (video.kind, video.frames, video.image_size, video.name) == ("video", 20, 224, "b0_bilstm@video.keras")
    assert video.frame_calibration == Calibration() and video.clip_score == "sequence"
    image = ModelInfo.from_json(upgrade({}, (None, 32, 32, 3), "meso4"))
    assert (image.kind, image.image_size, image.frames, image.architecture) == ("image", 32, None, "meso4")


@pytest.mark.parametrize("path", [DEFAULT_IMAGE_MODEL, DEFAULT_VIDEO_MODEL], ids=["image", "video"])
def test_converting_keeps_every_value_and_twice_is_a_no_op(path):
    stored = read_metadata(path)
    converted = ModelInfo.from_json(upgrade(stored)).to_json()
    assert upgrade(converted) == converted and ModelInfo.from_json(converted).to_json() == converted
    flat = {**converted, **converted["training"], "threshold": converted["fake_from"]}
    renamed = {"initial_weights", "backbone", "start_val_auc"}  # into the lineage; a null left out
    assert {key: value for key, value in stored.items() if key not in renamed} == \
           {key: flat[key] for key in stored if key not in renamed} | {"face_recipe": stored["face_recipe"]}
    assert {key: converted["face_recipe"][key] for key in stored["face_recipe"]} == stored["face_recipe"]
    assert converted["lineage"][0]["weights"] == (stored.get("backbone") or stored["lineage"][0]["weights"])
    with pytest.raises(ValueError, match="unknown model metadata keys: surprise"):
        ModelInfo.from_json({**converted, "surprise": 1})


def test_the_upgrade_command_rewrites_the_metadata_only_and_once(small_image_model, tmp_path, capsys):
    model = tmp_path / "model.keras"
    shutil.copy(small_image_model, model)
    (tmp_path / "model.json").write_text(json.dumps({"threshold": 0.6, "backbone_weights": "imagenet"}))
    weights = model.read_bytes()
    main(["upgrade", str(model)])
    upgraded = (tmp_path / "model.json").read_text()
    info = ModelInfo.read(model)
    assert (info.kind, info.image_size, info.fake_from, info.lineage[0].weights) == ("image", 64, 0.6, "imagenet")
    main(["upgrade", str(model)])
    assert (tmp_path / "model.json").read_text() == upgraded and model.read_bytes() == weights
    assert capsys.readouterr().out.splitlines() == [f"{model}: upgraded", f"{model}: already current"]
