"""The fake upstream itself: if it lies, every e2e test lies with it."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from fake_anthropic import FakeAnthropic, Reply, ToolUse


@pytest.fixture()
def server() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as fake:
        yield fake


def sse_events(text: str) -> list[tuple[str, dict]]:  # type: ignore[type-arg]
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def test_streams_the_anthropic_event_sequence_and_records(server: FakeAnthropic) -> None:
    server.script(
        Reply(
            text=["a", "b"],
            thinking=["t"],
            tool_uses=[ToolUse("f", {"x": 1}, id="toolu_1")],
            stop_reason="tool_use",
            cache_read_input_tokens=9,
        )
    )
    response = httpx.post(
        f"{server.base_url}/v1/messages?beta=true",
        json={"model": "m", "stream": True, "messages": []},
        headers={"x-api-key": "k"},
    )
    events = sse_events(response.text)
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]
    text = "".join(
        d["delta"]["text"] for k, d in events if k == "content_block_delta" and d["delta"]["type"] == "text_delta"
    )
    assert text == "ab"
    args = "".join(
        d["delta"]["partial_json"]
        for k, d in events
        if k == "content_block_delta" and d["delta"]["type"] == "input_json_delta"
    )
    assert json.loads(args) == {"x": 1}
    delta = next(d for k, d in events if k == "message_delta")
    assert delta["delta"]["stop_reason"] == "tool_use" and delta["usage"]["cache_read_input_tokens"] == 9
    [recorded] = server.message_requests()
    assert recorded.body == {"model": "m", "stream": True, "messages": []}
    assert recorded.headers["x-api-key"] == "k"
    assert server.finished_streams == 1


def test_json_reply_and_errors(server: FakeAnthropic) -> None:
    server.script(Reply(text=["whole"]), Reply(status=529, error_message="Overloaded", headers={"retry-after": "3"}))
    whole = httpx.post(f"{server.base_url}/v1/messages", json={"model": "m"}).json()
    assert whole["content"] == [{"type": "text", "text": "whole"}]
    failed = httpx.post(f"{server.base_url}/v1/messages", json={"model": "m"})
    assert failed.status_code == 529
    assert failed.json()["error"] == {"type": "overloaded_error", "message": "Overloaded"}
    assert failed.headers["retry-after"] == "3"


def test_hang_never_answers(server: FakeAnthropic) -> None:
    server.script(Reply(hang=True))
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{server.base_url}/v1/messages", json={"model": "m"}, timeout=0.5)


def test_stall_sends_message_start_only(server: FakeAnthropic) -> None:
    server.script(Reply(stall_after_start=True))
    with httpx.stream("POST", f"{server.base_url}/v1/messages", json={"model": "m", "stream": True}, timeout=1.0) as r:
        lines = r.iter_lines()
        assert next(lines) == "event: message_start"
        with pytest.raises(httpx.ReadTimeout):
            for _ in lines:
                pass


def test_reset_clears_script_and_records(server: FakeAnthropic) -> None:
    server.script(Reply(status=500))
    httpx.get(f"{server.base_url}/anything")
    server.reset()
    assert server.requests == []
    assert httpx.post(f"{server.base_url}/v1/messages", json={"model": "m"}).status_code == 200


def test_drop_closes_the_connection_mid_body_after_n_deltas(server: FakeAnthropic) -> None:
    server.script(Reply(text=["a", "b", "c"], drop_after_deltas=2), Reply(text=["ok"]))
    received = b""
    with (
        pytest.raises(httpx.RemoteProtocolError),
        httpx.stream("POST", f"{server.base_url}/v1/messages", json={"model": "m", "stream": True}) as response,
    ):
        assert response.status_code == 200
        for chunk in response.iter_raw():
            received += chunk
    kinds = [kind for kind, _ in sse_events(received.decode())]
    assert kinds == ["message_start", "content_block_start", "content_block_delta", "content_block_delta"]
    # The server carries on: the next request gets its reply.
    follow = httpx.post(f"{server.base_url}/v1/messages", json={"model": "m"}).json()
    assert follow["content"] == [{"type": "text", "text": "ok"}]
    assert server.open_streams == 0


def test_truncate_ends_the_body_cleanly_without_message_stop(server: FakeAnthropic) -> None:
    server.script(Reply(thinking=["t"], text=["a", "b"], truncate_after_deltas=2))
    response = httpx.post(f"{server.base_url}/v1/messages", json={"model": "m", "stream": True})
    events = sse_events(response.text)
    deltas = [data["delta"] for kind, data in events if kind == "content_block_delta"]
    assert deltas == [
        {"type": "thinking_delta", "thinking": "t"},
        {"type": "signature_delta", "signature": "c2lnbmF0dXJl"},  # not counted: no content
        {"type": "text_delta", "text": "a"},
    ]
    assert events[-1][0] == "content_block_delta"
    assert server.finished_streams == 1
