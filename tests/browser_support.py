"""Helpers for the app tests: run the app, build a small video model, find Chromium, write a fake-camera clip."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]


def chromium_path() -> str | None:
    """Debian's Chromium (installed by .ci/run), or ``$CHROMIUM`` if set; None when there is none."""
    for candidate in (os.getenv("CHROMIUM"), *CHROMIUM_CANDIDATES, shutil.which("chromium")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def write_y4m(path: Path, frames: list[np.ndarray], fps: int = 10) -> Path:
    """Write RGB frames (even width and height) as an uncompressed YUV4MPEG2 (I420) file for a fake camera."""
    height, width = frames[0].shape[:2]
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode("ascii"))
        for frame in frames:
            out.write(b"FRAME\n")
            out.write(cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2YUV_I420).tobytes())
    return path


def camera_frames(photo: np.ndarray, count: int = 10, width: int = 640, height: int = 480) -> list[np.ndarray]:
    """The photo centred on a grey 640×480 frame, shifting a few pixels per frame like a hand-held camera."""
    side = height
    face = cv2.resize(photo, (side, side), interpolation=cv2.INTER_AREA)
    frames = []
    for index in range(count):
        canvas = np.full((height, width, 3), 100, np.uint8)
        left = (width - side) // 2 + (index % 5) * 2
        canvas[:, left:left + side] = face
        frames.append(canvas)
    return frames


def small_video_model(path: Path) -> Path:
    """A real, untrained video model small enough for tests: 4 frames of 32-pixel faces."""
    from model.architectures import build_video_model
    from model.store import ModelInfo, save_model

    network = build_video_model(frames=4, image_size=32, lstm_units=8)
    return save_model(network, path, ModelInfo(kind="video", architecture=network.name, frames=4, image_size=32)).path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class AppServer:
    """``python app.py`` in a subprocess on a free local port; ``url`` once it answers."""

    def __init__(self, *args: str, address_from_env: bool = False, timeout: float = 180.0,
                 extra_env: dict[str, str] | None = None) -> None:
        """``address_from_env`` gives host and port through GRADIO_SERVER_NAME/PORT instead of --host/--port;
        ``extra_env``: more environment variables for the app."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log = tempfile.TemporaryFile("w+")
        env = {key: value for key, value in os.environ.items()
               if key not in ("GRADIO_SERVER_NAME", "GRADIO_SERVER_PORT", "GRADIO_ANALYTICS_ENABLED")}
        env.update(extra_env or {})
        command = [sys.executable, str(ROOT / "app.py"), *args]
        if address_from_env:
            env.update(GRADIO_SERVER_NAME="127.0.0.1", GRADIO_SERVER_PORT=str(self.port))
        else:
            command += ["--host", "127.0.0.1", "--port", str(self.port)]
        self.started = time.monotonic()
        self.process = subprocess.Popen(command, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        self._wait(timeout)

    def _wait(self, timeout: float) -> None:
        deadline = self.started + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"app.py exited with {self.process.returncode}:\n{self.output()[-3000:]}")
            try:
                with urllib.request.urlopen(self.url + "config", timeout=2) as response:
                    if response.status == 200:
                        self.ready_s = time.monotonic() - self.started
                        return
            except OSError:
                time.sleep(0.25)
        self.stop()
        raise TimeoutError(f"app.py did not answer within {timeout:.0f} s:\n{self.output()[-3000:]}")

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()

    def __enter__(self) -> AppServer:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
