"""Metric tables as Markdown: what the model cards, the About tab and ``train.evaluate`` print alike."""

from __future__ import annotations

from typing import Any


def markdown_table(rows: list[dict[str, Any]], first: str) -> str:
    """Rows as a Markdown table (shares in percent); ``model``, ``clips`` and ``frame_roc_auc`` columns appear
    where the rows have them (video evaluation)."""
    columns = [(first, first), ("model", "model"), ("faces", "faces"), ("clips", "clips"), ("roc_auc", "ROC-AUC"),
               ("frame_roc_auc", "frame ROC-AUC"), ("brier", "Brier"), ("real_called_fake", "real called fake"),
               ("fakes_caught", "fakes caught"), ("uncertain", "uncertain")]
    columns = [(key, title) for key, title in columns if key == first or any(key in row for row in rows)]
    lines = ["| " + " | ".join(title for _, title in columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = []
        for key, _ in columns:
            value = row.get(key)
            if key == first and row.get("split") not in (None, "test"):
                value = f"{value} ({row['split']})"
            if value is None:
                cells.append("—")
            elif key in ("real_called_fake", "fakes_caught", "uncertain"):
                cells.append(f"{100 * value:.1f} %")
            elif isinstance(value, float):
                cells.append(f"{value:.3f}")
            elif key == "model":  # code, or Markdown renders `architecture@file.keras` as an e-mail link
                cells.append(f"`{value}`")
            else:
                cells.append(str(value))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
