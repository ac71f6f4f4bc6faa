"""Self-blended pseudo-fakes (Shiohara & Yamasaki, CVPR 2022, "Detecting Deepfakes with Self-Blended Images").

A real face crop is blended with a slightly altered copy of itself (colour, blur or sharpness, scale, shift)
through a soft face-shaped mask. The result is labelled fake: it carries the blending boundary and the colour
and frequency mismatch that face swaps leave, without any identity change, so the model learns those artifacts
rather than the look of one manipulation method. The mask is face-shaped, as SBI's landmark hull is: the convex
hull of an outline built from MTCNN's five points (eyes, nose, mouth corners, recorded with every cached crop:
brows above the eyes, cheeks beside them, the jaw and chin below the mouth), randomly grown or shrunk, deformed
and feathered, so that its edge runs along the face and not across the neck or collar. A crop without points
(faces of clips) gets a jittered ellipse over the face, which the face recipe centres in every crop. Only pixels
under the mask change.
"""

from __future__ import annotations

import cv2
import numpy as np

BLEND_RATIOS = (0.25, 0.5, 0.75, 1.0, 1.0, 1.0)


# The face outline from the five points, in units of the eye distance (across) and of the eyes-to-mouth distance
# (down): (point it starts from, across, down), drawn with a little jitter per blend.
OUTLINE = (("left_eye", -0.55, -0.55), ("right_eye", 0.55, -0.55), ("left_eye", -0.65, 0.1),
           ("right_eye", 0.65, 0.1), ("mouth_left", -0.5, 0.1), ("mouth_right", 0.5, 0.1),
           ("mouth_left", -0.25, 0.6), ("mouth_right", 0.25, 0.6), ("mouth_centre", 0.0, 0.75))
POINT_NAMES = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")
HULL_GROWTH = (0.9, 1.15)  # the hull scaled about its centre


def outline(landmarks: list[list[float]], size: int, rng: np.random.Generator) -> np.ndarray:
    """The face outline's points in pixels of a ``size`` crop, from the five points in crop fractions."""
    points = {name: np.asarray(p, np.float64) * size for name, p in zip(POINT_NAMES, landmarks)}
    points["mouth_centre"] = (points["mouth_left"] + points["mouth_right"]) / 2
    across = points["right_eye"] - points["left_eye"]
    down = points["mouth_centre"] - (points["left_eye"] + points["right_eye"]) / 2
    corners = [points[name] + (a + rng.uniform(-0.08, 0.08)) * across + (d + rng.uniform(-0.08, 0.08)) * down
               for name, a, d in OUTLINE]
    hull = np.asarray(corners + [points[name] for name in POINT_NAMES])
    centre = hull.mean(axis=0)
    return centre + (hull - centre) * rng.uniform(*HULL_GROWTH)


def face_mask(size: int, rng: np.random.Generator, landmarks: list[list[float]] | None = None) -> np.ndarray:
    """A soft (size, size) float32 mask in [0, 1]: the face's hull from its five points (or, without them, a
    jittered ellipse over the face), deformed and feathered."""
    mask = np.zeros((size, size), np.float32)
    if landmarks is not None and len(landmarks) == len(POINT_NAMES):
        hull = cv2.convexHull(np.round(outline(landmarks, size, rng)).astype(np.int32))
        cv2.fillConvexPoly(mask, hull, 1.0)
    else:
        centre = (size * (0.5 + rng.uniform(-0.04, 0.04)), size * (0.53 + rng.uniform(-0.04, 0.05)))
        axes = (size * rng.uniform(0.24, 0.34), size * rng.uniform(0.3, 0.42))
        cv2.ellipse(mask, (round(centre[0]), round(centre[1])), (round(axes[0]), round(axes[1])),
                    rng.uniform(-12, 12), 0, 360, 1.0, -1)
    grid = max(3, size // 32)
    offsets = rng.uniform(-1, 1, (grid, grid, 2)).astype(np.float32) * size * 0.03
    flow = cv2.resize(offsets, (size, size), interpolation=cv2.INTER_CUBIC)
    xs, ys = np.meshgrid(np.arange(size, dtype=np.float32), np.arange(size, dtype=np.float32))
    mask = cv2.remap(mask, xs + flow[..., 0], ys + flow[..., 1], cv2.INTER_LINEAR, borderValue=0)
    kernel = int(size * rng.uniform(0.04, 0.12)) * 2 + 1
    mask = cv2.GaussianBlur(mask, (kernel, kernel), 0)
    mask = mask / max(float(mask.max()), 1e-6)
    mask[mask < 1e-3] = 0.0
    return mask


def altered_copy(face: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The face with a small change of colour, sharpness, scale and position (float32, 0–255)."""
    size = face.shape[0]
    source = face.astype(np.float32)
    source = source * rng.uniform(0.9, 1.1) + rng.uniform(-18, 18, 3).astype(np.float32)
    hsv = cv2.cvtColor(np.clip(source, 0, 255).astype(np.uint8), cv2.COLOR_RGB2HSV).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + rng.uniform(-4, 4)) % 180
    hsv[..., 1] = np.clip(hsv[..., 1] * rng.uniform(0.85, 1.15), 0, 255)
    source = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB).astype(np.float32)
    if rng.random() < 0.5:
        source = cv2.GaussianBlur(source, (0, 0), rng.uniform(0.6, 1.8))
    else:
        soft = cv2.GaussianBlur(source, (0, 0), 1.2)
        source = source + rng.uniform(0.3, 1.2) * (source - soft)
    scale = rng.uniform(0.94, 1.06)
    shift = rng.uniform(-0.03, 0.03, 2) * size
    matrix = cv2.getRotationMatrix2D((size / 2, size / 2), 0.0, scale)
    matrix[:, 2] += shift
    return cv2.warpAffine(source, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def self_blend(face: np.ndarray, rng: np.random.Generator | None = None,
               landmarks: list[list[float]] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A pseudo-fake of a square uint8 RGB face crop and the blending mask used (0 where nothing changed);
    ``landmarks``: the crop's five points in fractions of its side (a face-shaped mask), None for an ellipse."""
    rng = rng or np.random.default_rng()
    mask = face_mask(face.shape[0], rng, landmarks) * rng.choice(BLEND_RATIOS)
    blended = mask[..., None] * altered_copy(face, rng) + (1.0 - mask[..., None]) * face.astype(np.float32)
    out = np.clip(np.round(blended), 0, 255).astype(np.uint8)
    out[mask == 0] = face[mask == 0]
    return out, mask


def self_blend_op(face: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """``self_blend`` for ``tf.numpy_function`` (the image only); ``landmarks`` (5, 2), NaN where a crop has
    none."""
    points = None if np.isnan(landmarks).any() else landmarks.tolist()
    return self_blend(np.asarray(face), landmarks=points)[0]
