"""Pictures the app shows: faces boxed and labelled in the verdict's colour, written as files for Gradio."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from model.calibration import Thresholds
from model.report import Report, ScoredFace

FAKE_RGB = (220, 38, 38)
REAL_RGB = (22, 163, 74)
UNCERTAIN_RGB = (107, 114, 128)
VERDICT_RGB = {"fake": FAKE_RGB, "real": REAL_RGB, "uncertain": UNCERTAIN_RGB}
DISPLAY_SIDE = 1280  # pictures are shown at most this large


def face_verdict(report: Report, face: ScoredFace) -> str:
    """``real``, ``uncertain`` or ``fake`` for one face, at the report's thresholds."""
    return (report.thresholds or Thresholds(0.5, 0.5)).verdict(face.fake_probability)


def _label_box(image: np.ndarray, box: tuple[int, int, int, int], text: str, color: tuple[int, int, int],
               scale: float) -> None:
    x, y, w, h = box
    thickness = max(2, int(round(3 * scale)))
    cv2.rectangle(image, (x, y), (x + w, y + h), color, thickness, cv2.LINE_AA)
    font_scale = max(0.45, 0.7 * scale)
    (text_w, text_h), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, max(1, thickness // 2))
    top = y - text_h - baseline - 4 if y - text_h - baseline - 4 >= 0 else y + h
    cv2.rectangle(image, (x - thickness // 2, top), (x + text_w + 6, top + text_h + baseline + 4), color, -1)
    cv2.putText(image, text, (x + 3, top + text_h + 2), cv2.FONT_HERSHEY_SIMPLEX, font_scale, (255, 255, 255),
                max(1, thickness // 2), cv2.LINE_AA)


def annotate(rgb: np.ndarray, report: Report, max_side: int = DISPLAY_SIDE) -> np.ndarray:
    """A copy of the picture (downscaled to ``max_side``) with every face boxed and labelled with its score."""
    height, width = rgb.shape[:2]
    factor = min(1.0, max_side / max(height, width))
    image = rgb.copy() if factor == 1.0 else cv2.resize(rgb, (max(1, round(width * factor)),
                                                              max(1, round(height * factor))),
                                                        interpolation=cv2.INTER_AREA)
    image = np.ascontiguousarray(image)
    scale = max(image.shape[:2]) / 640.0
    for index, face in enumerate(report.faces, start=1):
        box = tuple(int(round(v * factor)) for v in face.box)
        verdict = face_verdict(report, face)
        _label_box(image, box, f"{index}: {verdict} {face.fake_probability:.2f}", VERDICT_RGB[verdict], scale)
    return image


def save_picture(rgb: np.ndarray, path: str | Path, quality: int = 90) -> str:
    """Write an RGB array as a JPEG (or PNG, by suffix); returns the path as a string."""
    if not cv2.imwrite(str(path), cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR),
                       [cv2.IMWRITE_JPEG_QUALITY, quality]):
        raise OSError(f"could not write {path}")
    return str(path)
