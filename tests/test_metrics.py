"""Metrics and threshold choice on cases whose answers are known by hand."""

from __future__ import annotations

import numpy as np
import pytest

from train.data import class_weights
from train.metrics import binary_metrics, choose_threshold


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
