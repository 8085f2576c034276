"""Answers the upstream cut short, and tool calls nobody can receive, through
the real proxy, SDK and CLI.

When the connection drops (or the SSE stream just ends) mid-answer, the CLI
retries by itself. A non-streamed client must get the whole retried answer
with the usage of both attempts; a streamed client that already has part of
the lost answer must get an error, never ``[DONE]`` after a truncated or
spliced answer.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest
from fake_anthropic import FakeAnthropic, Reply, ToolUse
from functions import WEATHER
from harness import openai_client

from conftest import Proxy, running_proxy, wait_for

pytestmark = pytest.mark.e2e

HI = [{"role": "user", "content": "hi"}]
# The pause lets the CLI read the deltas before it sees the connection end.
FAULTS: dict[str, dict[str, Any]] = {
    "dropped": {"drop_after_deltas": 2, "delta_delay": 0.3},
    "truncated": {"truncate_after_deltas": 2},
}


@pytest.fixture(scope="module")
def retrying(fake: FakeAnthropic, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    """A proxy whose CLI retries a failed upstream request once (the default
    setting; the shared test proxy retries none). The provider itself switches
    off the CLI's own retry after a refusal."""
    env = {"LITELLM_CLAUDE_CODE_POOL": "0", "LITELLM_CLAUDE_CODE_CLI_MAX_RETRIES": "1"}
    key = "sk-retrying-test-key-0123456789"
    with running_proxy(tmp_path_factory.mktemp("retrying"), fake, key=key, env=env) as proxy:
        yield proxy


def lost(fault: str) -> Reply:
    return Reply(text=["one ", "two ", "three"], input_tokens=11, output_tokens=7, **FAULTS[fault])


def raw_stream(proxy: Proxy, **body: Any) -> str:
    """The proxy's whole SSE body, as the wire carried it."""
    with httpx.stream(
        "POST",
        f"{proxy.url}/v1/chat/completions",
        json={"model": "sonnet", "messages": HI, "stream": True, **body},
        headers={"Authorization": f"Bearer {proxy.key}"},
        timeout=60,
    ) as response:
        assert response.status_code == 200
        return response.read().decode()


def streamed_text(sse: str) -> str:
    text = []
    for line in sse.splitlines():
        if line.startswith("data: {") and '"choices"' in line:
            for choice in json.loads(line[6:])["choices"]:
                text.append(choice.get("delta", {}).get("content") or "")
    return "".join(text)


# -- a lost attempt the CLI retried ---------------------------------------------


@pytest.mark.parametrize("fault", list(FAULTS))
def test_non_streamed_gets_the_whole_retried_answer_and_usage_of_both(
    retrying: Proxy, fake: FakeAnthropic, fault: str
) -> None:
    fake.script(lost(fault), Reply(text=["full ", "answer"], input_tokens=13, output_tokens=5))
    response = openai_client(retrying).chat.completions.create(model="sonnet", messages=HI)
    assert len(fake.message_requests()) == 2
    choice = response.choices[0]
    assert (choice.message.content, choice.finish_reason) == ("full answer", "stop")
    assert response.usage is not None
    # Both requests reached the upstream: 11 + 13 prompt tokens; 1 output token
    # was reported for the lost one before it was cut, 5 for the retry.
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (24, 6)


@pytest.mark.parametrize("fault", list(FAULTS))
def test_streamed_answer_cut_after_text_is_an_error_never_done(
    retrying: Proxy, fake: FakeAnthropic, fault: str
) -> None:
    fake.script(lost(fault), Reply(text=["full ", "answer"]))
    sse = raw_stream(retrying)
    assert "[DONE]" not in sse
    text = streamed_text(sse)  # what the client had when the upstream lost it
    assert text and "one two ".startswith(text)
    [error] = [json.loads(line[6:])["error"] for line in sse.splitlines() if line.startswith('data: {"error"')]
    assert str(error["code"]) == "502"
    assert "dropped mid-answer" in error["message"] and "incomplete" in error["message"]
    assert '"finish_reason": "stop"' not in sse and '"finish_reason":"stop"' not in sse
    assert wait_for(lambda: retrying.cli_processes() == [], timeout=5)


def test_streamed_answer_lost_before_any_text_continues_cleanly(retrying: Proxy, fake: FakeAnthropic) -> None:
    fake.script(Reply(text=["never"], drop_after_deltas=0, delta_delay=0.3), Reply(text=["full ", "answer"]))
    chunks = list(
        openai_client(retrying).chat.completions.create(
            model="sonnet", messages=HI, stream=True, stream_options={"include_usage": True}
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "full answer"
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    assert len(fake.message_requests()) == 2
    [usage] = [c.usage for c in chunks if c.usage]
    assert (usage.prompt_tokens, usage.completion_tokens) == (11 + 11, 1 + 7)  # both attempts


def test_anthropic_client_stream_cut_after_text_is_an_error(retrying: Proxy, fake: FakeAnthropic) -> None:
    fake.script(lost("dropped"), Reply(text=["full ", "answer"]))
    client = anthropic.Anthropic(base_url=retrying.url, api_key=retrying.key, max_retries=0)
    events: list[Any] = []
    with (
        pytest.raises(anthropic.APIError, match="dropped mid-answer"),
        client.messages.stream(model="sonnet", max_tokens=100, messages=HI) as stream,
    ):
        events.extend(stream)
    assert not any(event.type == "message_stop" for event in events)


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_retry_lost_too_is_an_error_status(retrying: Proxy, fake: FakeAnthropic, fault: str) -> None:
    fake.script(lost(fault), lost(fault))
    with pytest.raises(openai.APIStatusError) as caught:
        openai_client(retrying).chat.completions.create(model="sonnet", messages=HI)
    assert caught.value.status_code == 503  # the CLI calls it a server error: "Connection to the API was lost"
    assert "Connection to the API was lost" in str(caught.value)
    assert len(fake.message_requests()) == 2


def test_a_stream_whose_every_attempt_is_lost_is_an_error(retrying: Proxy, fake: FakeAnthropic) -> None:
    fake.script(Reply(text=["never"], drop_after_deltas=0, delta_delay=0.3), lost("dropped"))
    client = openai_client(retrying)
    with pytest.raises(openai.APIError, match="Connection to the API was lost"):
        for _ in client.chat.completions.create(model="sonnet", messages=HI, stream=True):
            pass
    assert len(fake.message_requests()) == 2


# -- tool calls nobody can receive ----------------------------------------------


def only_request(fake: FakeAnthropic) -> None:
    assert len(fake.message_requests()) == 1, "the turn must end at the first answer"


@pytest.mark.parametrize("tool", ["Bash", "mcp__client__x"])
@pytest.mark.parametrize("tools", [None, [WEATHER]])
def test_a_call_that_was_not_offered_is_never_surfaced(
    client: Any, fake: FakeAnthropic, tool: str, tools: list[dict[str, Any]] | None
) -> None:
    fake.default_reply = Reply(text=["Let me look."], tool_uses=[ToolUse(tool, {"a": 1})], stop_reason="tool_use")
    extra = {"tools": tools} if tools else {}
    response = client.chat.completions.create(model="sonnet", messages=HI, **extra)
    choice = response.choices[0]
    assert (choice.message.content, choice.message.tool_calls, choice.finish_reason) == ("Let me look.", None, "stop")
    only_request(fake)

    fake.reset()
    fake.default_reply = Reply(text=["Let me look."], tool_uses=[ToolUse(tool, {"a": 1})], stop_reason="tool_use")
    chunks = list(client.chat.completions.create(model="sonnet", messages=HI, stream=True, **extra))
    assert not any(c.choices and c.choices[0].delta.tool_calls for c in chunks)
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    only_request(fake)


def refused_call() -> list[Reply]:
    """A refusal that cut a call short, then what a second request would get."""
    call = ToolUse("mcp__client__get_weather", {"city": "Paris"}, id="toolu_refused")
    return [Reply(text=["No."], tool_uses=[call], stop_reason="refusal"), Reply(text=["second call"])]


def test_refusal_with_a_tool_call_is_content_filter_with_no_calls_and_one_request(
    retrying: Proxy, fake: FakeAnthropic
) -> None:
    fake.script(*refused_call())
    response = openai_client(retrying).chat.completions.create(model="sonnet", messages=HI, tools=[WEATHER])
    choice = response.choices[0]
    assert (choice.message.content, choice.message.tool_calls, choice.finish_reason) == ("No.", None, "content_filter")
    only_request(fake)


def test_refusal_streamed_ends_as_content_filter(retrying: Proxy, fake: FakeAnthropic) -> None:
    fake.script(*refused_call())
    chunks = list(
        openai_client(retrying).chat.completions.create(model="sonnet", messages=HI, tools=[WEATHER], stream=True)
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "No."
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == [
        "content_filter"
    ]
    only_request(fake)


def test_refusal_on_the_default_cli_settings_is_still_one_answer(client: Any, fake: FakeAnthropic) -> None:
    """Without CLAUDE_CODE_DISABLE_REFUSAL_RETRY the CLI starts a second request
    at once; the answer still ends at the refusal."""
    fake.script(*refused_call())
    response = client.chat.completions.create(model="sonnet", messages=HI, tools=[WEATHER])
    choice = response.choices[0]
    assert (choice.message.content, choice.message.tool_calls, choice.finish_reason) == ("No.", None, "content_filter")
