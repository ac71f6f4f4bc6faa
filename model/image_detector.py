"""Score faces in still images with the image model: load once, detect, crop, batch, calibrate, decide."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

from model.calibration import Calibration, Thresholds
from model.faces import FaceDetector
from model.imaging import jpeg_quality, read_image
from model.preprocessing import crop_face, resize_faces
from model.report import Report, ScoredFace
from model.store import DEFAULT_IMAGE_MODEL, load_model

RELIABLE_INPUT = {"min_face_px": 64, "min_jpeg_quality": 50}


class FaceScorer:
    """A loaded binary face model with its calibration and verdict thresholds; scores crops through one compiled
    function, and says which faces are too small or too compressed for the model's measured reliability."""

    def __init__(self, path: str | Path = DEFAULT_IMAGE_MODEL) -> None:
        self.keras_model, metadata = load_model(path)
        self.image_size = int(metadata.get("image_size", self.keras_model.input_shape[1]))
        self.calibration = Calibration.from_metadata(metadata)
        self.thresholds = Thresholds.from_metadata(metadata)
        self.reliable_input = {**RELIABLE_INPUT, **metadata.get("reliable_input", {})}
        self.name = f"{metadata.get('architecture', self.keras_model.name)}@{Path(path).name}"
        self.metadata = metadata
        spec = tf.TensorSpec((None, self.image_size, self.image_size, 3), tf.float32)
        self._predict = tf.function(lambda x: self.keras_model(x, training=False), input_signature=[spec])

    @property
    def threshold(self) -> float:
        """Fake at or above this calibrated probability."""
        return self.thresholds.fake_from

    def score(self, crops: list[np.ndarray]) -> np.ndarray:
        """Calibrated fake probability of each RGB crop (any size)."""
        if not crops:
            return np.zeros((0,), np.float32)
        batch = tf.stack([resize_faces(crop, self.image_size) for crop in crops])
        return self.calibration(self._predict(batch).numpy().reshape(-1))

    def flags(self, crop: np.ndarray, quality: int | None = None) -> list[str]:
        """``small`` when the face is smaller than the model reads reliably, ``compressed`` when the file's JPEG
        quality is below it (limits measured in the model card's robustness table)."""
        flags = []
        if min(crop.shape[:2]) < self.reliable_input["min_face_px"]:
            flags.append("small")
        if quality is not None and quality < self.reliable_input["min_jpeg_quality"]:
            flags.append("compressed")
        return flags


class ImageDetector:
    """Find every face in a picture and call the picture by its most suspicious face."""

    def __init__(self, scorer: FaceScorer | None = None, faces: FaceDetector | None = None) -> None:
        self.scorer = scorer or FaceScorer()
        self.faces = faces or FaceDetector()

    def analyze(self, rgb: np.ndarray, path: str | None = None, faces_cropped: bool = False) -> Report:
        """Report for an RGB uint8 image (read from ``path``, whose JPEG quality is checked, when given);
        ``faces_cropped`` treats the whole image as one face crop."""
        height, width = rgb.shape[:2]
        found: list[tuple[tuple[int, int, int, int], float | None, np.ndarray]]
        if faces_cropped:
            found = [((0, 0, width, height), None, rgb)]
        else:
            found = [(face.box, face.score, crop_face(rgb, face.box)) for face in self.faces.detect(rgb)]
        report = Report(path=path, kind="image", verdict="no_face", model=self.scorer.name)
        report.decide(self.scorer.thresholds)
        if not found:
            return report
        quality = jpeg_quality(path) if path else None
        probabilities = self.scorer.score([crop for _, _, crop in found])
        report.faces = [ScoredFace(box, score, float(p), crop, self.scorer.flags(crop, quality))
                        for (box, score, crop), p in zip(found, probabilities)]
        report.fake_probability = float(probabilities.max())
        report.decide(self.scorer.thresholds)
        if quality is not None:
            report.extra["jpeg_quality"] = quality
        return report

    def analyze_file(self, path: str | Path, faces_cropped: bool = False) -> Report:
        """Read and analyse an image file; raises ``InputError`` for unreadable files."""
        return self.analyze(read_image(path), str(path), faces_cropped)
