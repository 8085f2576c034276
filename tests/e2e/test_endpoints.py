"""LiteLLM's other endpoints on this provider: Anthropic `/v1/messages` and
OpenAI `/v1/responses`, driven by the official clients."""

from __future__ import annotations

from typing import Any

import anthropic
import openai
import pytest
from fake_anthropic import FakeAnthropic, Reply
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
