"""Request bodies of the model routes, checked before LiteLLM parses them.

LiteLLM reads any body it cannot use as "no parameters": invalid UTF-8 and
JSON nested 50,000 deep were a 400 "Missing required parameter: 'messages'"
(the deep one after a RecursionError traceback in the log), and a body that is
an array or a string a bare plain-text 500. Here such a body gets a 400 that
says what is wrong with it, in the error shape of its endpoint, and nothing
else of the request runs. What passes is handed on byte for byte.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# The routes whose body is one JSON object: OpenAI's, Anthropic's and the Responses API's.
MODEL_ROUTES = re.compile(r"^(?:/v1)?/(?:chat/completions|completions|messages(?:/count_tokens)?|responses)/?$")
ANTHROPIC_ROUTES = re.compile(r"^(?:/v1)?/messages")
MAX_BODY = 32 * 1024 * 1024  # the Anthropic API's own request limit: a larger one could not be sent on
MAX_DEPTH = 100  # objects and arrays inside each other; real requests (tool schemas included) stay far below


class BadBody(Exception):
    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(message)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def body_problem(body: bytes) -> str | None:
    """What makes ``body`` unusable as a request, or None."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"the request body is not valid UTF-8 (byte {exc.start})"
    try:
        parsed = json.loads(text, parse_constant=_no_constants)
    except RecursionError:
        return f"the request body is nested more than {MAX_DEPTH} levels deep"
    except ValueError as exc:
        return f"the request body is not valid JSON: {exc}"
    if not isinstance(parsed, dict):
        return f"the request body must be a JSON object, got {_kind(parsed)}"
    if _depth(parsed) > MAX_DEPTH:
        return f"the request body is nested more than {MAX_DEPTH} levels deep"
    return None


def _kind(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(value), "a number")


def _depth(value: Any) -> int:
    """How deep objects and arrays nest in ``value`` (iterative: no recursion limit)."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, level = pending.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            return deepest
        pending.extend((child, level + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


def error_body(path: str, status: int, message: str) -> bytes:
    """The error in the shape clients of that endpoint parse (both carry ``error.message``)."""
    kind = {413: "request_too_large", 408: "timeout_error"}.get(status, "invalid_request_error")
    if ANTHROPIC_ROUTES.match(path):
        return json.dumps({"type": "error", "error": {"type": kind, "message": message}}).encode()
    return json.dumps({"error": {"message": message, "type": kind, "param": None, "code": str(status)}}).encode()


def checked_json_bodies(app: ASGIApp, body_seconds: float = 30.0) -> ASGIApp:
    """``app`` with the bodies of its model routes checked first (see the module docstring);
    a body that takes longer than ``body_seconds`` to arrive is a 408."""

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or scope.get("method") != "POST" or not MODEL_ROUTES.match(path):
            await app(scope, receive, send)
            return
        try:
            try:
                body = await asyncio.wait_for(_read(receive), body_seconds)
            except asyncio.TimeoutError:
                raise BadBody(408, f"the request body did not arrive within {body_seconds:g} s") from None
            problem = body_problem(body)
            if problem is not None:
                raise BadBody(400, problem)
        except BadBody as bad:
            await _refuse(send, path, bad.status, str(bad))
            return
        await app(scope, _replaying(body, receive), send)

    return guarded


async def _read(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise BadBody(400, "the client left before the request body was complete")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise BadBody(413, f"the request body is over {MAX_BODY // (1024 * 1024)} MiB")
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


def _replaying(body: bytes, receive: Receive) -> Receive:
    """The body once, whole; then whatever ``receive`` says (the disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _refuse(send: Send, path: str, status: int, message: str) -> None:
    payload = error_body(path, status, message)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
