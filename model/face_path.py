"""The one face cutter of serving and training: ``FaceCutter(recipe)`` finds the faces of a picture or of a clip's
sampled frames, follows a clip's faces over its frames and cuts their crops, all by one face recipe.
``ImageDetector`` and ``VideoDetector`` cut faces with a cutter of their model's recipe, the training face cache
(``train.domains.FaceCropper``) and ``train.extract_faces`` with one of the recipe they train with, so that
training sees faces exactly as serving cuts them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np

from model.face_recipe import FaceRecipe
from model.faces import Face, FaceDetector
from model.preprocessing import crop_face, square_box
from model.tracks import Box, Track, link_tracks
from model.video import Clip, Frame, spread

DETECTION_BATCH = 10  # frames held at full resolution at once, their faces found in one detector call
MAX_FACES_PER_FRAME = 5


def cap(crop: np.ndarray, recipe: FaceRecipe) -> np.ndarray:
    """A square crop shrunk (area averaging) to ``recipe.crop_ceiling`` when larger; as it is otherwise."""
    ceiling = recipe.crop_ceiling
    if ceiling and crop.shape[0] > ceiling:
        return cv2.resize(crop, (ceiling, ceiling), interpolation=cv2.INTER_AREA)
    return crop


def cut(rgb: np.ndarray, box: Box, recipe: FaceRecipe, margin_scale: float = 1.0) -> np.ndarray:
    """The square crop of one face box as the recipe cuts it, ``recipe.margin`` (times ``margin_scale``) around the
    box, in the picture's pixels (reports and galleries show it so); the model sees it ``cap``ped."""
    return crop_face(rgb, box, recipe.margin * margin_scale)


@dataclass
class SampledFrame:
    """A sampled frame's faces (largest first) and their crops; the frame's pixels themselves are not kept."""

    index: int
    time_s: float
    faces: list[Face]
    crops: list[np.ndarray]


class FaceCutter:
    """Finds and cuts faces by ``recipe``: pictures searched at its ``detection_side``, video frames at its
    ``frame_detection_side`` (then at ``detection_side`` where none was found), faces kept from its
    ``min_confidence``, ``recipe.frames`` frames sampled per clip, crops cut with its margin and capped at its
    ceiling. Every cutter shares the process's one set of MTCNN networks."""

    def __init__(self, recipe: FaceRecipe) -> None:
        self.recipe = recipe
        self.detector = FaceDetector(recipe.detection_side, recipe.min_confidence)

    def faces(self, rgb: np.ndarray) -> list[tuple[Face, np.ndarray]]:
        """Every face of an RGB picture, largest first, with its crop (``cut``)."""
        return [(face, self.cut(rgb, face.box)) for face in self.detector.detect(rgb)]

    def cut(self, rgb: np.ndarray, box: Box) -> np.ndarray:
        """The uncapped crop of one face box (``cut``)."""
        return cut(rgb, box, self.recipe)

    def square(self, box: Box, shape: tuple[int, ...]) -> Box:
        """Where ``cut`` takes a box's crop from a picture of ``shape``: (left, top, side, side)."""
        return square_box(box, shape, self.recipe.margin)

    def cap(self, crop: np.ndarray) -> np.ndarray:
        """A crop as a model of this recipe takes it (``cap``)."""
        return cap(crop, self.recipe)

    def sample(self, clip: Clip, frames: int | None = None) -> list[SampledFrame]:
        """A clip's sampled frames with their faces and crops: ``frames`` (default: the recipe's) spread over the
        clip, decoded ``DETECTION_BATCH`` at a time so that memory never grows with the clip."""
        return self.cut_frames(clip.frames_at(self.sampled_indices(clip.frame_count, frames)))

    def sampled_indices(self, frame_count: int, frames: int | None = None) -> np.ndarray:
        """The frames ``sample`` takes from a clip of ``frame_count`` frames, in order, each once."""
        return np.unique(spread(frame_count, frames or self.recipe.frames))

    def cut_frames(self, frames: Iterable[Frame]) -> list[SampledFrame]:
        """The faces of video frames, largest first and at most ``MAX_FACES_PER_FRAME``, with their crops (copied:
        the frames need not be kept); ``DETECTION_BATCH`` frames per detector call."""
        sampled: list[SampledFrame] = []
        batch: list[Frame] = []
        for frame in frames:
            batch.append(frame)
            if len(batch) == DETECTION_BATCH:
                sampled += self._cut_batch(batch)
                batch = []
        return sampled + self._cut_batch(batch)

    def _cut_batch(self, batch: list[Frame]) -> list[SampledFrame]:
        """The faces of a few frames, found in one detector call, and their crops."""
        found = self.detector.detect_fast([frame.rgb for frame in batch], self.recipe.frame_detection_side)
        kept = [faces[:MAX_FACES_PER_FRAME] for faces in found]
        return [SampledFrame(frame.index, frame.time_s, faces, [self.cut(frame.rgb, face.box).copy() for face in faces])
                for frame, faces in zip(batch, kept)]

    @staticmethod
    def tracks(sampled: list[SampledFrame]) -> list[Track]:
        """The faces of sampled frames linked into tracks (``model.tracks``), the main track first."""
        return link_tracks([[face.box for face in frame.faces] for frame in sampled])

    def main_face(self, sampled: list[SampledFrame]) -> dict[int, np.ndarray]:
        """Frame index -> crop of the main track's face, for the frames where it was found (empty without faces)."""
        tracks = self.tracks(sampled)
        return {sampled[frame].index: sampled[frame].crops[face] for frame, face in tracks[0].members} if tracks else {}
