"""Score faces in still images with the image model: load once, detect, crop, batch, calibrate, decide."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from model.calibration import mean_logit
from model.explain import GradCam, image_cam
from model.face_path import FaceCutter, cap
from model.imaging import damage, decode_image, jpeg_quality, read_bytes
from model.preprocessing import resize_faces
from model.provenance import read_provenance
from model.report import Report, ScoredFace
from model.store import DEFAULT_IMAGE_MODEL, load_served_model
from model.tflite import fast_network
from model.views import mean_over_views


class FaceScorer:
    """A loaded binary face model with its calibration and verdict thresholds; scores crops as the mean over the
    model's views (``model.views``) through TensorFlow Lite's kernels (``model.tflite``), averaged with its member
    networks' scores where its record names members (``ModelInfo.members``: each caps the face at its own crop
    ceiling and takes its own views), and says which faces are too small or too compressed for the model's
    measured reliability."""

    def __init__(self, path: str | Path = DEFAULT_IMAGE_MODEL, network: keras.Model | None = None) -> None:
        """The model at ``path``; ``network``: that file's network, already loaded (not loaded twice)."""
        self.keras_model, self.info = load_served_model(path, network)
        self.image_size = self.info.image_size
        self.calibration, self.thresholds, self.recipe = self.info.calibration, self.info.thresholds, self.info.face_recipe
        self.name = self.info.name
        self._network = fast_network(self.keras_model, path)
        self._cam: GradCam | None = None
        self.members = [FaceScorer(member) for member in self.info.member_paths]
        for member in self.members:
            self.info.check_member(member.info)

    def score(self, crops: list[np.ndarray]) -> np.ndarray:
        """Calibrated fake probability of each RGB crop (any size, uncapped)."""
        if not crops:
            return np.zeros((0,), np.float32)
        return self.calibration(mean_logit([self.raw(crops)] + [member.raw(crops) for member in self.members]))

    def raw(self, crops: list[np.ndarray]) -> np.ndarray:
        """This network's own raw fake probability of each crop, the mean over its views (no members, no
        calibration)."""
        return mean_over_views(self._network, self._batch(crops), self.info.views)

    def explain(self, crops: list[np.ndarray]) -> np.ndarray:
        """Grad-CAM heatmap (n, size, size) in [0, 1] of each RGB crop: red where the face pushed the score towards
        fake. Calibration is monotonic, so it changes nothing here; where the model has members, the heatmap is its
        own network's."""
        if not crops:
            return np.zeros((0, self.image_size, self.image_size), np.float32)
        if self._cam is None:
            self._cam = image_cam(self.keras_model)
        return self._cam(self._batch(crops))

    def _batch(self, crops: list[np.ndarray]) -> tf.Tensor:
        """Crops as the model was trained on them: capped at its recipe's ceiling (crops that a video model's
        recipe cut too), resized to its input."""
        return tf.stack([resize_faces(cap(crop, self.recipe), self.image_size) for crop in crops])

    def flags(self, crop: np.ndarray, quality: int | None = None) -> list[str]:
        """``small`` when the face is smaller than the model reads reliably, ``compressed`` when the file's JPEG
        quality is below it (limits measured in the model card's robustness table)."""
        flags, limits = [], self.info.reliable_input
        if min(crop.shape[:2]) < limits.min_face_px:
            flags.append("small")
        if quality is not None and quality < limits.min_jpeg_quality:
            flags.append("compressed")
        return flags


class ImageDetector:
    """Find every face in a picture and call the picture by its most suspicious face, cutting faces with a cutter
    of the face recipe the model was trained with."""

    def __init__(self, scorer: FaceScorer | None = None) -> None:
        self.scorer = scorer or FaceScorer()
        self.cutter = FaceCutter(self.scorer.recipe)

    def analyze(self, rgb: np.ndarray, path: str | None = None, faces_cropped: bool = False,
                explain: bool = False) -> Report:
        """Report for an RGB uint8 image (read from ``path``, whose JPEG quality is checked, when given);
        ``faces_cropped`` treats the whole image as one face crop; ``explain`` adds each face's heatmap. What the
        file says about its origin (Content Credentials, generator metadata) goes to ``provenance``, beside the
        score, never into it."""
        height, width = rgb.shape[:2]
        found: list[tuple[tuple[int, int, int, int], float | None, np.ndarray]]
        if faces_cropped:
            found = [((0, 0, width, height), None, rgb)]
        else:
            found = [(face.box, face.score, crop) for face, crop in self.cutter.faces(rgb)]
        report = Report(path=path, kind="image", model=self.scorer.name, thresholds=self.scorer.thresholds)
        if found:
            report.jpeg_quality = jpeg_quality(path) if path else None
            crops = [crop for _, _, crop in found]
            probabilities = self.scorer.score(crops)
            heatmaps = self.scorer.explain(crops) if explain else [None] * len(crops)
            report.faces = [ScoredFace(box, score, float(p), crop, self.scorer.flags(crop, report.jpeg_quality),
                                       heatmap)
                            for (box, score, crop), p, heatmap in zip(found, probabilities, heatmaps)]
            report.fake_probability = float(probabilities.max())
        if path:
            report.provenance = read_provenance(path).to_json()
        return report

    def analyze_file(self, path: str | Path, faces_cropped: bool = False, explain: bool = False) -> Report:
        """Read and analyse an image file; raises ``InputError`` for unreadable files. A damaged file that still
        decodes is analysed and held at ``uncertain`` (``Report.damaged`` says why)."""
        data = read_bytes(path)
        report = self.analyze(decode_image(data), str(path), faces_cropped, explain)
        report.damaged = damage(data)
        return report
