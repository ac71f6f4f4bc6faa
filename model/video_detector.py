"""Score the faces of a video clip: sample frames, find their faces, link them into tracks, then score the main
track with the video model (a sequence of face crops) or with the image model frame by frame (averaged)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal, NamedTuple

import cv2
import keras
import numpy as np
import tensorflow as tf

from model.explain import GradCam, video_cam
from model.face_path import FaceCutter, SampledFrame, cap
from model.image_detector import FaceScorer
from model.imaging import InputError
from model.preprocessing import resize_faces
from model.provenance import read_provenance
from model.report import ClipSummary, Report, SampledFrameResult, ScoredFace, TrackResult, error_report
from model.store import DEFAULT_VIDEO_MODEL, load_served_model
from model.video import MAX_SECONDS, Clip, open_clip, spread
from model.views import AS_CUT

__all__ = ["DEFAULT_VIDEO_MODEL", "ModelChoice", "SequenceScore", "VideoDetector", "VideoModel"]

ModelChoice = Literal["video", "image"]  # what judges a clip: the video model, or the image model frame by frame
MAX_SCORED_TRACKS = 4
MIN_EVIDENCE_FRAMES = 3  # a main face seen in fewer sampled frames gives no confident clip verdict
STILL_PICTURE = ("only one frame could be decoded: this file holds a still picture (or a broken clip), not a "
                 "video; analyse pictures as images")


class SequenceScore(NamedTuple):
    """One face sequence scored by the video model: the clip's calibrated fake probability, and each crop's
    per-frame fake probability, calibrated (``frames``) and as the per-frame head gave it (``raw_frames``)."""

    probability: float
    frames: np.ndarray
    raw_frames: np.ndarray


class VideoModel:
    """A loaded video model: face sequences in, calibrated clip and per-frame fake probabilities out; the clip's
    from the BiLSTM or from the mean of the per-frame outputs, as its ``clip_score`` says."""

    def __init__(self, path: str | Path, network: keras.Model | None = None) -> None:
        """The video model at ``path``; ``network``: that file's network, already loaded (not loaded twice)."""
        self.keras_model, self.info = load_served_model(path, network)
        self.frames, self.image_size = (int(v) for v in self.keras_model.input_shape[1:3])
        self.thresholds, self.recipe, self.name = self.info.thresholds, self.info.face_recipe, self.info.name
        self.calibration, self.frame_calibration = self.info.calibration, self.info.frame_calibration
        spec = tf.TensorSpec((None, self.frames, self.image_size, self.image_size, 3), tf.float32)
        self._predict = tf.function(lambda x: self.keras_model(x, training=False), input_signature=[spec])
        # Tracing and optimising the graph takes seconds to tens of seconds: pay it here, not on the first clip.
        self._predict(tf.zeros((1, self.frames, self.image_size, self.image_size, 3)))
        self._cam: GradCam | None = None

    def score(self, sequences: list[list[np.ndarray]]) -> list[SequenceScore]:
        """Each sequence of RGB face crops scored: its calibrated clip probability and each crop's probability.

        A sequence shorter than the model's frame count is stretched by repeating crops evenly (never padded
        with blanks); a longer one is dealt into interleaved windows, each spread over the whole sequence, whose
        results are averaged.
        """
        windows = [(owner, members) for owner, crops in enumerate(sequences)
                   for members in self.windows(len(crops))]
        resized = [[resize_faces(cap(crop, self.recipe), self.image_size) for crop in crops] for crops in sequences]
        batch = tf.stack([tf.stack([resized[owner][i] for i in members]) for owner, members in windows])
        outputs = self._predict(batch)
        frames = outputs["frames"].numpy()[:, :, 0]
        video = self.calibration(outputs["video"].numpy()[:, 0] if self.info.clip_score == "sequence"
                                 else self.frame_calibration.frame_mean(frames))
        results = []
        for owner, crops in enumerate(sequences):
            rows = [row for row, (who, _) in enumerate(windows) if who == owner]
            sums, counts = np.zeros(len(crops)), np.zeros(len(crops))
            for row in rows:
                np.add.at(sums, windows[row][1], frames[row])
                np.add.at(counts, windows[row][1], 1)
            raw = sums / counts
            results.append(SequenceScore(float(video[rows].mean()), self.frame_calibration(raw), raw))
        return results

    def runs_the_image_model(self, scorer: FaceScorer) -> bool:
        """Whether this model's encoder and per-frame head are ``scorer``'s image model itself, scoring the face as
        cut alone: the same input size, the same weights in the same order (a video model trained on a frozen image
        model's backbone), no other view and no member. Then its raw per-frame outputs are the image model's, and the
        image-model score needs no second pass."""
        ours = (self.keras_model.get_layer("encoder").layer.get_weights()
                + self.keras_model.get_layer("frames").layer.get_weights())
        theirs = scorer.keras_model.get_weights()
        return (self.image_size == scorer.image_size and scorer.info.views == AS_CUT and not scorer.members
                and len(ours) == len(theirs)
                and all(a.shape == b.shape and np.array_equal(a, b) for a, b in zip(ours, theirs)))

    def windows(self, length: int) -> list[np.ndarray]:
        """The crop positions of each window the model sees for a sequence of ``length`` crops: one window,
        stretched by repeating crops evenly, or interleaved windows each spread over the whole sequence."""
        count = math.ceil(length / self.frames)
        return [members[spread(len(members), self.frames)]
                for members in (np.arange(start, length, count) for start in range(count))]

    def explain(self, crops: list[np.ndarray]) -> np.ndarray:
        """Grad-CAM heatmap (n, size, size) in [0, 1] of each crop of one sequence: where the frame pushed the
        clip's score towards fake (averaged over the windows a crop appears in)."""
        if self._cam is None:
            self._cam = video_cam(self.keras_model)
        resized = np.stack([resize_faces(cap(crop, self.recipe), self.image_size) for crop in crops])
        sums = np.zeros((len(crops), self.image_size, self.image_size), np.float32)
        counts = np.zeros(len(crops))
        for members in self.windows(len(crops)):
            np.add.at(sums, members, self._cam(resized[members]))
            np.add.at(counts, members, 1)
        return sums / counts[:, None, None]


def models_for(video_model_path: str | Path | None) -> list[str]:
    """The models a clip can be judged with, the default first: ``["video", "image"]`` when the video weights
    exist, else ``["image"]``. Known from the path alone, before the video model has loaded."""
    return ["video", "image"] if video_model_path is not None and Path(video_model_path).exists() else ["image"]


class VideoDetector:
    """Analyse clips with the image model (always) or the video model (when its weights exist), cutting faces with
    a cutter of the video model's face recipe (the image model's without one); ``frames``: frames sampled per clip
    (default: the recipe's)."""

    def __init__(self, image_scorer: FaceScorer, video_model_path: str | Path | None = DEFAULT_VIDEO_MODEL,
                 frames: int | None = None, max_seconds: float = MAX_SECONDS) -> None:
        self.image_scorer = image_scorer
        self.available_models = models_for(video_model_path)
        self.video_model = VideoModel(video_model_path) if "video" in self.available_models else None
        self.shares_encoder = self.video_model is not None and self.video_model.runs_the_image_model(image_scorer)
        self.cutter = FaceCutter(self.video_model.recipe if self.video_model is not None else image_scorer.recipe)
        self.frames, self.max_seconds = frames or self.cutter.recipe.frames, max_seconds

    def analyze_file(self, path: str | Path, model: ModelChoice = "video", explain: bool = False) -> Report:
        """Report on one clip; unreadable clips and unavailable models give an error report, never an exception.
        ``explain`` adds the heatmap of the main face in every sampled frame, from the model that judged the clip."""
        if model not in ("video", "image"):
            return error_report(str(path), "video", f"unknown model {model!r}: choose video or image")
        if model not in self.available_models:
            return error_report(str(path), "video", "video model not available")
        try:
            clip = open_clip(path, self.max_seconds)
            sampled = self.cutter.sample(clip, self.frames)
        except InputError as error:
            return error_report(str(path), "video", str(error))
        except cv2.error:
            return error_report(str(path), "video", "the video could not be decoded")
        if len(sampled) < 2 and self.frames > 1:
            return error_report(str(path), "video", STILL_PICTURE)
        report = self.report(str(path), clip, sampled, model, explain)
        report.provenance = read_provenance(path).to_json()
        return report

    def report(self, path: str, clip: Clip, sampled: list[SampledFrame], model: ModelChoice, explain: bool = False
               ) -> Report:
        """The clip's report: the main track scored with ``model``, every sampled frame and every track listed;
        the main track's faces in frame order, with their heatmaps when ``explain``."""
        tracks = self.cutter.tracks(sampled)
        crops = [[sampled[frame].crops[face] for frame, face in track.members] for track in tracks[:MAX_SCORED_TRACKS]]
        results, scores = self._score(crops, model)
        main = dict(sorted((frame, (face, float(p))) for (frame, face), p in zip(tracks[0].members, results[0][1]))
                    ) if tracks else {}
        judge = self._judge(model)
        summary = ClipSummary(
            model=model, truncated=clip.truncated,
            frames=[_frame_result(frame, main.get(position)) for position, frame in enumerate(sampled)],
            tracks=[TrackResult(track.id, [sampled[frame].index for frame in track.frames],
                                float(np.mean(results[i][1])) if i < len(results) else None)
                    for i, track in enumerate(tracks)],
            scores=scores, score_verdicts={name: self._judge(name).thresholds.verdict(value)
                                           for name, value in scores.items()})
        report = Report(path=path, kind="video", model=judge.name, thresholds=judge.thresholds, clip=summary)
        if tracks:
            main_crops = [sampled[frame].crops[face] for frame, (face, _) in main.items()]
            heatmaps = (judge.explain(main_crops) if explain else [None] * len(main_crops))
            report.faces = [ScoredFace(sampled[frame].faces[face].box, sampled[frame].faces[face].score, p, crop,
                                       self.image_scorer.flags(crop), heatmap)
                            for (frame, (face, p)), crop, heatmap in zip(main.items(), main_crops, heatmaps)]
            report.fake_probability = results[0][0]
            if len(main) < MIN_EVIDENCE_FRAMES:
                summary.flags.append("few_frames")
        return report

    def _judge(self, model: ModelChoice) -> VideoModel | FaceScorer:
        """The scorer behind a model choice (its name and thresholds)."""
        return self.video_model if model == "video" else self.image_scorer

    def _score(self, crops: list[list[np.ndarray]], model: ModelChoice
               ) -> tuple[list[tuple[float, np.ndarray]], dict[str, float]]:
        """Each track's fake probability and its faces' with ``model``; plus the main track's probability under
        every model that ran (the image model always scores it: the baseline the video model has to beat). When
        the video model runs the image model's own weights per frame, its raw per-frame outputs are that score."""
        if not crops:
            return [], {}
        if model == "image":
            image = [(float(np.mean(p)), p) for p in self._image_scores(crops)]
            return image, {"image": image[0][0]}
        scored = self.video_model.score(crops)
        baseline = (self.image_scorer.calibration(scored[0].raw_frames) if self.shares_encoder
                    else self._image_scores(crops[:1])[0])
        video = [(score.probability, score.frames) for score in scored]
        return video, {"image": float(np.mean(baseline)), "video": video[0][0]}

    def _image_scores(self, sequences: list[list[np.ndarray]]) -> list[np.ndarray]:
        """The image model's probability for every crop of each sequence, in one batch."""
        probabilities = self.image_scorer.score([crop for crops in sequences for crop in crops])
        bounds = np.cumsum([0] + [len(crops) for crops in sequences])
        return [probabilities[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def _frame_result(frame: SampledFrame, main_face: tuple[int, float] | None) -> SampledFrameResult:
    """One sampled frame for the report: the main face's box and probability, or none when it was not found."""
    if main_face is None:
        return SampledFrameResult(frame.index, frame.time_s, len(frame.faces))
    return SampledFrameResult(frame.index, frame.time_s, len(frame.faces), frame.faces[main_face[0]].box,
                              main_face[1])
