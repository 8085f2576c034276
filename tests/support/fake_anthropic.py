"""A fake Anthropic Messages API for offline tests and benchmarks.

The real Claude Code CLI is pointed at it with ``ANTHROPIC_BASE_URL``. It
records every request (path, headers, JSON body) and answers from a queue of
scripted replies, falling back to a default reply. Replies can stream text,
thinking and tool_use blocks, carry usage with cache tokens, or fail in the
ways the real API fails (HTTP errors, a hang before any byte, a stall after
``message_start``, a connection dropped or an SSE stream cut short mid-answer).

Run standalone for the benchmark or the container check::

    python tests/support/fake_anthropic.py --port 8765 --ttfb 0.05 --tokens-per-second 200
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


@dataclass
class ToolUse:
    name: str
    input: dict[str, Any]
    id: str = field(default_factory=lambda: f"toolu_{uuid.uuid4().hex[:24]}")


@dataclass
class Reply:
    """One scripted answer. Defaults give a short streamed text reply."""

    text: list[str] = field(default_factory=lambda: ["Hello", " from", " fake", " Claude."])
    thinking: list[str] = field(default_factory=list)
    tool_uses: list[ToolUse] = field(default_factory=list)
    stop_reason: str = "end_turn"
    input_tokens: int = 11
    output_tokens: int = 7
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    # Failure modes.
    status: int = 200
    error_message: str = "scripted error"
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False  # accept the request, never send a byte
    stall_after_start: bool = False  # send message_start, then nothing
    # After this many content deltas (text, thinking or tool input), close the
    # connection without ending the HTTP response (no message_delta/stop).
    drop_after_deltas: int | None = None
    # After this many content deltas, end the HTTP response cleanly, but with
    # no content_block_stop, message_delta or message_stop: a truncated SSE.
    truncate_after_deltas: int | None = None
    # Pacing.
    ttfb: float = 0.0  # seconds before the first byte
    delta_delay: float = 0.0  # seconds between content deltas


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None
    received_at: float


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


class _DropConnection(Exception):
    """Raised inside a streamed body: uvicorn then closes the connection
    without the chunked body's terminator, as a dropped upstream would."""


class _QuietDrops(logging.Filter):
    """Keeps uvicorn from logging a traceback for a drop the script asked for."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        while error is not None:
            if isinstance(error, _DropConnection):
                return False
            group = getattr(error, "exceptions", None)  # anyio / starlette may wrap it
            error = group[0] if group else error.__cause__
        return True


class FakeAnthropic:
    """Thread-hosted fake. Use as a context manager or call start()/stop()."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self._requested_port = port
        self.port = 0
        self.requests: list[Recorded] = []
        self.default_reply = Reply()
        self._queue: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._quiet = _QuietDrops()
        self.finished_streams = 0
        self.open_streams = 0
        self.stream_end_times: list[float] = []
        self.app = Starlette(
            routes=[
                Route("/v1/messages", self._messages, methods=["POST"]),
                Route("/{path:path}", self._other, methods=["GET", "POST", "HEAD"]),
            ]
        )

    # -- scripting -------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self._queue.extend(replies)

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self.requests.clear()
            self.default_reply = Reply()
            self.stream_end_times.clear()

    def message_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.path == "/v1/messages"]

    def _next_reply(self) -> Reply:
        with self._lock:
            return self._queue.popleft() if self._queue else self.default_reply

    # -- lifecycle -------------------------------------------------------
    def start(self) -> FakeAnthropic:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self._requested_port))
        self.port = sock.getsockname()[1]
        logging.getLogger("uvicorn.error").addFilter(self._quiet)
        config = uvicorn.Config(self.app, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("fake Anthropic API did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            # Hanging streams would keep uvicorn waiting for them.
            self._server.force_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        logging.getLogger("uvicorn.error").removeFilter(self._quiet)

    def __enter__(self) -> FakeAnthropic:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- handlers --------------------------------------------------------
    async def _record(self, request: Request) -> Recorded:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            body = {"_raw": raw.decode(errors="replace")}
        rec = Recorded(
            method=request.method,
            path=request.url.path,
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
            received_at=time.monotonic(),
        )
        with self._lock:
            self.requests.append(rec)
        return rec

    async def _other(self, request: Request) -> Response:
        await self._record(request)
        return JSONResponse(
            {"type": "error", "error": {"type": "not_found_error", "message": "not faked"}},
            status_code=404,
        )

    async def _messages(self, request: Request) -> Response:
        rec = await self._record(request)
        reply = self._next_reply()
        if reply.ttfb:
            await asyncio.sleep(reply.ttfb)
        if reply.hang:
            await asyncio.sleep(3600)
        if reply.status != 200:
            return JSONResponse(
                {
                    "type": "error",
                    "error": {
                        "type": ERROR_TYPES.get(reply.status, "api_error"),
                        "message": reply.error_message,
                    },
                },
                status_code=reply.status,
                headers={"request-id": f"req_{uuid.uuid4().hex[:12]}", **reply.headers},
            )
        body = rec.body or {}
        model = str(body.get("model", "claude-fake"))
        if body.get("stream"):
            return StreamingResponse(
                self._stream(reply, model),
                media_type="text/event-stream",
                headers=reply.headers,
            )
        return JSONResponse(self._message_json(reply, model), headers=reply.headers)

    def _usage(self, reply: Reply, output_tokens: int) -> dict[str, Any]:
        return {
            "input_tokens": reply.input_tokens,
            "output_tokens": output_tokens,
            "cache_read_input_tokens": reply.cache_read_input_tokens,
            "cache_creation_input_tokens": reply.cache_creation_input_tokens,
        }

    def _message_json(self, reply: Reply, model: str) -> dict[str, Any]:
        content: list[dict[str, Any]] = []
        if reply.thinking:
            content.append({"type": "thinking", "thinking": "".join(reply.thinking), "signature": "sig"})
        if reply.text:
            content.append({"type": "text", "text": "".join(reply.text)})
        for tool in reply.tool_uses:
            content.append({"type": "tool_use", "id": tool.id, "name": tool.name, "input": tool.input})
        return {
            "id": f"msg_{uuid.uuid4().hex[:24]}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": content,
            "stop_reason": reply.stop_reason,
            "stop_sequence": None,
            "usage": self._usage(reply, reply.output_tokens),
        }

    async def _stream(self, reply: Reply, model: str) -> AsyncIterator[bytes]:
        self.open_streams += 1
        try:
            async for chunk in self._cut_short(reply, self._stream_events(reply, model)):
                yield chunk
        finally:
            self.open_streams -= 1
            self.finished_streams += 1
            self.stream_end_times.append(time.monotonic())

    async def _cut_short(self, reply: Reply, events: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """The events, up to the reply's scripted drop or truncation."""
        cut = reply.drop_after_deltas if reply.drop_after_deltas is not None else reply.truncate_after_deltas
        deltas = 0
        async for chunk in events:
            if chunk.startswith(b"event: content_block_delta") and b'"signature_delta"' not in chunk:
                if deltas == cut:
                    break
                deltas += 1
            yield chunk
        else:
            return
        if reply.drop_after_deltas is not None:
            # A pause first, as a real drop comes a while after the last byte:
            # the client reads what it got before it sees the connection end.
            await asyncio.sleep(reply.delta_delay)
            raise _DropConnection(f"scripted drop after {deltas} content deltas")

    async def _stream_events(self, reply: Reply, model: str) -> AsyncIterator[bytes]:
        start_usage = self._usage(reply, 1)
        yield _sse(
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": f"msg_{uuid.uuid4().hex[:24]}",
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": start_usage,
                },
            },
        )
        if reply.stall_after_start:
            await asyncio.sleep(3600)
        index = 0

        async def pace() -> None:
            if reply.delta_delay:
                await asyncio.sleep(reply.delta_delay)

        if reply.thinking:
            yield _sse(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {"type": "thinking", "thinking": "", "signature": ""},
                },
            )
            for piece in reply.thinking:
                await pace()
                yield _sse(
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "thinking_delta", "thinking": piece},
                    },
                )
            yield _sse(
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": "signature_delta", "signature": "c2lnbmF0dXJl"},
                },
            )
            yield _sse("content_block_stop", {"type": "content_block_stop", "index": index})
            index += 1
        if reply.text:
            yield _sse(
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}},
            )
            for piece in reply.text:
                await pace()
                yield _sse(
                    "content_block_delta",
                    {"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": piece}},
                )
            yield _sse("content_block_stop", {"type": "content_block_stop", "index": index})
            index += 1
        for tool in reply.tool_uses:
            yield _sse(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {"type": "tool_use", "id": tool.id, "name": tool.name, "input": {}},
                },
            )
            args = json.dumps(tool.input)
            for cut in range(0, len(args), 8):
                await pace()
                yield _sse(
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "input_json_delta", "partial_json": args[cut : cut + 8]},
                    },
                )
            yield _sse("content_block_stop", {"type": "content_block_stop", "index": index})
            index += 1
        yield _sse(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": reply.stop_reason, "stop_sequence": None},
                "usage": self._usage(reply, reply.output_tokens),
            },
        )
        yield _sse("message_stop", {"type": "message_stop"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--ttfb", type=float, default=0.0, help="seconds before the first byte")
    parser.add_argument("--tokens", type=int, default=20, help="text deltas per reply")
    parser.add_argument("--tokens-per-second", type=float, default=0.0, help="0: no pacing")
    args = parser.parse_args()
    fake = FakeAnthropic(args.host, args.port)
    fake.default_reply = Reply(
        text=[f" tok{i}" for i in range(args.tokens)],
        output_tokens=args.tokens,
        ttfb=args.ttfb,
        delta_delay=1.0 / args.tokens_per_second if args.tokens_per_second else 0.0,
    )
    fake.start()
    print(f"fake Anthropic API on {fake.base_url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
