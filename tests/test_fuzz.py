"""A seeded fuzz run: a few hundred damaged and crafted files (``tools/fuzz_corpus.py``) through the scan, as a
stranger's uploads would arrive. Every file gets exactly one answer line, nothing raises, nothing takes long."""

from __future__ import annotations

import json
import time
from pathlib import Path


from model import scan
from tests.browser_support import small_video_model
from tools.fuzz_corpus import write_corpus

FILES = 240
BUDGET_S = 5.0  # per file, on 2 busy cores (a crafted metadata packet used to take minutes)


def test_every_fuzzed_file_gets_one_line_quickly_and_no_traceback(tmp_path, small_image_model, monkeypatch,
                                                                   capsys):
    corpus = write_corpus(tmp_path / "corpus", FILES, seed=7)
    video_model = small_video_model(tmp_path / "video_model.keras")
    durations: dict[str, float] = {}
    answer = scan.scan_one

    def timed(path: Path, *args, **kwargs):
        start = time.perf_counter()
        try:
            return answer(path, *args, **kwargs)
        finally:
            durations[path.name] = time.perf_counter() - start

    monkeypatch.setattr(scan, "scan_one", timed)
    assert scan.main([str(tmp_path / "corpus"), "--quiet", "--image-model", str(small_image_model),
                      "--video-model", str(video_model), "--frames", "4"]) == 0
    out, err = capsys.readouterr()
    records = [json.loads(line) for line in out.splitlines()]
    assert sorted(Path(r["path"]).name for r in records) == sorted(p.name for p in corpus)  # one line each
    assert "Traceback" not in err
    for record in records:
        assert record["verdict"] in {"real", "uncertain", "fake", "no_face", "error"}, record
        if record["verdict"] == "error":
            assert record["error"] and "\n" not in record["error"] and "Error:" not in record["error"], record
    slowest = max(durations, key=durations.get)
    assert durations[slowest] < BUDGET_S, (slowest, durations[slowest])
    outcomes = {verdict: sum(r["verdict"] == verdict for r in records) for verdict in ("error", "no_face")}
    assert outcomes["error"] > 20 and len(records) - sum(outcomes.values()) > 10  # both kinds of answer occur
