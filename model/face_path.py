"""The face path serving and training share: faces found and cut from pictures and from video frames by a face
recipe. ``ImageDetector``, ``VideoDetector``, the training face cache (``train.domains``) and
``train.extract_faces`` all call these, so that training sees faces exactly as serving cuts them."""

from __future__ import annotations

import cv2
import numpy as np

from model.face_recipe import FACE_RECIPE, FaceRecipe
from model.faces import Face, FaceDetector
from model.preprocessing import crop_face

DETECTION_BATCH = 10  # frames held at full resolution at once, their faces found in one detector call
MAX_FACES_PER_FRAME = 5


def face_detector(recipe: FaceRecipe = FACE_RECIPE) -> FaceDetector:
    """MTCNN at the recipe's picture detection side and minimum confidence."""
    return FaceDetector(recipe.detection_side, recipe.min_confidence)


def cap(crop: np.ndarray, recipe: FaceRecipe = FACE_RECIPE) -> np.ndarray:
    """A square crop shrunk (area averaging) to ``recipe.crop_ceiling`` when larger; as it is otherwise."""
    ceiling = recipe.crop_ceiling
    if ceiling and crop.shape[0] > ceiling:
        return cv2.resize(crop, (ceiling, ceiling), interpolation=cv2.INTER_AREA)
    return crop


def cut(rgb: np.ndarray, box: tuple[int, int, int, int], recipe: FaceRecipe = FACE_RECIPE,
        margin_scale: float = 1.0) -> np.ndarray:
    """The square crop of one face box as the recipe cuts it, ``recipe.margin`` (times ``margin_scale``) around the
    box, in the picture's pixels (reports and galleries show it so); the model sees it ``cap``ped."""
    return crop_face(rgb, box, recipe.margin * margin_scale)


def cut_faces(detector: FaceDetector, rgb: np.ndarray, recipe: FaceRecipe = FACE_RECIPE
              ) -> list[tuple[Face, np.ndarray]]:
    """Every face of an RGB picture, largest first, with its crop (``cut``)."""
    return [(face, cut(rgb, face.box, recipe)) for face in detector.detect(rgb)]


def find_frame_faces(detector: FaceDetector, frames: list[np.ndarray],
                     side: int = FACE_RECIPE.frame_detection_side) -> list[list[Face]]:
    """The faces of video frames: ``DETECTION_BATCH`` frames per detector call at ``side`` pixels (frames without
    a face searched again at the detector's own side), largest face first, at most ``MAX_FACES_PER_FRAME``."""
    found: list[list[Face]] = []
    for start in range(0, len(frames), DETECTION_BATCH):
        found += [faces[:MAX_FACES_PER_FRAME]
                  for faces in detector.detect_fast(frames[start:start + DETECTION_BATCH], side)]
    return found


def cut_frame_faces(detector: FaceDetector, frames: list[np.ndarray], recipe: FaceRecipe = FACE_RECIPE,
                    side: int | None = None) -> list[list[tuple[Face, np.ndarray]]]:
    """``find_frame_faces`` with each face's crop (``cut``; copied: the frames need not be kept)."""
    found = find_frame_faces(detector, frames, side or recipe.frame_detection_side)
    return [[(face, cut(frame, face.box, recipe).copy()) for face in faces]
            for frame, faces in zip(frames, found)]
