"""The shortcut audit: can a domain's Real and Fake be told apart without looking at a face, and does a model's
verdict on real faces hold under changes that say nothing about manipulation?

* ``shortcut_audit``: per domain, the cross-validated ROC-AUC of a logistic regression on trivial features of each
  face (its source file's size, width, height, aspect and JPEG quality; the face box's size and position in the
  picture; the crop's side in source pixels, its mean colour and sharpness). A domain above ``FLAG_AUC`` is
  flagged: its classes differ in something a model could learn instead of the manipulation. Beside it, the same
  on the crop alone (mean colour and sharpness of the crop the model is fed, and its source's JPEG quality): what
  is left once the face path has cut, capped and resized every face alike.
* ``invariance_table``: for the real faces of each domain, the share whose verdict changes, and the mean
  |change| of the calibrated probability, under greyscale, ±10 % white balance, JPEG 50/70/90, half size,
  mirroring and ±15 % crop margin, each applied to the source picture, the face cut again from the same box.
"""

from __future__ import annotations

from typing import Any, Callable

import cv2
import numpy as np

from model.face_recipe import FaceRecipe
from train.augment import HALF_SIZE, JPEG_QUALITIES, MARGIN_CHANGE, WHITE_BALANCE
from train.data import Labelled, read_record

FLAG_AUC = 0.70
FOLDS = 5
SOURCE_FEATURES = ("bytes", "width", "height", "aspect", "jpeg_quality", "box_share", "box_x", "box_y", "cut_side")
CROP_FEATURES = ("mean_red", "mean_green", "mean_blue", "sharpness")
INVARIANCE_FACES = 150  # real faces per domain


def laplacian_variance(grey: np.ndarray) -> float:
    """How sharp a grey picture is: the variance of its Laplacian."""
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def jpeg_round_trip(rgb: np.ndarray, quality: int) -> tuple[bytes, np.ndarray]:
    """``rgb`` encoded as JPEG at ``quality``: the file's bytes and the RGB picture they decode to."""
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise OSError("JPEG encoding failed")
    return data.tobytes(), cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def face_features(crop_path: str) -> dict[str, float]:
    """The trivial features of one face crop (NaN where its record has no source)."""
    from model.imaging import jpeg_quality

    record = read_record(crop_path)
    bgr = cv2.imread(crop_path)
    features = {name: np.nan for name in SOURCE_FEATURES}
    if "box" in record:
        x, y, w, h = record["box"]
        width, height = record["width"], record["height"]
        features.update(bytes=record["bytes"], width=width, height=height, aspect=width / height,
                        jpeg_quality=jpeg_quality(record["source"]) or 100, box_share=max(w, h) / max(width, height),
                        box_x=(x + w / 2) / width, box_y=(y + h / 2) / height, cut_side=record["cut_side"])
    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    blue, green, red = bgr.reshape(-1, 3).mean(axis=0)
    features.update(mean_red=red, mean_green=green, mean_blue=blue,
                    sharpness=float(np.log1p(laplacian_variance(grey))))
    return features


def separability(data: Labelled) -> dict[str, Any]:
    """How well trivial features tell ``data``'s classes apart: the cross-validated ROC-AUC of a logistic regression
    on them, and each feature's own ROC-AUC (either direction)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rows = [face_features(path) for path in data.paths]
    names = [name for name in (*SOURCE_FEATURES, *CROP_FEATURES) if not any(np.isnan(r[name]) for r in rows)]
    x = np.asarray([[r[name] for name in names] for r in rows], np.float64)
    y = np.asarray(data.labels)
    folds = StratifiedKFold(min(FOLDS, int(np.bincount(y).min())), shuffle=True, random_state=0)

    def cross_validated_auc(columns: list[int]) -> float:
        classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        scores = cross_val_predict(classifier, x[:, columns], y, cv=folds, method="predict_proba")[:, 1]
        return round(float(roc_auc_score(y, scores)), 4)

    auc = cross_validated_auc(list(range(len(names))))
    crop = cross_validated_auc([names.index(n) for n in (*CROP_FEATURES, "jpeg_quality") if n in names])
    single = {}
    for column, name in enumerate(names):
        value = float(roc_auc_score(y, x[:, column])) if np.ptp(x[:, column]) > 0 else 0.5
        single[name] = round(max(value, 1.0 - value), 4)
    return {"faces": len(y), "roc_auc": auc, "roc_auc_crop": crop, "flagged": auc > FLAG_AUC,
            "features": dict(sorted(single.items(), key=lambda item: -item[1]))}


def shortcut_audit(domains: dict[str, Labelled]) -> dict[str, dict[str, Any]]:
    """``separability`` of every domain with both classes."""
    return {name: separability(data) for name, data in domains.items() if len(set(data.labels)) == 2}


def audit_lines(audit: dict[str, dict[str, Any]]) -> list[str]:
    """One line per domain for the trainer's log, flagged domains called out with their strongest features."""
    lines = []
    for name, row in audit.items():
        top = ", ".join(f"{feature} {auc:.2f}" for feature, auc in list(row["features"].items())[:3])
        flag = f"FLAGGED (above {FLAG_AUC:.2f}): its classes differ beside the faces" if row["flagged"] else "ok"
        lines.append(f"shortcut audit {name}: trivial features ROC-AUC {row['roc_auc']:.3f} ({top}), of the crop "
                     f"alone {row['roc_auc_crop']:.3f}: {flag}")
    return lines


def _white_balance(gain: float) -> Callable[[np.ndarray], np.ndarray]:
    def change(rgb: np.ndarray) -> np.ndarray:
        scaled = rgb.astype(np.float32) * np.asarray([1 + gain, 1.0, 1 - gain], np.float32)
        return np.clip(np.round(scaled), 0, 255).astype(np.uint8)
    return change


def _jpeg(quality: int) -> Callable[[np.ndarray], np.ndarray]:
    return lambda rgb: jpeg_round_trip(rgb, quality)[1]


def _grey(rgb: np.ndarray) -> np.ndarray:
    return np.repeat(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)


# Picture changes (the box stays), then the changes of the cut itself: (name, picture change, box scale, margin
# scale, mirror).
PICTURE_CHANGES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "greyscale": _grey, "white balance +10 %": _white_balance(WHITE_BALANCE),
    "white balance -10 %": _white_balance(-WHITE_BALANCE), **{f"JPEG {q}": _jpeg(q) for q in JPEG_QUALITIES}}
CUT_CHANGES = {"half size": (HALF_SIZE, 1.0, False), "mirrored": (1.0, 1.0, True),
               "margin +15 %": (1.0, 1 + MARGIN_CHANGE, False), "margin -15 %": (1.0, 1 - MARGIN_CHANGE, False)}


def changed_crops(rgb: np.ndarray, box: tuple[int, int, int, int], recipe: FaceRecipe) -> dict[str, np.ndarray]:
    """The face as the recipe cuts it, as given and under every harmless change."""
    from model.face_path import cut

    crops = {"as given": cut(rgb, box, recipe)}
    for name, change in PICTURE_CHANGES.items():
        crops[name] = cut(change(rgb), box, recipe)
    for name, (scale, margin, mirror) in CUT_CHANGES.items():
        picture = rgb if scale == 1.0 else cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        crop = cut(picture, tuple(int(round(v * scale)) for v in box), recipe, margin)
        crops[name] = crop[:, ::-1] if mirror else crop
    return crops


def invariance_rows(score: Callable[[list[np.ndarray]], np.ndarray], verdict: Callable[[float], str],
                    recipe: FaceRecipe, domains: dict[str, Labelled], faces: int = INVARIANCE_FACES
                    ) -> list[dict[str, Any]]:
    """Per domain and change: the share of real faces whose verdict changes and the mean |shift| of the calibrated
    probability. Only faces cut from pictures (with a record of their source and box) take part."""
    from model.imaging import InputError, read_image

    rows = []
    for name, data in domains.items():
        records = [read_record(p) for p, y in zip(data.paths, data.labels) if y == 0]
        records = [r for r in records if "box" in r and "self_blend_of" not in r][:faces]
        if not records:
            continue
        probabilities: dict[str, list[float]] = {}
        for record in records:
            try:
                rgb = read_image(record["source"])
            except InputError:
                continue
            crops = changed_crops(rgb, tuple(record["box"]), recipe)
            for change, p in zip(crops, score(list(crops.values()))):
                probabilities.setdefault(change, []).append(float(p))
        base = np.asarray(probabilities.pop("as given"))
        base_verdicts = [verdict(p) for p in base]
        for change, values in probabilities.items():
            values = np.asarray(values)
            flips = np.mean([verdict(p) != v for p, v in zip(values, base_verdicts)])
            rows.append({"domain": name, "change": change, "faces": len(values),
                         "verdict_changed": float(flips), "mean_shift": float(np.mean(np.abs(values - base)))})
    return rows


def invariance_markdown(rows: list[dict[str, Any]]) -> str:
    """The invariance rows as a Markdown table: one row per change, a column pair per domain."""
    domains = list(dict.fromkeys(row["domain"] for row in rows))
    changes = list(dict.fromkeys(row["change"] for row in rows))
    found = {(row["domain"], row["change"]): row for row in rows}
    lines = ["| change | " + " | ".join(f"{d}: verdict changed | {d}: mean shift" for d in domains) + " |",
             "|" + "---|" * (1 + 2 * len(domains))]
    for change in changes:
        cells = []
        for domain in domains:
            row = found.get((domain, change))
            cells += [f"{100 * row['verdict_changed']:.1f} %", f"{row['mean_shift']:.3f}"] if row else ["", ""]
        lines.append(f"| {change} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def audit_markdown(audit: dict[str, dict[str, Any]]) -> str:
    """The shortcut audit as a Markdown table."""
    lines = ["| domain | faces | trivial features ROC-AUC | of the crop alone | flagged | strongest features "
             "(own ROC-AUC) |", "|---|---|---|---|---|---|"]
    for name, row in audit.items():
        top = ", ".join(f"{feature} {auc:.2f}" for feature, auc in list(row["features"].items())[:3])
        lines.append(f"| {name} | {row['faces']} | {row['roc_auc']:.3f} | {row['roc_auc_crop']:.3f} | "
                     f"{'yes' if row['flagged'] else 'no'} | {top} |")
    return "\n".join(lines)
