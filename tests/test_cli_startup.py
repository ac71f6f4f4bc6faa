"""The command lines answer ``--help`` at once: neither TensorFlow nor Gradio is imported before argparse is done
(they take tens of seconds to import on a small CPU), and nothing but the help is printed."""

from __future__ import annotations

import importlib
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


@pytest.mark.parametrize("module", ["train.image", "train.video", "train.evaluate", "train.domains",
                                    "train.extract_faces", "tools.fuzz_corpus", "tools.make_space"])
def test_every_command_line_prints_its_help(module, capsys):
    """Every help text formats (a bare ``%`` in one made ``train.video --help`` crash)."""
    main = importlib.import_module(module).main
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    assert "usage:" in capsys.readouterr().out
