"""A quota on what the upload route keeps, per client and in all, over the time uploads are kept.

Gradio keeps every file posted to ``/gradio_api/upload`` (for ``FILES_KEPT_S``, the app's cache lifetime),
whether or not an analysis follows, so a stranger could fill a public Space's disk with files it never analyses.
This ASGI middleware counts each upload's declared size (``Content-Length``, read before the body) against the
client's quota and the server's, and answers ``429`` with one sentence when either would be exceeded (after
reading the refused body to its end, unkept, so that the client reads the answer).

The client is the first ``X-Forwarded-For`` address when the app runs behind a proxy (Hugging Face Spaces), else
the socket's address. A client can forge that header to look like another; the total quota still bounds the disk.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable

from ui.report_folders import FILES_KEPT_S

DEFAULT_CLIENT_MB = 300
TOTAL_SHARE = 8  # the server's quota is this many clients' worth


class UploadQuota:
    """ASGI middleware: uploads over a client's (or the server's) bytes in the last ``window_s`` are refused."""

    def __init__(self, app, per_client_bytes: int, total_bytes: int, behind_proxy: bool = False,
                 window_s: float = FILES_KEPT_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.app = app
        self.per_client_bytes, self.total_bytes, self.window_s = per_client_bytes, total_bytes, window_s
        self.behind_proxy, self.clock = behind_proxy, clock
        self._uploads: deque[tuple[float, str, int]] = deque()  # (time, client, bytes), oldest first
        self._lock = threading.Lock()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not scope["path"].rstrip("/").endswith("/upload"):
            await self.app(scope, receive, send)
            return
        refusal = self.admit(self.client_of(scope), _declared_size(scope, self.per_client_bytes))
        if refusal is None:
            await self.app(scope, receive, send)
            return
        await _drain(receive)
        body = json.dumps({"detail": refusal}).encode()
        await send({"type": "http.response.start", "status": 429,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"retry-after", str(int(self.window_s)).encode())]})
        await send({"type": "http.response.body", "body": body})

    def client_of(self, scope) -> str:
        """Who is uploading: the first forwarded address behind a proxy, else the socket's address."""
        if self.behind_proxy:
            for name, value in scope.get("headers", ()):
                if name == b"x-forwarded-for" and value.strip():
                    return value.decode("latin-1").split(",")[0].strip()
        client = scope.get("client")
        return client[0] if client else "unknown"

    def admit(self, client: str, size: int) -> str | None:
        """Record an upload of ``size`` bytes by ``client``, or say in a sentence why it is refused."""
        with self._lock:
            now = self.clock()
            while self._uploads and self._uploads[0][0] <= now - self.window_s:
                self._uploads.popleft()
            mine = sum(bytes_ for _, who, bytes_ in self._uploads if who == client)
            everyone = sum(bytes_ for _, _, bytes_ in self._uploads)
            minutes = max(1, round(self.window_s / 60))
            if mine + size > self.per_client_bytes:
                return (f"Too many uploads from your address: at most {self.per_client_bytes / 2**20:.0f} MB in "
                        f"{minutes} minutes. Please try again later.")
            if everyone + size > self.total_bytes:
                return (f"The server has taken all the uploads it can keep for now. Please try again in {minutes} "
                        "minutes.")
            self._uploads.append((now, client, size))
            return None


async def _drain(receive) -> None:
    """Read a refused upload's body to its end without keeping it: a client still sending when the server answers
    and closes would see a broken pipe instead of the answer."""
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return


def _declared_size(scope, unknown: int) -> int:
    """The request's ``Content-Length``; a body of undeclared length counts as ``unknown`` bytes."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return max(0, int(value))
            except ValueError:
                break
    return unknown
