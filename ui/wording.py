"""What the app says about a result, as Markdown: the verdict's words and its coloured heading (the colours are
``ui.styles``'s), the messages for an uncertain verdict and a picture without a face, and the lines that say how a
verdict was reached (probability and thresholds, weak evidence, a clip's frames and its two models, what the file says
about itself, escaped as plain text); and a live camera session's rolling verdict. Pure: no files written, no
Gradio import."""

from __future__ import annotations

import re

from model.calibration import Thresholds
from model.live import RollingVerdict
from model.report import ClipSummary, Report
from ui.drawing import VERDICT_RGB

VERDICT_WORDS = {"fake": "Likely fake", "real": "Likely real", "uncertain": "Uncertain", "no_face": "No face found",
                 "error": "Not analysed"}
UNCERTAIN_MESSAGE = ("The score lies between the model's two thresholds, where its verdicts on held-out faces were "
                     "too often wrong to call either way.")
NO_FACE_MESSAGE = ("No face was found, so there is nothing to score. Try a sharper, well-lit, front-facing "
                   "picture where the face is at least about 40 pixels wide.")


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
