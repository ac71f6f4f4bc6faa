"""A result's galleries, as Gradio's ``(path, caption)`` pairs: the face crops (``face_gallery``) and their Grad-CAM
heatmap overlays (``heatmap_gallery``), written as picture files in the request's folder, each captioned like its
face's box (``face_caption``: number, call, fake probability, weak-evidence flags). No Gradio import."""

from __future__ import annotations

from pathlib import Path

from model.report import Report, ScoredFace
from ui.drawing import face_verdict, save_picture
from ui.heatmap_files import write_heatmaps


def face_gallery(report: Report, folder: str | Path) -> list[tuple[str, str]]:
    """The face crops saved in ``folder``, captioned like their boxes: number, call and fake probability."""
    return [(save_picture(face.crop, Path(folder) / f"face_{index}.jpg"), face_caption(report, index, face))
            for index, face in enumerate(report.faces, start=1)]


def face_caption(report: Report, index: int, face: ScoredFace) -> str:
    """A gallery caption like the face's box label: number, call, fake probability, and any weak-evidence flags."""
    return (f"{index}: {face_verdict(report, face)} {face.fake_probability:.2f}"
            + (f" ({', '.join(face.flags)})" if face.flags else ""))


def heatmap_gallery(report: Report, folder: str | Path) -> list[tuple[str, str]]:
    """Each face's crop with its Grad-CAM heatmap over it, saved in ``folder``, captioned like the crops (faces
    without a heatmap are left out)."""
    paths = write_heatmaps(report, folder, "heatmap")
    return [(paths[position], face_caption(report, position + 1, face))
            for position, face in enumerate(report.faces) if position in paths]
