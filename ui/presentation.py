"""What the app shows for a report: verdict text, confidences, boxed picture, crop gallery, time plot, JSON file.

Pure functions of a ``Report`` (no Gradio import), so the app only wires components to them.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd

from model.calibration import Thresholds
from model.explain import save_heatmaps
from model.live import RollingVerdict
from model.report import ClipSummary, Report, ScoredFace
from model.store import ModelInfo
from model.tables import markdown_table

FAKE_RGB = (220, 38, 38)
REAL_RGB = (22, 163, 74)
UNCERTAIN_RGB = (107, 114, 128)
VERDICT_RGB = {"fake": FAKE_RGB, "real": REAL_RGB, "uncertain": UNCERTAIN_RGB}
VERDICT_CSS = "\n".join(f".verdict-{name} {{ color: rgb{rgb}; }}" for name, rgb in VERDICT_RGB.items())
# On a phone a result gallery's fixed columns (five or six of ~100 px) run off its right edge and its fixed height
# hides rows behind a scrollbar of its own: there, three columns as wide as the screen allows and every row shown.
RESULT_GALLERY = "result-gallery"
PHONE_CSS = f"""@media (max-width: 640px) {{
  .{RESULT_GALLERY} .grid-container {{ grid-template-columns: repeat(3, minmax(0, 1fr)) !important; }}
  .{RESULT_GALLERY}, .{RESULT_GALLERY} .grid-wrap {{ height: auto !important; max-height: none !important; }}
}}"""
APP_CSS = VERDICT_CSS + "\n" + PHONE_CSS
DISPLAY_SIDE = 1280
REPORT_MAX_AGE_S = 3600
VERDICT_WORDS = {"fake": "Likely fake", "real": "Likely real", "uncertain": "Uncertain", "no_face": "No face found",
                 "error": "Not analysed"}
UNCERTAIN_MESSAGE = ("The score lies between the model's two thresholds, where its verdicts on held-out faces were "
                     "too often wrong to call either way.")
NO_FACE_MESSAGE = ("No face was found, so there is nothing to score. Try a sharper, well-lit, front-facing "
                   "picture where the face is at least about 40 pixels wide.")
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


def _plain(value: Any) -> Any:
    """JSON fallback for numpy scalars and arrays and paths."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def record(report: Report, name: str | None = None) -> dict[str, Any]:
    """The scan CLI's JSON for ``report``, with ``path`` reduced to the file's own name (no server paths)."""
    data = report.to_json()
    if name is not None or data.get("path"):
        data["path"] = name if name is not None else Path(data["path"]).name
    return json.loads(json.dumps(data, default=_plain))


def report_text(data: dict[str, Any]) -> str:
    """The JSON report as the text that is shown and downloaded: indented, with lists of plain values (boxes,
    flags) kept on one line, so that a clip's report stays readable."""
    return _compact(json.loads(json.dumps(data, default=_plain)), 0) + "\n"


def _compact(value: Any, depth: int) -> str:
    pad, inner = "  " * depth, "  " * (depth + 1)
    if isinstance(value, dict) and value:
        items = [f"{inner}{json.dumps(key)}: {_compact(item, depth + 1)}" for key, item in value.items()]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if isinstance(value, list) and any(isinstance(item, (dict, list)) for item in value):
        return "[\n" + ",\n".join(f"{inner}{_compact(item, depth + 1)}" for item in value) + f"\n{pad}]"
    return json.dumps(value)


def request_folder(directory: str | Path, max_age_s: float = REPORT_MAX_AGE_S) -> Path:
    """A fresh folder under ``directory`` for one request's files; folders older than ``max_age_s`` are removed.

    The app hands Gradio files rather than arrays: Gradio copies files into its cache atomically, whereas arrays
    are encoded straight to a content-addressed path, which two identical concurrent requests can truncate under
    a reader.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    cutoff = time.time() - max_age_s
    for old in directory.iterdir():
        try:
            if old.is_dir() and old.stat().st_mtime < cutoff:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            pass
    return Path(tempfile.mkdtemp(dir=directory))


def save_picture(rgb: np.ndarray, path: str | Path, quality: int = 90) -> str:
    """Write an RGB array as a JPEG (or PNG, by suffix); returns the path as a string."""
    if not cv2.imwrite(str(path), cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR),
                       [cv2.IMWRITE_JPEG_QUALITY, quality]):
        raise OSError(f"could not write {path}")
    return str(path)


def write_report(data: dict[str, Any], folder: str | Path) -> Path:
    """Write ``data`` as ``<input name>_report.json`` in ``folder``."""
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(str(data.get("path") or "upload")).stem)[:60] or "upload"
    path = Path(folder) / f"{stem}_report.json"
    path.write_text(report_text(data))
    return path


def confidences(report: Report) -> dict[str, float] | None:
    """Label-style confidences ``{"fake": p, "real": 1 - p}``; None when nothing was scored."""
    if report.fake_probability is None:
        return None
    probability = float(np.clip(report.fake_probability, 0.0, 1.0))
    return {"fake": round(probability, 4), "real": round(1.0 - probability, 4)}


def verdict_heading(verdict: str) -> str:
    """The verdict's words as a Markdown heading, coloured by the app's ``APP_CSS`` where it has a colour."""
    words = VERDICT_WORDS.get(verdict, verdict)
    return f'## <span class="verdict-{verdict}">{words}</span>' if verdict in VERDICT_RGB else f"## {words}"


def verdict_markdown(report: Report, subject: str = "picture") -> str:
    """A heading with the verdict (coloured by the app's ``APP_CSS``) and lines that say how it was reached."""
    heading = verdict_heading(report.verdict)
    if report.verdict == "error":
        return f"{heading}\n\n{report.error or 'The file could not be analysed.'}"
    if report.verdict == "no_face":
        message = NO_FACE_MESSAGE
        if report.kind == "video":
            sampled = report.clip.frames_sampled if report.clip is not None else None
            where = f"in any of the {sampled} sampled frames" if sampled else "in the sampled frames"
            message = message.replace("No face was found", f"No face was found {where}").replace("picture", "clip")
        return "\n\n".join(line for line in (heading, message, provenance_line(report)) if line)
    faces = len(report.faces)
    lines = [heading, probability_line(report)]
    if report.verdict == "uncertain":
        lines.append(UNCERTAIN_MESSAGE)
    lines.append(input_quality_line(report, subject))
    if report.damaged is not None:
        lines.append(f"**Damaged file:** {report.damaged}; its decoder filled the damaged parts with guesses, so the "
                     "verdict stays uncertain whatever the score.")
    if report.clip is not None:
        lines.append(frames_line(report.clip))
        if "few_frames" in report.clip.flags:
            lines.append(f"**Weak evidence:** the face was found in only {report.clip.frames_with_face} "
                         "sampled frames, too few to judge a clip: the verdict stays uncertain whatever the score.")
        lines.append(disagreement_line(report.clip))
        if report.clip.truncated:
            lines.append("This clip is long: only its first part was analysed.")
    elif faces == 1:
        lines.append(f"1 face scored in this {subject}.")
    else:
        lines.append(f"{faces} faces scored in this {subject}; the verdict follows the most suspicious one.")
    lines += [f"Model: `{report.model}`", provenance_line(report)]
    return "\n\n".join(line for line in lines if line)


def live_markdown(rolling: RollingVerdict, frame: Report, thresholds: Thresholds) -> str:
    """The rolling verdict of a live camera session as a coloured heading, with what it rests on."""
    verdict = rolling.verdict(thresholds)
    heading = verdict_heading(verdict)
    faces = rolling.probabilities
    if not faces:
        return f"{heading}\n\nNo face in the last {rolling.window_s:g} seconds of camera frames."
    lines = [heading, f"Mean fake probability **{rolling.fake_probability:.2f}** over the {len(faces)} camera "
                      f"frames with a face in the last {rolling.window_s:g} seconds (fake at "
                      f"{thresholds.fake_from:.2f} or above, real below {thresholds.real_below:.2f})."]
    if frame.fake_probability is not None:
        lines.append(f"This frame: {len(frame.faces)} face{'s' if len(frame.faces) != 1 else ''}, most suspicious "
                     f"{frame.fake_probability:.2f}. Frames scored this session: {rolling.frames}.")
    else:
        lines.append(f"No face in this frame. Frames scored this session: {rolling.frames}.")
    if verdict == "uncertain":
        lines.append(UNCERTAIN_MESSAGE)
    return "\n\n".join(lines)


MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]#|~])")  # emphasis, code, links, headings, tables, strike-through


def as_text(text: str) -> str:
    """A stranger's text (file metadata) for a Markdown component: shown as typed, never as emphasis, links,
    headings or HTML."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return MARKDOWN_SPECIAL.sub(r"\\\1", escaped)


def provenance_line(report: Report) -> str:
    """What the file says about its own origin (Content Credentials, generator metadata), kept apart from the
    score; empty for inputs that were not files (live camera frames)."""
    provenance = report.provenance
    return f"**What the file says about itself:** {as_text(provenance['summary'])}" if provenance else ""


def probability_line(report: Report) -> str:
    """The fake probability and the thresholds it was compared with."""
    thresholds = report.thresholds or Thresholds(0.5, 0.5)
    numbers = (report.fake_probability, thresholds.real_below, thresholds.fake_from)
    digits = next((d for d in (2, 3, 4) if len({round(n, d) for n in numbers}) == len(set(numbers))), 4)
    text = f"Fake probability **{report.fake_probability:.{digits}f}**"
    if thresholds.real_below < thresholds.fake_from:
        return (f"{text} (calibrated: the model calls a face fake at {thresholds.fake_from:.{digits}f} or above, "
                f"real below {thresholds.real_below:.{digits}f}, and uncertain in between).")
    return f"{text} (the model calls it fake at {thresholds.fake_from:.{digits}f} or above)."


def input_quality_line(report: Report, subject: str) -> str:
    """One sentence when the input itself makes the verdict weak (faces too small or too compressed)."""
    small = sum("small" in face.flags for face in report.faces)
    compressed = any("compressed" in face.flags for face in report.faces)
    if not small and not compressed:
        return ""
    reasons = []
    if small:
        sizes = sorted(face.size_px for face in report.faces if "small" in face.flags)
        faces = "frames' faces" if report.kind == "video" else "faces"
        whose = ("the face is" if len(report.faces) == 1
                 else f"{small} of the {len(report.faces)} {faces} {'is' if small == 1 else 'are'}")
        reasons.append(f"{whose} small ({sizes[0]} px)")
    if compressed:
        quality = report.jpeg_quality
        reasons.append("the file is heavily compressed" + (f" (JPEG quality {quality})" if quality else ""))
    return (f"**Weak evidence:** {' and '.join(reasons)}; the model is measurably less reliable on such "
            f"{subject}s, so weigh this verdict lightly.")


def disagreement_line(clip: ClipSummary) -> str:
    """For a clip judged by the video model: the image model's per-frame mean on the same faces, said plainly
    when the two fall on opposite verdicts."""
    baseline = clip.scores.get("image")
    if clip.model != "video" or baseline is None:
        return ""
    text = f"The image model alone gives {baseline:.2f} on the same faces"
    calls = clip.score_verdicts
    video_call, image_call = calls.get("video"), calls.get("image")
    if {video_call, image_call} == {"real", "fake"}:
        return (f"**The two models disagree:** the video model says {VERDICT_WORDS[video_call].lower()}, {text}, "
                f"which would be {VERDICT_WORDS[image_call].lower()}; treat this clip as uncertain.")
    return text + "."


def frames_line(clip: ClipSummary) -> str:
    """How many of the sampled frames had a face."""
    return f"A face was found in **{clip.frames_with_face} of {clip.frames_sampled}** sampled frames."


def _label_box(image: np.ndarray, box: tuple[int, int, int, int], text: str, color: tuple[int, int, int],
               scale: float) -> None:
    x, y, w, h = box
    thickness = max(2, int(round(3 * scale)))
    cv2.rectangle(image, (x, y), (x + w, y + h), color, thickness, cv2.LINE_AA)
    font_scale = max(0.45, 0.7 * scale)
    (text_w, text_h), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, max(1, thickness // 2))
    top = y - text_h - baseline - 4 if y - text_h - baseline - 4 >= 0 else y + h
    cv2.rectangle(image, (x - thickness // 2, top), (x + text_w + 6, top + text_h + baseline + 4), color, -1)
    cv2.putText(image, text, (x + 3, top + text_h + 2), cv2.FONT_HERSHEY_SIMPLEX, font_scale, (255, 255, 255),
                max(1, thickness // 2), cv2.LINE_AA)


def annotate(rgb: np.ndarray, report: Report, max_side: int = DISPLAY_SIDE) -> np.ndarray:
    """A copy of the picture (downscaled to ``max_side``) with every face boxed and labelled with its score."""
    height, width = rgb.shape[:2]
    factor = min(1.0, max_side / max(height, width))
    image = rgb.copy() if factor == 1.0 else cv2.resize(rgb, (max(1, round(width * factor)),
                                                              max(1, round(height * factor))),
                                                        interpolation=cv2.INTER_AREA)
    image = np.ascontiguousarray(image)
    scale = max(image.shape[:2]) / 640.0
    for index, face in enumerate(report.faces, start=1):
        box = tuple(int(round(v * factor)) for v in face.box)
        verdict = face_verdict(report, face)
        _label_box(image, box, f"{index}: {verdict} {face.fake_probability:.2f}", VERDICT_RGB[verdict], scale)
    return image


def face_verdict(report: Report, face: ScoredFace) -> str:
    """``real``, ``uncertain`` or ``fake`` for one face, at the report's thresholds."""
    return (report.thresholds or Thresholds(0.5, 0.5)).verdict(face.fake_probability)


def face_gallery(report: Report, folder: str | Path) -> list[tuple[str, str]]:
    """The face crops saved in ``folder``, captioned like their boxes: number, call and fake probability."""
    return [(save_picture(face.crop, Path(folder) / f"face_{index}.jpg"), face_caption(report, index, face))
            for index, face in enumerate(report.faces, start=1)]


def face_caption(report: Report, index: int, face: ScoredFace) -> str:
    """A gallery caption like the face's box label: number, call, fake probability, and any weak-evidence flags."""
    return (f"{index}: {face_verdict(report, face)} {face.fake_probability:.2f}"
            + (f" ({', '.join(face.flags)})" if face.flags else ""))


def heatmap_gallery(report: Report, folder: str | Path) -> list[tuple[str, str]]:
    """Each face's crop with its Grad-CAM heatmap over it, saved in ``folder``, captioned like the crops (faces
    without a heatmap are left out)."""
    save_heatmaps(report, folder, "heatmap")
    return [(face.heatmap_path, face_caption(report, index, face))
            for index, face in enumerate(report.faces, start=1) if face.heatmap_path]


def timeline(report: Report) -> pd.DataFrame:
    """Fake probability over time for frames with a face, plus the thresholds (the uncertain band's edges)."""
    frames = report.clip.scored_frames if report.clip is not None else []
    rows = [{"time (s)": float(frame.time_s), "fake probability": float(frame.fake_probability),
             "series": "fake probability"} for frame in frames]
    thresholds = report.thresholds
    if rows and thresholds is not None:
        # Always the same three series, even where the band has no width (the two lines then coincide): the
        # browser's plot keeps the series of its first drawing, so a clip judged by a model with other series
        # would lose its threshold lines.
        times = [row["time (s)"] for row in rows]
        lines = {"fake threshold": thresholds.fake_from, "real threshold": thresholds.real_below}
        rows += [{"time (s)": t, "fake probability": float(value), "series": name}
                 for name, value in lines.items() for t in (min(times), max(times))]
    return pd.DataFrame(rows, columns=["time (s)", "fake probability", "series"])


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
    """Markdown for one model: what it is, what it was trained on and its test metrics from its metadata."""
    if info is None:
        return f"### {title}\n\nNot installed in this app."
    metadata = info.metadata
    lines = [f"### {title}", f"`{info.name}`"]
    facts = [f"* Architecture: **{info.architecture}**"]
    if info.image_size:
        facts.append(f"* Input: {info.image_size}×{info.image_size} RGB face crops")
    if "threshold" in metadata:
        thresholds = info.thresholds
        if thresholds.real_below < thresholds.fake_from:
            facts.append(f"* Verdicts on the calibrated probability: real below {thresholds.real_below:.3f}, fake at "
                         f"{thresholds.fake_from:.3f} or above, uncertain in between (chosen on the validation split)")
        else:
            facts.append(f"* Decision threshold: fake at probability ≥ {thresholds.fake_from:.3f} "
                         "(chosen on the validation split)")
    data = metadata.get("data")
    if isinstance(data, list) and data:
        facts.append("* Trained on: " + ", ".join(f"`{d.get('name')}` (weight {d.get('weight', 1):g})" for d in data))
    elif data:
        facts.append(f"* Trained on: `{Path(str(data)).name}`")
    counts = metadata.get("counts")
    if isinstance(counts, dict) and counts and not isinstance(data, list):
        facts.append(("* Clips" if info.kind == "video" else "* Images") + " per split: " + "; ".join(
            f"{split} " + (", ".join(f"{n} {label}" for label, n in value.items()) if isinstance(value, dict)
                           else str(value)) for split, value in counts.items()))
    lines.append("\n".join(facts))
    domains = metadata.get("test_domains")
    metrics = metadata.get("test_metrics")
    if isinstance(domains, list) and domains:
        lines.append("Per domain (held-out test split, or validation where a domain has no test split; shares at the "
                     "verdict thresholds above):\n\n" + markdown_table(domains, "domain"))
        lines += [f"*{name}*: trivial features alone (file size, picture size, JPEG quality, face position…) tell its "
                  f"real pictures from its fakes (shortcut audit ROC-AUC {audit.get('roc_auc', 1.0):.3f}), so its "
                  "ROC-AUC says little about seeing manipulation."
                  for name, audit in (metadata.get("shortcut_audit") or {}).items()
                  if isinstance(audit, dict) and audit.get("flagged")]
    elif isinstance(metrics, dict):
        rows = _metric_rows(metrics)
        if rows:
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
