"""Real clips made from still photos: a slow zoom and pan over one photo of a real person, written as WebM.

A still picture turned into a clip (a slideshow, a "Ken Burns" pan, the app's own ``astronaut_clip.webm``) is
a real clip: nothing in it was manipulated. These clips let the sequence head see real faces without natural
motion, and measure whether it reads the lack of motion as fake.

    python -m train.still_clips --photos ../extra-data/utkface --photos ../extra-data/photos \
        --per-split 60 --out ../extra-data/still-clips
    python -m train.extract_faces --data ../extra-data/still-clips --out ../extra-data/still-faces-224 \
        --image-size 224

Only ``Real`` photos are used (a pan over a generated face would be a fake of another kind); each split's clips
come from that split's photos, so Validation and Test photos never reach training.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

CLIP_FPS = 10
CLIP_SECONDS = 3
CLIP_SIDE = 320
SPLITS = ("Train", "Validation", "Test")
PHOTO_EXTENSIONS = (".jpg", ".jpeg", ".png")
MIN_PHOTO_SIDE = 160  # smaller photos hold too few pixels to pan over


@dataclass(frozen=True)
class Pan:
    """One zoom and pan: the square crop's side (a share of the photo's shorter side) and its centre (pixels) at
    the first and the last frame, moved linearly in between."""

    start_side: float
    end_side: float
    start_centre: tuple[float, float]
    end_centre: tuple[float, float]

    @classmethod
    def drawn(cls, photo_shape: tuple[int, ...], rng: np.random.Generator) -> Pan:
        """A random slow zoom in or out around the photo's centre, drifting a few per cent of its side."""
        height, width = photo_shape[:2]
        wide, close = rng.uniform(0.9, 1.0), rng.uniform(0.65, 0.8)
        sides = (wide, close) if rng.random() < 0.7 else (close, wide)
        side = min(height, width)
        start = (width / 2 + rng.uniform(-0.03, 0.03) * side, height / 2 + rng.uniform(-0.03, 0.03) * side)
        drift = rng.uniform(-0.05, 0.05, 2) * side
        return cls(*sides, start, (start[0] + drift[0], start[1] + drift[1]))


def pan_frames(photo: np.ndarray, pan: Pan, seconds: int = CLIP_SECONDS, fps: int = CLIP_FPS,
               side: int = CLIP_SIDE) -> list[np.ndarray]:
    """The frames of ``pan`` over an RGB photo, each resized to ``side``×``side``."""
    height, width = photo.shape[:2]
    count = seconds * fps
    frames = []
    for index in range(count):
        t = index / max(1, count - 1)
        crop = int(round(min(height, width) * (pan.start_side + (pan.end_side - pan.start_side) * t)))
        cx = pan.start_centre[0] + (pan.end_centre[0] - pan.start_centre[0]) * t
        cy = pan.start_centre[1] + (pan.end_centre[1] - pan.start_centre[1]) * t
        left = int(np.clip(cx - crop / 2, 0, width - crop))
        top = int(np.clip(cy - crop / 2, 0, height - crop))
        window = photo[top:top + crop, left:left + crop]
        interpolation = cv2.INTER_AREA if crop > side else cv2.INTER_CUBIC
        frames.append(cv2.resize(window, (side, side), interpolation=interpolation))
    return frames


def write_webm(path: Path, frames: list[np.ndarray], fps: int = CLIP_FPS) -> Path:
    """Write RGB frames as a WebM (VP8) that browsers play and OpenCV reads."""
    path.parent.mkdir(parents=True, exist_ok=True)
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"VP80"), fps, (width, height))
    if not writer.isOpened():
        raise OSError(f"OpenCV cannot write {path.suffix} video here")
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def real_photos(root: Path, split: str) -> list[Path]:
    """A data set's real photos of one split (``SPLIT/Real``), sorted."""
    folder = root / split / "Real"
    return sorted(p for p in folder.glob("*") if p.suffix.lower() in PHOTO_EXTENSIONS) if folder.is_dir() else []


def make_clips(roots: list[Path], out: Path, per_split: int, seed: int) -> dict[str, int]:
    """``per_split`` clips per split and data set, from photos drawn once (seeded); returns clips per split."""
    rng = np.random.default_rng(seed)
    written: dict[str, int] = {}
    for split in SPLITS:
        for root in roots:
            photos = real_photos(root, split)
            made = 0
            for index in rng.permutation(len(photos)):
                if made == per_split:
                    break
                photo = cv2.imread(str(photos[index]), cv2.IMREAD_COLOR)
                if photo is None or min(photo.shape[:2]) < MIN_PHOTO_SIDE:
                    continue
                rgb = cv2.cvtColor(photo, cv2.COLOR_BGR2RGB)
                target = out / split / "Real" / f"still_{root.name}_{photos[index].stem}.webm"
                write_webm(target, pan_frames(rgb, Pan.drawn(rgb.shape, rng)))
                made += 1
            written[split] = written.get(split, 0) + made
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m train.still_clips", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=Path, action="append", required=True,
                        help="a data set with SPLIT/Real photos (repeat for several)")
    parser.add_argument("--out", type=Path, required=True, help="where SPLIT/Real/*.webm are written")
    parser.add_argument("--per-split", type=int, default=60, help="clips per split and data set")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    counts = make_clips(args.photos, args.out, args.per_split, args.seed)
    print(", ".join(f"{split}: {count}" for split, count in counts.items()), "clips in", args.out, file=sys.stderr)


if __name__ == "__main__":
    main()
