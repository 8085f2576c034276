"""LiteLLM's other endpoints on this provider: Anthropic `/v1/messages` and
OpenAI `/v1/responses`, driven by the official clients."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import openai
import pytest
from fake_anthropic import FakeAnthropic, Reply, ToolUse
from test_chat import client_system_text, conversation_turns

from conftest import Proxy

pytestmark = pytest.mark.e2e


@pytest.fixture()
def claude(proxy: Proxy) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=proxy.url, api_key=proxy.key, max_retries=0, timeout=60)


def test_messages_endpoint_text(claude: anthropic.Anthropic, fake: FakeAnthropic) -> None:
    fake.script(Reply(text=["Bonjour", " Ada."], input_tokens=9, output_tokens=3))
    message = claude.messages.create(
        model="sonnet",
        max_tokens=100,
        system="Answer in French.",
        messages=[
            {"role": "user", "content": "My name is Ada."},
            {"role": "assistant", "content": "Noted."},
            {"role": "user", "content": "Greet me."},
        ],
    )
    assert message.role == "assistant"
    assert [block.text for block in message.content if block.type == "text"] == ["Bonjour Ada."]
    assert message.stop_reason == "end_turn"
    assert message.usage.output_tokens == 3
    [request] = fake.message_requests()
    assert client_system_text(request.body) == ["Answer in French."]
    assert conversation_turns(request.body) == [
        ("user", "My name is Ada."),
        ("assistant", "Noted."),
        ("user", "Greet me."),
    ]


def test_messages_endpoint_streaming(claude: anthropic.Anthropic, fake: FakeAnthropic) -> None:
    fake.script(Reply(text=["one", " two", " three"]))
    with claude.messages.stream(model="sonnet", max_tokens=100, messages=[{"role": "user", "content": "count"}]) as s:
        deltas = [
            event.delta.text for event in s if event.type == "content_block_delta" and event.delta.type == "text_delta"
        ]
        final = s.get_final_message()
    assert "".join(deltas) == "one two three"
    assert len(deltas) >= 2
    assert final.stop_reason == "end_turn"


def test_messages_endpoint_upstream_401(claude: anthropic.Anthropic, fake: FakeAnthropic) -> None:
    fake.default_reply = Reply(status=401)
    with pytest.raises(anthropic.AuthenticationError):
        claude.messages.create(model="sonnet", max_tokens=10, messages=[{"role": "user", "content": "hi"}])


def test_responses_endpoint_text_and_streaming(proxy: Proxy, fake: FakeAnthropic) -> None:
    client: Any = openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=proxy.key, max_retries=0, timeout=60)
    fake.script(Reply(text=["Forty", "-two."]), Reply(text=["a", "b", "c"]))
    response = client.responses.create(model="sonnet", instructions="Be brief.", input="What is 6*7?")
    assert response.output_text == "Forty-two."
    [request] = fake.message_requests()
    assert client_system_text(request.body) == ["Be brief."]
    stream = client.responses.create(model="sonnet", input="letters", stream=True)
    deltas = [event.delta for event in stream if event.type == "response.output_text.delta"]
    assert "".join(deltas) == "abc"


WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Current weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def test_messages_endpoint_tools_round_trip(claude: anthropic.Anthropic, fake: FakeAnthropic) -> None:
    fake.script(
        Reply(
            text=[],
            tool_uses=[ToolUse("mcp__client__get_weather", {"city": "Paris"}, id="toolu_p")],
            stop_reason="tool_use",
        ),
        Reply(text=["Sunny in Paris."]),
    )
    question = {"role": "user", "content": "Weather in Paris?"}
    message = claude.messages.create(model="sonnet", max_tokens=100, messages=[question], tools=[WEATHER_TOOL])  # type: ignore[list-item]
    assert message.stop_reason == "tool_use"
    [call] = [block for block in message.content if block.type == "tool_use"]
    assert (call.id, call.name, call.input) == ("toolu_p", "get_weather", {"city": "Paris"})
    first = fake.message_requests()[0]
    assert [t["name"] for t in first.body["tools"] if not t.get("defer_loading")] == ["mcp__client__get_weather"]

    answer = claude.messages.create(
        model="sonnet",
        max_tokens=100,
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
        messages=[
            question,  # type: ignore[list-item]
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "toolu_p", "name": "get_weather", "input": {"city": "Paris"}}],
            },
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_p", "content": "sunny"}]},
        ],
    )
    assert [block.text for block in answer.content if block.type == "text"] == ["Sunny in Paris."]
    second = fake.message_requests()[1]
    blocks = [b for m in second.body["messages"] for b in (m["content"] if isinstance(m["content"], list) else [])]
    assert {
        "type": "tool_use",
        "id": "toolu_p",
        "name": "mcp__client__get_weather",
        "input": {"city": "Paris"},
    } in blocks
    assert any(b["type"] == "tool_result" and b["tool_use_id"] == "toolu_p" for b in blocks)


def test_messages_endpoint_streams_tool_calls(claude: anthropic.Anthropic, fake: FakeAnthropic) -> None:
    fake.script(
        Reply(text=[], tool_uses=[ToolUse("mcp__client__get_weather", {"city": "Oslo"})], stop_reason="tool_use")
    )
    with claude.messages.stream(
        model="sonnet",
        max_tokens=100,
        messages=[{"role": "user", "content": "Oslo?"}],
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
    ) as stream:
        final = stream.get_final_message()
    [call] = [block for block in final.content if block.type == "tool_use"]
    assert (call.name, call.input) == ("get_weather", {"city": "Oslo"})
    assert final.stop_reason == "tool_use"


def test_responses_endpoint_function_calls(proxy: Proxy, fake: FakeAnthropic) -> None:
    client: Any = openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=proxy.key, max_retries=0, timeout=60)
    fake.script(
        Reply(
            text=[],
            tool_uses=[ToolUse("mcp__client__get_weather", {"city": "Rome"}, id="toolu_r")],
            stop_reason="tool_use",
        )
    )
    tool = {
        "type": "function",
        "name": "get_weather",
        "description": "Weather",
        "parameters": WEATHER_TOOL["input_schema"],
    }
    response = client.responses.create(model="sonnet", input="Weather in Rome?", tools=[tool])
    [call] = [item for item in response.output if item.type == "function_call"]
    assert call.name == "get_weather"
    assert json.loads(call.arguments) == {"city": "Rome"}
    [request] = fake.message_requests()
    [offered] = [t for t in request.body["tools"] if not t.get("defer_loading")]
    assert offered["name"] == "mcp__client__get_weather"
    assert offered["input_schema"] == WEATHER_TOOL["input_schema"]
