"""A fake Anthropic Messages API for offline tests and benchmarks.

The real Claude Code CLI is pointed at it with ``ANTHROPIC_BASE_URL``. It
records every request (path, headers, JSON body) and answers from a queue of
scripted replies, falling back to a default reply. Replies can stream text,
thinking and tool_use blocks (or any ordered list of content blocks, server
tools included), carry usage with cache tokens, or fail in the ways the real
API fails (HTTP errors, an in-band ``event: error`` mid-stream, a hang before
any byte, a stall after ``message_start``, a connection dropped or an SSE
stream cut short mid-answer).

What it sends follows the responses recorded from the real API in
``/work/shared/anthropic-sse`` (see tests/unit/test_fake_anthropic.py): compact
JSON padded with spaces before the closing brace, a ``ping`` after the first
``content_block_start``, one empty ``input_json_delta`` first in every tool
input, an empty ``thinking_delta`` before the signature, the full usage
(``cache_creation`` split by TTL, ``service_tier``, ``inference_geo``), and
the ``request-id`` / ``anthropic-ratelimit-*`` headers.

Run standalone for the benchmark or the container check::

    python tests/support/fake_anthropic.py --port 8765 --ttfb 0.05 --tokens-per-second 200
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import secrets
import socket
import string
import threading
import time
import zlib
from collections import deque
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
# The real API marks these "do not retry" (recorded for 400, 401 and 404). For the
# other statuses no recording exists, so the fake sends no x-should-retry and the
# client falls back to its own rule (retry 408, 409, 429 and 5xx).
NO_RETRY = frozenset({400, 401, 403, 404, 413})
ORGANIZATION_ID = "00000000-0000-4000-8000-00000000fa4e"
# Limit values as recorded (tier-4 organisation, 2026).
RATE_LIMITS = {"input-tokens": 4_000_000, "output-tokens": 800_000, "requests": 20_000, "tokens": 4_800_000}
Json = dict[str, Any]


def _ident(prefix: str, length: int = 22) -> str:
    """An id shaped like the real ones (``msg_01…``, ``toolu_01…``, ``req_011C…``)."""
    alphabet = string.ascii_letters + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _ in range(length))


def _delta(kind: str, **fields: Any) -> Json:
    return {"type": kind, **fields}


class Block(Protocol):
    """One content block: how it opens a stream, its deltas, and its whole form."""

    def start(self) -> Json: ...
    def deltas(self) -> list[Json]: ...
    def whole(self) -> Json: ...


@dataclass
class Text:
    pieces: list[str]
    citations: list[Json] | None = None  # web search citations, sent as citations_delta first

    def start(self) -> Json:
        return {"type": "text", "text": ""} if self.citations is None else {"citations": [], "type": "text", "text": ""}

    def deltas(self) -> list[Json]:
        cited = [_delta("citations_delta", citation=c) for c in self.citations or []]
        return cited + [_delta("text_delta", text=piece) for piece in self.pieces]

    def whole(self) -> Json:
        block: Json = {"type": "text", "text": "".join(self.pieces)}
        if self.citations is not None:
            block["citations"] = self.citations
        return block


@dataclass
class Thinking:
    pieces: list[str]
    signature: str = "c2lnbmF0dXJl"

    def start(self) -> Json:
        return {"type": "thinking", "thinking": "", "signature": ""}

    def deltas(self) -> list[Json]:
        # The real API ends the thinking with an empty thinking_delta, then the signature.
        thoughts = [_delta("thinking_delta", thinking=piece) for piece in [*self.pieces, ""]]
        return [*thoughts, _delta("signature_delta", signature=self.signature)]

    def whole(self) -> Json:
        return {"type": "thinking", "thinking": "".join(self.pieces), "signature": self.signature}


def _input_deltas(value: Json) -> list[Json]:
    """Tool input as the real API streams it: an empty fragment first (the only
    one when the input is ``{}``), then the JSON in small pieces."""
    args = json.dumps(value) if value else ""
    pieces = ["", *(args[cut : cut + 8] for cut in range(0, len(args), 8))]
    return [_delta("input_json_delta", partial_json=piece) for piece in pieces]


@dataclass
class ToolUse:
    name: str
    input: Json
    id: str = field(default_factory=lambda: _ident("toolu_01"))
    caller: Json | None = field(default_factory=lambda: {"type": "direct"})  # 2026 streams carry it

    def start(self) -> Json:
        block: Json = {"type": "tool_use", "id": self.id, "name": self.name, "input": {}}
        if self.caller is not None:
            block["caller"] = self.caller
        return block

    def deltas(self) -> list[Json]:
        return _input_deltas(self.input)

    def whole(self) -> Json:
        return {"type": "tool_use", "id": self.id, "name": self.name, "input": self.input}


@dataclass
class ServerToolUse:
    """A tool the API runs itself (web search): streamed like a tool_use."""

    input: Json
    name: str = "web_search"
    id: str = field(default_factory=lambda: _ident("srvtoolu_01"))

    def start(self) -> Json:
        return {"type": "server_tool_use", "id": self.id, "name": self.name, "input": {}}

    def deltas(self) -> list[Json]:
        return _input_deltas(self.input)

    def whole(self) -> Json:
        return {"type": "server_tool_use", "id": self.id, "name": self.name, "input": self.input}


@dataclass
class WebSearchResult:
    """The result of a server web search: whole in its content_block_start, no deltas."""

    tool_use_id: str
    results: list[Json]

    def start(self) -> Json:
        return self.whole()

    def deltas(self) -> list[Json]:
        return []

    def whole(self) -> Json:
        return {"type": "web_search_tool_result", "tool_use_id": self.tool_use_id, "content": self.results}


@dataclass
class Reply:
    """One scripted answer. Defaults give a short streamed text reply."""

    text: list[str] = field(default_factory=lambda: ["Hello", " from", " fake", " Claude."])
    thinking: list[str] = field(default_factory=list)
    tool_uses: list[ToolUse] = field(default_factory=list)
    # The content in order; when given, text, thinking and tool_uses are ignored.
    blocks: list[Block] | None = None
    stop_reason: str = "end_turn"
    input_tokens: int = 11
    output_tokens: int = 7
    start_output_tokens: int = 1  # the small count message_start carries
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_creation_1h_input_tokens: int = 0  # of cache_creation_input_tokens; the rest are 5-minute
    thinking_tokens: int | None = None  # message_delta usage.output_tokens_details
    web_search_requests: int | None = None  # message_delta usage.server_tool_use
    service_tier: str = "standard"
    inference_geo: str | None = "not_available"  # absent before 2026
    stop_details: bool = True  # send "stop_details": null (absent before 2026)
    ping: bool = True  # the real API sends one after the first content_block_start
    # Failure modes.
    status: int = 200
    error_type: str | None = None  # default: the type the real API uses for the status
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
    # An in-band `event: error` of this type (e.g. "overloaded_error") after
    # `stream_error_after_deltas` content deltas (0: right after message_start),
    # then the end of the response: how an overload mid-answer arrives.
    stream_error: str | None = None
    stream_error_after_deltas: int = 0
    # Pacing.
    ttfb: float = 0.0  # seconds before the first byte
    delta_delay: float = 0.0  # seconds between content deltas

    def content(self) -> list[Block]:
        if self.blocks is not None:
            return list(self.blocks)
        blocks: list[Block] = []
        if self.thinking:
            blocks.append(Thinking(self.thinking))
        if self.text:
            blocks.append(Text(self.text))
        return [*blocks, *self.tool_uses]


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None
    received_at: float


def _sse(event: str, data: Json) -> bytes:
    """One event as the real API frames it: compact JSON padded with spaces
    before its closing brace (the ping alone is spaced and unpadded)."""
    if event == "ping":
        return b'event: ping\ndata: {"type": "ping"}\n\n'
    payload = json.dumps(data, separators=(",", ":"))
    padded = payload[:-1] + " " * (zlib.crc32(payload.encode()) % 16) + "}"
    return f"event: {event}\ndata: {padded}\n\n".encode()


def _carries_content(event: str, data: Json) -> bool:
    """A delta with text, thinking or tool input in it (what cuts count)."""
    if event != "content_block_delta":
        return False
    delta = data["delta"]
    return bool(delta.get("text") or delta.get("thinking") or delta.get("partial_json"))


def _in_band_error(kind: str, message: str, request_id: str) -> Json:
    return {"type": "error", "error": {"details": None, "type": kind, "message": message}, "request_id": request_id}


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


def _rate_limit_headers() -> dict[str, str]:
    """The anthropic-ratelimit-* headers of a successful call (never exhausted)."""
    reset = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    headers: dict[str, str] = {}
    for name, limit in RATE_LIMITS.items():
        remaining = limit - 1 if name == "requests" else limit
        headers |= {
            f"anthropic-ratelimit-{name}-limit": str(limit),
            f"anthropic-ratelimit-{name}-remaining": str(remaining),
            f"anthropic-ratelimit-{name}-reset": reset,
        }
    return headers


def _error_headers(status: int, request_id: str) -> dict[str, str]:
    headers = {"request-id": request_id}
    if status != 401:  # an unauthenticated call names no organisation
        headers["anthropic-organization-id"] = ORGANIZATION_ID
    if status in NO_RETRY:
        headers["x-should-retry"] = "false"
    return headers


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
        request_id = _ident("req_011C", 20)
        if reply.ttfb:
            await asyncio.sleep(reply.ttfb)
        if reply.hang:
            await asyncio.sleep(3600)
        if reply.status != 200:
            return self._error_response(reply, request_id)
        body = rec.body or {}
        model = str(body.get("model", "claude-fake"))
        headers = {"request-id": request_id, "anthropic-organization-id": ORGANIZATION_ID, **_rate_limit_headers()}
        if body.get("stream"):
            return StreamingResponse(
                self._stream(reply, model, request_id),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", **headers, **reply.headers},
            )
        return JSONResponse(self._message_json(reply, model), headers={**headers, **reply.headers})

    def _error_response(self, reply: Reply, request_id: str) -> Response:
        """An error before any byte of the answer: plain JSON, even for a stream."""
        kind = reply.error_type or ERROR_TYPES.get(reply.status, "api_error")
        return JSONResponse(
            {"type": "error", "error": {"type": kind, "message": reply.error_message}, "request_id": request_id},
            status_code=reply.status,
            headers={**_error_headers(reply.status, request_id), **reply.headers},
        )

    def _usage(self, reply: Reply, output_tokens: int) -> Json:
        """The usage of message_start (and of a whole message)."""
        creation = reply.cache_creation_input_tokens
        one_hour = reply.cache_creation_1h_input_tokens
        usage: Json = {
            "input_tokens": reply.input_tokens,
            "cache_creation_input_tokens": creation,
            "cache_read_input_tokens": reply.cache_read_input_tokens,
            "cache_creation": {"ephemeral_5m_input_tokens": creation - one_hour, "ephemeral_1h_input_tokens": one_hour},
            "output_tokens": output_tokens,
            "service_tier": reply.service_tier,
        }
        if reply.inference_geo is not None:
            usage["inference_geo"] = reply.inference_geo
        return usage

    def _final_usage(self, reply: Reply) -> Json:
        """The cumulative usage of message_delta: the counts again, no split."""
        usage: Json = {
            "input_tokens": reply.input_tokens,
            "cache_creation_input_tokens": reply.cache_creation_input_tokens,
            "cache_read_input_tokens": reply.cache_read_input_tokens,
            "output_tokens": reply.output_tokens,
        }
        if reply.web_search_requests is not None:
            usage["server_tool_use"] = {"web_search_requests": reply.web_search_requests}
        if reply.thinking_tokens is not None:
            usage["output_tokens_details"] = {"thinking_tokens": reply.thinking_tokens}
        return usage

    def _message(self, reply: Reply, model: str, content: list[Json], stop_reason: str | None, usage: Json) -> Json:
        message: Json = {
            "model": model,
            "id": _ident("msg_01"),
            "type": "message",
            "role": "assistant",
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
        }
        if reply.stop_details:
            message["stop_details"] = None
        return {**message, "usage": usage}

    def _message_json(self, reply: Reply, model: str) -> Json:
        usage = self._usage(reply, reply.output_tokens)
        if reply.web_search_requests is not None:
            usage["server_tool_use"] = {"web_search_requests": reply.web_search_requests}
        return self._message(reply, model, [b.whole() for b in reply.content()], reply.stop_reason, usage)

    async def _stream(self, reply: Reply, model: str, request_id: str) -> AsyncIterator[bytes]:
        self.open_streams += 1
        try:
            async for event, data in self._cut_short(reply, request_id, self._paced(reply, model)):
                yield _sse(event, data)
        finally:
            self.open_streams -= 1
            self.finished_streams += 1
            self.stream_end_times.append(time.monotonic())

    async def _cut_short(
        self, reply: Reply, request_id: str, events: AsyncIterator[tuple[str, Json]]
    ) -> AsyncIterator[tuple[str, Json]]:
        """The events, up to the reply's scripted drop, truncation or in-band error."""
        cut = next(
            (
                n
                for n in (
                    reply.drop_after_deltas,
                    reply.truncate_after_deltas,
                    reply.stream_error_after_deltas if reply.stream_error else None,
                )
                if n is not None
            ),
            None,
        )
        error_now = reply.stream_error is not None and cut == 0  # right after message_start
        deltas = 0
        async for event, data in events:
            if error_now and event != "message_start":
                break
            if _carries_content(event, data):
                if deltas == cut:
                    break
                deltas += 1
            yield event, data
        else:
            return
        if reply.drop_after_deltas is not None:
            # A pause first, as a real drop comes a while after the last byte:
            # the client reads what it got before it sees the connection end.
            await asyncio.sleep(reply.delta_delay)
            raise _DropConnection(f"scripted drop after {deltas} content deltas")
        if reply.stream_error is not None and reply.truncate_after_deltas is None:
            yield "error", _in_band_error(reply.stream_error, reply.error_message, request_id)

    async def _paced(self, reply: Reply, model: str) -> AsyncIterator[tuple[str, Json]]:
        for event, data in self._events(reply, model):
            if reply.delta_delay and _carries_content(event, data):
                await asyncio.sleep(reply.delta_delay)
            yield event, data
            if event == "message_start" and reply.stall_after_start:
                await asyncio.sleep(3600)

    def _events(self, reply: Reply, model: str) -> Iterator[tuple[str, Json]]:
        """The whole answer as (event, data) pairs, in the real API's order."""
        start = self._message(reply, model, [], None, self._usage(reply, reply.start_output_tokens))
        yield "message_start", {"type": "message_start", "message": start}
        blocks = reply.content()
        if reply.ping and not blocks:
            yield "ping", {"type": "ping"}
        for index, block in enumerate(blocks):
            yield "content_block_start", {"type": "content_block_start", "index": index, "content_block": block.start()}
            if reply.ping and index == 0:
                yield "ping", {"type": "ping"}
            for piece in block.deltas():
                yield "content_block_delta", {"type": "content_block_delta", "index": index, "delta": piece}
            yield "content_block_stop", {"type": "content_block_stop", "index": index}
        stop: Json = {"stop_reason": reply.stop_reason, "stop_sequence": None}
        if reply.stop_details:
            stop["stop_details"] = None
        yield "message_delta", {"type": "message_delta", "delta": stop, "usage": self._final_usage(reply)}
        yield "message_stop", {"type": "message_stop"}


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


def rate_limited(reset: int) -> Reply:
    """A subscription's limit as the API reports it: 429 with the unified
    rate-limit headers naming the 5-hour window and its reset (unix seconds)."""
    return Reply(
        status=429,
        error_message="rate limited",
        headers={
            "anthropic-ratelimit-unified-status": "rejected",
            "anthropic-ratelimit-unified-reset": str(reset),
            "anthropic-ratelimit-unified-5h-status": "rejected",
            "anthropic-ratelimit-unified-5h-utilization": "1.0",
            "anthropic-ratelimit-unified-5h-reset": str(reset),
            "anthropic-ratelimit-unified-representative-claim": "five_hour",
        },
    )
