"""Turn a Real/Fake folder of videos into cached face sequences for the video model (resumable).

    python -m train.extract_faces --data ../shared/data/videos --out cache/video-faces-128 --image-size 128

Each clip becomes ``OUT/<Split>/<Real|Fake>/<name>.npz`` holding uint8 face crops of the clip's main face,
cut and resized exactly as serving does (``model.video_detector``): the ``--frames`` frames spread over the clip
that serving samples, plus ``--extra-frames`` more spread frames that training uses for order-preserving
resampling. Existing files
are kept, so an interrupted run resumes where it stopped; unreadable clips and clips without a face are skipped
with a log line.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from model.architectures import VIDEO_FRAMES, VIDEO_IMAGE_SIZE
from model.face_recipe import FACE_RECIPE, FaceRecipe
from model.face_path import cap, cut, face_detector, find_frame_faces
from model.faces import FaceDetector
from model.imaging import InputError
from model.preprocessing import resize_faces
from model.tracks import link_tracks
from model.video import VIDEO_EXTENSIONS, open_clip, spread
from train.data import load_splits

EXTRA_FRAMES = 12


class ClipError(ValueError):
    """A clip cannot be turned into a face sequence; the message says why."""


@dataclass
class FaceSequence:
    """The main face of one clip: crops (N, S, S, 3) uint8 of frames ``indices``; ``serving`` marks the crops that
    serving would score (its sampled frames where its main track has the face), the others are extra frames of
    the main track for training-time resampling."""

    faces: np.ndarray
    indices: np.ndarray
    serving: np.ndarray
    frame_count: int

    def save(self, path: Path, label: int) -> None:
        """Write atomically, so that an interrupted run never leaves a half-written file behind."""
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        with partial.open("wb") as handle:
            np.savez_compressed(handle, faces=self.faces, indices=self.indices, serving=self.serving,
                                frame_count=self.frame_count, label=label, face_recipe=FACE_RECIPE.key())
        os.replace(partial, path)


def _detect(detector: FaceDetector, frames: dict[int, np.ndarray], indices: list[int], side: int
            ) -> dict[int, list]:
    """Faces of the given frames, found as ``VideoDetector`` finds them (``model.face_path``)."""
    return dict(zip(indices, find_frame_faces(detector, [frames[i] for i in indices], side)))


def _main_track(indices: list[int], faces: dict[int, list]) -> dict[int, tuple[int, int, int, int]]:
    """Frame index -> box of the main track (``model.tracks``) over ``indices``."""
    tracks = link_tracks([[face.box for face in faces[i]] for i in indices])
    if not tracks:
        return {}
    return {indices[frame]: faces[indices[frame]][face].box for frame, face in tracks[0].members}


def extract_clip(path: str | Path, detector: FaceDetector, frames: int = VIDEO_FRAMES,
                 extra_frames: int = EXTRA_FRAMES, image_size: int = VIDEO_IMAGE_SIZE,
                 recipe: FaceRecipe = FACE_RECIPE) -> FaceSequence:
    """The main face sequence of one clip, cut as ``model.video_detector`` cuts it: its sampled frames
    (``model.video.spread``), faces by ``FaceDetector.detect_many``, main track by ``model.tracks``, then
    ``model.face_path.cut`` and ``cap`` by ``recipe`` (a model's own, when evaluating it) and ``resize_faces``.
    Extra frames follow the main track linked over all frames. Raises ``ClipError`` for unreadable clips and clips
    where serving would find no face."""
    try:
        clip = open_clip(path)
    except InputError as error:
        raise ClipError(str(error)) from None
    serving_wanted = np.unique(spread(clip.frame_count, frames))
    wanted = np.union1d(serving_wanted, spread(clip.frame_count, frames + extra_frames)) if extra_frames \
        else serving_wanted
    try:
        decoded = {frame.index: frame.rgb for frame in clip.frames_at(wanted)}
    except InputError as error:
        raise ClipError(str(error)) from None
    served = [int(i) for i in serving_wanted if int(i) in decoded]
    extra = [i for i in sorted(decoded) if i not in set(served)]
    side = recipe.frame_detection_side
    faces = {**_detect(detector, decoded, served, side), **_detect(detector, decoded, extra, side)}
    boxes = _main_track(served, faces)
    if not boxes:
        raise ClipError("no face found")
    serving = set(boxes)
    if extra:  # training-only frames: the main track linked over every decoded frame
        dense = _main_track(sorted(decoded), faces)
        boxes.update({i: box for i, box in dense.items() if i not in serving})
    indices = sorted(boxes)
    crops = [resize_faces(cap(cut(decoded[i], boxes[i], recipe), recipe), image_size).numpy().astype(np.uint8)
             for i in indices]
    return FaceSequence(faces=np.stack(crops), indices=np.array(indices), serving=np.isin(indices, list(serving)),
                        frame_count=clip.frame_count)


def is_current(path: Path, image_size: int) -> bool:
    """Whether a cached sequence was cut by today's face recipe at ``image_size`` (else it is rebuilt)."""
    try:
        with np.load(path) as stored:
            recipe = str(stored["face_recipe"]) if "face_recipe" in stored else None
            return recipe == FACE_RECIPE.key() and stored["faces"].shape[1] == image_size
    except (OSError, ValueError, KeyError):
        return False


def cache_path(out: Path, data_root: Path, video: Path) -> Path:
    """Where a clip's sequence is cached: its path below the data folder, with ``.npz``."""
    return (out / video.relative_to(data_root)).with_suffix(".npz")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.extract_faces", description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="folder with Train/Validation/Test, each with Real/ and Fake/ "
                        "videos (or one Real/+Fake/ folder)")
    parser.add_argument("--out", required=True, help="cache folder (same layout, one .npz per clip)")
    parser.add_argument("--frames", type=int, default=VIDEO_FRAMES, help="frames the video model sees per clip")
    parser.add_argument("--extra-frames", type=int, default=EXTRA_FRAMES,
                        help="additional spread frames kept for training-time resampling")
    parser.add_argument("--image-size", type=int, default=VIDEO_IMAGE_SIZE)
    parser.add_argument("--limit-per-class", type=int, default=None)
    args = parser.parse_args(argv)

    from tqdm import tqdm

    data_root, out = Path(args.data), Path(args.out)
    try:
        splits = load_splits(data_root, val_split=0.2, extensions=VIDEO_EXTENSIONS,
                             limit_per_class=args.limit_per_class)
    except (FileNotFoundError, ValueError) as error:
        parser.error(str(error))
    jobs = sorted({(Path(p), y) for split in splits.values() for p, y in zip(split.paths, split.labels)})
    detector = face_detector()
    done = skipped = kept = stale = 0
    progress = tqdm(jobs, desc="clips", unit="clip", file=sys.stderr)
    for video, label in progress:
        target = cache_path(out, data_root, video)
        if target.exists():
            if is_current(target, args.image_size):
                kept += 1
                continue
            stale += 1
        try:
            sequence = extract_clip(video, detector, args.frames, args.extra_frames, args.image_size)
        except (ClipError, cv2.error) as error:
            skipped += 1
            progress.write(f"skipped {video}: {error}", file=sys.stderr)
            continue
        sequence.save(target, label)
        done += 1
    print(f"{done} clips extracted, {kept} already cached, {skipped} skipped -> {out}"
          + (f" ({stale} cached sequences were cut by another face recipe or size: cut again)" if stale else ""),
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
