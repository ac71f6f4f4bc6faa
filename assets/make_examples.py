"""Make the app's example inputs in assets/examples/ from scikit-image's astronaut photo and synthetic pictures.

    python assets/make_examples.py

The astronaut photo (Eileen Collins, NASA, public domain) ships with scikit-image, so nothing is downloaded and
nothing comes from the research data sets. Re-running gives the same files.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from train.still_clips import Pan, pan_frames, write_webm  # noqa: E402  (a script run from anywhere)

EXAMPLES = ROOT / "assets" / "examples"
# The example clip: a slow zoom in (95 % to 70 % of the photo's height) drifting 10 px right and down.
ASTRONAUT_PAN = Pan(0.95, 0.70, (220.0, 150.0), (230.0, 160.0))


def astronaut() -> np.ndarray:
    from skimage import data

    return data.astronaut()


def two_faces(photo: np.ndarray) -> np.ndarray:
    """Two copies of the photo side by side (the second mirrored and slightly smaller): a picture with two faces."""
    height = photo.shape[0]
    small = cv2.resize(photo[:, ::-1], (height * 3 // 4, height * 3 // 4), interpolation=cv2.INTER_AREA)
    canvas = np.full((height, photo.shape[1] + small.shape[1], 3), 235, np.uint8)
    canvas[:, :photo.shape[1]] = photo
    canvas[height - small.shape[0]:, photo.shape[1]:] = small
    return canvas


def no_face(width: int = 480, height: int = 360) -> np.ndarray:
    """A landscape-like synthetic picture: sky gradient, sun, hills. No face anywhere."""
    y = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    sky = (1 - y) * np.array([110, 170, 235], np.float32) + y * np.array([225, 235, 245], np.float32)
    image = np.broadcast_to(sky, (height, width, 3)).astype(np.uint8).copy()
    cv2.circle(image, (width * 3 // 4, height // 4), height // 10, (250, 210, 80), -1, cv2.LINE_AA)
    xs = np.arange(width)
    for base, amplitude, color in ((0.62, 0.06, (90, 140, 80)), (0.75, 0.05, (60, 110, 60))):
        ridge = (height * (base + amplitude * np.sin(xs / width * 2 * np.pi * 1.5 + base * 10))).astype(np.int32)
        points = np.concatenate([np.stack([xs, ridge], 1), [[width - 1, height - 1], [0, height - 1]]])
        cv2.fillPoly(image, [points.astype(np.int32)], color, cv2.LINE_AA)
    return image


def write_rgb(path: Path, rgb: np.ndarray, quality: int = 90) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]):
        raise OSError(f"could not write {path}")
    return path


def main() -> int:
    photo = astronaut()
    written = [
        write_rgb(EXAMPLES / "astronaut.jpg", photo),
        write_rgb(EXAMPLES / "two_faces.jpg", two_faces(photo)),
        write_rgb(EXAMPLES / "no_face.jpg", no_face()),
        write_webm(EXAMPLES / "astronaut_clip.webm", pan_frames(photo, ASTRONAUT_PAN)),
    ]
    for path in written:
        print(f"{path.relative_to(EXAMPLES.parent.parent)}  {path.stat().st_size / 1024:.0f} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
