"""What the app says and lists for a report: the verdict's words, confidences, the crop and heatmap galleries (their
files written to the request's folder), the time plot's data, the JSON report, and the app's CSS. No Gradio import:
the tabs wire components to these. The boxed picture is ``ui.drawing``'s, the About page ``ui.about``'s."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from model.calibration import Thresholds
from model.live import RollingVerdict
from model.report import ClipSummary, Report, ScoredFace
from ui.drawing import VERDICT_RGB, face_verdict, save_picture
from ui.heatmap_files import write_heatmaps

VERDICT_CSS = "\n".join(f".verdict-{name} {{ color: rgb{rgb}; }}" for name, rgb in VERDICT_RGB.items())
# On a phone a result gallery's fixed columns (five or six of ~100 px) run off its right edge and its fixed height
# hides rows behind a scrollbar of its own: there, three columns as wide as the screen allows and every row shown.
RESULT_GALLERY = "result-gallery"
PHONE_CSS = f"""@media (max-width: 640px) {{
  .{RESULT_GALLERY} .grid-container {{ grid-template-columns: repeat(3, minmax(0, 1fr)) !important; }}
  .{RESULT_GALLERY}, .{RESULT_GALLERY} .grid-wrap {{ height: auto !important; max-height: none !important; }}
}}"""
APP_CSS = VERDICT_CSS + "\n" + PHONE_CSS
VERDICT_WORDS = {"fake": "Likely fake", "real": "Likely real", "uncertain": "Uncertain", "no_face": "No face found",
                 "error": "Not analysed"}
UNCERTAIN_MESSAGE = ("The score lies between the model's two thresholds, where its verdicts on held-out faces were "
                     "too often wrong to call either way.")
NO_FACE_MESSAGE = ("No face was found, so there is nothing to score. Try a sharper, well-lit, front-facing "
                   "picture where the face is at least about 40 pixels wide.")
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
    paths = write_heatmaps(report, folder, "heatmap")
    return [(paths[position], face_caption(report, position + 1, face))
            for position, face in enumerate(report.faces) if position in paths]


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


