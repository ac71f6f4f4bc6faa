"""Score faces in still images with the image model: load once, detect, crop, batch, decide."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

from model.faces import FaceDetector
from model.imaging import read_image
from model.preprocessing import crop_face, resize_faces
from model.report import Report, ScoredFace, verdict_for
from model.store import DEFAULT_IMAGE_MODEL, load_model


class FaceScorer:
    """A loaded binary face model with its decision threshold; scores crops through one compiled function."""

    def __init__(self, path: str | Path = DEFAULT_IMAGE_MODEL) -> None:
        self.keras_model, metadata = load_model(path)
        self.image_size = int(metadata.get("image_size", self.keras_model.input_shape[1]))
        self.threshold = float(metadata.get("threshold", 0.5))
        self.name = f"{metadata.get('architecture', self.keras_model.name)}@{Path(path).name}"
        self.metadata = metadata
        spec = tf.TensorSpec((None, self.image_size, self.image_size, 3), tf.float32)
        self._predict = tf.function(lambda x: self.keras_model(x, training=False), input_signature=[spec])

    def score(self, crops: list[np.ndarray]) -> np.ndarray:
        """Fake probability of each RGB crop (any size)."""
        if not crops:
            return np.zeros((0,), np.float32)
        batch = tf.stack([resize_faces(crop, self.image_size) for crop in crops])
        return self._predict(batch).numpy().reshape(-1)


class ImageDetector:
    """Find every face in a picture and call the picture by its most suspicious face."""

    def __init__(self, scorer: FaceScorer | None = None, faces: FaceDetector | None = None) -> None:
        self.scorer = scorer or FaceScorer()
        self.faces = faces or FaceDetector()

    def analyze(self, rgb: np.ndarray, path: str | None = None, faces_cropped: bool = False) -> Report:
        """Report for an RGB uint8 image; ``faces_cropped`` treats the whole image as one face crop."""
        height, width = rgb.shape[:2]
        found: list[tuple[tuple[int, int, int, int], float | None, np.ndarray]]
        if faces_cropped:
            found = [((0, 0, width, height), None, rgb)]
        else:
            found = [(face.box, face.score, crop_face(rgb, face.box)) for face in self.faces.detect(rgb)]
        report = Report(path=path, kind="image", verdict="no_face", model=self.scorer.name,
                        threshold=self.scorer.threshold)
        if not found:
            return report
        probabilities = self.scorer.score([crop for _, _, crop in found])
        report.faces = [ScoredFace(box, score, float(p), crop) for (box, score, crop), p in zip(found, probabilities)]
        report.fake_probability = float(probabilities.max())
        report.verdict = verdict_for(report.fake_probability, self.scorer.threshold)
        return report

    def analyze_file(self, path: str | Path, faces_cropped: bool = False) -> Report:
        """Read and analyse an image file; raises ``InputError`` for unreadable files."""
        return self.analyze(read_image(path), str(path), faces_cropped)
