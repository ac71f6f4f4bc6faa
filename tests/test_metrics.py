"""Metrics and threshold choice on cases whose answers are known by hand."""

from __future__ import annotations

import numpy as np
import pytest

from train.data import class_weights
from model.calibration import Calibration
from train.metrics import (binary_metrics, brier_score, choose_threshold, choose_thresholds,
                           expected_calibration_error, fit_calibration, verdict_shares)


def test_metrics_on_a_hand_counted_case():
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    scores = np.array([0.1, 0.2, 0.3, 0.7, 0.4, 0.8, 0.9, 0.95])
    result = binary_metrics(labels, scores, threshold=0.5)
    # predictions: 0 0 0 1 | 0 1 1 1 -> TN 3, FP 1, FN 1, TP 3
    assert result["confusion_matrix"] == [[3, 1], [1, 3]]
    assert result["accuracy"] == pytest.approx(0.75)
    assert result["precision"] == pytest.approx(0.75)
    assert result["recall"] == pytest.approx(0.75)
    assert result["f1"] == pytest.approx(0.75)
    # of the 16 (real, fake) pairs only (0.7, 0.4) is ordered wrongly
    assert result["roc_auc"] == pytest.approx(15 / 16)


def test_threshold_separates_perfectly_separable_scores():
    labels = np.array([0, 0, 0, 1, 1])
    scores = np.array([0.05, 0.1, 0.2, 0.3, 0.35])
    threshold = choose_threshold(labels, scores)
    assert 0.2 < threshold <= 0.3
    assert binary_metrics(labels, scores, threshold)["accuracy"] == 1.0


def test_single_class_has_no_auc():
    result = binary_metrics(np.array([1, 1]), np.array([0.2, 0.9]), 0.5)
    assert result["roc_auc"] is None and result["recall"] == 0.5


def test_class_weights_balance_an_imbalanced_set():
    weights = class_weights([0] * 10 + [1] * 50)
    assert weights[0] * 10 == pytest.approx(weights[1] * 50)
    assert weights[0] == pytest.approx(3.0)
    with pytest.raises(ValueError):
        class_weights([1, 1, 1])


def test_platt_scaling_recovers_a_known_miscalibration():
    """Scores whose true log-odds are 2·logit(p) − 0.5: the fit finds slope 2 and intercept −0.5, and calibrating
    lowers the Brier score and the calibration error."""
    rng = np.random.default_rng(0)
    z = rng.normal(0, 1.5, 40_000)
    scores = 1 / (1 + np.exp(-z))
    labels = (rng.random(z.size) < 1 / (1 + np.exp(-(2 * z - 0.5)))).astype(int)
    calibration = fit_calibration(labels, scores)
    assert calibration.slope == pytest.approx(2.0, abs=0.08) and calibration.intercept == pytest.approx(-0.5, abs=0.05)
    calibrated = calibration(scores)
    assert brier_score(labels, calibrated) < brier_score(labels, scores)
    assert expected_calibration_error(labels, calibrated) < 0.02 < expected_calibration_error(labels, scores)
    assert Calibration()(np.array([0.2, 0.9])) == pytest.approx([0.2, 0.9], abs=1e-6)  # identity by default


def test_two_thresholds_make_both_confident_verdicts_precise():
    rng = np.random.default_rng(1)
    labels = np.repeat([0, 1], 5000)
    scores = 1 / (1 + np.exp(-(rng.normal(0, 1, labels.size) + 2.5 * (labels - 0.5))))
    thresholds = choose_thresholds(labels, scores, precision=0.9, max_uncertain=0.5)
    assert thresholds.real_below < thresholds.fake_from
    fake, real = scores >= thresholds.fake_from, scores < thresholds.real_below
    assert labels[fake].mean() >= 0.9 and (1 - labels[real]).mean() >= 0.9
    shares = verdict_shares(labels, scores, thresholds)
    assert shares["uncertain"] == pytest.approx(1 - fake.mean() - real.mean())
    assert [thresholds.verdict(p) for p in (0.0, (thresholds.real_below + thresholds.fake_from) / 2, 1.0)] == \
        ["real", "uncertain", "fake"]
    capped = choose_thresholds(labels, scores, precision=0.99, max_uncertain=0.2)
    assert verdict_shares(labels, scores, capped)["uncertain"] <= 0.2 + 1e-3  # the band is narrowed to the cap
    easy = choose_thresholds(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.8, 0.9]))
    assert easy.verdict(0.2) == "real" and easy.verdict(0.8) == "fake"


def test_the_verdict_matrix_keeps_uncertain_apart_and_its_figure_says_so(tmp_path):
    from model.calibration import Thresholds
    from train.metrics import plot_confusion, verdict_matrix

    labels = [0, 0, 0, 0, 1, 1, 1, 1]
    probabilities = [0.1, 0.2, 0.5, 0.9, 0.3, 0.5, 0.8, 0.95]
    matrix = verdict_matrix(labels, probabilities, Thresholds(0.4, 0.7))
    assert matrix == [[2, 1, 1], [1, 1, 2]]  # rows: truth real, fake; columns: called real, uncertain, fake
    plot_confusion(matrix, tmp_path / "verdicts.png", "test")
    assert (tmp_path / "verdicts.png").stat().st_size > 1000
