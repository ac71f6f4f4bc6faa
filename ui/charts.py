"""The data of a result's two charts: the verdict's confidence bars (``confidences``, for Gradio's Label) and a clip's
fake probability over time with the thresholds (``timeline``, for its LinePlot). Pure: no files written, no Gradio
import."""

from __future__ import annotations

import numpy as np
import pandas as pd

from model.report import Report


def confidences(report: Report) -> dict[str, float] | None:
    """Label-style confidences ``{"fake": p, "real": 1 - p}``; None when nothing was scored."""
    if report.fake_probability is None:
        return None
    probability = float(np.clip(report.fake_probability, 0.0, 1.0))
    return {"fake": round(probability, 4), "real": round(1.0 - probability, 4)}


def timeline(report: Report) -> pd.DataFrame:
    """Fake probability over time for frames with a face, plus the thresholds (the uncertain band's edges)."""
    frames = report.clip.scored_frames if report.clip is not None else []
    rows = [{"time (s)": float(frame.time_s), "fake probability": float(frame.fake_probability),
             "series": "fake probability"} for frame in frames]
    thresholds = report.thresholds
    if rows and thresholds is not None:
        # Always the same three series, even where the band has no width (the two lines then coincide): the
        # browser's plot keeps the series of its first drawing, so a clip judged by a model with other series
        # would lose its threshold lines.
        times = [row["time (s)"] for row in rows]
        lines = {"fake threshold": thresholds.fake_from, "real threshold": thresholds.real_below}
        rows += [{"time (s)": t, "fake probability": float(value), "series": name}
                 for name, value in lines.items() for t in (min(times), max(times))]
    return pd.DataFrame(rows, columns=["time (s)", "fake probability", "series"])
