"""Chat completions through the real proxy, SDK and CLI, against the fake API."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fake_anthropic import FakeAnthropic, Reply
from harness import Proxy, openai_client, running_proxy, wait_for

pytestmark = pytest.mark.e2e

# Blocks the CLI itself puts in the system prompt: a billing header and a
# one-line SDK identity. Everything after them is the client's.
CLI_SYSTEM_PREFIXES = ("x-anthropic-billing-header", "You are a Claude agent, built on Anthropic's Claude Agent SDK")


def client_system_text(body: dict[str, Any]) -> list[str]:
    blocks = body.get("system") or []
    return [b["text"] for b in blocks if not b["text"].startswith(CLI_SYSTEM_PREFIXES)]


def conversation_turns(body: dict[str, Any]) -> list[tuple[str, str]]:
    """(role, text) of each user/assistant message; the CLI's own system notes dropped."""
    turns = []
    for message in body["messages"]:
        if message["role"] == "system":
            continue
        content = message["content"]
        text = content if isinstance(content, str) else "".join(b.get("text", "") for b in content)
        turns.append((message["role"], text))
    return turns


def test_non_streaming_answer_usage_and_upstream_request(client: Any, fake: FakeAnthropic) -> None:
    fake.script(
        Reply(
            text=["The answer", " is 42."],
            input_tokens=21,
            output_tokens=9,
            cache_read_input_tokens=300,
            cache_creation_input_tokens=40,
        )
    )
    response = client.chat.completions.create(
        model="sonnet",
        messages=[
            {"role": "system", "content": "You answer with numbers."},
            {"role": "user", "content": "What is six times seven?"},
        ],
    )
    assert response.choices[0].message.content == "The answer is 42."
    assert response.choices[0].message.role == "assistant"
    assert response.choices[0].finish_reason == "stop"
    assert response.usage.prompt_tokens == 21 + 300 + 40
    assert response.usage.completion_tokens == 9
    assert response.usage.total_tokens == 21 + 300 + 40 + 9
    assert response.usage.prompt_tokens_details.cached_tokens == 300

    [request] = fake.message_requests()
    body = request.body
    assert body["stream"] is True
    assert body["tools"] == []  # Claude Code's own tools are never offered
    assert client_system_text(body) == ["You answer with numbers."]
    assert conversation_turns(body) == [("user", "What is six times seven?")]
    assert request.headers["authorization"] == "Bearer sk-ant-oat01-fake-test-token-0123456789"


def test_no_system_message_sends_no_invented_prompt(client: Any, fake: FakeAnthropic) -> None:
    client.chat.completions.create(model="sonnet", messages=[{"role": "user", "content": "hi"}])
    [request] = fake.message_requests()
    assert client_system_text(request.body) == []


def test_system_and_developer_messages_join_in_order(client: Any, fake: FakeAnthropic) -> None:
    client.chat.completions.create(
        model="sonnet",
        messages=[
            {"role": "system", "content": "First rule."},
            {"role": "developer", "content": [{"type": "text", "text": "Second rule."}]},
            {"role": "user", "content": "hi"},
        ],
    )
    [request] = fake.message_requests()
    assert client_system_text(request.body) == ["First rule.\n\nSecond rule."]


def test_multi_turn_history_arrives_as_separate_turns(client: Any, fake: FakeAnthropic) -> None:
    response = client.chat.completions.create(
        model="sonnet",
        messages=[
            {"role": "system", "content": "Remember things."},
            {"role": "user", "content": "My name is Ada."},
            {"role": "assistant", "content": "Hello Ada."},
            {"role": "user", "content": [{"type": "text", "text": "I like "}, {"type": "text", "text": "tea."}]},
            {"role": "assistant", "content": [{"type": "text", "text": "Noted: tea."}]},
            {"role": "user", "content": "What is my name?"},
        ],
    )
    assert response.choices[0].message.content == "Hello from fake Claude."
    [request] = fake.message_requests()
    assert conversation_turns(request.body) == [
        ("user", "My name is Ada."),
        ("assistant", "Hello Ada."),
        ("user", "I like tea."),
        ("assistant", "Noted: tea."),
        ("user", "What is my name?"),
    ]
    assert client_system_text(request.body) == ["Remember things."]


def test_streaming_delivers_tokens_before_the_upstream_finishes(client: Any, fake: FakeAnthropic) -> None:
    pieces = ["one", " two", " three", " four", " five"]
    fake.script(Reply(text=pieces, delta_delay=0.4))
    stream = client.chat.completions.create(
        model="sonnet", messages=[{"role": "user", "content": "count"}], stream=True
    )
    received: list[tuple[float, str]] = []
    finish_reasons = []
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            received.append((time.monotonic(), chunk.choices[0].delta.content))
        if chunk.choices and chunk.choices[0].finish_reason:
            finish_reasons.append(chunk.choices[0].finish_reason)
    assert "".join(text for _, text in received) == "".join(pieces)
    assert len(received) >= len(pieces)  # token deltas, not one whole message
    assert finish_reasons == ["stop"]
    [upstream_end] = fake.stream_end_times
    # The first token reached the client well before the upstream sent its last.
    assert received[0][0] < upstream_end - 1.0


def streamed_contents(client: Any) -> list[str]:
    stream = client.chat.completions.create(
        model="sonnet", messages=[{"role": "user", "content": "count"}], stream=True
    )
    return [chunk.choices[0].delta.content for chunk in stream if chunk.choices and chunk.choices[0].delta.content]


PACED_WORDS = [f" w{i}" for i in range(40)]  # 40 deltas, 5 ms apart


def test_streamed_deltas_are_joined_but_the_first_is_not_held(client: Any, fake: FakeAnthropic) -> None:
    """The default STREAM_HOLD_MS (50) makes the CLI join a block's deltas: far
    fewer chunks, the same text, and the first delta still on its own."""
    fake.script(Reply(text=PACED_WORDS, delta_delay=0.005))
    contents = streamed_contents(client)
    assert "".join(contents) == "".join(PACED_WORDS)
    assert contents[0] == PACED_WORDS[0]
    assert len(contents) <= len(PACED_WORDS) // 3, contents


def test_stream_hold_0_gives_a_chunk_per_upstream_delta(
    fake: FakeAnthropic, tmp_path_factory: pytest.TempPathFactory
) -> None:
    env = {"LITELLM_CLAUDE_CODE_POOL": "0", "LITELLM_CLAUDE_CODE_STREAM_HOLD_MS": "0"}
    with running_proxy(tmp_path_factory.mktemp("hold0"), fake, key="sk-hold-0-test-key-0123456789", env=env) as proxy:
        fake.script(Reply(text=PACED_WORDS, delta_delay=0.005))
        assert streamed_contents(openai_client(proxy)) == PACED_WORDS


def test_streaming_usage_with_include_usage(client: Any, fake: FakeAnthropic) -> None:
    fake.script(Reply(input_tokens=13, output_tokens=4, cache_read_input_tokens=1000, cache_creation_input_tokens=7))
    stream = client.chat.completions.create(
        model="sonnet",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    usages = [chunk.usage for chunk in stream if chunk.usage is not None]
    assert len(usages) == 1
    usage = usages[0]
    assert usage.prompt_tokens == 13 + 1000 + 7
    assert usage.completion_tokens == 4
    assert usage.prompt_tokens_details.cached_tokens == 1000


def test_max_tokens_reaches_upstream_and_length_ends_after_one_call(
    client: Any, fake: FakeAnthropic, proxy: Proxy
) -> None:
    fake.script(Reply(text=["cut", " short"], stop_reason="max_tokens", output_tokens=5))
    response = client.chat.completions.create(
        model="sonnet", messages=[{"role": "user", "content": "write a lot"}], max_tokens=5
    )
    assert response.choices[0].finish_reason == "length"
    assert response.choices[0].message.content == "cut short"
    assert response.usage.completion_tokens == 5
    # Left alone the CLI asks the model to continue, three more times. It sends
    # the first continuation within milliseconds, before it can be stopped;
    # the process is then ended, so no further call follows (a known limit).
    assert wait_for(lambda: not proxy.cli_processes(), timeout=15)  # this proxy: a process per request
    requests = fake.message_requests()
    assert 1 <= len(requests) <= 2
    assert requests[0].body["max_tokens"] == 5


def test_streaming_length_finish_reason(client: Any, fake: FakeAnthropic, proxy: Proxy) -> None:
    fake.script(Reply(text=["cut"], stop_reason="max_tokens"))
    stream = client.chat.completions.create(
        model="sonnet", messages=[{"role": "user", "content": "x"}], stream=True, max_tokens=3
    )
    reasons = [c.choices[0].finish_reason for c in stream if c.choices and c.choices[0].finish_reason]
    assert reasons == ["length"]
    assert wait_for(lambda: not proxy.cli_processes(), timeout=15)
    assert len(fake.message_requests()) <= 2


@pytest.mark.parametrize(
    ("model", "upstream_model"),
    [
        ("sonnet", "sonnet"),
        ("opus", "opus"),
        ("haiku", "haiku"),
        ("claude-code/claude-sonnet-4-5", "claude-sonnet-4-5"),
    ],
)
def test_model_aliases_and_full_ids_pass_through(
    client: Any, fake: FakeAnthropic, model: str, upstream_model: str
) -> None:
    client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
    [request] = fake.message_requests()
    sent = request.body["model"]
    # The CLI resolves aliases to its current full id; full ids pass unchanged.
    if upstream_model in ("sonnet", "opus", "haiku"):
        assert upstream_model in sent and sent.startswith("claude-")
    else:
        assert sent == upstream_model


def test_models_endpoint_lists_embedded_models(client: Any) -> None:
    ids = {model.id for model in client.models.list()}
    assert {"sonnet", "opus", "haiku"} <= ids


def test_cost_and_upstream_stop_reason_in_provider_fields(proxy: Any, fake: FakeAnthropic) -> None:
    import httpx

    response = httpx.post(
        f"{proxy.url}/v1/chat/completions",
        json={"model": "sonnet", "messages": [{"role": "user", "content": "hi"}]},
        headers={"Authorization": f"Bearer {proxy.key}"},
        timeout=60,
    ).json()
    fields = response["provider_specific_fields"]
    assert fields["claude_code_cost_usd"] > 0  # computed by the CLI
    assert fields["stop_reason"] == "end_turn"


def test_thinking_comes_back_as_reasoning_content(client: Any, fake: FakeAnthropic) -> None:
    fake.script(Reply(thinking=["Let me", " think."], text=["Done."]), Reply(thinking=["Hm", "m."], text=["Ok."]))
    message = client.chat.completions.create(model="sonnet", messages=[{"role": "user", "content": "x"}]).choices[0]
    assert message.message.content == "Done."
    assert message.message.reasoning_content == "Let me think."
    stream = client.chat.completions.create(model="sonnet", messages=[{"role": "user", "content": "x"}], stream=True)
    reasoning, text = [], []
    for chunk in stream:
        if chunk.choices:
            delta = chunk.choices[0].delta
            reasoning.append(getattr(delta, "reasoning_content", None) or "")
            text.append(delta.content or "")
    assert "".join(reasoning) == "Hmm."
    assert "".join(text) == "Ok."
