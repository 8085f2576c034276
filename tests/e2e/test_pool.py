"""The warm-process pool through the real proxy: reuse, isolation, continuation,
bounded concurrency, cancellation and crashes."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from fake_anthropic import FakeAnthropic, Reply, ToolUse
from harness import openai_client
from harness import post_chat as post
from test_chat import client_system_text, conversation_turns

from conftest import Proxy, running_proxy, wait_for

pytestmark = pytest.mark.e2e

MAX_PROCESSES = 3
MAX_QUEUE = 1


@pytest.fixture(scope="module")
def pooled(fake: FakeAnthropic, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    """A proxy with the pool on, small caps, and no spares (so the process that
    serves a request is the one that appears for it)."""
    pool = {"POOL": "1", "MAX_PROCESSES": str(MAX_PROCESSES), "MAX_QUEUE": str(MAX_QUEUE), "SPARES": "0"}
    env = {f"LITELLM_CLAUDE_CODE_{name}": value for name, value in pool.items()}
    with running_proxy(tmp_path_factory.mktemp("pooled"), fake, key="sk-pooled-test-key-0123456789", env=env) as proxy:
        yield proxy


@pytest.fixture()
def client(pooled: Proxy) -> openai.OpenAI:
    return openai_client(pooled)


def system(tag: str = "") -> dict[str, str]:
    """A system prompt of its own: its own pool key."""
    return {"role": "system", "content": f"Test {tag} {uuid.uuid4().hex}"}


def pids(proxy: Proxy) -> set[int]:
    return {p.pid for p in proxy.cli_processes()}


def test_one_process_serves_many_requests_without_leaking(client: Any, pooled: Proxy, fake: FakeAnthropic) -> None:
    prompt = system("reuse")
    before = pids(pooled)
    for index in range(4):
        fake.script(Reply(text=[f"answer {index}"]))
        answer = client.chat.completions.create(
            model="sonnet", messages=[prompt, {"role": "user", "content": f"secret-{index}"}]
        )
        assert answer.choices[0].message.content == f"answer {index}"
    assert len(pids(pooled) - before) == 1  # one warm process served all four
    requests = fake.message_requests()
    assert len(requests) == 4
    for index, request in enumerate(requests):
        text = str(request.body["messages"])
        assert f"secret-{index}" in text
        assert not any(f"secret-{other}" in text for other in range(4) if other != index)
        assert client_system_text(request.body) == [prompt["content"]]
    # The reused process rewound each conversation away: every request is the one a fresh
    # process sent for the first, but for its own text (no trace of the others, no /clear record).
    fresh = json.dumps(requests[0].body["messages"])
    for index, request in enumerate(requests):
        assert json.dumps(request.body["messages"]).replace(f"secret-{index}", "secret-0") == fresh


def test_continuation_sends_the_new_turn_to_the_same_session(
    client: Any, pooled: Proxy, proxy: Proxy, fake: FakeAnthropic
) -> None:
    prompt = system("continuation")
    first = [prompt, {"role": "user", "content": "My name is Ada."}]
    fake.script(Reply(text=["Hello", " Ada."]))
    reply = client.chat.completions.create(model="sonnet", messages=first).choices[0].message.content
    followup = [*first, {"role": "assistant", "content": reply}, {"role": "user", "content": "What is my name?"}]
    client.chat.completions.create(model="sonnet", messages=followup)
    warm_first, warm_second = fake.message_requests()
    assert warm_second.headers["x-claude-code-session-id"] == warm_first.headers["x-claude-code-session-id"]

    # The same conversation through the transcript path (a fresh process).
    fake.reset()
    cold = openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=proxy.key, max_retries=0)
    cold.chat.completions.create(model="sonnet", messages=followup)
    [transcript] = fake.message_requests()
    expected = [("user", "My name is Ada."), ("assistant", "Hello Ada."), ("user", "What is my name?")]
    assert conversation_turns(warm_second.body) == expected
    assert conversation_turns(transcript.body) == expected
    assert client_system_text(warm_second.body) == client_system_text(transcript.body) == [prompt["content"]]


def test_a_different_history_does_not_continue(client: Any, fake: FakeAnthropic) -> None:
    prompt = system("mismatch")
    client.chat.completions.create(model="sonnet", messages=[prompt, {"role": "user", "content": "one"}])
    edited = [
        prompt,
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": "EDITED"},
        {"role": "user", "content": "two"},
    ]
    client.chat.completions.create(model="sonnet", messages=edited)
    first, second = fake.message_requests()
    assert second.headers["x-claude-code-session-id"] != first.headers["x-claude-code-session-id"]
    assert conversation_turns(second.body) == [("user", "one"), ("assistant", "EDITED"), ("user", "two")]


def test_past_running_and_queue_caps_the_answer_is_429_at_once(pooled: Proxy, fake: FakeAnthropic) -> None:
    fake.default_reply = Reply(ttfb=3.0)
    results: list[httpx.Response] = []
    prompt = system("caps")

    def call() -> None:
        results.append(post(pooled, [prompt, {"role": "user", "content": "slow"}]))

    workers = [threading.Thread(target=call) for _ in range(MAX_PROCESSES + MAX_QUEUE)]
    for worker in workers:
        worker.start()
    assert wait_for(lambda: len(fake.message_requests()) == MAX_PROCESSES, timeout=15)
    started = time.monotonic()
    refused = post(pooled, [prompt, {"role": "user", "content": "one too many"}])
    assert time.monotonic() - started < 1.0
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "1"
    for worker in workers:
        worker.join(timeout=60)
    assert sorted(r.status_code for r in results) == [200] * (MAX_PROCESSES + MAX_QUEUE)


def test_time_in_the_queue_counts_against_the_timeout(pooled: Proxy, fake: FakeAnthropic) -> None:
    fake.default_reply = Reply(ttfb=4.0)
    prompt = system("queue-timeout")
    workers = [
        threading.Thread(target=post, args=(pooled, [prompt, {"role": "user", "content": "x"}]))
        for _ in range(MAX_PROCESSES)
    ]
    for worker in workers:
        worker.start()
    assert wait_for(lambda: len(fake.message_requests()) == MAX_PROCESSES, timeout=15)
    started = time.monotonic()
    queued = post(pooled, [prompt, {"role": "user", "content": "waits"}], timeout=1.5)
    assert queued.status_code == 408
    assert 1.0 < time.monotonic() - started < 3.0
    for worker in workers:
        worker.join(timeout=60)


def test_a_cancelled_turn_is_never_returned_to_the_pool(pooled: Proxy, fake: FakeAnthropic) -> None:
    prompt = system("cancel")
    fake.script(Reply(text=[f" t{i}" for i in range(40)], delta_delay=0.3))
    before = pids(pooled)
    with httpx.stream(
        "POST",
        f"{pooled.url}/v1/chat/completions",
        json={"model": "sonnet", "messages": [prompt, {"role": "user", "content": "long"}], "stream": True},
        headers={"Authorization": f"Bearer {pooled.key}"},
        timeout=60,
    ) as response:
        lines = response.iter_lines()
        assert any(line.startswith("data:") for _, line in zip(range(4), lines, strict=False))
        serving = pids(pooled) - before
        assert len(serving) == 1
    assert wait_for(lambda: not (serving & pids(pooled)), timeout=2.0), "the cancelled turn's process still runs"
    fake.script(Reply(text=["clean"]))
    answer = post(pooled, [prompt, {"role": "user", "content": "again"}]).json()
    assert answer["choices"][0]["message"]["content"] == "clean"
    last = fake.message_requests()[-1]
    assert conversation_turns(last.body) == [("user", "again")]


def test_a_crash_mid_request_is_5xx_and_the_next_request_works(pooled: Proxy, fake: FakeAnthropic) -> None:
    prompt = system("crash")
    fake.script(Reply(ttfb=5.0))
    before = pids(pooled)
    results: list[httpx.Response] = []
    worker = threading.Thread(target=lambda: results.append(post(pooled, [prompt, {"role": "user", "content": "x"}])))
    worker.start()
    assert wait_for(lambda: len(fake.message_requests()) == 1, timeout=15)
    [serving] = [p for p in pooled.cli_processes() if p.pid not in before]
    serving.kill()
    worker.join(timeout=30)
    assert results[0].status_code >= 500
    assert "Claude Code" in results[0].json()["error"]["message"]
    fake.script(Reply(text=["back"]))
    assert post(pooled, [prompt, {"role": "user", "content": "y"}]).json()["choices"][0]["message"]["content"] == "back"


def test_processes_stay_under_the_cap(pooled: Proxy, client: Any) -> None:
    for index in range(MAX_PROCESSES + 2):  # more keys than processes: the idlest goes
        client.chat.completions.create(model="sonnet", messages=[system(str(index)), {"role": "user", "content": "x"}])
    assert len(pooled.cli_processes()) <= MAX_PROCESSES


@pytest.fixture(scope="module")
def tuned(fake: FakeAnthropic, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    """`serve --config` with two deployments that differ only in model_info.claude_code."""
    with running_proxy(
        tmp_path_factory.mktemp("tuned"), fake, key="sk-tuned-test-key-0123456789", config=TUNED
    ) as proxy:
        yield proxy


TUNED = """
model_list:
  - model_name: lean
    litellm_params: {model: claude-code/sonnet}
    model_info: {claude_code: {spares: 0}}
  - model_name: roomy
    litellm_params: {model: claude-code/haiku}
litellm_settings:
  num_retries: 0
  custom_provider_map: [{provider: claude-code, custom_handler: litellm_claude_code.handler}]
router_settings: {disable_cooldowns: true}
general_settings: {master_key: os.environ/LITELLM_MASTER_KEY}
"""


def test_spares_are_tuned_per_deployment_in_model_info(tuned: Proxy) -> None:
    client = openai.OpenAI(base_url=f"{tuned.url}/v1", api_key=tuned.key, max_retries=0)
    client.chat.completions.create(model="lean", messages=[{"role": "user", "content": "x"}])
    client.chat.completions.create(model="roomy", messages=[{"role": "user", "content": "x"}])
    # roomy (default: 1 spare) gets its spare; lean (spares: 0), released earlier, would have had
    # its own by then.
    assert wait_for(lambda: len(tuned.cli_processes()) >= 3, timeout=15)
    assert len(tuned.cli_processes()) == 1 + 1 + 1  # lean, roomy's, roomy's spare


def test_tool_sets_are_part_of_the_key_and_tool_turns_never_return(
    client: Any, pooled: Proxy, fake: FakeAnthropic
) -> None:
    prompt = system("tools")
    weather = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
    fake.script(
        Reply(text=[], tool_uses=[ToolUse("mcp__client__get_weather", {"city": "Oslo"})], stop_reason="tool_use")
    )
    first = client.chat.completions.create(
        model="sonnet", messages=[prompt, {"role": "user", "content": "secret-oslo"}], tools=[weather]
    )
    assert first.choices[0].finish_reason == "tool_calls"
    client.chat.completions.create(
        model="sonnet", messages=[prompt, {"role": "user", "content": "next"}], tools=[weather]
    )
    client.chat.completions.create(model="sonnet", messages=[prompt, {"role": "user", "content": "plain"}])
    _called, with_tools, plain = fake.message_requests()
    assert "secret-oslo" not in str(with_tools.body["messages"])  # a clean process, not the one that called
    offered = [[t["name"] for t in r.body.get("tools", []) if not t.get("defer_loading")] for r in (with_tools, plain)]
    assert offered == [["mcp__client__get_weather"], []]
