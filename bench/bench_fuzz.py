"""Hostile-input benchmark: the fuzz corpus through the scan (files, outcomes, slowest file, peak memory), and
optionally a soak of a running app (calls, failures, slowest call, memory slope). Prints tables.

    python bench/bench_fuzz.py [--count 1000] [--seed 0]
    python app.py --port 7861 &  python bench/bench_fuzz.py --count 0 --soak-url http://127.0.0.1:7861/ \\
        --soak-pid $! --soak-seconds 600
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from model.image_detector import ImageDetector  # noqa: E402
from model.scan import scan_one  # noqa: E402
from model.video_detector import VideoDetector  # noqa: E402
from tools.fuzz_corpus import write_corpus  # noqa: E402


def rss_mb(pid: int | None = None) -> float:
    """Resident memory of a process (this one by default), from /proc."""
    status = Path(f"/proc/{pid or 'self'}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))) / 1024


def scan_corpus(count: int, seed: int) -> None:
    detector = ImageDetector()
    videos = VideoDetector(detector.scorer)
    with tempfile.TemporaryDirectory() as folder:
        corpus = write_corpus(folder, count, seed)
        # Graphs traced and models warmed before timing, on a picture with a face (the corpus's last file may
        # hold none, and the first face would then pay the tracing: about a second, charged to that file).
        detector.analyze_file(ROOT / "assets" / "examples" / "astronaut.jpg")
        outcomes: Counter = Counter()
        times = []
        for path in corpus:
            start = time.perf_counter()
            report = scan_one(path, detector.analyze_file, videos.analyze_file, False)
            times.append((time.perf_counter() - start, path.name))
            outcomes[report.verdict] += 1
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    slowest = max(times)
    print("| files | " + " | ".join(sorted(outcomes)) + " | slowest file | its time | median | peak memory |")
    print("|" + "---|" * (len(outcomes) + 5))
    print(f"| {len(times)} | " + " | ".join(str(outcomes[k]) for k in sorted(outcomes))
          + f" | {slowest[1]} | {slowest[0]:.2f} s | {sorted(times)[len(times) // 2][0] * 1000:.0f} ms "
          f"| {peak:.0f} MB |")


def soak(url: str, pid: int | None, seconds: float, seed: int) -> None:
    """Call the app's image endpoint with fuzzed files for ``seconds``; memory sampled every 20 calls."""
    import numpy as np
    from gradio_client import Client, handle_file

    client = Client(url, verbose=False)
    calls = failures = 0
    slowest = 0.0
    samples: list[tuple[int, float]] = []
    with tempfile.TemporaryDirectory() as folder:
        corpus = write_corpus(folder, 200, seed)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            path = corpus[calls % len(corpus)]
            start = time.perf_counter()
            try:
                client.predict(handle_file(str(path)), api_name="/analyze_image")
            except Exception:  # noqa: BLE001 - a refused file is an answer; a dead server is a failure
                failures += int(not Path(f"/proc/{pid}").exists()) if pid else 0
            slowest = max(slowest, time.perf_counter() - start)
            calls += 1
            if pid and calls % 20 == 0:
                samples.append((calls, rss_mb(pid)))
    slope = np.polyfit(*zip(*samples), 1)[0] * 1000 if len(samples) > 2 else float("nan")
    print("\n| calls | failures | slowest call | memory first → last | slope per 1000 calls |\n|---|---|---|---|---|")
    memory = f"{samples[0][1]:.0f} → {samples[-1][1]:.0f} MB" if samples else "n/a (no --soak-pid)"
    print(f"| {calls} | {failures} | {slowest:.2f} s | {memory} | {slope:.1f} MB |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000, help="mutated files (the crafted ones come on top)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--soak-url", default=None, help="a running app to soak")
    parser.add_argument("--soak-pid", type=int, default=None, help="its process id, for its memory")
    parser.add_argument("--soak-seconds", type=float, default=600)
    args = parser.parse_args()
    if args.count:
        scan_corpus(args.count, args.seed)
    if args.soak_url:
        soak(args.soak_url, args.soak_pid, args.soak_seconds, args.seed)


if __name__ == "__main__":
    main()
