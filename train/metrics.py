"""Binary detection metrics, threshold choice and the ROC / confusion-matrix figures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from sklearn import metrics


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


def plot_confusion(matrix: list[list[int]], path: Path, title: str) -> None:
    """Save the confusion matrix (rows: truth, columns: prediction) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    display = metrics.ConfusionMatrixDisplay(np.asarray(matrix), display_labels=["real", "fake"])
    figure, axis = plt.subplots(figsize=(4.2, 4.0), dpi=110)
    display.plot(ax=axis, colorbar=False, values_format="d")
    axis.set_title(title)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
