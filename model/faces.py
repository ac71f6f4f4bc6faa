"""Face finding with MTCNN: downscale large frames first, return boxes in original pixels with confidences."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import cv2
import numpy as np

MIN_IMAGE_SIDE = 24
MAX_ASPECT = 3.0  # longer, thinner pictures are searched in overlapping tiles (else faces shrink to nothing)
SAME_FACE_IOU = 0.5  # two tiles' boxes overlapping this much are one face


@dataclass(frozen=True)
class Face:
    """One detected face: ``box`` is (x, y, width, height) in the original image's pixels; ``landmarks`` MTCNN's
    five points (eyes, nose, mouth corners) as (x, y) in the same pixels."""

    box: tuple[int, int, int, int]
    score: float
    landmarks: tuple[tuple[float, float], ...] = ()


# MTCNN's networks by name: their input side (P-Net is fully convolutional: any picture size) and weights file.
STAGE_NETWORKS = {"p_net": (None, "pnet.lz4"), "r_net": (24, "rnet.lz4"), "o_net": (48, "onet.lz4")}
STAGE_SHAPES_KEPT = 16  # input shapes each keeps an interpreter for: a picture's pyramid levels, a clip's too


@cache
def _shared_mtcnn():
    """The process's one MTCNN, built on first use (so importing stays cheap) and shared by every detector, with
    its three networks run by TensorFlow Lite (``_fast_stage_network``), not layer by layer. Its stages get the
    picture batch as one tensor (``_TensorBatch``)."""
    from mtcnn import MTCNN

    mtcnn = MTCNN(stages="face_and_landmarks_detection")
    for stage in mtcnn.stages:
        stage._model = _fast_stage_network(stage.model)  # mtcnn calls stage._model per pyramid level and batch
    batch = _TensorBatch()
    mtcnn._stages = [_OnTensorBatch(stage, batch) for stage in mtcnn.stages]
    return mtcnn


def _fast_stage_network(network):
    """An MTCNN network run by TensorFlow Lite's kernels (``model.tflite``, converted once and cached): the same
    outputs within float rounding (about 1e-6), so the same boxes, confidences and landmarks, in about half the
    time; its outputs as tensors, as the library reads them."""
    import keras
    import mtcnn
    import tensorflow as tf

    from model.tflite import fast_outputs

    side, weights = STAGE_NETWORKS[network.name]
    inputs = keras.Input((side, side, 3))
    weights_file = Path(mtcnn.__file__).parent / "assets" / "weights" / weights
    run = fast_outputs(keras.Model(inputs, network(inputs), name=network.name),
                       weights_file if weights_file.is_file() else None, STAGE_SHAPES_KEPT)
    return lambda images: [tf.convert_to_tensor(output) for output in run(images)]


class _TensorBatch:
    """The normalised picture batch MTCNN hands its stages, as a tensor of the same dtype and values, converted
    once per batch: the library passes a NumPy array, which each pyramid level's resize and each stage's crops
    convert again (eleven copies of a 480-px picture's 4 MB). The same values in the same ops: the same boxes,
    about 7 ms sooner."""

    def __init__(self) -> None:
        self._last: tuple[object, object] = (None, None)

    def __call__(self, images):
        import tensorflow as tf

        last = self._last  # read once: threads detecting at the same time each return their own batch's tensor
        if last[0] is not images:
            last = self._last = (images, tf.convert_to_tensor(images))
        return last[1]


class _OnTensorBatch:
    """An MTCNN stage called with the batch as ``_TensorBatch``'s tensor; everything else passes through."""

    def __init__(self, stage, batch: _TensorBatch) -> None:
        self._stage, self._batch = stage, batch

    def __getattr__(self, name: str):
        return getattr(self._stage, name)

    def __call__(self, images_normalized, **kwargs):
        return self._stage(images_normalized=self._batch(images_normalized), **kwargs)


class FaceDetector:
    """MTCNN searching pictures at most ``detection_side`` pixels on their long side and keeping faces from
    ``min_confidence``; every detector runs the process's one set of networks."""

    def __init__(self, detection_side: int, min_confidence: float) -> None:
        self.detection_side = detection_side
        self.min_confidence = min_confidence

    @property
    def _mtcnn(self):
        return _shared_mtcnn()

    def detect(self, rgb: np.ndarray) -> list[Face]:
        """Every face in an RGB uint8 image, largest first. A picture more than ``MAX_ASPECT`` times longer than
        wide (or wider than tall) is searched in overlapping tiles twice as long as wide, so that its faces are
        not shrunk with its long side (a 512×20000 strip would leave a face 12 pixels wide)."""
        height, width = rgb.shape[:2]
        if max(height, width) <= MAX_ASPECT * min(height, width):
            return self.detect_many([rgb])[0]
        tall = height > width
        short, long = min(height, width), max(height, width)
        starts = sorted({*range(0, long - 2 * short, short), long - 2 * short})
        tiles = [rgb[start:start + 2 * short] if tall else rgb[:, start:start + 2 * short] for start in starts]
        found = [_shifted(face, start, tall) for start, faces in zip(starts, self.detect_many(tiles))
                 for face in faces]
        kept: list[Face] = []
        for face in sorted(found, key=lambda face: face.score, reverse=True):
            if all(_iou(face.box, other.box) < SAME_FACE_IOU for other in kept):
                kept.append(face)
        return sorted(kept, key=lambda face: face.box[2] * face.box[3], reverse=True)

    def detect_fast(self, frames: list[np.ndarray], fast_side: int) -> list[list[Face]]:
        """Faces of video frames found at ``fast_side`` (quick); frames where none was found are searched again at
        the detector's own, larger side, which finds smaller faces. Serving and training cut faces this way."""
        found = self.detect_many(frames, fast_side)
        missed = [i for i, faces in enumerate(found) if not faces]
        if missed and self.detection_side > fast_side:
            for i, faces in zip(missed, self.detect_many([frames[i] for i in missed])):
                found[i] = faces
        return found

    def detect_many(self, frames: list[np.ndarray], detection_side: int | None = None) -> list[list[Face]]:
        """Faces in each of a batch of same-sized RGB frames (video frames), found in one MTCNN call, largest first.

        Frames are scaled so that their long side is ``detection_side`` (default: the detector's), small frames
        enlarged too, so that clips already cropped to the face are found.
        """
        if not frames:
            return []
        height, width = frames[0].shape[:2]
        if min(height, width) < MIN_IMAGE_SIDE:
            return [[] for _ in frames]
        scale = (detection_side or self.detection_side) / max(height, width)
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        interpolation = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
        found = self._mtcnn.detect_faces([np.ascontiguousarray(cv2.resize(frame, size, interpolation=interpolation))
                                          for frame in frames])
        return [sorted((Face(box=_to_original(result["box"], scale, width, height), score=float(result["confidence"]),
                             landmarks=_landmarks(result, scale))
                        for result in results if result["confidence"] >= self.min_confidence),
                       key=lambda face: face.box[2] * face.box[3], reverse=True)
                for results in found]


def _shifted(face: Face, offset: int, down: bool) -> Face:
    """A tile's face moved ``offset`` pixels down (or right) into the whole picture's pixels."""
    dx, dy = (0, offset) if down else (offset, 0)
    x, y, w, h = face.box
    return Face((x + dx, y + dy, w, h), face.score, tuple((px + dx, py + dy) for px, py in face.landmarks))


def _iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """Intersection over union of two (x, y, width, height) boxes."""
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    inter = max(0, w) * max(0, h)
    return inter / float(a[2] * a[3] + b[2] * b[3] - inter)


LANDMARKS = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")


def _landmarks(result: dict, scale: float) -> tuple[tuple[float, float], ...]:
    """MTCNN's five points in original pixels (none when it gave none)."""
    points = result.get("keypoints") or {}
    if not all(name in points for name in LANDMARKS):
        return ()
    return tuple((float(points[name][0]) / scale, float(points[name][1]) / scale) for name in LANDMARKS)


def _to_original(box: list[float], scale: float, width: int, height: int) -> tuple[int, int, int, int]:
    """Map a detection box back to original pixels, clipped to the image."""
    x, y, w, h = (float(v) / scale for v in box)
    x0, y0 = max(0, int(round(x))), max(0, int(round(y)))
    x1, y1 = min(width, int(round(x + w))), min(height, int(round(y + h)))
    return x0, y0, max(1, x1 - x0), max(1, y1 - y0)
