"""The training and evaluation CLIs on a tiny folder: a loadable model, a threshold, metrics and figures."""

from __future__ import annotations

import csv
import json
import os
import shutil
import socket
import subprocess
import sys
from dataclasses import fields, replace
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from model.image_detector import FaceScorer
from model.calibration import Calibration
from model.face_recipe import FaceRecipe
from model.store import ModelInfo, Stage, load_served_model, read_metadata, write_metadata
from tests.conftest import save_lite_image_model, write_rgb
from train import evaluate, image
from train.common import add_view_consistency, compile_binary, fit
from train.config import FitSettings
from train.data import load_splits

ROOT = Path(__file__).resolve().parents[1]


def tiny_name(run) -> str:
    """The domain name training gave the tiny_faces folder (its folder name)."""
    return ModelInfo.read(run / "model.keras").data[0]["name"]


@pytest.fixture(scope="module")
def trained(tiny_faces, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    image.main(["--data", str(tiny_faces), "--out", str(out), "--epochs", "1", "--batch-size", "8",
                "--image-size", "32", "--architecture", "meso4", "--views", "as_cut", "mirrored",
                "--crop-ceiling", "96"])
    return out


def test_one_epoch_yields_a_loadable_model_with_provenance(trained):
    model, info = load_served_model(trained / "model.keras")
    assert model.input_shape == (None, 32, 32, 3)
    assert info.kind == "image" and info.image_size == 32
    assert 0.0 <= info.real_below <= info.fake_from <= 1.0
    assert info.training.epochs_run == 1 and info.views == ("as_cut", "mirrored")  # calibrated over both views
    assert info.face_recipe == replace(FaceRecipe(), crop_ceiling=96)  # serving caps faces as training did
    assert info.counts["train"] == {tiny_name(trained): {"real": 16, "fake": 16}}
    assert info.command.startswith("python -m ")
    assert info.lineage == (Stage("start", weights="random weights"), Stage("this run", command=info.command))
    assert set(info.validation_calibration) >= {"brier_before", "brier_after", "ece_before", "ece_after"}
    [row] = info.test_domains
    assert set(row) >= {"domain", "roc_auc", "brier", "real_called_fake", "fakes_caught", "uncertain"}
    name = tiny_name(trained)
    for file in ("best.keras", "history.csv", f"test_{name}_roc.png", f"test_{name}_confusion.png"):
        assert (trained / file).exists(), file
    assert any((trained / "tensorboard").rglob("events.out.tfevents.*"))


def test_saved_model_scores_crops_between_zero_and_one(trained):
    scorer = FaceScorer(trained / "model.keras")
    crops = [np.zeros((40, 40, 3), np.uint8), np.full((100, 80, 3), 200, np.uint8)]
    scores = scorer.score(crops)
    assert scores.shape == (2,) and np.all((scores >= 0) & (scores <= 1))


def test_evaluate_reproduces_the_stored_domain_table(trained, tiny_faces, tmp_path, capsys, monkeypatch):
    import keras

    loads = []
    load = keras.saving.load_model
    monkeypatch.setattr(keras.saving, "load_model", lambda *a, **k: loads.append(a) or load(*a, **k))
    evaluate.main(["--model", str(trained / "model.keras"), "--data", str(tiny_faces), "--out", str(tmp_path),
                   "--robustness", "--audit"])
    assert len(loads) == 1  # the audit's scorer takes the network evaluate loaded
    printed = capsys.readouterr().out
    [stored] = ModelInfo.read(trained / "model.keras").test_domains
    result = json.loads((tmp_path / "domains_metrics.json").read_text())
    [row] = result["domains"]
    assert row["roc_auc"] == pytest.approx(stored["roc_auc"], abs=1e-6)
    assert row["uncertain"] == pytest.approx(stored["uncertain"])
    assert f"| {stored['domain']} | 16 | {stored['roc_auc']:.3f} |" in printed
    conditions = [r["condition"] for r in result["robustness"]["rows"]]
    assert conditions[0] == "as given" and "JPEG 50" in conditions and "downscaled to 1/4" in conditions
    assert result["robustness"]["rows"][0]["roc_auc"] == pytest.approx(row["roc_auc"])
    assert (tmp_path / f"test_{stored['domain']}_roc.png").exists()
    assert stored["domain"] in result["shortcut_audit"] and result["invariance"]


def test_the_record_survives_evaluation_calibration_and_reloading(trained, tiny_faces, tmp_path, monkeypatch):
    """The trainer writes the record as it is (nothing for the converter to change); evaluating with --calibrate,
    --store and --audit loads the network once and rewrites only the fields it measures; the reloaded record
    equals its JSON round trip."""
    import keras

    for name in ("model.keras", "model.json"):
        shutil.copy(trained / name, tmp_path / name)
    copy = tmp_path / "model.keras"
    before = ModelInfo.read(copy)
    assert before.to_json() == read_metadata(copy) and before.training.epochs_run == 1
    loads = []
    load = keras.saving.load_model
    monkeypatch.setattr(keras.saving, "load_model",
                        lambda path, *args, **kwargs: loads.append(Path(path)) or load(path, *args, **kwargs))
    evaluate.main(["--model", str(copy), "--data", str(tiny_faces), "--out", str(tmp_path / "report"), "--calibrate",
                   "--store", "--audit", "--robustness", "--val-per-class", "600"])
    assert loads == [copy]  # one load: calibration, tables and the audit's scorer share the network
    after = ModelInfo.read(copy)
    measured = {"calibration", "real_below", "fake_from", "validation_calibration", "test_domains", "shortcut_audit",
                "invariance", "robustness", "reliable_input"}
    unchanged = [f.name for f in fields(ModelInfo) if f.name not in measured]
    assert [getattr(after, name) for name in unchanged] == [getattr(before, name) for name in unchanged]
    assert after.calibration == before.calibration  # the same Validation faces: the same fit
    assert (after.real_below, after.fake_from) == pytest.approx((before.real_below, before.fake_from))
    assert after.robustness["rows"][0]["condition"] == "as given" and after.invariance
    assert after.test_domains[0]["roc_auc"] == pytest.approx(before.test_domains[0]["roc_auc"], abs=1e-6)
    assert ModelInfo.from_json(json.loads(json.dumps(after.to_json())), copy) == after
    assert after.to_json() == read_metadata(copy)


def test_reports_go_beside_a_trained_model_but_never_into_the_shipped_weights_folder(trained):
    from model.store import DEFAULT_IMAGE_MODEL, DEFAULT_VIDEO_MODEL

    assert evaluate.report_folder(trained / "model.keras", None) == trained.resolve()
    assert evaluate.report_folder(DEFAULT_IMAGE_MODEL, None) == Path("runs/evaluate/image_model")
    assert evaluate.report_folder(DEFAULT_VIDEO_MODEL, None) == Path("runs/evaluate/video_model")
    assert evaluate.report_folder(DEFAULT_VIDEO_MODEL, "elsewhere") == Path("elsewhere")


def test_calibrating_again_stores_the_same_calibration(trained, tiny_faces, tmp_path):
    copy = tmp_path / "model.keras"
    copy.write_bytes((trained / "model.keras").read_bytes())
    stored = ModelInfo.read(trained / "model.keras")
    write_metadata(copy, replace(stored, calibration=Calibration(), real_below=0.5, fake_from=0.5))
    evaluate.main(["--model", str(copy), "--data", str(tiny_faces), "--out", str(tmp_path), "--calibrate",
                   "--val-per-class", "600"])
    again = ModelInfo.read(copy)
    assert again.calibration == stored.calibration
    assert (again.real_below, again.fake_from) == pytest.approx((stored.real_below, stored.fake_from))


def test_one_folder_with_val_split_and_any_letter_case(tmp_path):
    rng = np.random.default_rng(1)
    for label in ("REAL", "fake"):
        for index in range(10):
            write_rgb(tmp_path / label / "sub" / f"{index}.png", rng.integers(0, 256, (20, 20, 3), dtype=np.uint8))
    splits = load_splits(tmp_path, val_split=0.2)
    assert splits["train"].counts() == {"real": 8, "fake": 8}
    assert splits["validation"].counts() == {"real": 2, "fake": 2}


def test_missing_real_folder_is_a_clear_command_line_error(tmp_path, capsys):
    """A folder of reals alone is a real-only domain (its fakes are self-blends); one without reals is refused."""
    (tmp_path / "Fake").mkdir()
    with pytest.raises(SystemExit) as exit_info:
        image.main(["--data", str(tmp_path)])
    assert exit_info.value.code == 2
    assert "no Real/ folder" in capsys.readouterr().err


def test_flags_that_do_not_fit_together_are_refused_before_any_work(tmp_path, capsys):
    """The frozen config checks itself (a ``TrainingError``, one sentence); ``main`` turns it into a usage error."""
    from train.config import TrainingError

    flags = image.build_parser().parse_args(["--data", str(tmp_path), "--backbone", "residual_cnn",
                                             "--warmup-steps", "10"])
    with pytest.raises(TrainingError, match="need a registry backbone"):
        image.ImageConfig.from_namespace(flags, data=(str(tmp_path),), out=tmp_path, command="train.image")
    for bad in (["--backbone", "residual_cnn", "--warmup-steps", "10"], ["--self-blend-share", "1.5"],
                ["--greyscale-share", "-0.1"], ["--max-uncertain", "1.5"], ["--max-people-called-fake", "-0.2"],
                ["--backbone", "residual_cnn", "--luminance"], ["--backbone", "efficientnet_lite1", "--luminance"],
                ["--view-consistency", "1", "--batch-size", "6"]):
        with pytest.raises(SystemExit) as exit_info:
            image.main(["--data", str(tmp_path), "--out", str(tmp_path / "run"), *bad])
        assert exit_info.value.code == 2 and "error:" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_several_domains_with_weights_and_self_blended_fakes(tiny_faces, tmp_path):
    spec = tmp_path / "domains.txt"
    spec.write_text(f"{tiny_faces} 0.5\n")
    image.main(["--data", str(tiny_faces), "--data-spec", str(spec), "--out", str(tmp_path / "run"), "--epochs", "1",
                "--batch-size", "8", "--image-size", "32", "--architecture", "meso4", "--steps-per-epoch", "3",
                "--self-blend-share", "0.3", "--greyscale-share", "0.5"])
    info = ModelInfo.read(tmp_path / "run" / "model.keras")
    assert info.training.greyscale_share == 0.5
    assert [(d["name"], d["weight"]) for d in info.data] == [(tiny_faces.name, 1.0), (f"{tiny_faces.name}#2", 0.5)]
    assert info.training.self_blend_share == 0.3 and info.training.steps_per_epoch == 3
    assert [row["domain"] for row in info.test_domains] == [tiny_faces.name, f"{tiny_faces.name}#2"]
    # the epoch is chosen on the mean of the domains' own Validation AUCs, logged beside each domain's
    assert info.training.selected_on == "val_auc_mean"
    with (tmp_path / "run" / "history.csv").open() as handle:
        [epoch] = list(csv.DictReader(handle))
    aucs = [float(epoch[f"val_auc_{name}"]) for name in (tiny_faces.name, f"{tiny_faces.name}#2")]
    assert all(0.0 <= auc <= 1.0 for auc in aucs)
    assert float(epoch["val_auc_mean"]) == pytest.approx(np.mean(aucs), abs=1e-6)
    assert float(epoch["val_auc_worst"]) == pytest.approx(min(aucs), abs=1e-6)
    assert info.training.best_val_auc == pytest.approx(float(epoch["val_auc_mean"]), abs=1e-6)


def test_two_local_workers_train_one_epoch_together(tiny_faces, tmp_path):
    """``--strategy multiworker`` with TF_CONFIG naming two workers on 127.0.0.1: both finish the epoch."""
    ports = []
    for _ in range(2):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            ports.append(probe.getsockname()[1])
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    workers = []
    for index in range(2):
        env = {**os.environ, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
               "CI": "1"}
        workers.append(subprocess.Popen(
            [sys.executable, "-m", "train.image", "--data", str(tiny_faces), "--out", str(tmp_path / f"worker{index}"),
             "--epochs", "1", "--batch-size", "8", "--image-size", "32", "--architecture", "meso4",
             "--steps-per-epoch", "4", "--strategy", "multiworker", "--face-cache", str(tmp_path / f"cache{index}")],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outputs = [worker.communicate(timeout=600)[0] for worker in workers]
    for worker, output in zip(workers, outputs):
        assert worker.returncode == 0, output[-3000:]
    model, info = load_served_model(tmp_path / "worker0" / "model.keras")
    assert info.training.epochs_run == 1 and model.output_shape == (None, 1)
    assert "4/4" in outputs[0]


def test_mirrored_strategy_trains_too(tiny_faces, tmp_path):
    image.main(["--data", str(tiny_faces), "--out", str(tmp_path), "--epochs", "1", "--batch-size", "8",
                "--image-size", "32", "--architecture", "meso4", "--strategy", "mirrored"])
    model, info = load_served_model(tmp_path / "model.keras")
    assert info.training.epochs_run == 1 and model.output_shape == (None, 1)


def test_fine_tuning_starts_from_a_saved_model(trained, tiny_faces, tmp_path):
    start, started = load_served_model(trained / "model.keras")
    image.main(["--data", str(tiny_faces), "--out", str(tmp_path), "--epochs", "1", "--batch-size", "8",
                "--init-from", str(trained / "model.keras"), "--lr", "1e-9"])
    tuned, info = load_served_model(tmp_path / "model.keras")
    assert info.architecture == "meso4" and info.image_size == 32
    assert info.lineage[:-1] == started.lineage and info.lineage[-1].start == str(trained / "model.keras")
    def first_kernel(model):
        return next(layer for layer in model.layers if layer.name.startswith("conv2d")).get_weights()[0]

    assert np.allclose(first_kernel(tuned), first_kernel(start), atol=1e-5)
    # the starting weights were scored on Validation before the first epoch and competed with it
    assert info.training.start_val_auc == json.loads((tmp_path / "start.json").read_text())["val_auc"]
    assert info.training.selected_epoch in (0, 1)


def test_luminance_turns_a_colour_model_into_its_luminance_form_with_the_same_weights(tiny_faces, tmp_path):
    """``--init-from`` a colour EfficientNet-Lite0 with ``--luminance``: its weights, seeing luminance alone; the
    record names the luminance form and a fine-tune of that keeps it without the flag."""
    start, start_path = save_lite_image_model(tmp_path / "colour.keras", 32)
    common = ["--data", str(tiny_faces), "--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "8",
              "--lr", "1e-9", "--no-start-competes"]
    image.main([*common, "--out", str(tmp_path / "grey"), "--init-from", str(start_path), "--luminance"])
    grey, info = load_served_model(tmp_path / "grey" / "model.keras")
    assert info.architecture == grey.name == "efficientnet_lite0_luminance"
    assert grey.get_layer("luminance") is not None
    assert np.allclose(grey.get_layer("stem_conv").get_weights()[0], start.get_layer("stem_conv").get_weights()[0],
                       atol=1e-5)
    image.main([*common, "--out", str(tmp_path / "again"), "--init-from", str(tmp_path / "grey" / "model.keras")])
    assert ModelInfo.read(tmp_path / "again" / "model.keras").architecture == "efficientnet_lite0_luminance"


def test_a_fine_tune_that_changes_the_objective_keeps_an_epoch_without_scoring_the_start(trained, tiny_faces, tmp_path):
    image.main(["--data", str(tiny_faces), "--out", str(tmp_path), "--epochs", "1", "--batch-size", "8",
                "--init-from", str(trained / "model.keras"), "--no-start-competes", "--view-consistency", "2"])
    info = ModelInfo.read(tmp_path / "model.keras")
    assert not (tmp_path / "start.json").exists()
    assert info.training.selected_epoch == 1 and info.training.start_val_auc is None
    assert info.training.view_consistency == 2.0 and info.training.view_consistency_on == "real"


def _separable(count: int = 64) -> tf.data.Dataset:
    """One feature that is the label's sign: a positive weight ranks every example right (AUC 1), a negative one
    every example wrong (AUC 0)."""
    x = np.linspace(-1.0, 1.0, count, dtype=np.float32)[:, None]
    return tf.data.Dataset.from_tensor_slices((x, (x[:, 0] > 0).astype(np.float32))).batch(16)


def _one_weight_model(weight: float) -> keras.Model:
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, activation="sigmoid")])
    model.set_weights([np.array([[weight]], np.float32), np.zeros(1, np.float32)])
    compile_binary(model, 2.0)  # Adam moves the weight by about 2 a step: 8 steps turn -5 positive
    return model


@pytest.mark.parametrize("on, counted", [("all", [0, 1]), ("real", [1])])
def test_view_consistency_adds_the_weighted_squared_gap_between_faces_and_views_to_the_training_loss_only(
        on, counted):
    model = _one_weight_model(1.0)
    add_view_consistency(model, 10.0, on)
    x = np.array([[0.5], [-0.5], [0.2], [-0.1]], np.float32)  # faces (0.5, -0.5), their views (0.2, -0.1)
    y = np.array([1.0, 0.0, 1.0, 0.0], np.float32)  # the first face fake, the second real
    y_pred = model(x)
    plain = float(model.compute_loss(x, y, y_pred, training=False))
    faces, views = y_pred.numpy()[:2, 0], y_pred.numpy()[2:, 0]
    gap = float(np.mean((faces[counted] - views[counted]) ** 2))
    assert gap > 0.001
    assert float(model.compute_loss(x, y, y_pred, training=True)) == pytest.approx(plain + 10.0 * gap, rel=1e-5)


@pytest.mark.parametrize("weight, kept", [(5.0, True), (-5.0, False)])
def test_a_fine_tune_keeps_its_starting_weights_unless_an_epoch_beats_them(weight, kept, tmp_path):
    model = _one_weight_model(weight)
    best, summary = fit(model, _separable(), _separable(), None, FitSettings(epochs=2, patience=2), tmp_path,
                        start_is_candidate=True)
    assert summary["start_val_auc"] == pytest.approx(1.0 if kept else 0.0)
    assert json.loads((tmp_path / "start.json").read_text())["val_auc"] == summary["start_val_auc"]
    if kept:  # no epoch can beat a perfect start: the returned model is the start, whatever training did
        assert summary["selected_epoch"] == 0 and summary["best_val_auc"] == pytest.approx(1.0)
        assert best.get_weights()[0][0, 0] == pytest.approx(weight)
    else:  # an epoch that beats the start replaces it
        assert summary["selected_epoch"] >= 1 and summary["best_val_auc"] > 0.5
        assert best.get_weights()[0][0, 0] > 0
    assert summary["epochs_run"] == 2
