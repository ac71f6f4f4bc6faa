"""Out-of-fold clip scores for the video model's calibration: Train and Validation clips pooled, split k ways by
group of people (a real clip and every fake made from it, or with its face, share a group), the sequence head
refit on cached encoder features for each fold, each clip scored by the head that never saw its group.

Twenty Validation clips cannot place two thresholds; a hundred and fifty out-of-fold clips can. Test and the
cross-data-set clips stay out of this, for reading only.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

FOLDS = 5
MAX_REAL_CALLED_FAKE = 0.10  # real clips called fake, out of fold, at most

_FFPP_IDS = re.compile(r"(?<![0-9])([0-9]{3})(?![0-9])")
_DFD_ACTORS = re.compile(r"DeepFakeDetection_(?:original_)?([0-9]{2})(?:_([0-9]{2}))?")


def people_of(name: str) -> set[str]:
    """The people a clip shows, from its file name: FaceForensics++ source ids (``youtube_033``,
    ``Deepfakes_033_097``) and DeepFakeDetection actor ids; else the clip alone."""
    stem = Path(name).stem
    dfd = _DFD_ACTORS.search(stem)
    if dfd:
        return {f"dfd{actor}" for actor in dfd.groups() if actor}
    ids = set(_FFPP_IDS.findall(stem))
    return ids or {stem}


def person_groups(names: list[str]) -> np.ndarray:
    """A group number per clip: clips that share a person, directly or through other clips, share a group."""
    parent = list(range(len(names)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first_with: dict[str, int] = {}
    for index, name in enumerate(names):
        for person in people_of(name):
            if person in first_with:
                parent[root(index)] = root(first_with[person])
            else:
                first_with[person] = index
    roots = [root(i) for i in range(len(names))]
    numbering = {r: n for n, r in enumerate(dict.fromkeys(roots))}
    return np.asarray([numbering[r] for r in roots])


def fold_of(groups: np.ndarray, labels: np.ndarray, folds: int = FOLDS, seed: int = 0) -> np.ndarray:
    """Each clip's fold: whole groups per fold, classes spread as evenly as the groups allow."""
    from sklearn.model_selection import StratifiedGroupKFold

    count = min(folds, len(np.unique(groups)))
    assigned = np.zeros(len(groups), int)
    splitter = StratifiedGroupKFold(count, shuffle=True, random_state=seed)
    for fold, (_, held_out) in enumerate(splitter.split(np.zeros(len(groups)), labels, groups)):
        assigned[held_out] = fold
    return assigned


def out_of_fold(score_fold: Callable[[np.ndarray, np.ndarray], np.ndarray], folds: np.ndarray) -> np.ndarray:
    """Each clip's score (or row of scores) from ``score_fold(train_index, held_out_index)``, the function that fits
    on the first and scores the second."""
    scores: np.ndarray | None = None
    for fold in np.unique(folds):
        held_out = np.flatnonzero(folds == fold)
        fold_scores = np.asarray(score_fold(np.flatnonzero(folds != fold), held_out))
        if scores is None:
            scores = np.full((len(folds), *fold_scores.shape[1:]), np.nan)
        scores[held_out] = fold_scores
    return scores
