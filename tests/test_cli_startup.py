"""The command lines answer ``--help`` at once: neither TensorFlow nor Gradio is imported before argparse is done
(they take tens of seconds to import on a small CPU), and nothing but the help is printed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROBE = """
import runpy, sys
sys.argv = {argv!r}
try:
    runpy.{runner}({target!r}, run_name="__main__")
except SystemExit as done:
    heavy = sorted(name for name in ("tensorflow", "keras", "gradio") if name in sys.modules)
    print("HEAVY:" + ",".join(heavy), "EXIT:" + str(done.code), file=sys.stderr)
"""


@pytest.mark.parametrize("runner, target, argv", [
    ("run_module", "model.scan", ["model.scan", "--help"]),
    ("run_path", str(ROOT / "app.py"), ["app.py", "--help"]),
], ids=["scan", "app"])
def test_help_answers_before_tensorflow_or_gradio_is_imported(runner, target, argv):
    result = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv, runner=runner, target=target)],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert "usage:" in result.stdout
    assert "HEAVY: EXIT:0" in result.stderr, result.stderr
    assert "cuInit" not in result.stderr and "[ WARN" not in result.stderr
