"""Sticky conversations through the real proxy: one model name, two deployments
(two credentials, each with its own fake upstream); a continuing conversation
goes back to the credential and the warm process that answered it, without the
client sending anything but the OpenAI history. LiteLLM's own session affinity
(``x-litellm-session-id``) works too."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from fake_anthropic import FakeAnthropic, Recorded, Reply, ToolUse
from functions import WEATHER

from conftest import Proxy, running_proxy

pytestmark = pytest.mark.e2e

KEY = "sk-sticky-test-key-0123456789"
TOKENS = ("sk-ant-oat01-fake-credential-a-0123456789", "sk-ant-oat01-fake-credential-b-0123456789")


def two_credentials(fakes: tuple[FakeAnthropic, FakeAnthropic], *, sticky: bool = False) -> str:
    """One model name, a deployment per credential, each on its own upstream. ``sticky``: list
    the callback too (``serve`` adds it by itself where a group has several deployments)."""
    callbacks = ["litellm_claude_code.proxy_hooks.request_validator"]
    if sticky:
        callbacks.append("litellm_claude_code.routing.sticky_conversations")
    deployments = "".join(
        f"""
  - model_name: sonnet
    litellm_params: {{model: claude-code/sonnet, api_base: "{fake.base_url}", api_key: "{token}"}}"""
        for fake, token in zip(fakes, TOKENS, strict=True)
    )
    return f"""
model_list:{deployments}
litellm_settings:
  num_retries: 0
  custom_provider_map: [{{provider: claude-code, custom_handler: litellm_claude_code.handler}}]
  callbacks: {json.dumps(callbacks)}
router_settings:
  disable_cooldowns: true
  optional_pre_call_checks: [session_affinity]
general_settings: {{master_key: os.environ/LITELLM_MASTER_KEY}}
"""


@pytest.fixture(scope="module")
def fakes() -> Iterator[tuple[FakeAnthropic, FakeAnthropic]]:
    with FakeAnthropic() as first, FakeAnthropic() as second:
        yield first, second


@pytest.fixture(autouse=True)
def _reset_fakes(fakes: tuple[FakeAnthropic, FakeAnthropic]) -> None:
    for fake in fakes:
        fake.reset()


@pytest.fixture(scope="module")
def sticky(fakes: tuple[FakeAnthropic, FakeAnthropic], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    """No spares: a process that appears is one a request started. No sticky callback in the
    config: `serve` turns stickiness on by itself for the two-deployment group (issue 24.2)."""
    env = {"LITELLM_CLAUDE_CODE_SPARES": "0", "LITELLM_CLAUDE_CODE_MAX_PROCESSES": "6"}
    with running_proxy(
        tmp_path_factory.mktemp("sticky"), fakes[0], key=KEY, env=env, config=two_credentials(fakes)
    ) as proxy:
        yield proxy


@pytest.fixture()
def client(sticky: Proxy) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{sticky.url}/v1", api_key=sticky.key, max_retries=0, timeout=60)


def pids(proxy: Proxy) -> set[int]:
    return {p.pid for p in proxy.cli_processes()}


def answer_with(fakes: tuple[FakeAnthropic, FakeAnthropic], reply: Reply) -> None:
    """Whichever upstream the request reaches answers this."""
    for fake in fakes:
        fake.default_reply = reply


class Watch:
    """Which upstream each request reached, and in which CLI session."""

    def __init__(self, fakes: tuple[FakeAnthropic, FakeAnthropic]) -> None:
        self.fakes = fakes
        self.seen = [len(f.message_requests()) for f in fakes]

    def next_request(self) -> tuple[int, Recorded]:
        """The one upstream request made since the last call, and which upstream got it."""
        new = [(i, r) for i, f in enumerate(self.fakes) for r in f.message_requests()[self.seen[i] :]]
        self.seen = [len(f.message_requests()) for f in self.fakes]
        assert len(new) == 1, f"expected one upstream request, got {len(new)}"
        return new[0]


def chat(client: openai.OpenAI, messages: list[dict[str, Any]], *, stream: bool, **extra: Any) -> dict[str, Any]:
    """One turn; the assistant message as a client sends it back next turn."""
    if not stream:
        message = client.chat.completions.create(model="sonnet", messages=messages, **extra).choices[0].message  # type: ignore[arg-type]
        calls = [c.model_dump() for c in message.tool_calls or []]
        return {"role": "assistant", "content": message.content, **({"tool_calls": calls} if calls else {})}
    text: list[str] = []
    calls_by_index: dict[int, dict[str, Any]] = {}
    for chunk in client.chat.completions.create(model="sonnet", messages=messages, stream=True, **extra):  # type: ignore[arg-type]
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        text.append(delta.content or "")
        for call in delta.tool_calls or []:
            entry = calls_by_index.setdefault(
                call.index, {"id": "", "type": "function", "function": {"name": "", "arguments": ""}}
            )
            entry["id"] = call.id or entry["id"]
            if call.function is not None:
                entry["function"]["name"] = call.function.name or entry["function"]["name"]
                entry["function"]["arguments"] += call.function.arguments or ""
    calls = [calls_by_index[i] for i in sorted(calls_by_index)]
    return {"role": "assistant", "content": "".join(text) or None, **({"tool_calls": calls} if calls else {})}


def test_turns_two_and_three_stay_on_the_credential_and_warm_process_of_turn_one(
    client: openai.OpenAI, sticky: Proxy, fakes: tuple[FakeAnthropic, FakeAnthropic]
) -> None:
    # Without stickiness each later turn has an even chance of the other credential:
    # four conversations of three turns pass by luck once in 2**8 runs.
    for index in range(4):
        stream = index % 2 == 1
        watch = Watch(fakes)
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": f"Sticky {index} {uuid.uuid4().hex}"},
            {"role": "user", "content": f"conversation {index}, turn 1"},
        ]
        before = pids(sticky)
        answer_with(fakes, Reply(text=[f"Answer {index}.1"]))
        messages.append(chat(client, messages, stream=stream))
        upstream, first = watch.next_request()
        [serving] = pids(sticky) - before
        for turn in (2, 3):
            messages.append({"role": "user", "content": f"conversation {index}, turn {turn}"})
            answer_with(fakes, Reply(text=[f"Answer {index}.{turn}"]))
            reply = chat(client, messages, stream=stream)
            assert reply["content"] == f"Answer {index}.{turn}"
            messages.append(reply)
            where, request = watch.next_request()
            assert where == upstream, f"conversation {index} turn {turn} went to the other credential"
            # The same CLI session: the warm process took only the new turn.
            assert request.headers["x-claude-code-session-id"] == first.headers["x-claude-code-session-id"]
            assert request.headers["authorization"] == f"Bearer {TOKENS[upstream]}"
        assert serving in pids(sticky)
        assert not pids(sticky) - before - {serving}, "a later turn started a CLI process"


def test_function_results_go_back_to_the_process_waiting_for_them(
    client: openai.OpenAI, sticky: Proxy, fakes: tuple[FakeAnthropic, FakeAnthropic]
) -> None:
    for index in range(3):
        stream = index == 1
        watch = Watch(fakes)
        city = f"City{index}"
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": f"Tools {index} {uuid.uuid4().hex}"},
            {"role": "user", "content": f"Weather in {city}?"},
        ]
        before = pids(sticky)
        answer_with(
            fakes,
            Reply(text=[], tool_uses=[ToolUse("mcp__client__get_weather", {"city": city})], stop_reason="tool_use"),
        )
        called = chat(client, messages, stream=stream, tools=[WEATHER])
        [call] = called["tool_calls"]
        upstream, first = watch.next_request()
        [serving] = pids(sticky) - before
        messages += [called, {"role": "tool", "tool_call_id": call["id"], "content": f"Sunny in {city}"}]
        answer_with(fakes, Reply(text=[f"It is sunny in {city}."]))
        messages.append(chat(client, messages, stream=stream, tools=[WEATHER]))
        where, results = watch.next_request()
        assert where == upstream
        assert results.headers["x-claude-code-session-id"] == first.headers["x-claude-code-session-id"]
        assert f"Sunny in {city}" in json.dumps(results.body["messages"][-1])  # the parked call got its result
        messages.append({"role": "user", "content": "Thanks."})
        answer_with(fakes, Reply(text=["You are welcome."]))
        chat(client, messages, stream=stream, tools=[WEATHER])
        where, _ = watch.next_request()
        assert where == upstream
        assert not pids(sticky) - before - {serving}


def test_litellm_session_affinity_header_pins_unrelated_requests(
    client: openai.OpenAI, fakes: tuple[FakeAnthropic, FakeAnthropic]
) -> None:
    # Fresh one-turn conversations: only the header ties them together. Without
    # affinity, eight of them land on one credential once in 2**7 runs.
    for session in (f"session-{uuid.uuid4().hex}", f"session-{uuid.uuid4().hex}"):
        watch = Watch(fakes)
        reached = set()
        for index in range(8):
            client.chat.completions.create(
                model="sonnet",
                messages=[{"role": "user", "content": f"unrelated {index}"}],
                extra_headers={"x-litellm-session-id": session},
            )
            reached.add(watch.next_request()[0])
        assert len(reached) == 1, f"{session} was served by both credentials"


def test_serve_says_where_conversations_stick(sticky: Proxy) -> None:
    assert "litellm-claude-code: Sticky conversations in sonnet." in sticky.log_text()


def test_stickiness_can_be_turned_off(fakes: tuple[FakeAnthropic, FakeAnthropic], tmp_path: Any) -> None:
    env = {"LITELLM_CLAUDE_CODE_STICKY": "0"}
    with running_proxy(tmp_path, fakes[0], key=KEY, env=env, config=two_credentials(fakes)) as proxy:
        log = proxy.log_text()
    assert "Process cap:" in log and "Sticky conversations" not in log
