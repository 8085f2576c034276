"""What the real Anthropic API sends, through the real proxy, SDK and CLI.

The fake upstream answers as the recorded real API does (pings, the full
usage with the cache-creation split, request-id and rate-limit headers; see
tests/unit/test_fake_anthropic.py). On top of that these tests script what
real traffic brings and tidy fakes leave out: a tool call whose input is one
empty ``input_json_delta``, an overload that arrives in-band as ``event:
error`` after HTTP 200, and the 402 ``billing_error`` and 504
``timeout_error`` responses. The client must get the answer, or a clear
error: never a 500, and never an error dressed as an answer.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import pytest
from fake_anthropic import FakeAnthropic, Reply, ToolUse

from conftest import Proxy, running_proxy, wait_for

pytestmark = pytest.mark.e2e

HI = [{"role": "user", "content": "hi"}]
NOW = {
    "type": "function",
    "function": {
        "name": "current_time",
        "description": "The current time; takes no arguments",
        "parameters": {"type": "object", "properties": {}},
    },
}
UPSTREAM_NOW = "mcp__client__current_time"


def overloaded(after_deltas: int = 0) -> Reply:
    """HTTP 200, message_start, then `event: error` (overloaded_error) and the end."""
    return Reply(
        text=["one ", "two ", "three"],
        stream_error="overloaded_error",
        error_message="Overloaded",
        stream_error_after_deltas=after_deltas,
    )


@pytest.fixture(scope="module")
def retrying(fake: FakeAnthropic, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    """A proxy whose CLI retries a failed upstream request once (the default
    setting; the shared test proxy retries none)."""
    env = {"LITELLM_CLAUDE_CODE_POOL": "0", "LITELLM_CLAUDE_CODE_CLI_MAX_RETRIES": "1"}
    key = "sk-real-traffic-test-key-0123456789"
    with running_proxy(tmp_path_factory.mktemp("real-traffic"), fake, key=key, env=env) as proxy:
        yield proxy


def raw_chat(proxy: Proxy, *, stream: bool, **body: Any) -> tuple[int, str]:
    """The proxy's status and whole body for a chat completion, as the wire carried them."""
    with httpx.stream(
        "POST",
        f"{proxy.url}/v1/chat/completions",
        json={"model": "sonnet", "messages": HI, "stream": stream, **body},
        headers={"Authorization": f"Bearer {proxy.key}"},
        timeout=60,
    ) as response:
        return response.status_code, response.read().decode()


def sse_payloads(body: str) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: {")]


def streamed_text(body: str) -> str:
    return "".join(
        choice.get("delta", {}).get("content") or ""
        for payload in sse_payloads(body)
        for choice in payload.get("choices", [])
    )


def error_of(status: int, body: str) -> dict[str, Any]:
    """The error the client got: the HTTP error body, or the error event of a stream
    that had started. Fails if the client got none, or also got a normal ending."""
    if status != 200:
        error: dict[str, Any] = json.loads(body)["error"]
        return error
    assert "[DONE]" not in body, body
    assert '"finish_reason":"stop"' not in body.replace(" ", ""), body
    errors: list[dict[str, Any]] = [payload["error"] for payload in sse_payloads(body) if "error" in payload]
    assert len(errors) == 1, body
    return errors[0]


def assert_clear_error(status: int, body: str, *, names: str) -> dict[str, Any]:
    error = error_of(status, body)
    assert str(error.get("code")) != "500" and status != 500, body
    assert names in error["message"].lower(), body
    return error


# -- a normal answer as the real API streams it -------------------------------
CACHED = Reply(
    text=["Real", " traffic."],
    input_tokens=12,
    output_tokens=5,
    cache_read_input_tokens=200,
    cache_creation_input_tokens=30,
    cache_creation_1h_input_tokens=10,
)


def test_pings_and_split_cache_usage_non_streamed(client: Any, fake: FakeAnthropic) -> None:
    fake.script(CACHED)
    response = client.chat.completions.create(model="sonnet", messages=HI)
    assert (response.choices[0].message.content, response.choices[0].finish_reason) == ("Real traffic.", "stop")
    assert response.usage.prompt_tokens == 12 + 200 + 30
    assert response.usage.completion_tokens == 5
    assert response.usage.prompt_tokens_details.cached_tokens == 200
    assert len(fake.message_requests()) == 1


def test_pings_and_split_cache_usage_streamed(client: Any, fake: FakeAnthropic) -> None:
    fake.script(CACHED)
    chunks = list(
        client.chat.completions.create(model="sonnet", messages=HI, stream=True, stream_options={"include_usage": True})
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Real traffic."
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    [usage] = [c.usage for c in chunks if c.usage]
    assert (usage.prompt_tokens, usage.completion_tokens) == (12 + 200 + 30, 5)
    assert usage.prompt_tokens_details.cached_tokens == 200


def test_anthropic_client_gets_the_cache_counts(proxy: Proxy, fake: FakeAnthropic) -> None:
    fake.script(CACHED)
    client = anthropic.Anthropic(base_url=proxy.url, api_key=proxy.key, max_retries=0)
    message = client.messages.create(model="sonnet", max_tokens=100, messages=HI)  # type: ignore[arg-type]
    assert [block.text for block in message.content if block.type == "text"] == ["Real traffic."]
    usage = message.usage
    assert (usage.cache_read_input_tokens, usage.cache_creation_input_tokens, usage.output_tokens) == (200, 30, 5)


# -- a tool call with no input: one empty input_json_delta --------------------
def no_argument_call() -> Reply:
    return Reply(text=[], tool_uses=[ToolUse(UPSTREAM_NOW, {}, id="toolu_now")], stop_reason="tool_use")


def test_empty_input_tool_call_non_streamed(client: Any, fake: FakeAnthropic) -> None:
    fake.script(no_argument_call())
    response = client.chat.completions.create(model="sonnet", messages=HI, tools=[NOW])
    choice = response.choices[0]
    assert choice.finish_reason == "tool_calls"
    [call] = choice.message.tool_calls
    assert (call.id, call.function.name, call.function.arguments) == ("toolu_now", "current_time", "{}")
    assert len(fake.message_requests()) == 1


def test_empty_input_tool_call_streamed(client: Any, fake: FakeAnthropic) -> None:
    fake.script(no_argument_call())
    stream = client.chat.completions.create(model="sonnet", messages=HI, tools=[NOW], stream=True)
    calls: dict[int, dict[str, str]] = {}
    finish = []
    for chunk in stream:
        for choice in chunk.choices:
            for delta in choice.delta.tool_calls or []:
                call = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
                call["id"] += delta.id or ""
                call["name"] += (delta.function.name or "") if delta.function else ""
                call["arguments"] += (delta.function.arguments or "") if delta.function else ""
            if choice.finish_reason:
                finish.append(choice.finish_reason)
    assert calls == {0: {"id": "toolu_now", "name": "current_time", "arguments": "{}"}}
    assert finish == ["tool_calls"]


# -- an overload that arrives in-band, after HTTP 200 -------------------------
def test_in_band_overload_non_streamed_is_a_clear_error(proxy: Proxy, fake: FakeAnthropic) -> None:
    fake.default_reply = overloaded()
    status, body = raw_chat(proxy, stream=False)
    assert status == 503, body
    assert_clear_error(status, body, names="overloaded")
    assert len(fake.message_requests()) == 1  # this proxy's CLI retries nothing
    assert wait_for(lambda: proxy.cli_processes() == [], timeout=5)


@pytest.mark.parametrize("after_deltas", [0, 2])
def test_in_band_overload_streamed_is_a_clear_error(proxy: Proxy, fake: FakeAnthropic, after_deltas: int) -> None:
    fake.default_reply = overloaded(after_deltas)
    status, body = raw_chat(proxy, stream=True)
    assert_clear_error(status, body, names="overloaded")
    if status == 200:  # the stream had started: what came before is all the first words
        assert "one two ".startswith(streamed_text(body))
    assert len(fake.message_requests()) == 1
    assert wait_for(lambda: proxy.cli_processes() == [], timeout=5)


def test_in_band_overload_before_any_text_is_retried_by_the_cli(retrying: Proxy, fake: FakeAnthropic) -> None:
    """The CLI treats an overload right after message_start like a 529 and asks
    again; the client gets the retried answer."""
    fake.script(overloaded(0), Reply(text=["full ", "answer"], input_tokens=13, output_tokens=5))
    status, body = raw_chat(retrying, stream=False)
    requests = fake.message_requests()
    assert len(requests) == 2
    assert requests[1].body == requests[0].body  # the same request again
    assert status == 200, body
    [choice] = json.loads(body)["choices"]
    assert (choice["message"]["content"], choice["finish_reason"]) == ("full answer", "stop")


def test_in_band_overload_after_text_is_not_retried_and_is_503(retrying: Proxy, fake: FakeAnthropic) -> None:
    """Once text has arrived the CLI does not retry (measured: one request), so
    even a non-streamed client gets the overload as a 503, not half an answer."""
    fake.script(overloaded(2), Reply(text=["full ", "answer"]))
    status, body = raw_chat(retrying, stream=False)
    assert len(fake.message_requests()) == 1
    assert status == 503, body
    assert_clear_error(status, body, names="overloaded")


def test_in_band_overload_before_any_text_streams_the_retry(retrying: Proxy, fake: FakeAnthropic) -> None:
    fake.script(overloaded(0), Reply(text=["full ", "answer"]))
    status, body = raw_chat(retrying, stream=True)
    assert status == 200 and "[DONE]" in body, body
    assert streamed_text(body) == "full answer"
    assert len(fake.message_requests()) == 2


def test_in_band_overload_after_text_streamed_is_an_error_even_when_retried(
    retrying: Proxy, fake: FakeAnthropic
) -> None:
    """Part of the lost answer already reached the client: the retry cannot be
    spliced onto it."""
    fake.script(overloaded(2), Reply(text=["full ", "answer"]))
    status, body = raw_chat(retrying, stream=True)
    assert status == 200, body
    error_of(status, body)
    assert "one two ".startswith(streamed_text(body))
    assert "full answer" not in streamed_text(body)


def test_in_band_overload_every_time_is_a_clear_error_after_the_retry(retrying: Proxy, fake: FakeAnthropic) -> None:
    fake.default_reply = overloaded()
    status, body = raw_chat(retrying, stream=False)
    assert status == 503, body
    assert_clear_error(status, body, names="overloaded")
    assert len(fake.message_requests()) == 2


# -- 402 billing_error and 504 timeout_error ----------------------------------
BILLING = "Your credit balance is too low to access the Anthropic API."
TIMED_OUT = "Request timed out while waiting for the model."


@pytest.mark.parametrize("stream", [False, True])
def test_billing_error_is_a_clear_error_naming_billing(proxy: Proxy, fake: FakeAnthropic, stream: bool) -> None:
    fake.default_reply = Reply(status=402, error_message=BILLING)
    status, body = raw_chat(proxy, stream=stream)
    assert status in (400, 402), body  # the client's fault (its account), not the proxy's
    error = assert_clear_error(status, body, names="billing")
    assert "402" in error["message"] and "credit balance" in error["message"].lower()  # the CLI's own words
    assert len(fake.message_requests()) == 1


@pytest.mark.parametrize("stream", [False, True])
def test_upstream_timeout_error_is_a_clear_gateway_error(proxy: Proxy, fake: FakeAnthropic, stream: bool) -> None:
    fake.default_reply = Reply(status=504, error_message=TIMED_OUT)
    status, body = raw_chat(proxy, stream=stream)
    assert status in (503, 504), body
    error = assert_clear_error(status, body, names="timed out")
    assert "504" in error["message"] or "timeout_error" in error["message"], body
    assert len(fake.message_requests()) == 1
