"""The JSON report the app shows and offers for download: the scan CLI's record of a report with no server paths in
it (``record``), its readable text (``report_text``), and that text written as ``<input name>_report.json`` in the
request's folder (``write_report``, the one function here that writes a file). No Gradio import."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from model.report import Report


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
