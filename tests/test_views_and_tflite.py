"""Serving scores faces through TensorFlow Lite with the Keras network's numbers, converted once per weights file,
and over the views its record names (the face, its mirror image, the face at half size ...), in serving, evaluation
and calibration alike."""

from __future__ import annotations

import logging
import shutil
from dataclasses import replace

import cv2
import keras
import numpy as np
import pytest
import tensorflow as tf

from model.face_path import FaceCutter
from model.face_recipe import FaceRecipe
from model.image_detector import FaceScorer
from model.store import ModelInfo, write_metadata
from model.tflite import cache_file
from model.views import AS_CUT, VIEWS, checked_views
from train import evaluate

MIRRORED = ("as_cut", "mirrored")


@pytest.fixture(scope="module")
def image_model(tmp_path_factory):
    """A from-scratch image model (untrained: its score still moves with the face, and with the face's side) and a
    calibration that is not the identity, saved; the network and the path."""
    from model.architectures import build_image_model
    from model.calibration import Calibration
    from model.store import save_model

    keras.utils.set_random_seed(3)  # weights whose score tells the two crops apart (some draws barely do)
    network = build_image_model("meso4", image_size=64)
    record = ModelInfo(kind="image", architecture="meso4", image_size=64, calibration=Calibration(1.3, -0.2))
    return network, save_model(network, tmp_path_factory.mktemp("views") / "image_model.keras", record).path


@pytest.fixture(scope="module")
def crops(astronaut) -> list[np.ndarray]:
    """Real face crops: the astronaut's, cut by the serving face path, and a slightly shifted cut of it."""
    (_, crop), = FaceCutter(FaceRecipe()).faces(astronaut)
    return [crop, np.ascontiguousarray(crop[4:, 3:])]


def keras_scores(scorer: FaceScorer, crops: list[np.ndarray], views: tuple[str, ...] = AS_CUT) -> np.ndarray:
    """What the Keras network itself gives, averaged over ``views``, calibrated."""
    batch = scorer._batch(crops)
    raw = [scorer.keras_model(batch if view == "as_cut" else tf.reverse(batch, axis=[2]), training=False)
           for view in views]
    return scorer.calibration(np.mean([np.asarray(r).reshape(-1) for r in raw], axis=0))


def test_tflite_gives_the_keras_networks_scores_and_converts_each_file_once(image_model, crops, tflite_cache,
                                                                               monkeypatch):
    network, path = image_model
    scorer = FaceScorer(path, network)
    scores = scorer.score(crops)
    assert abs(scores[0] - scores[1]) > 1e-3  # a score that moves with the face
    np.testing.assert_allclose(scores, keras_scores(scorer, crops), atol=1e-5)
    assert cache_file(path).parent == tflite_cache and cache_file(path).stat().st_size > 0

    def refuse(*args, **kwargs):
        raise AssertionError("converted again")

    monkeypatch.setattr(tf.lite.TFLiteConverter, "from_keras_model", refuse)
    again = FaceScorer(path, network)  # read from the cache
    np.testing.assert_allclose(again.score(crops * 3), np.tile(scorer.score(crops), 3), atol=1e-6)


def test_a_network_tflite_cannot_convert_is_scored_by_keras(image_model, crops, tmp_path, monkeypatch, caplog):
    network, path = image_model
    monkeypatch.setenv("DEEPFAKE_DETECTOR_CACHE", str(tmp_path))  # nothing cached here

    def fail(*args, **kwargs):
        raise RuntimeError("unsupported operation")

    monkeypatch.setattr(tf.lite.TFLiteConverter, "from_keras_model", fail)
    with caplog.at_level(logging.WARNING, logger="model.tflite"):
        scorer = FaceScorer(path, network)
    assert "running it with Keras instead" in caplog.text
    np.testing.assert_allclose(scorer.score(crops), keras_scores(scorer, crops), atol=1e-6)


def test_a_model_scored_over_its_mirror_image_gives_a_mirrored_face_the_same_score(image_model, crops, tmp_path):
    network, path = image_model
    copy = shutil.copy(path, tmp_path / path.name)
    write_metadata(copy, replace(ModelInfo.read(path), views=MIRRORED))
    scorer = FaceScorer(copy, network)
    assert scorer.info.views == MIRRORED and ModelInfo.read(copy).to_json()["views"] == list(MIRRORED)
    face = crops[0]
    np.testing.assert_allclose(scorer.score([face]), scorer.score([np.ascontiguousarray(face[:, ::-1])]), atol=1e-6)
    np.testing.assert_allclose(scorer.score(crops), keras_scores(scorer, crops, MIRRORED), atol=1e-5)
    assert not np.allclose(scorer.score(crops), FaceScorer(path, network).score(crops), atol=1e-4)


def test_the_half_size_and_grey_views_are_the_face_shrunk_and_enlarged_back_and_without_colour(crops):
    face = cv2.resize(crops[0], (64, 64), interpolation=cv2.INTER_AREA)
    batch = tf.constant(face[None], tf.float32)
    half = cv2.resize(cv2.resize(face, (32, 32), interpolation=cv2.INTER_AREA), (64, 64),
                      interpolation=cv2.INTER_LINEAR).astype(np.float32)
    np.testing.assert_allclose(VIEWS["half_size"].change(batch)[0], half, atol=1.0)
    assert np.abs(half - face).mean() > 1.0  # the view takes detail away
    grey = face.astype(np.float32) @ np.array([0.2989, 0.587, 0.114], np.float32)
    for channel in range(3):
        np.testing.assert_allclose(VIEWS["greyscale"].change(batch)[0, ..., channel], np.round(grey), atol=1.0)


def test_a_model_scored_over_four_views_gives_the_keras_mean_over_them(image_model, crops, tmp_path):
    network, path = image_model
    four = ("as_cut", "mirrored", "half_size", "greyscale")
    copy = shutil.copy(path, tmp_path / path.name)
    write_metadata(copy, replace(ModelInfo.read(path), views=four))
    scorer = FaceScorer(copy, network)
    batch = scorer._batch(crops)
    raw = np.mean([np.asarray(network(VIEWS[view].change(batch), training=False)).reshape(-1) for view in four], axis=0)
    np.testing.assert_allclose(scorer.score(crops), scorer.calibration(raw), atol=1e-5)
    assert not np.allclose(scorer.score(crops), FaceScorer(path, network).score(crops), atol=1e-4)


def test_views_are_checked_where_they_are_read():
    assert checked_views(["as_cut", "mirrored"]) == MIRRORED
    for wrong in ([], ["as_cut", "as_cut"], ["upside_down"]):
        with pytest.raises(ValueError, match="views must be distinct names among as_cut, mirrored, half_size"):
            checked_views(wrong)
    with pytest.raises(ValueError):
        ModelInfo.from_json({"kind": "image", "architecture": "meso4", "views": ["sideways"]})


def test_evaluate_calibrates_over_the_views_it_is_given_and_refuses_them_without_calibrating(
        tiny_faces, small_image_model, tmp_path, capsys):
    copy = tmp_path / "model.keras"
    shutil.copy(small_image_model, copy)
    shutil.copy(small_image_model.with_suffix(".json"), tmp_path / "model.json")
    with pytest.raises(SystemExit) as stop:
        evaluate.main(["--model", str(copy), "--data", str(tiny_faces), "--views", "as_cut", "mirrored"])
    assert stop.value.code == 2 and "give --calibrate with them" in capsys.readouterr().err
    evaluate.main(["--model", str(copy), "--data", str(tiny_faces), "--out", str(tmp_path / "report"), "--calibrate",
                   "--views", "as_cut", "mirrored", "--val-per-class", "600", "--max-uncertain", "0.25"])
    record = ModelInfo.read(copy)
    assert record.views == MIRRORED and record.validation_calibration["faces"] == 16
    [shares] = record.validation_calibration["domains"].values()  # the band leaves each domain at most 25 % uncertain
    assert shares["faces"] == 16 and shares["uncertain"] <= 0.25
    assert record.validation_calibration["max_uncertain"] == 0.25
    evaluate.main(["--model", str(copy), "--data", str(tiny_faces), "--out", str(tmp_path / "again"), "--calibrate",
                   "--val-per-class", "600"])
    assert ModelInfo.read(copy).calibration == record.calibration  # the stored views are kept: the same fit
