"""The model routes' body check (pure code: an ASGI app and messages in memory)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from litellm_claude_code._serve.json_body import MAX_BODY, body_problem, checked_json_bodies, error_body


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b'{"a": 1}', None),
        (b"[1]", "must be a JSON object, got an array"),
        (b"null", "got null"),
        (b"5", "got a number"),
        (b'{"a": NaN}', "NaN is not a JSON value"),
        (b"\xff", "not valid UTF-8 (byte 0)"),
        (b'{"a": [' + b"[" * 100 + b"]" * 100 + b"]}", "nested more than 100 levels deep"),
        (b"[" * 200_000 + b"]" * 200_000, "nested more than 100 levels deep"),
    ],
)
def test_body_problems(body: bytes, problem: str | None) -> None:
    found = body_problem(body)
    assert found == problem if problem is None else problem in (found or "")


def test_a_body_at_the_depth_limit_passes() -> None:
    assert body_problem(b'{"a": ' + b"[" * 99 + b"]" * 99 + b"}") is None


def test_errors_come_in_the_shape_of_their_endpoint() -> None:
    assert json.loads(error_body("/v1/messages", 400, "m")) == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": "m"},
    }
    assert json.loads(error_body("/v1/chat/completions", 413, "m"))["error"]["type"] == "request_too_large"


def run(app: Any, path: str, chunks: list[bytes]) -> tuple[list[dict[str, Any]], list[bytes]]:
    """Drive ``checked_json_bodies(app)`` with a body in ``chunks``; what was sent, and what the app read."""
    sent: list[dict[str, Any]] = []
    read: list[bytes] = []
    incoming = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]
    incoming.append({"type": "http.disconnect"})

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        message = await receive()
        read.append(message["body"])
        await send({"type": "http.response.start", "status": 200, "headers": []})

    asyncio.run(checked_json_bodies(app or inner)({"type": "http", "method": "POST", "path": path}, receive, send))
    return sent, read


def test_a_good_body_reaches_the_app_whole_and_unchanged() -> None:
    sent, read = run(None, "/v1/chat/completions", [b'{"model": ', b'"sonnet"}'])
    assert read == [b'{"model": "sonnet"}'] and sent[0]["status"] == 200


def test_a_bad_body_never_reaches_the_app() -> None:
    sent, read = run(None, "/chat/completions", [b"[1, 2]"])
    assert read == [] and sent[0]["status"] == 400
    assert b"got an array" in sent[1]["body"]


def test_a_body_over_the_limit_is_413_without_reading_the_rest() -> None:
    sent, read = run(None, "/v1/responses", [b"{" + b" " * MAX_BODY, b"}"])
    assert read == [] and sent[0]["status"] == 413


def test_other_routes_are_left_alone() -> None:
    sent, read = run(None, "/key/generate", [b"[1]"])
    assert read == [b"[1]"] and sent[0]["status"] == 200


def test_a_body_that_does_not_arrive_in_time_is_408() -> None:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        await asyncio.sleep(10)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def never(*_: Any) -> None:
        raise AssertionError("the app must not run")

    guarded = checked_json_bodies(never, body_seconds=0.05)
    asyncio.run(guarded({"type": "http", "method": "POST", "path": "/v1/messages"}, receive, send))
    assert sent[0]["status"] == 408 and json.loads(sent[1]["body"])["error"]["type"] == "timeout_error"
