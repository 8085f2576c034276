"""The fake upstream itself: if it lies, every e2e test lies with it.

The first half holds the fake against responses recorded from the real
Anthropic API (``anthropic-sse/``, see its README): each recording and the
fake's answer to the equivalent script are read by the official ``anthropic``
client (its SSE decoder, its stream accumulator, its error parsing), and must
give the same event sequence, the same usage and content-block shapes and the
same API headers. Ids and text are not compared; keys, value types and the
``type`` discriminators are.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import anthropic
import httpx
import httpx2
import pytest
from anthropic.types import MessageParam
from fake_anthropic import (
    Block,
    FakeAnthropic,
    Reply,
    ServerToolUse,
    Text,
    ToolUse,
    WebSearchResult,
)

# Recorded from the real API; their README keeps the sources' licence notices.
RECORDINGS = Path(__file__).parents[1] / "data" / "anthropic-sse"
HI: list[MessageParam] = [{"role": "user", "content": "hi"}]
# Values compared literally; every other leaf is compared by type only.
LITERAL = {"type", "role", "stop_reason", "service_tier"}
# The headers an API client can rely on (the rest are Cloudflare's).
API_HEADERS = ("request-id", "anthropic-", "x-should-retry", "content-type", "cache-control")


@pytest.fixture()
def server() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as fake:
        yield fake


# -- comparing shapes --------------------------------------------------------
def shape(value: Any, key: str = "") -> Any:
    """The structure of a JSON value: keys, value types, and discriminators.
    A list is the set of its items' shapes; an empty string is told apart."""
    if isinstance(value, dict):
        return {k: shape(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return sorted({json.dumps(shape(item), sort_keys=True) for item in value})
    if key in LITERAL:
        return value
    if isinstance(value, str):
        return "str" if value else "''"
    return type(value).__name__


def event_shapes(events: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """Each event's shape, runs of alike events (a block's text deltas) counted once."""
    shapes: list[tuple[str, Any]] = []
    for event, data in events:
        item = (event, shape(data))
        if not shapes or shapes[-1] != item:
            shapes.append(item)
    return shapes


def api_headers(headers: httpx2.Headers) -> dict[str, str]:
    """Header names an API client relies on, each with its value's shape (the
    content type itself)."""
    wanted = {name.lower() for name in headers if name.lower().startswith(API_HEADERS)}
    return {name: headers[name] if name == "content-type" else "set" for name in sorted(wanted)}


# -- reading recordings and the fake with the official client ----------------
@dataclass
class Recording:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    @classmethod
    def load(cls, name: str) -> Recording:
        [body_path] = [p for p in RECORDINGS.glob(f"{name}.*") if not p.name.endswith(".headers.txt")]
        status_line, *lines = (RECORDINGS / f"{name}.headers.txt").read_text().splitlines()
        headers = [(k, v) for k, _, v in (line.partition(": ") for line in lines if line)]
        # Bodies are stored decompressed, so the transfer headers no longer apply.
        kept = [(k, v) for k, v in headers if k.lower() not in ("content-encoding", "content-length")]
        return cls(int(status_line.split()[1]), kept, body_path.read_bytes())

    def client(self) -> anthropic.Anthropic:
        def answer(request: httpx2.Request) -> httpx2.Response:
            return httpx2.Response(self.status, headers=self.headers, content=self.body)

        return anthropic.Anthropic(
            api_key="k",
            base_url="http://recorded.invalid",
            max_retries=0,
            http_client=httpx2.Client(transport=httpx2.MockTransport(answer)),
        )


def fake_client(fake: FakeAnthropic) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="k", base_url=fake.base_url, max_retries=0)


def raw_stream(client: anthropic.Anthropic) -> tuple[httpx2.Headers, list[tuple[str, Any]]]:
    """The headers and every SSE event (pings too) as the client decodes them."""
    stream = client.messages.create(model="m", max_tokens=100, messages=HI, stream=True)
    events = [(sse.event or "", sse.json()) for sse in anthropic.Stream.raw_events(stream.response)]
    return stream.response.headers, events


def final_message(client: anthropic.Anthropic) -> Any:
    """The message the client's stream accumulator builds from the events."""
    with client.messages.stream(model="m", max_tokens=100, messages=HI) as stream:
        return stream.get_final_message().to_dict()


def whole_message(client: anthropic.Anthropic) -> tuple[httpx2.Headers, Any, Any]:
    raw = client.messages.with_raw_response.create(model="m", max_tokens=100, messages=HI)
    return raw.headers, raw.http_response.json(), raw.parse().to_dict()


# -- the scripts equivalent to each recording --------------------------------
def before_2026(reply: Reply) -> Reply:
    """The reply as recorded before inference_geo and stop_details existed."""
    return replace(reply, inference_geo=None, stop_details=False)


def web_search_blocks() -> list[Block]:
    search = ServerToolUse({"query": "San Francisco weather today"})
    result = {"type": "web_search_result", "title": "t", "url": "https://u", "encrypted_content": "e"}
    citation = {"type": "web_search_result_location", "cited_text": "c", "url": "u", "title": "t"}
    blocks: list[Block] = [
        search,
        WebSearchResult(search.id, [{**result, "page_age": "1 day ago"}, {**result, "page_age": None}]),
    ]
    for _ in range(5):
        blocks += [Text(["Plain ", "text"]), Text(["cited ", "text"], citations=[{**citation, "encrypted_index": "i"}])]
    return blocks


STREAMS: dict[str, Reply] = {
    "01-text-stream": Reply(text=["Hel", "lo"], input_tokens=10, output_tokens=4, start_output_tokens=2),
    "02-tool-use-parallel-stream": before_2026(
        Reply(
            blocks=[
                Text(["I'll retrieve", " the secrets."]),
                ToolUse("secret_retrieval_tool", {"password": "mellon"}, caller=None),
                ToolUse("secret_retrieval_tool", {"password": "radiance"}, caller=None),
            ],
            stop_reason="tool_use",
        )
    ),
    "03-tool-use-empty-input-stream": Reply(
        text=[], tool_uses=[ToolUse("pelican_name_generator", {})], stop_reason="tool_use"
    ),
    "04-thinking-stream": Reply(thinking=["The user", " wants names."], text=["1. Pouch", "\n2. Pelé"]),
    "05-thinking-then-tool-use-stream": Reply(
        thinking=["Let me", " call it."],
        text=[],
        tool_uses=[ToolUse("fixed_version", {})],
        stop_reason="tool_use",
        thinking_tokens=53,
    ),
    "06-structured-output-stream": Reply(text=['{"', 'name": "Biscuit"}']),
    "07-web-search-stream": before_2026(Reply(blocks=web_search_blocks(), ping=False, web_search_requests=1)),
}
MESSAGES: dict[str, Reply] = {
    "08-message": before_2026(Reply(text=['{"value": 347}'])),
    "09-tool-use-empty-input": before_2026(
        Reply(
            blocks=[Text(["I'll call these tools."]), ToolUse("greet", {"name": "M"}), ToolUse("answer", {})],
            stop_reason="tool_use",
        )
    ),
}
ERRORS: dict[str, Reply] = {
    "10-error-400-invalid-request": Reply(status=400, error_message="messages.0: all messages must have content"),
    "11-error-404-not-found-stream-request": Reply(status=404, error_message="model: nope"),
    "12-error-401-authentication-stream-request": Reply(status=401, error_message="invalid x-api-key"),
}


def test_every_recording_has_an_equivalent_script() -> None:
    names = {p.name.removesuffix(".headers.txt") for p in RECORDINGS.glob("*.headers.txt")}
    assert names == set(STREAMS) | set(MESSAGES) | set(ERRORS)


@pytest.mark.parametrize("name", list(STREAMS))
def test_stream_matches_the_recorded_events_and_headers(server: FakeAnthropic, name: str) -> None:
    recording = Recording.load(name)
    server.script(STREAMS[name])
    real_headers, real_events = raw_stream(recording.client())
    fake_headers, fake_events = raw_stream(fake_client(server))
    assert event_shapes(fake_events) == event_shapes(real_events)
    assert api_headers(fake_headers) == api_headers(real_headers)


@pytest.mark.parametrize("name", list(STREAMS))
def test_stream_accumulates_to_the_recorded_message_shape(server: FakeAnthropic, name: str) -> None:
    server.script(STREAMS[name])
    assert shape(final_message(fake_client(server))) == shape(final_message(Recording.load(name).client()))


@pytest.mark.parametrize("name", list(MESSAGES))
def test_whole_message_matches_the_recording(server: FakeAnthropic, name: str) -> None:
    server.script(MESSAGES[name])
    real_headers, real_json, real_parsed = whole_message(Recording.load(name).client())
    fake_headers, fake_json, fake_parsed = whole_message(fake_client(server))
    assert shape(fake_json) == shape(real_json)
    assert shape(fake_parsed) == shape(real_parsed)
    assert api_headers(fake_headers) == api_headers(real_headers)


@pytest.mark.parametrize("name", list(ERRORS))
@pytest.mark.parametrize("stream", [False, True])
def test_error_matches_the_recording(server: FakeAnthropic, name: str, stream: bool) -> None:
    """Plain JSON with a request_id, even for a stream, as the client parses it."""
    server.script(ERRORS[name])
    caught = []
    for client in (Recording.load(name).client(), fake_client(server)):
        with pytest.raises(anthropic.APIStatusError) as error:
            client.messages.create(model="m", max_tokens=100, messages=HI, stream=stream)
        caught.append(error.value)
    real, fake = caught
    assert (type(fake), fake.status_code) == (type(real), real.status_code)
    assert shape(fake.body) == shape(real.body)
    assert fake.request_id == fake.body["request_id"]  # type: ignore[index]
    assert api_headers(fake.response.headers) == api_headers(real.response.headers)


# -- what the recordings show, spelled out ------------------------------------
def test_framing_is_padded_compact_json_and_the_recorded_ping(server: FakeAnthropic) -> None:
    response = httpx.post(f"{server.base_url}/v1/messages", json={"model": "m", "stream": True})
    assert 'event: ping\ndata: {"type": "ping"}\n\n' in response.text
    assert '"type":"message_start"' in response.text  # compact, like the real API
    assert any(line.endswith(" }") for line in response.text.splitlines())  # and padded


def test_empty_tool_input_is_one_empty_input_json_delta(server: FakeAnthropic) -> None:
    server.script(Reply(text=[], tool_uses=[ToolUse("f", {})], stop_reason="tool_use"))
    _, events = raw_stream(fake_client(server))
    deltas = [data["delta"] for kind, data in events if kind == "content_block_delta"]
    assert deltas == [{"type": "input_json_delta", "partial_json": ""}]
    [start] = [data["content_block"] for kind, data in events if kind == "content_block_start"]
    assert start["input"] == {} and start["caller"] == {"type": "direct"}


def test_usage_splits_cache_creation_and_reports_the_extras(server: FakeAnthropic) -> None:
    server.script(
        Reply(
            input_tokens=5,
            cache_read_input_tokens=100,
            cache_creation_input_tokens=30,
            cache_creation_1h_input_tokens=10,
            output_tokens=9,
            thinking_tokens=4,
            web_search_requests=2,
            service_tier="priority",
        )
    )
    message = final_message(fake_client(server))
    assert message["usage"] == {
        "input_tokens": 5,
        "cache_creation_input_tokens": 30,
        "cache_read_input_tokens": 100,
        "cache_creation": {"ephemeral_5m_input_tokens": 20, "ephemeral_1h_input_tokens": 10},
        "output_tokens": 9,
        "output_tokens_details": {"thinking_tokens": 4},
        "server_tool_use": {"web_search_requests": 2},
        "service_tier": "priority",
        "inference_geo": "not_available",
    }


@pytest.mark.parametrize("after", [0, 2])
def test_in_band_error_after_message_start(server: FakeAnthropic, after: int) -> None:
    """HTTP 200, then `event: error` and the end of the body: no message_stop."""
    server.script(
        Reply(
            text=["a", "b", "c"],
            stream_error="overloaded_error",
            error_message="Overloaded",
            stream_error_after_deltas=after,
        )
    )
    headers, events = raw_stream(fake_client(server))
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "message_start" and kinds[-1] == "error"
    assert kinds.count("content_block_delta") == after and "message_stop" not in kinds
    error = events[-1][1]
    assert error == {
        "type": "error",
        "error": {"details": None, "type": "overloaded_error", "message": "Overloaded"},
        "request_id": headers["request-id"],
    }
    server.script(Reply(stream_error="overloaded_error", error_message="Overloaded"))
    with pytest.raises(anthropic.APIStatusError, match="overloaded_error"):
        final_message(fake_client(server))


@pytest.mark.parametrize(("status", "kind"), [(402, "billing_error"), (504, "timeout_error")])
def test_billing_and_timeout_errors(server: FakeAnthropic, status: int, kind: str) -> None:
    server.script(Reply(status=status, error_message="scripted"))
    response = httpx.post(f"{server.base_url}/v1/messages", json={"model": "m", "stream": True})
    assert response.status_code == status
    body = response.json()
    assert body == {"type": "error", "error": {"type": kind, "message": "scripted"}, "request_id": body["request_id"]}
    assert response.headers["request-id"] == body["request_id"]
    assert response.headers["content-type"] == "application/json"


# -- the scripting API the e2e suite uses -------------------------------------
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
    assert kinds == ["message_start", "content_block_start", "ping", "content_block_delta", "content_block_delta"]
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
        {"type": "thinking_delta", "thinking": ""},  # not counted: no content
        {"type": "signature_delta", "signature": "c2lnbmF0dXJl"},  # not counted either
        {"type": "text_delta", "text": "a"},
    ]
    assert events[-1][0] == "content_block_delta"
    assert server.finished_streams == 1
