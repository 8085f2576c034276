"""Agent tool loops through the real proxy: the process that made the calls waits
in them (parked) and takes the client's results as the tools' real results."""

from __future__ import annotations

import dataclasses
import json
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from fake_anthropic import FakeAnthropic, Recorded, Reply, ToolUse
from functions import WEATHER
from harness import openai_client

from conftest import Proxy, running_proxy, wait_for

pytestmark = pytest.mark.e2e

INJECTED = ("No response requested", "Continue from where you left off")
AGENTS_KEY = "sk-agents-test-key-0123456789"
AGENTS_CONFIG = """
model_list:
  - model_name: sonnet
    litellm_params: {model: claude-code/sonnet}
  - model_name: quick
    litellm_params: {model: claude-code/sonnet}
    model_info: {claude_code: {tool_wait: 2}}
litellm_settings:
  num_retries: 0
  custom_provider_map: [{provider: claude-code, custom_handler: litellm_claude_code.handler}]
  callbacks: [litellm_claude_code.proxy_hooks.request_validator]
router_settings: {disable_cooldowns: true}
general_settings: {master_key: os.environ/LITELLM_MASTER_KEY}
"""


@pytest.fixture(scope="module")
def agents_proxy(fake: FakeAnthropic, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    """Pool on, no spares (a started process is one the test caused), and a
    deployment whose parked processes wait only 2 s."""
    env = {"LITELLM_CLAUDE_CODE_SPARES": "0", "LITELLM_CLAUDE_CODE_MAX_PROCESSES": "4"}
    with running_proxy(tmp_path_factory.mktemp("agents"), fake, key=AGENTS_KEY, env=env, config=AGENTS_CONFIG) as proxy:
        yield proxy


@pytest.fixture()
def client(agents_proxy: Proxy) -> openai.OpenAI:
    return openai_client(agents_proxy)


def pids(proxy: Proxy) -> set[int]:
    return {p.pid for p in proxy.cli_processes()}


def calls(*cities: str, text: list[str] | None = None) -> Reply:
    return Reply(
        text=text or [],
        tool_uses=[
            ToolUse("mcp__client__get_weather", {"city": c}, id=f"toolu_{c.lower()}_{uuid.uuid4().hex[:8]}")
            for c in cities
        ],
        stop_reason="tool_use",
    )


def echo(message: Any) -> dict[str, Any]:
    """The assistant message as an OpenAI client sends it back."""
    return message.model_dump(include={"role", "content", "tool_calls"}, exclude_none=False)


def results(message: Any, **by_city: str) -> list[dict[str, str]]:
    return [
        {"role": "tool", "tool_call_id": call.id, "content": by_city[json.loads(call.function.arguments)["city"]]}
        for call in message.tool_calls
    ]


def non_system(request: Recorded) -> list[dict[str, Any]]:
    """The conversation the upstream received, without the CLI's own environment
    block and its prompt-cache markers (which change no content)."""

    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items() if k != "cache_control"}
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value

    return [plain(m) for m in request.body["messages"] if m["role"] != "system"]


def blocks(request: Recorded) -> list[dict[str, Any]]:
    return [b for m in non_system(request) if isinstance(m["content"], list) for b in m["content"]]


def tool_result(call_id: str, text: str) -> dict[str, Any]:
    return {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": call_id, "content": [{"type": "text", "text": text}]}],
    }


def test_a_three_step_loop_runs_in_one_process_with_nothing_injected(
    client: Any, agents_proxy: Proxy, fake: FakeAnthropic
) -> None:
    system = {"role": "system", "content": f"Agent {uuid.uuid4().hex}"}
    messages: list[dict[str, Any]] = [system, {"role": "user", "content": "Weather in Oslo, then Rome?"}]
    fake.script(calls("Oslo", text=["Checking Oslo."]), calls("Rome"), Reply(text=["Oslo 3 C, Rome 18 C."]))
    before = pids(agents_proxy)
    first = client.chat.completions.create(model="sonnet", messages=messages, tools=[WEATHER])
    assert first.choices[0].finish_reason == "tool_calls"
    [serving] = pids(agents_proxy) - before
    messages += [echo(first.choices[0].message), *results(first.choices[0].message, Oslo="3 C")]
    second = client.chat.completions.create(model="sonnet", messages=messages, tools=[WEATHER])
    assert second.choices[0].message.tool_calls[0].function.arguments == '{"city": "Rome"}'
    messages += [echo(second.choices[0].message), *results(second.choices[0].message, Rome="18 C")]
    third = client.chat.completions.create(model="sonnet", messages=messages, tools=[WEATHER])
    assert third.choices[0].message.content == "Oslo 3 C, Rome 18 C."
    assert pids(agents_proxy) - before == {serving}, "a step started a process"

    requests = fake.message_requests()
    assert len(requests) == 3
    assert len({r.headers["x-claude-code-session-id"] for r in requests}) == 1  # one session, three steps
    oslo_id = first.choices[0].message.tool_calls[0].id
    rome_id = second.choices[0].message.tool_calls[0].id
    assert non_system(requests[2]) == [
        {"role": "user", "content": "Weather in Oslo, then Rome?"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Checking Oslo."},
                {"type": "tool_use", "id": oslo_id, "name": "mcp__client__get_weather", "input": {"city": "Oslo"}},
            ],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": oslo_id, "content": [{"type": "text", "text": "3 C"}]}],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": rome_id, "name": "mcp__client__get_weather", "input": {"city": "Rome"}}
            ],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": rome_id, "content": [{"type": "text", "text": "18 C"}]}],
        },
    ]
    assert not any(marker in json.dumps(r.body["messages"]) for r in requests for marker in INJECTED)


@pytest.mark.parametrize("pace", [0.0, 0.08], ids=["burst", "paced"])  # paced: each delta 80 ms apart, as real traffic
def test_parallel_calls_park_and_resume_together(
    client: Any, agents_proxy: Proxy, fake: FakeAnthropic, pace: float
) -> None:
    messages: list[dict[str, Any]] = [{"role": "user", "content": f"Paris and Rome? {uuid.uuid4().hex}"}]
    fake.script(
        dataclasses.replace(calls("Paris", "Rome"), delta_delay=pace),
        Reply(text=["Both", " mild."], delta_delay=pace),
    )
    first = client.chat.completions.create(model="sonnet", messages=messages, tools=[WEATHER])
    assert len(first.choices[0].message.tool_calls) == 2
    serving = pids(agents_proxy)
    messages += [echo(first.choices[0].message), *results(first.choices[0].message, Paris="20 C", Rome="22 C")]
    chunks = list(client.chat.completions.create(model="sonnet", messages=messages, tools=[WEATHER], stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Both mild."
    assert pids(agents_proxy) <= serving  # no new process
    _, follow = fake.message_requests()
    [tool_turn] = [m for m in non_system(follow) if m["role"] == "user" and "tool_result" in json.dumps(m["content"])]
    assert [(b["type"], b["content"][0]["text"]) for b in tool_turn["content"]] == [
        ("tool_result", "20 C"),
        ("tool_result", "22 C"),
    ]
    assert follow.headers["x-claude-code-session-id"] == fake.message_requests()[0].headers["x-claude-code-session-id"]


def test_a_client_slower_than_the_tool_wait_gets_the_resume_path(agents_proxy: Proxy, fake: FakeAnthropic) -> None:
    client = openai.OpenAI(base_url=f"{agents_proxy.url}/v1", api_key=agents_proxy.key, max_retries=0, timeout=60)
    system = {"role": "system", "content": f"Slow agent {uuid.uuid4().hex}"}  # a key of its own
    messages: list[dict[str, Any]] = [system, {"role": "user", "content": "Lima?"}]
    fake.script(calls("Lima"), Reply(text=["Lima 19 C."]))
    before = pids(agents_proxy)
    first = client.chat.completions.create(model="quick", messages=messages, tools=[WEATHER])
    parked = pids(agents_proxy) - before
    assert parked
    assert wait_for(lambda: not (parked & pids(agents_proxy)), timeout=15), "the parked process outlived its wait"
    messages += [echo(first.choices[0].message), *results(first.choices[0].message, Lima="19 C")]
    second = client.chat.completions.create(model="quick", messages=messages, tools=[WEATHER])
    assert second.choices[0].message.content == "Lima 19 C."
    first_request, resumed = fake.message_requests()
    assert resumed.headers["x-claude-code-session-id"] != first_request.headers["x-claude-code-session-id"]
    assert any(b.get("type") == "tool_result" for b in blocks(resumed))


def test_a_follow_up_that_does_not_match_takes_the_resume_path(
    client: Any, agents_proxy: Proxy, fake: FakeAnthropic
) -> None:
    """An edited assistant turn is another conversation: the parked process
    (which may still get its own follow-up) is not used for it."""
    question = {"role": "user", "content": f"Kyiv? {uuid.uuid4().hex}"}
    fake.script(calls("Kyiv"), Reply(text=["Edited path."]))
    before = pids(agents_proxy)
    first = client.chat.completions.create(model="sonnet", messages=[question], tools=[WEATHER])
    parked = pids(agents_proxy) - before
    call = first.choices[0].message.tool_calls[0]
    edited = {"role": "assistant", "content": "I will look it up.", "tool_calls": [call.model_dump()]}
    follow = client.chat.completions.create(
        model="sonnet",
        messages=[question, edited, {"role": "tool", "tool_call_id": call.id, "content": "5 C"}],
        tools=[WEATHER],
    )
    assert follow.choices[0].message.content == "Edited path."
    _, resumed = fake.message_requests()
    assert any(b.get("text") == "I will look it up." for b in blocks(resumed))
    assert resumed.headers["x-claude-code-session-id"] != fake.message_requests()[0].headers["x-claude-code-session-id"]
    assert parked <= pids(agents_proxy)  # still waiting for its own follow-up


def test_a_cancelled_follow_up_ends_the_process(agents_proxy: Proxy, fake: FakeAnthropic, client: Any) -> None:
    messages: list[dict[str, Any]] = [{"role": "user", "content": f"Cairo? {uuid.uuid4().hex}"}]
    fake.script(calls("Cairo"), Reply(text=[f" w{i}" for i in range(40)], delta_delay=0.2))
    before = pids(agents_proxy)
    first = client.chat.completions.create(model="sonnet", messages=messages, tools=[WEATHER])
    serving = pids(agents_proxy) - before
    messages += [echo(first.choices[0].message), *results(first.choices[0].message, Cairo="30 C")]
    with httpx.stream(
        "POST",
        f"{agents_proxy.url}/v1/chat/completions",
        json={"model": "sonnet", "messages": messages, "tools": [WEATHER], "stream": True},
        headers={"Authorization": f"Bearer {agents_proxy.key}"},
        timeout=60,
    ) as response:
        lines = response.iter_lines()
        assert any(line.startswith("data:") and "w" in line for _, line in zip(range(10), lines, strict=False))
    assert wait_for(lambda: not (serving & pids(agents_proxy)), timeout=3), "the cancelled step's process still runs"


def test_two_hundred_tools_work(client: Any, fake: FakeAnthropic) -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": f"tool_{i}",
                "description": f"Tool number {i}",
                "parameters": {"type": "object", "properties": {"x": {"type": "integer"}}},
            },
        }
        for i in range(200)
    ]
    fake.script(Reply(text=[], tool_uses=[ToolUse("mcp__client__tool_199", {"x": 1})], stop_reason="tool_use"))
    answer = client.chat.completions.create(
        model="sonnet", messages=[{"role": "user", "content": f"go {uuid.uuid4().hex}"}], tools=tools
    )
    assert answer.choices[0].message.tool_calls[0].function.name == "tool_199"
    [request] = fake.message_requests()
    names = {t["name"] for t in request.body.get("tools", [])}
    assert {f"mcp__client__tool_{i}" for i in range(200)} <= names


def test_a_one_megabyte_tool_result_reaches_the_upstream_whole(client: Any, fake: FakeAnthropic) -> None:
    big = "0123456789abcdef" * 65_536  # 1 MiB
    messages: list[dict[str, Any]] = [{"role": "user", "content": f"Dump? {uuid.uuid4().hex}"}]
    fake.script(calls("Big"), Reply(text=["Got it."]))
    first = client.chat.completions.create(model="sonnet", messages=messages, tools=[WEATHER])
    messages += [echo(first.choices[0].message), *results(first.choices[0].message, Big=big)]
    assert client.chat.completions.create(model="sonnet", messages=messages, tools=[WEATHER]).choices[0].message.content
    _, follow = fake.message_requests()
    assert big in json.dumps(follow.body["messages"])  # not a preview of a saved file


def test_an_agent_framework_runs_its_tool_loop_on_one_parked_process(agents_proxy: Proxy, fake: FakeAnthropic) -> None:
    """openai-agents, unmodified, through the proxy's chat completions."""
    from agents import Agent, OpenAIChatCompletionsModel, Runner, function_tool, set_tracing_disabled

    set_tracing_disabled(True)
    seen: list[str] = []

    @function_tool
    def get_weather(city: str) -> str:
        """Current weather for a city."""
        seen.append(city)
        return f"{city}: 7 C"

    fake.script(
        Reply(text=[], tool_uses=[ToolUse("mcp__client__get_weather", {"city": "Bergen"})], stop_reason="tool_use"),
        Reply(text=["Bergen is 7 C."]),
    )
    model = OpenAIChatCompletionsModel(
        model="sonnet",
        openai_client=openai.AsyncOpenAI(base_url=f"{agents_proxy.url}/v1", api_key=agents_proxy.key, max_retries=0),
    )
    agent = Agent(name="weather", instructions=f"Answer briefly. {uuid.uuid4().hex}", tools=[get_weather], model=model)
    before = pids(agents_proxy)
    result: list[Any] = []
    worker = threading.Thread(target=lambda: result.append(Runner.run_sync(agent, "Weather in Bergen?")))
    worker.start()
    worker.join(timeout=90)
    assert result and result[0].final_output == "Bergen is 7 C."
    assert seen == ["Bergen"]
    first, second = fake.message_requests()
    assert first.headers["x-claude-code-session-id"] == second.headers["x-claude-code-session-id"]
    assert len(pids(agents_proxy) - before) <= 1
    assert not any(marker in json.dumps(second.body["messages"]) for marker in INJECTED)


def test_tool_choice_and_stop_sequences_hold_in_parked_steps(
    client: Any, agents_proxy: Proxy, fake: FakeAnthropic
) -> None:
    messages: list[dict[str, Any]] = [{"role": "user", "content": f"Quito? {uuid.uuid4().hex}"}]
    fake.script(calls("Quito"), calls("Lima"), Reply(text=["Quito 14 C. STOP here"]))
    first = client.chat.completions.create(model="sonnet", messages=messages, tools=[WEATHER], tool_choice="required")
    messages += [echo(first.choices[0].message), *results(first.choices[0].message, Quito="14 C")]
    second = client.chat.completions.create(model="sonnet", messages=messages, tools=[WEATHER], tool_choice="required")
    assert second.choices[0].finish_reason == "tool_calls"
    messages += [echo(second.choices[0].message), *results(second.choices[0].message, Lima="19 C")]
    third = client.chat.completions.create(model="sonnet", messages=messages, tools=[WEATHER], stop=[" STOP"])
    assert third.choices[0].message.content == "Quito 14 C."
    sessions = [r.headers["x-claude-code-session-id"] for r in fake.message_requests()]
    assert len(sessions) == 3 and len(set(sessions[:2])) == 1
