"""App benchmark through the real server: cold start, image latency, and parallel gradio_client users.

    python bench/bench_app.py [--image-model PATH] [--video-model PATH] [--requests 30] [--users 8] [--per-user 25]

Starts `python app.py` on a free local port (as users do), times it from launch to the first served
/analyze_image request, then measures request latency one at a time (p50/p95) and finally `--users` parallel
clients each sending `--per-user` requests: failures, throughput, latency under load and the server's peak memory
(VmHWM); also /analyze_video latency with each model. Without the shipped weights it benchmarks untrained models
of the same architectures and sizes (speed does not depend on training). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from model.store import DEFAULT_IMAGE_MODEL, DEFAULT_VIDEO_MODEL  # noqa: E402
from tests.browser_support import AppServer  # noqa: E402

PHOTO = ROOT / "assets" / "examples" / "astronaut.jpg"
CLIP = ROOT / "assets" / "examples" / "astronaut_clip.webm"


def stand_in_model(folder: Path, kind: str) -> Path:
    """An untrained model of the shipped architecture and size, for when no weights are there."""
    from model.architectures import build_image_model, build_video_model
    from model.store import ModelInfo, save_model

    if kind == "video":
        network = build_video_model()
        return save_model(network, folder / "video_model.keras", ModelInfo("video", network.name)).path
    return save_model(build_image_model("residual_cnn", 256), folder / "image_model.keras",
                      ModelInfo(kind="image", architecture="residual_cnn", image_size=256)).path


def peak_rss_mb(pid: int) -> float:
    """Peak resident memory of a process (Linux /proc VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentiles(samples: list[float]) -> tuple[float, float]:
    return float(np.percentile(samples, 50)), float(np.percentile(samples, 95))


def analyze(client, handle_file) -> None:
    verdict = client.predict(handle_file(str(PHOTO)), api_name="/analyze_image")[0]
    if not re.match(r'## <span class="verdict-(real|uncertain|fake)">', verdict):
        raise RuntimeError(f"unexpected verdict: {verdict[:80]!r}")


def analyze_clip(client, handle_file, model: str) -> None:
    verdict = client.predict(handle_file(str(CLIP)), model, api_name="/analyze_video")[0]
    if not re.match(r'## <span class="verdict-(real|uncertain|fake)">', verdict):
        raise RuntimeError(f"unexpected verdict: {verdict[:80]!r}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image-model", default=str(DEFAULT_IMAGE_MODEL))
    parser.add_argument("--video-model", default=str(DEFAULT_VIDEO_MODEL))
    parser.add_argument("--clips", type=int, default=5, help="sequential /analyze_video requests per model")
    parser.add_argument("--requests", type=int, default=30, help="sequential requests for p50/p95")
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--per-user", type=int, default=25)
    parser.add_argument("--concurrency", type=int, default=2, help="the app's --concurrency")
    args = parser.parse_args()

    from gradio_client import Client, handle_file

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        models = {"image": Path(args.image_model), "video": Path(args.video_model)}
        notes = []
        for kind, path in models.items():
            if not path.exists():
                models[kind] = stand_in_model(Path(tmp), kind)
                notes.append(f"{kind} model: untrained stand-in of the shipped size (no weights yet)")
        started = time.monotonic()
        with AppServer("--image-model", str(models["image"]), "--video-model", str(models["video"]),
                       "--concurrency", str(args.concurrency)) as server:
            listening = server.ready_s
            client = Client(server.url, verbose=False)
            analyze(client, handle_file)
            first = time.monotonic() - started
            cpu = cpu_seconds(server.process.pid)
            rows.append(("cold start: launch → server answers", f"{listening:.1f} s", ""))
            rows.append(("cold start: launch → first /analyze_image served", f"{first:.1f} s", "target ≤ 10 s"))
            rows.append(("  server CPU time by then (user + system; includes the background video load)",
                         f"{cpu:.1f} s", f"load average {os.getloadavg()[0]:.1f}"))

            analyze_clip(client, handle_file, "video")  # waits for the app's background warm-up of the video path
            samples = []
            for _ in range(args.requests):
                began = time.perf_counter()
                analyze(client, handle_file)
                samples.append((time.perf_counter() - began) * 1000)
            p50, p95 = percentiles(samples)
            rows.append((f"/analyze_image latency, 1 user × {args.requests} (512×512 photo)",
                         f"p50 {p50:.0f} ms", f"p95 {p95:.0f} ms"))
            for model in ("video", "image"):
                analyze_clip(client, handle_file, model)
                samples = []
                for _ in range(args.clips):
                    began = time.perf_counter()
                    analyze_clip(client, handle_file, model)
                    samples.append((time.perf_counter() - began) * 1000)
                p50, p95 = percentiles(samples)
                rows.append((f"/analyze_video latency, {model} model, 1 user × {args.clips} (3 s clip, 20 frames)",
                             f"p50 {p50:.0f} ms", f"p95 {p95:.0f} ms"))

            latencies: list[float] = []
            failures: list[str] = []
            lock = threading.Lock()

            def user() -> None:
                try:
                    own = Client(server.url, verbose=False)
                except Exception as error:  # a client that cannot connect counts all its requests as failed
                    with lock:
                        failures.extend([f"connect: {error}"] * args.per_user)
                    return
                for _ in range(args.per_user):
                    began = time.perf_counter()
                    try:
                        analyze(own, handle_file)
                    except Exception as error:
                        with lock:
                            failures.append(f"{type(error).__name__}: {error}")
                        continue
                    with lock:
                        latencies.append((time.perf_counter() - began) * 1000)

            threads = [threading.Thread(target=user) for _ in range(args.users)]
            began = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.perf_counter() - began
            total = args.users * args.per_user
            p50, p95 = percentiles(latencies) if latencies else (float("nan"), float("nan"))
            rows.append((f"{args.users} parallel users × {args.per_user} requests (app concurrency "
                         f"{args.concurrency})", f"{len(failures)} failures of {total}",
                         f"{len(latencies) / elapsed:.1f} req/s"))
            rows.append(("  latency under that load", f"p50 {p50:.0f} ms", f"p95 {p95:.0f} ms"))
            rows.append(("server peak memory (VmHWM)", f"{peak_rss_mb(server.process.pid):.0f} MB", ""))
            if failures:
                print("failures:", *sorted(set(failures))[:5], sep="\n  ", file=sys.stderr)

    print(f"CPU cores: {len(os.sched_getaffinity(0))}; load average at the end: {os.getloadavg()[0]:.1f}")
    for note in notes:
        print(note)
    print("| measurement | value | |\n|---|---|---|")
    for name, value, extra in rows:
        print(f"| {name} | {value} | {extra} |")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
