"""``GET /health`` as ``serve`` answers it: LiteLLM's report, without tracebacks.

LiteLLM's ``/health`` makes one small real request per deployment and puts
each failure's Python traceback into the JSON it returns ("...\\nstack trace:
Traceback ..."). The report keeps the error's own message; the traceback,
which tells a client about the server's code and paths, is cut off.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

HEALTH_PATH = "/health"
TRACEBACK_MARK = "\nstack trace:"


def without_tracebacks(value: Any) -> Any:
    """``value`` (decoded JSON) with every string cut where a traceback begins."""
    if isinstance(value, str):
        return value.split(TRACEBACK_MARK, 1)[0]
    if isinstance(value, list):
        return [without_tracebacks(item) for item in value]
    if isinstance(value, dict):
        return {key: without_tracebacks(item) for key, item in value.items()}
    return value


def health_without_tracebacks(app: ASGIApp) -> ASGIApp:
    """``app`` whose ``GET /health`` body is passed through :func:`without_tracebacks`."""

    async def filtered(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") != HEALTH_PATH:
            await app(scope, receive, send)
            return
        start: Message = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(bytes(message.get("body", b"")))
                if not message.get("more_body"):
                    await _send_filtered(send, start, b"".join(chunks))

        # Uncompressed, so the report can be read here (LiteLLM gzips what a client accepts gzipped).
        plain = [(k, v) for k, v in scope.get("headers", []) if k.lower() != b"accept-encoding"]
        await app({**scope, "headers": plain}, receive, capture)

    return filtered


async def _send_filtered(send: Send, start: Message, body: bytes) -> None:
    with contextlib.suppress(ValueError):  # not JSON: nothing of ours to cut
        body = json.dumps(without_tracebacks(json.loads(body))).encode()
    headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
    headers.append((b"content-length", str(len(body)).encode()))
    await send({**start, "headers": headers})
    await send({"type": "http.response.body", "body": body})
