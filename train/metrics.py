"""Binary detection metrics, threshold choice and the ROC / confusion-matrix figures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from sklearn import metrics

from model.calibration import Calibration, Thresholds, logit


def choose_threshold(labels: np.ndarray, scores: np.ndarray) -> float:
    """The threshold that maximises balanced accuracy (Youden's J) on held-out data."""
    labels, scores = np.asarray(labels), np.asarray(scores)
    if len(np.unique(labels)) < 2:
        return 0.5
    fpr, tpr, thresholds = metrics.roc_curve(labels, scores)
    best = int(np.argmax(tpr - fpr))
    return float(np.clip(thresholds[best], 0.0, 1.0))


def binary_metrics(labels: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, Any]:
    """Accuracy, precision, recall, F1, ROC-AUC and the confusion matrix, with "fake" as the positive class."""
    labels = np.asarray(labels).astype(int)
    scores = np.asarray(scores, dtype=float)
    predicted = (scores >= threshold).astype(int)
    both_classes = len(np.unique(labels)) == 2
    return {
        "count": int(len(labels)),
        "real": int((labels == 0).sum()),
        "fake": int((labels == 1).sum()),
        "threshold": float(threshold),
        "accuracy": float(metrics.accuracy_score(labels, predicted)),
        "balanced_accuracy": float(metrics.balanced_accuracy_score(labels, predicted)) if both_classes else None,
        "precision": float(metrics.precision_score(labels, predicted, zero_division=0)),
        "recall": float(metrics.recall_score(labels, predicted, zero_division=0)),
        "f1": float(metrics.f1_score(labels, predicted, zero_division=0)),
        "roc_auc": float(metrics.roc_auc_score(labels, scores)) if both_classes else None,
        "confusion_matrix": metrics.confusion_matrix(labels, predicted, labels=[0, 1]).tolist(),
    }


def plot_roc(labels: np.ndarray, scores: np.ndarray, path: Path, title: str) -> None:
    """Save the ROC curve as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fpr, tpr, _ = metrics.roc_curve(labels, scores)
    auc = metrics.roc_auc_score(labels, scores)
    figure, axis = plt.subplots(figsize=(4.5, 4.5), dpi=110)
    axis.plot(fpr, tpr, label=f"ROC-AUC {auc:.3f}")
    axis.plot([0, 1], [0, 1], "--", color="grey", linewidth=0.8)
    axis.set(xlabel="False positive rate (real called fake)", ylabel="True positive rate (fakes caught)",
             title=title, xlim=(0, 1), ylim=(0, 1.01))
    axis.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


VERDICT_COLUMNS = ("real", "uncertain", "fake")


def verdict_matrix(labels: np.ndarray, probabilities: np.ndarray, thresholds: Thresholds) -> list[list[int]]:
    """Counts of each verdict (columns: real, uncertain, fake) for each truth (rows: real, fake), at the stored
    thresholds: the app's three answers, none folded into another."""
    labels, probabilities = np.asarray(labels).astype(int), np.asarray(probabilities, float)
    verdicts = np.where(probabilities >= thresholds.fake_from, 2, np.where(probabilities < thresholds.real_below, 0, 1))
    return [[int(((labels == truth) & (verdicts == column)).sum()) for column in range(3)] for truth in (0, 1)]


def plot_confusion(matrix: list[list[int]], path: Path, title: str) -> None:
    """Save the verdict matrix (rows: truth, columns: the three verdicts) as a PNG, each cell with its count and
    its share of the row."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = np.asarray(matrix, float)
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    figure, axis = plt.subplots(figsize=(5.0, 3.6), dpi=110)
    axis.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    for (row, column), count in np.ndenumerate(counts):
        axis.text(column, row, f"{int(count)}\n{100 * shares[row, column]:.0f} %", ha="center", va="center",
                  color="white" if shares[row, column] > 0.55 else "black")
    axis.set_xticks(range(3), [f"called {name}" for name in VERDICT_COLUMNS])
    axis.set_yticks(range(2), ["real", "fake"])
    axis.set_ylabel("truth")
    axis.set_title(title, fontsize=10)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def fit_calibration(labels: np.ndarray, probabilities: np.ndarray, strength: float = 1e6) -> Calibration:
    """Platt scaling (a logistic regression on the logit of the model's probability), fitted on held-out data.
    ``strength`` is the inverse L2 penalty on the slope: small held-out sets (a few dozen clips) take ~1, which
    pulls an overconfident model towards the base rate instead of trusting a perfect split of 20 points."""
    from sklearn.linear_model import LogisticRegression

    labels = np.asarray(labels).astype(int)
    if len(np.unique(labels)) < 2:
        return Calibration()
    regression = LogisticRegression(C=strength, max_iter=1000).fit(logit(probabilities).reshape(-1, 1), labels)
    return Calibration(round(float(regression.coef_[0, 0]), 6), round(float(regression.intercept_[0]), 6))


def brier_score(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """Mean squared difference between the probability of fake and the label (0 is perfect, 0.25 a coin toss)."""
    return float(np.mean((np.asarray(probabilities, float) - np.asarray(labels, float)) ** 2))


def expected_calibration_error(labels: np.ndarray, probabilities: np.ndarray, bins: int = 10) -> float:
    """Weighted mean gap between the predicted probability and the observed share of fakes, over equal-width bins."""
    labels, probabilities = np.asarray(labels, float), np.asarray(probabilities, float)
    which = np.minimum((probabilities * bins).astype(int), bins - 1)
    return float(sum(abs(probabilities[which == b].mean() - labels[which == b].mean()) * (which == b).sum()
                     for b in range(bins) if (which == b).any()) / max(len(labels), 1))


def choose_thresholds(labels: np.ndarray, probabilities: np.ndarray, precision: float = 0.9,
                      max_uncertain: float = 0.3) -> Thresholds:
    """Two thresholds on held-out data: ``fake`` calls at least ``precision`` precise, ``real`` calls too, the
    faces between them ``uncertain``. Where that band would hold more than ``max_uncertain`` of the faces it is
    narrowed around the balanced-accuracy threshold (then a confident verdict is less precise than asked)."""
    labels, probabilities = np.asarray(labels).astype(int), np.asarray(probabilities, float)
    middle = choose_threshold(labels, probabilities)
    if len(np.unique(labels)) < 2:
        return Thresholds(middle, middle)
    order = np.sort(np.unique(probabilities))
    fake_from = next((t for t in order if labels[probabilities >= t].mean() >= precision), np.inf)
    real_below = next((t for t in order[::-1]
                       if (probabilities < t).any() and (1 - labels[probabilities < t]).mean() >= precision), -np.inf)
    fake_from, real_below = max(float(fake_from), middle), min(float(real_below), middle)
    fake_from, real_below = min(fake_from, 1.0), max(real_below, 0.0)
    share = np.mean((probabilities >= real_below) & (probabilities < fake_from))
    if share > max_uncertain:
        centre = np.mean(probabilities < middle)
        below, above = centre - np.mean(probabilities < real_below), np.mean(probabilities < fake_from) - centre
        shrink = max_uncertain / max(below + above, 1e-9)
        real_below = float(np.quantile(probabilities, max(centre - below * shrink, 0.0)))
        fake_from = float(np.quantile(probabilities, min(centre + above * shrink, 1.0)))
    return Thresholds(real_below, fake_from)


def verdict_shares(labels: np.ndarray, probabilities: np.ndarray, thresholds: Thresholds) -> dict[str, float | None]:
    """At the stored thresholds: real faces called fake, fakes caught, faces left uncertain (shares)."""
    labels, probabilities = np.asarray(labels).astype(int), np.asarray(probabilities, float)
    fake = probabilities >= thresholds.fake_from
    uncertain = (probabilities >= thresholds.real_below) & ~fake
    real_count, fake_count = (labels == 0).sum(), (labels == 1).sum()
    return {"real_called_fake": float(fake[labels == 0].mean()) if real_count else None,
            "real_called_real": float((~fake & ~uncertain)[labels == 0].mean()) if real_count else None,
            "fakes_caught": float(fake[labels == 1].mean()) if fake_count else None,
            "uncertain": float(uncertain.mean()) if len(labels) else None}
