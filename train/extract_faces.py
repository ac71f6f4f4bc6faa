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

from model.architectures import VIDEO_IMAGE_SIZE
from model.face_path import FaceCutter
from model.face_recipe import FaceRecipe
from model.imaging import InputError
from model.preprocessing import resize_faces
from model.video import VIDEO_EXTENSIONS, open_clip, spread
from train.data import load_splits, stored_recipe
from train.flags import add_crop_ceiling_flag

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
    recipe: FaceRecipe

    def save(self, path: Path, label: int) -> None:
        """Write atomically, so that an interrupted run never leaves a half-written file behind."""
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        with partial.open("wb") as handle:
            np.savez_compressed(handle, faces=self.faces, indices=self.indices, serving=self.serving,
                                frame_count=self.frame_count, label=label, face_recipe=self.recipe.key())
        os.replace(partial, path)


def extract_clip(path: str | Path, cutter: FaceCutter, frames: int | None = None,
                 extra_frames: int = EXTRA_FRAMES, image_size: int = VIDEO_IMAGE_SIZE) -> FaceSequence:
    """The main face sequence of one clip, cut by ``cutter`` as ``model.video_detector`` cuts it: the frames it
    samples (``frames``, default: its recipe's), their faces and crops, the main track, then its ``cap`` and
    ``resize_faces``. Extra frames follow the main track linked over all frames. Raises ``ClipError`` for
    unreadable clips and clips where serving would find no face."""
    frames = frames or cutter.recipe.frames
    try:
        clip = open_clip(path)
        serving_wanted = cutter.sampled_indices(clip.frame_count, frames)
        wanted = np.union1d(serving_wanted, spread(clip.frame_count, frames + extra_frames)) if extra_frames \
            else serving_wanted
        decoded = list(clip.frames_at(wanted))
    except InputError as error:
        raise ClipError(str(error)) from None
    serving_set = set(serving_wanted.tolist())
    served = cutter.cut_frames(frame for frame in decoded if frame.index in serving_set)
    extra = cutter.cut_frames(frame for frame in decoded if frame.index not in serving_set)
    crops = cutter.main_face(served)
    if not crops:
        raise ClipError("no face found")
    serving = set(crops)
    if extra:  # training-only frames: the main track linked over every decoded frame
        dense = cutter.main_face(sorted(served + extra, key=lambda frame: frame.index))
        crops.update({i: crop for i, crop in dense.items() if i not in serving})
    indices = sorted(crops)
    faces = [resize_faces(cutter.cap(crops[i]), image_size).numpy().astype(np.uint8) for i in indices]
    return FaceSequence(faces=np.stack(faces), indices=np.array(indices), serving=np.isin(indices, list(serving)),
                        frame_count=clip.frame_count, recipe=cutter.recipe)


def is_current(path: Path, image_size: int, recipe: FaceRecipe) -> bool:
    """Whether a cached sequence was cut by ``recipe`` at ``image_size`` (else it is rebuilt)."""
    try:
        with np.load(path) as stored:
            return stored_recipe(stored) == recipe.key() and stored["faces"].shape[1] == image_size
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
    parser.add_argument("--frames", type=int, default=None,
                        help="frames serving samples per clip (default: the face recipe's)")
    parser.add_argument("--extra-frames", type=int, default=EXTRA_FRAMES,
                        help="additional spread frames kept for training-time resampling")
    parser.add_argument("--image-size", type=int, default=VIDEO_IMAGE_SIZE)
    parser.add_argument("--limit-per-class", type=int, default=None)
    add_crop_ceiling_flag(parser, "the face recipe of the image model whose faces these are")
    args = parser.parse_args(argv)

    from tqdm import tqdm

    data_root, out = Path(args.data), Path(args.out)
    try:
        splits = load_splits(data_root, val_split=0.2, extensions=VIDEO_EXTENSIONS,
                             limit_per_class=args.limit_per_class)
    except (FileNotFoundError, ValueError) as error:
        parser.error(str(error))
    jobs = sorted({(Path(p), y) for split in splits.values() for p, y in zip(split.paths, split.labels)})
    cutter = FaceCutter(FaceRecipe(crop_ceiling=args.crop_ceiling))
    done = skipped = kept = stale = 0
    progress = tqdm(jobs, desc="clips", unit="clip", file=sys.stderr)
    for video, label in progress:
        target = cache_path(out, data_root, video)
        if target.exists():
            if is_current(target, args.image_size, cutter.recipe):
                kept += 1
                continue
            stale += 1
        try:
            sequence = extract_clip(video, cutter, args.frames, args.extra_frames, args.image_size)
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
