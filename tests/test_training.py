"""The training and evaluation CLIs on a tiny folder: a loadable model, a threshold, metrics and figures."""

from __future__ import annotations

import json

import numpy as np
import pytest

from model.image_detector import FaceScorer
from model.store import load_model, read_metadata
from tests.conftest import write_rgb
from train import evaluate, image
from train.data import load_splits


@pytest.fixture(scope="module")
def trained(tiny_faces, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    image.main(["--data", str(tiny_faces), "--out", str(out), "--epochs", "1", "--batch-size", "8",
                "--image-size", "32", "--architecture", "meso4"])
    return out


def test_one_epoch_yields_a_loadable_model_with_provenance(trained):
    model, metadata = load_model(trained / "model.keras")
    assert model.input_shape == (None, 32, 32, 3)
    assert metadata["kind"] == "image" and metadata["image_size"] == 32
    assert 0.0 <= metadata["threshold"] <= 1.0
    assert metadata["epochs_run"] == 1
    assert metadata["counts"]["train"] == {"real": 16, "fake": 16}
    assert metadata["command"].startswith("python -m ")
    assert set(metadata["test_metrics"]) >= {"accuracy", "precision", "recall", "f1", "roc_auc", "confusion_matrix"}
    for name in ("best.keras", "history.csv", "test_roc.png", "test_confusion.png"):
        assert (trained / name).exists(), name
    assert any((trained / "tensorboard").rglob("events.out.tfevents.*"))


def test_saved_model_scores_crops_between_zero_and_one(trained):
    scorer = FaceScorer(trained / "model.keras")
    crops = [np.zeros((40, 40, 3), np.uint8), np.full((100, 80, 3), 200, np.uint8)]
    scores = scorer.score(crops)
    assert scores.shape == (2,) and np.all((scores >= 0) & (scores <= 1))


def test_evaluate_reproduces_the_stored_test_metrics(trained, tiny_faces, tmp_path, capsys):
    evaluate.main(["--model", str(trained / "model.keras"), "--data", str(tiny_faces), "--out", str(tmp_path)])
    printed = json.loads(capsys.readouterr().out)
    stored = read_metadata(trained / "model.keras")["test_metrics"]
    assert printed["roc_auc"] == pytest.approx(stored["roc_auc"], abs=1e-6)
    assert printed["confusion_matrix"] == stored["confusion_matrix"]
    assert (tmp_path / "test_metrics.json").exists() and (tmp_path / "test_roc.png").exists()


def test_one_folder_with_val_split_and_any_letter_case(tmp_path):
    rng = np.random.default_rng(1)
    for label in ("REAL", "fake"):
        for index in range(10):
            write_rgb(tmp_path / label / "sub" / f"{index}.png", rng.integers(0, 256, (20, 20, 3), dtype=np.uint8))
    splits = load_splits(tmp_path, val_split=0.2)
    assert splits["train"].counts() == {"real": 8, "fake": 8}
    assert splits["validation"].counts() == {"real": 2, "fake": 2}


def test_missing_class_folder_is_a_clear_command_line_error(tmp_path, capsys):
    (tmp_path / "Real").mkdir()
    with pytest.raises(SystemExit) as exit_info:
        image.main(["--data", str(tmp_path)])
    assert exit_info.value.code == 2
    assert "no Fake/ folder" in capsys.readouterr().err


def test_mirrored_strategy_trains_too(tiny_faces, tmp_path):
    image.main(["--data", str(tiny_faces), "--out", str(tmp_path), "--epochs", "1", "--batch-size", "8",
                "--image-size", "32", "--architecture", "meso4", "--strategy", "mirrored"])
    model, metadata = load_model(tmp_path / "model.keras")
    assert metadata["epochs_run"] == 1 and model.output_shape == (None, 1)


def test_fine_tuning_starts_from_a_saved_model(trained, tiny_faces, tmp_path):
    start, _ = load_model(trained / "model.keras")
    image.main(["--data", str(tiny_faces), "--out", str(tmp_path), "--epochs", "1", "--batch-size", "8",
                "--init-from", str(trained / "model.keras"), "--lr", "1e-9"])
    tuned, metadata = load_model(tmp_path / "model.keras")
    assert metadata["architecture"] == "meso4" and metadata["image_size"] == 32
    def first_kernel(model):
        return next(layer for layer in model.layers if layer.name.startswith("conv2d")).get_weights()[0]

    assert np.allclose(first_kernel(tuned), first_kernel(start), atol=1e-5)
