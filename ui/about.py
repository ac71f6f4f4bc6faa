"""The About tab's text: the limits to read before trusting a verdict, each model's facts and per-domain tables
from its record, its model card, and which test figures belong to which shipped model."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from model.store import ModelInfo
from model.tables import markdown_table
from model.views import described

LIMITS = """\
### Before you trust a verdict

* These models were trained on a few research data sets (DFDC, FaceForensics++, a set of photos and generated
  faces). **Accuracy drops on other data**, on new manipulation methods and on **small or heavily compressed** faces
  (messaging apps, screenshots of screenshots): the report flags those as weak evidence.
* "Uncertain" means the score fell where the model was too often wrong on held-out faces; it is not a hint either way.
* A score is evidence, not proof: a "real" verdict does not certify a picture, and a "fake" one can be a false alarm.
  Do not use it alone to make decisions about people.
* Heatmaps show where the model looked, not which pixels were edited. Content Credentials and metadata are shown
  beside the score, never in it: they can be stripped or forged, and their absence proves nothing.
* The training data is licensed for **research only**; so are these weights.
* Only faces are scored: edits elsewhere in the picture, voice or text are not checked.
"""


def _metric_rows(metrics: dict[str, Any]) -> list[str]:
    names = [("count", "test items"), ("accuracy", "accuracy"), ("balanced_accuracy", "balanced accuracy"),
             ("precision", "precision (fake)"), ("recall", "recall (fake)"), ("f1", "F1"), ("roc_auc", "ROC-AUC")]
    rows = []
    for key, label in names:
        value = metrics.get(key)
        if value is not None:
            rows.append(f"| {label} | {value:.3f} |" if isinstance(value, float) else f"| {label} | {value} |")
    return rows


def model_section(title: str, info: ModelInfo | None) -> str:
    """Markdown for one model: what it is, what it was trained on and its test metrics from its record."""
    if info is None:
        return f"### {title}\n\nNot installed in this app."
    lines = [f"### {title}", f"`{info.name}`"]
    facts = [f"* Architecture: **{info.architecture}**"]
    if info.image_size:
        ceiling = info.face_recipe.crop_ceiling
        facts.append(f"* Input: {info.image_size}×{info.image_size} RGB face crops"
                     + (f", each face first shrunk to at most {ceiling} px as in training" if ceiling else ""))
    if len(info.views) > 1:
        facts.append(f"* Each face is scored as the mean of {len(info.views)} views: {described(info.views)}"
                     + (", so which way it looks cannot change the verdict"
                        if set(info.views) == {"as_cut", "mirrored"} else ""))
    if info.members:
        facts.append(f"* Each face is also scored by {len(info.members)} more network"
                     f"{'s' if len(info.members) > 1 else ''} ({', '.join(f'`{m}`' for m in info.members)}, each "
                     "capping the face at its own size as in its training); the verdict calibrates the mean of "
                     "their scores")
    if info.real_below < info.fake_from:
        facts.append(f"* Verdicts on the calibrated probability: real below {info.real_below:.3f}, fake at "
                     f"{info.fake_from:.3f} or above, uncertain in between (chosen on the validation split)")
    else:
        facts.append(f"* Decision threshold: fake at probability ≥ {info.fake_from:.3f} "
                     "(chosen on the validation split)")
    data = info.data
    if isinstance(data, list) and data:
        facts.append("* Trained on: " + ", ".join(f"`{d.get('name')}` (weight {d.get('weight', 1):g})" for d in data))
    elif data:
        facts.append(f"* Trained on: `{Path(data).name}`")
    if info.counts and not isinstance(data, list):
        facts.append(("* Clips" if info.kind == "video" else "* Images") + " per split: " + "; ".join(
            f"{split} " + (", ".join(f"{n} {label}" for label, n in value.items()) if isinstance(value, dict)
                           else str(value)) for split, value in info.counts.items()))
    lines.append("\n".join(facts))
    if info.test_domains:
        lines.append("Per domain (held-out test split, or validation where a domain has no test split; shares at the "
                     "verdict thresholds above):\n\n" + markdown_table(info.test_domains, "domain"))
        lines += [f"*{name}*: trivial features alone (file size, picture size, JPEG quality, face position…) "
                  f"tell its real pictures from its fakes (shortcut audit ROC-AUC {audit.get('roc_auc', 1.0):.3f}), "
                  "so its ROC-AUC says little about seeing manipulation."
                  for name, audit in (info.shortcut_audit or {}).items()
                  if isinstance(audit, dict) and audit.get("flagged")]
    elif info.test_metrics and (rows := _metric_rows(info.test_metrics)):
        lines.append("Test metrics (held-out test split, at the threshold above):\n\n| metric | value |\n"
                     "|---|---|\n" + "\n".join(rows))
    else:
        lines.append("No test metrics were stored with this model.")
    return "\n\n".join(lines)


def about_markdown(models: list[tuple[str, ModelInfo | None]], cards: list[str | Path]) -> str:
    """The About tab: each model's facts and metrics, then the model cards that exist (headings one level down).

    ``LIMITS`` is separate so that the app can show the ROC and confusion figures before it.
    """
    parts = ["## About the models",
             "Each face is found with MTCNN, cropped with a little margin and scored by a CNN (EfficientNet-Lite0, "
             "started from ImageNet weights) fine-tuned to tell real faces from manipulated ones; its probability is "
             "calibrated on held-out faces, and scores between "
             "two thresholds are called uncertain. A picture is called by its most suspicious face; a clip either by "
             "the video model (a frame encoder with a recurrent layer over the sampled frames) or by the image "
             "model frame by frame. The video model's clip and per-frame probabilities are calibrated on held-out "
             "clips too, with the same three verdicts."]
    parts += [model_section(title, info) for title, info in models]
    parts += [text for text in map(card_markdown, cards) if text]
    return "\n\n".join(parts)


def card_markdown(card: str | Path) -> str:
    """A model card's Markdown for the About tab (front matter dropped, headings one level down); empty when the
    file cannot be read."""
    try:
        text = Path(card).read_text(encoding="utf-8").strip()
    except OSError:
        return ""
    text = re.sub(r"^---\n.*?\n---\n", "", text, flags=re.S)  # front matter
    return re.sub(r"^(#{1,5}) ", r"#\1 ", text, flags=re.M)


def model_kind(model_path: str | Path) -> str:
    """``image`` for image_model.keras, ``video`` for video_model.keras: the prefix of its card and figures."""
    return Path(model_path).stem.split("_")[0].lower()


def model_cards(model_paths: list[str | Path]) -> list[Path]:
    """The cards written beside the given models: ``IMAGE_MODEL_CARD.md`` beside ``image_model.keras``, etc."""
    cards = {card for path in model_paths for card in Path(path).parent.glob("*MODEL_CARD*.md")
             if card.name.lower().startswith(model_kind(path))}
    return sorted(cards)


def about_images(directory: str | Path, kinds: list[str]) -> list[tuple[str, str]]:
    """ROC and confusion-matrix PNGs in ``directory`` for the given model kinds (``image_test_roc.png``...)."""
    directory = Path(directory)
    images = sorted(p for p in directory.glob("*.png")
                    if re.search(r"roc|confusion", p.stem, re.I) and p.stem.lower().split("_")[0] in kinds)
    return [(str(p), p.stem.replace("_", " ")) for p in images]
