"""How faces are cut, in one place: the crop margin, the detection sizes, the detector's minimum confidence and
the frames sampled per clip. Serving and training both follow it, every trained model records the recipe it was
trained with (its record's ``face_recipe``; models saved before recipes were recorded used the defaults), serving
cuts faces by the recipe of the model it loaded, and every face cache is keyed on it, so a changed recipe rebuilds
the caches instead of reusing crops cut another way."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class FaceRecipe:
    """``margin``: the square crop's side over the detected box's longer side; ``detection_side``: pictures are
    searched at most this many pixels on their long side; ``frame_detection_side``: the same for video frames;
    ``min_confidence``: MTCNN's lowest accepted face score; ``frames``: frames sampled per clip;
    ``crop_ceiling``: crops larger than this many pixels on a side are shrunk to it (area averaging,
    ``model.face_path.cap``) where the model takes them, so that a sharp press photo and a soft web photo reach the
    model at one resolution at most (None: no ceiling, the recipe of models trained before it existed).
    The defaults are the recipe new models are trained with; older files' recipes are read by ``model.store.upgrade``."""

    margin: float = 1.15
    detection_side: int = 480
    frame_detection_side: int = 320  # 3x faster than 480 for 720p frames; misses faces under ~1/40 of the width
    min_confidence: float = 0.90
    frames: int = 20
    crop_ceiling: int | None = 128  # most training sources' faces are larger, so resolution says little

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def key(self) -> str:
        """A short digest for cache keys."""
        return hashlib.sha1(json.dumps(self.to_json(), sort_keys=True).encode()).hexdigest()[:12]

    def require_cut(self, cut_by: str | None, what: str) -> None:
        """Raise ``ValueError`` unless ``cut_by`` (the ``key`` a face cache stored) is this recipe's: training must
        see the faces serving cuts for a model of this recipe (``what``: the cache, for the message)."""
        if cut_by != self.key():
            raise ValueError(f"{what} was cut by another face recipe than this model's ({self.to_json()}): cut its "
                             f"clips again with train.extract_faces --crop-ceiling {self.crop_ceiling or 'none'}")

    def cut_key(self) -> str:
        """A digest of what finds and frames a picture's face (not the ceiling): recipes that differ only in their
        ceiling share one cache of uncapped crops."""
        cutting = {name: getattr(self, name) for name in ("margin", "detection_side", "min_confidence")}
        return hashlib.sha1(json.dumps(cutting, sort_keys=True).encode()).hexdigest()[:12]
