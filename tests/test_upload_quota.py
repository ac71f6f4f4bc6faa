"""The upload route's quota (``ui.upload_quota``): per client and in all, over the window uploads are kept."""

from __future__ import annotations

import asyncio
import json

from ui.upload_quota import UploadQuota

MB = 2**20


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _post(quota: UploadQuota, size: int | None, client: str = "10.0.0.1", forwarded: str | None = None,
          path: str = "/gradio_api/upload") -> tuple[int, dict]:
    """One request through the middleware: its status and JSON body (200 and {} when it reached the app)."""
    headers = [(b"content-length", str(size).encode())] if size is not None else []
    if forwarded:
        headers.append((b"x-forwarded-for", forwarded.encode()))
    scope = {"type": "http", "method": "POST", "path": path, "headers": headers, "client": (client, 5000)}
    chunks = [{"type": "http.request", "body": b"x", "more_body": True}] * 3 + [{"type": "http.request", "body": b""}]
    sent: list[dict] = []

    async def receive() -> dict:
        assert not sent, "the body is read before the answer"
        return chunks.pop(0)

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(quota(scope, receive, send))
    if not sent:
        return 200, {}
    assert not chunks  # a refused body is read to its end (unkept): the client reads the answer, not a broken pipe
    return sent[0]["status"], json.loads(sent[1]["body"])


async def _app(scope, receive, send) -> None:
    """The wrapped app: answers nothing (a request that reaches it sends no message here)."""


def test_a_client_over_its_quota_gets_one_sentence_until_the_window_passes():
    clock = Clock()
    quota = UploadQuota(_app, per_client_bytes=10 * MB, total_bytes=100 * MB, clock=clock)
    assert _post(quota, 6 * MB)[0] == 200
    status, body = _post(quota, 6 * MB)
    assert status == 429 and body["detail"] == ("Too many uploads from your address: at most 10 MB in 10 minutes. "
                                                 "Please try again later.")
    assert _post(quota, 6 * MB, client="10.0.0.2")[0] == 200  # another client has its own quota
    assert _post(quota, 3 * MB)[0] == 200  # what fits still fits
    clock.now += 601
    assert _post(quota, 9 * MB)[0] == 200


def test_the_server_quota_bounds_every_client_together_and_undeclared_sizes_count_in_full():
    quota = UploadQuota(_app, per_client_bytes=10 * MB, total_bytes=25 * MB, clock=Clock())
    for client in ("a", "b"):
        assert _post(quota, 10 * MB, client=client)[0] == 200
    status, body = _post(quota, 10 * MB, client="c")
    assert status == 429 and "all the uploads it can keep" in body["detail"]
    assert _post(quota, None, client="d")[0] == 429  # chunked, no length: counted as a whole quota


def test_behind_a_proxy_the_forwarded_address_is_the_client_and_other_routes_pass():
    quota = UploadQuota(_app, per_client_bytes=10 * MB, total_bytes=100 * MB, behind_proxy=True, clock=Clock())
    assert _post(quota, 8 * MB, client="proxy", forwarded="1.2.3.4, proxy")[0] == 200
    assert _post(quota, 8 * MB, client="proxy", forwarded="5.6.7.8")[0] == 200
    assert _post(quota, 8 * MB, client="proxy", forwarded="1.2.3.4")[0] == 429
    assert _post(quota, 50 * MB, path="/gradio_api/queue/join")[0] == 200
