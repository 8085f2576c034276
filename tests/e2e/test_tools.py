"""Client function calling through the real proxy, SDK and CLI: what the
model was offered, what the client got back, and how the follow-up arrives."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import openai
import pytest
from fake_anthropic import FakeAnthropic, Reply, ToolUse
from functions import WEATHER
from test_chat import client_system_text

from conftest import Proxy, wait_for

pytestmark = pytest.mark.e2e

BASH = {
    "type": "function",
    "function": {
        "name": "Bash",
        "description": "The client's own Bash, run on the client",
        "parameters": {"type": "object", "properties": {"command": {"type": "string"}}},
    },
}
QUESTION = [{"role": "user", "content": "Weather in Paris and Rome?"}]


def two_calls(text: list[str] | None = None) -> Reply:
    return Reply(
        text=text or [],
        tool_uses=[
            ToolUse("mcp__client__get_weather", {"city": "Paris"}, id="toolu_paris"),
            ToolUse("mcp__client__get_weather", {"city": "Rome"}, id="toolu_rome"),
        ],
        stop_reason="tool_use",
    )


def offered(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {tool["name"]: tool for tool in body.get("tools", []) if not tool.get("defer_loading")}


def test_tools_are_offered_and_calls_come_back(client: Any, fake: FakeAnthropic, proxy: Proxy) -> None:
    fake.script(two_calls(["Checking."]))
    response = client.chat.completions.create(model="sonnet", messages=QUESTION, tools=[WEATHER, BASH])
    [request] = fake.message_requests()
    tools = offered(request.body)
    assert set(tools) == {"mcp__client__get_weather", "mcp__client__Bash"}  # no built-in Bash, Read, ...
    assert tools["mcp__client__get_weather"]["description"] == "Current weather for a city"
    assert tools["mcp__client__get_weather"]["input_schema"] == WEATHER["function"]["parameters"]
    choice = response.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == "Checking."
    calls = choice.message.tool_calls
    assert [(c.id, c.function.name, json.loads(c.function.arguments)) for c in calls] == [
        ("toolu_paris", "get_weather", {"city": "Paris"}),
        ("toolu_rome", "get_weather", {"city": "Rome"}),
    ]
    assert len(fake.message_requests()) == 1  # nothing ran the call, nothing asked again
    assert proxy.cli_processes() == []


def test_calls_streamed_at_the_pace_of_the_real_api_come_back_whole(
    client: Any, fake: FakeAnthropic, proxy: Proxy
) -> None:
    """The CLI asks permission for the first call while the second still streams:
    the answer must not be cut there (it was: a 502 from the CLI's interrupt)."""
    fake.script(dataclasses.replace(two_calls(["Checking."]), delta_delay=0.08))
    response = client.chat.completions.create(model="sonnet", messages=QUESTION, tools=[WEATHER])
    choice = response.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert [(c.id, json.loads(c.function.arguments)) for c in choice.message.tool_calls] == [
        ("toolu_paris", {"city": "Paris"}),
        ("toolu_rome", {"city": "Rome"}),
    ]
    assert len(fake.message_requests()) == 1  # the denials never reached the upstream
    assert wait_for(lambda: proxy.cli_processes() == [], timeout=10)


def test_streamed_tool_calls_carry_index_id_and_argument_pieces(client: Any, fake: FakeAnthropic) -> None:
    # Paced above the CLI's stream hold (STREAM_HOLD_MS, 50), which joins what comes faster.
    fake.script(dataclasses.replace(two_calls(), delta_delay=0.08))
    stream = client.chat.completions.create(model="sonnet", messages=QUESTION, tools=[WEATHER], stream=True)
    calls: dict[int, dict[str, str]] = {}
    pieces = 0
    finish = None
    for chunk in stream:
        if not chunk.choices:
            continue
        for delta in chunk.choices[0].delta.tool_calls or []:
            call = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
            call["id"] += delta.id or ""
            call["name"] += (delta.function.name or "") if delta.function else ""
            call["arguments"] += (delta.function.arguments or "") if delta.function else ""
            pieces += 1
        finish = chunk.choices[0].finish_reason or finish
    assert finish == "tool_calls"
    assert sorted(calls) == [0, 1]
    assert calls[0]["id"] == "toolu_paris" and calls[1]["id"] == "toolu_rome"
    assert {calls[i]["name"] for i in calls} == {"get_weather"}
    assert [json.loads(calls[i]["arguments"]) for i in (0, 1)] == [{"city": "Paris"}, {"city": "Rome"}]
    assert pieces > 4  # arguments arrived in pieces, as the upstream sent them


def test_follow_up_reaches_upstream_as_tool_use_and_tool_result(client: Any, fake: FakeAnthropic) -> None:
    fake.script(Reply(text=["Paris is sunny, Rome is rainy."]))
    response = client.chat.completions.create(
        model="sonnet",
        tools=[WEATHER],
        messages=[
            *QUESTION,
            {
                "role": "assistant",
                "content": "Checking.",
                "tool_calls": [
                    {
                        "id": "toolu_paris",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    },
                    {
                        "id": "toolu_rome",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'},
                    },
                ],
            },
            {"role": "tool", "tool_call_id": "toolu_paris", "content": "sunny"},
            {"role": "tool", "tool_call_id": "toolu_rome", "content": "rainy"},
        ],
    )
    assert response.choices[0].message.content == "Paris is sunny, Rome is rainy."
    assert response.choices[0].finish_reason == "stop"
    [request] = fake.message_requests()
    messages = [m for m in request.body["messages"] if m["role"] != "system"]
    assert messages[0] == {"role": "user", "content": [{"type": "text", "text": "Weather in Paris and Rome?"}]}
    assistant = messages[1]
    assert assistant["role"] == "assistant"
    assert [b for b in assistant["content"] if b["type"] == "tool_use"] == [
        {"type": "tool_use", "id": "toolu_paris", "name": "mcp__client__get_weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "toolu_rome", "name": "mcp__client__get_weather", "input": {"city": "Rome"}},
    ]
    results = messages[2]
    assert results["role"] == "user"
    assert [(b["type"], b["tool_use_id"], b["content"]) for b in results["content"]] == [
        ("tool_result", "toolu_paris", "sunny"),
        ("tool_result", "toolu_rome", "rainy"),
    ]
    # Claude Code closes a resumed turn that ends in tool results with its own
    # two lines before the new turn (README, Limitations).
    assert [m["role"] for m in messages[3:]] == ["assistant", "user"]


def test_a_client_function_named_bash_is_only_the_clients(client: Any, fake: FakeAnthropic, proxy: Proxy) -> None:
    fake.script(
        Reply(
            text=[], tool_uses=[ToolUse("mcp__client__Bash", {"command": "touch /tmp/pwned"})], stop_reason="tool_use"
        )
    )
    response = client.chat.completions.create(
        model="sonnet", messages=[{"role": "user", "content": "ls"}], tools=[BASH]
    )
    [call] = response.choices[0].message.tool_calls
    assert call.function.name == "Bash"
    assert json.loads(call.function.arguments) == {"command": "touch /tmp/pwned"}
    [request] = fake.message_requests()
    assert "Bash" not in offered(request.body)  # only the client's, under its own prefix
    # A built-in tool the model names anyway is neither run nor passed on.
    fake.reset()
    fake.script(Reply(text=["ok"], tool_uses=[ToolUse("Bash", {"command": "id"})], stop_reason="tool_use"))
    response = client.chat.completions.create(
        model="sonnet", messages=[{"role": "user", "content": "ls"}], tools=[BASH]
    )
    assert response.choices[0].message.tool_calls is None
    assert len(fake.message_requests()) == 1


def test_tool_choice_none_hides_the_tools(client: Any, fake: FakeAnthropic) -> None:
    client.chat.completions.create(model="sonnet", messages=QUESTION, tools=[WEATHER], tool_choice="none")
    [request] = fake.message_requests()
    assert offered(request.body) == {}


def test_named_tool_choice_is_asked_for_and_retried_once(client: Any, fake: FakeAnthropic) -> None:
    fake.script(
        Reply(text=["I would rather chat."]),
        Reply(text=[], tool_uses=[ToolUse("mcp__client__get_weather", {"city": "Oslo"})], stop_reason="tool_use"),
    )
    stream = client.chat.completions.create(
        model="sonnet",
        messages=QUESTION,
        tools=[WEATHER, BASH],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        stream=True,
    )
    chunks = list(stream)
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert content == ""  # the first, text-only answer never reached the client
    names = [
        d.function.name for c in chunks if c.choices for d in c.choices[0].delta.tool_calls or [] if d.function.name
    ]
    assert names == ["get_weather"]
    first, second = fake.message_requests()
    assert "must call the function `mcp__client__get_weather`" in client_system_text(first.body)[-1]
    assert "IMPORTANT" in client_system_text(second.body)[-1]


def test_required_tool_choice_fails_clearly_after_the_retry(client: Any, fake: FakeAnthropic) -> None:
    fake.script(Reply(text=["No."]), Reply(text=["Still no."]))
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="sonnet", messages=QUESTION, tools=[WEATHER], tool_choice="required")
    assert caught.value.status_code == 502
    assert "tool_choice requires a call to a function" in str(caught.value)
    assert len(fake.message_requests()) == 2


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        ({"tools": [{"type": "function", "function": {"name": "bad name"}}]}, "tools[0].function.name"),
        ({"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "x"}}}, "not in `tools`"),
        ({"functions": [WEATHER["function"]]}, "legacy `functions`"),
    ],
)
def test_bad_tools_are_400(client: Any, fake: FakeAnthropic, extra: dict[str, Any], fragment: str) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="sonnet", messages=QUESTION, **extra)
    assert fragment in str(caught.value)
    assert fake.message_requests() == []


def function_with(parameters: dict[str, Any], name: str = "lookup") -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "description": "Look up", "parameters": parameters}}


@pytest.mark.parametrize(
    ("parameters", "where"),
    [
        ({"type": "object", "properties": {"x": {"type": "nonsense"}}}, "$.properties.x.type"),
        ({"type": "object", "properties": {"x": {"type": "string"}}, "required": "x"}, "$.required"),
        ({"type": "object", "properties": {"n": {"type": "number", "exclusiveMinimum": True}}}, "exclusiveMinimum"),
    ],
)
def test_a_tool_schema_the_api_would_refuse_is_400_naming_the_tool(
    client: Any, fake: FakeAnthropic, parameters: dict[str, Any], where: str
) -> None:
    # The CLI used to drop such a tool (or every tool) with only a note in its log.
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="sonnet", messages=QUESTION, tools=[WEATHER, function_with(parameters)])
    message = str(caught.value)
    assert "tools[1]" in message and "'lookup'" in message and where in message
    assert fake.message_requests() == []


@pytest.mark.parametrize("endpoint", ["/v1/messages", "/v1/responses"])
def test_a_bad_tool_schema_is_400_on_the_other_endpoints(proxy: Proxy, fake: FakeAnthropic, endpoint: str) -> None:
    import httpx

    schema = {"type": "object", "properties": {"x": {"type": "nonsense"}}}
    if endpoint == "/v1/messages":
        body: dict[str, Any] = {
            "model": "sonnet",
            "max_tokens": 50,
            "messages": QUESTION,
            "tools": [{"name": "lookup", "input_schema": schema}],
        }
    else:
        body = {
            "model": "sonnet",
            "input": "hi",
            "tools": [{"type": "function", "name": "lookup", "parameters": schema}],
        }
    response = httpx.post(
        f"{proxy.url}{endpoint}", json=body, headers={"Authorization": f"Bearer {proxy.key}"}, timeout=60
    )
    assert response.status_code == 400, response.text
    message = response.json()["error"]["message"]
    assert "'lookup'" in message and "$.properties.x.type" in message
    assert fake.message_requests() == []


def test_a_schema_with_an_ecma_regex_is_still_offered(client: Any, fake: FakeAnthropic) -> None:
    # `pattern` is an ECMA-262 regex; Python's `re` cannot compile \p{L}, the API can.
    parameters = {"type": "object", "properties": {"word": {"type": "string", "pattern": "^\\p{L}+$"}}}
    fake.script(Reply(text=["ok"]))
    client.chat.completions.create(model="sonnet", messages=QUESTION, tools=[function_with(parameters)])
    [request] = fake.message_requests()
    assert offered(request.body)["mcp__client__lookup"]["input_schema"] == parameters


def test_the_model_is_offered_exactly_the_clients_tools(client: Any, fake: FakeAnthropic) -> None:
    """Issue 22.3: no tool nobody sent (the CLI's DeferredToolPlaceholder is gone: ENABLE_TOOL_SEARCH=false),
    and a client's own tool of that name is just the client's."""
    placeholder = {
        "type": "function",
        "function": {"name": "DeferredToolPlaceholder", "parameters": {"type": "object", "properties": {}}},
    }
    fake.script(
        Reply(
            text=[], tool_uses=[ToolUse("mcp__client__DeferredToolPlaceholder", {}, "toolu_p")], stop_reason="tool_use"
        )
    )
    response = client.chat.completions.create(model="sonnet", messages=QUESTION, tools=[WEATHER, placeholder])
    [request] = fake.message_requests()
    names = sorted(tool["name"] for tool in request.body["tools"])
    assert names == ["mcp__client__DeferredToolPlaceholder", "mcp__client__get_weather"]
    assert not any(tool.get("defer_loading") for tool in request.body["tools"])
    [call] = response.choices[0].message.tool_calls
    assert (call.id, call.function.name) == ("toolu_p", "DeferredToolPlaceholder")
