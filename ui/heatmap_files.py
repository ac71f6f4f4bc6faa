"""Heatmap files: each face's Grad-CAM overlay written as a PNG, for the app's heatmap gallery and the scanner's
``--explain``. The report is only read; the written files come back by face position, for the gallery and for
``Report.to_json(heatmap_paths=...)``."""

from __future__ import annotations

from pathlib import Path

import cv2

from model.explain import overlay
from model.report import Report


def write_heatmaps(report: Report, folder: str | Path, stem: str) -> dict[int, str]:
    """Write the overlay of every face that has a heatmap into ``folder`` (made if missing) as ``<stem>_face<k>.png``
    (pictures, k from 1) or ``<stem>_frame<index>.png`` (a clip's face: the main face of its sampled frame);
    return the paths by face position (from 0; faces without a heatmap are left out)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for position, face in enumerate(report.faces):
        if face.heatmap is None:
            continue
        frame = report.frame_of(position)
        path = folder / (f"{stem}_frame{frame.index}.png" if frame is not None else f"{stem}_face{position + 1}.png")
        if not cv2.imwrite(str(path), cv2.cvtColor(overlay(face.crop, face.heatmap), cv2.COLOR_RGB2BGR)):
            raise OSError(f"could not write {path}")
        paths[position] = str(path)
    return paths
