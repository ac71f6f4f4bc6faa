"""Where the app keeps each request's files (boxed pictures, crops, heatmaps, JSON reports), and how they go away.

One folder per run of the app, under the system's temporary folder, named ``deepfake-reports-*`` and holding the
process id that owns it. It is removed on every way out: a normal exit and Ctrl-C (``atexit``), SIGTERM (removed
at once, then the server stops as on Ctrl-C), and, for a run that was killed outright (SIGKILL, a crash), by the
next run at its start.
People's photos must not stay on a server's disk after it stops.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

PREFIX = "deepfake-reports-"
FILES_KEPT_S = 600  # how long the app keeps people's files: uploads (Gradio's cache) and each request's results
OWNER_FILE = "owner.pid"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def remove_leftovers(parent: str | Path | None = None) -> list[Path]:
    """Remove the report folders of runs whose process is gone; returns what was removed."""
    removed = []
    for folder in Path(parent or tempfile.gettempdir()).glob(f"{PREFIX}*"):
        try:
            pid = int((folder / OWNER_FILE).read_text())
        except (OSError, ValueError):
            pid = None
        if folder.is_dir() and (pid is None or not _alive(pid)):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def open_report_dir(parent: str | Path | None = None) -> Path:
    """This run's report folder, removed on exit and on SIGTERM (then the server stops as on Ctrl-C, which exits
    normally); leftovers of killed runs are removed first."""
    remove_leftovers(parent)
    folder = Path(tempfile.mkdtemp(prefix=PREFIX, dir=parent))
    (folder / OWNER_FILE).write_text(str(os.getpid()))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)

    def stop(_signum: int, _frame) -> None:
        shutil.rmtree(folder, ignore_errors=True)
        raise KeyboardInterrupt  # the server closes as on Ctrl-C, and the process exits normally

    signal.signal(signal.SIGTERM, stop)
    return folder


def request_folder(directory: str | Path, max_age_s: float = FILES_KEPT_S) -> Path:
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
