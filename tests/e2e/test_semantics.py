"""Images, structured output, reasoning and stop sequences, end to end: what
the upstream received and what the official client got."""

from __future__ import annotations

import base64
import dataclasses
import json
from typing import Any

import openai
import pytest
from fake_anthropic import FakeAnthropic, Reply, ToolUse

from conftest import Proxy

pytestmark = pytest.mark.e2e

PIXEL = {  # one tiny image per media type
    "image/png": base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    ),
    "image/jpeg": base64.b64decode(
        "/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAP//////////////////////////////////////////////////////////////////////"
        "////////////////wgALCAABAAEBAREA/8QAFBABAAAAAAAAAAAAAAAAAAAAAP/aAAgBAQABPxA="
    ),
    "image/gif": base64.b64decode("R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw=="),
    "image/webp": base64.b64decode("UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA=="),
}
PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
    "additionalProperties": False,
}


def data_url(media: str) -> str:
    return f"data:{media};base64,{base64.b64encode(PIXEL[media]).decode()}"


def image_part(url: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}}


def user_messages(body: dict[str, Any]) -> list[list[dict[str, Any]]]:
    return [m["content"] for m in body["messages"] if m["role"] == "user" and isinstance(m["content"], list)]


@pytest.mark.parametrize("media", sorted(PIXEL))
def test_data_url_images_arrive_as_image_blocks(client: Any, fake: FakeAnthropic, media: str) -> None:
    client.chat.completions.create(
        model="sonnet",
        messages=[
            {"role": "user", "content": [{"type": "text", "text": "What is this?"}, image_part(data_url(media))]}
        ],
    )
    [request] = fake.message_requests()
    images = [b for content in user_messages(request.body) for b in content if b["type"] == "image"]
    assert images == [
        {"type": "image", "source": {"type": "base64", "media_type": media, "data": data_url(media).split(",", 1)[1]}}
    ]


def test_images_in_earlier_turns_and_remote_urls(client: Any, fake: FakeAnthropic) -> None:
    client.chat.completions.create(
        model="sonnet",
        messages=[
            {
                "role": "user",
                "content": [{"type": "text", "text": "Remember this."}, image_part(data_url("image/png"))],
            },
            {"role": "assistant", "content": "A red pixel."},
            {
                "role": "user",
                "content": [{"type": "text", "text": "And this?"}, image_part("https://example.com/cat.jpg")],
            },
        ],
    )
    [request] = fake.message_requests()
    turns = user_messages(request.body)
    first = [b for b in turns[0] if b["type"] == "image"]
    last = [b for b in turns[-1] if b["type"] == "image"]
    assert first[0]["source"]["type"] == "base64"
    # Passed as a URL block: the Anthropic API fetches it, the proxy never does.
    assert last == [{"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}}]


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("file:///etc/passwd", "messages[0].content[1].image_url.url must be an http(s) URL"),
        ("data:image/svg+xml;base64,PHN2Zz4=", "image type 'image/svg+xml' is not supported"),
        ("data:image/png;base64," + base64.b64encode(b"not a png").decode(), "is not a image/png image"),
    ],
)
def test_unsupported_images_are_400_naming_the_part(client: Any, fake: FakeAnthropic, url: str, fragment: str) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="sonnet", messages=[{"role": "user", "content": [{"type": "text", "text": "x"}, image_part(url)]}]
        )
    assert fragment in str(caught.value)
    assert fake.message_requests() == []


def structured(answer: dict[str, Any]) -> Reply:
    return Reply(text=["Here you go:"], tool_uses=[ToolUse("StructuredOutput", answer)], stop_reason="tool_use")


def test_json_schema_answer_is_valid_json(client: Any, fake: FakeAnthropic) -> None:
    fake.script(structured({"name": "Ada", "age": 36}))
    response = client.chat.completions.create(
        model="sonnet",
        messages=[{"role": "user", "content": "Who wrote the first program?"}],
        response_format={"type": "json_schema", "json_schema": {"name": "person", "schema": PERSON, "strict": True}},
    )
    assert json.loads(response.choices[0].message.content) == {"name": "Ada", "age": 36}
    assert response.choices[0].finish_reason == "stop"
    [request] = fake.message_requests()
    [tool] = [t for t in request.body["tools"] if t["name"] == "StructuredOutput"]
    assert tool["input_schema"] == PERSON


def test_json_schema_streams_only_the_json(client: Any, fake: FakeAnthropic) -> None:
    # Paced above the CLI's stream hold (STREAM_HOLD_MS, 50), which joins what comes faster.
    fake.script(dataclasses.replace(structured({"name": "Grace", "age": 85}), delta_delay=0.08))
    stream = client.chat.completions.create(
        model="sonnet",
        messages=[{"role": "user", "content": "Who?"}],
        response_format={"type": "json_schema", "json_schema": {"name": "person", "schema": PERSON}},
        stream=True,
    )
    pieces = [c.choices[0].delta.content for c in stream if c.choices and c.choices[0].delta.content]
    assert len(pieces) > 1
    assert json.loads("".join(pieces)) == {"name": "Grace", "age": 85}


def test_json_schema_violation_is_an_error_not_invalid_json(client: Any, fake: FakeAnthropic) -> None:
    fake.script(structured({"name": "Ada"}))
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(
            model="sonnet",
            messages=[{"role": "user", "content": "Who?"}],
            response_format={"type": "json_schema", "json_schema": {"name": "person", "schema": PERSON}},
        )
    assert caught.value.status_code == 502
    assert "did not match the requested JSON schema" in str(caught.value)
    assert "age" in str(caught.value)


def test_json_object_returns_an_object(client: Any, fake: FakeAnthropic) -> None:
    fake.script(structured({"ok": True}))
    response = client.chat.completions.create(
        model="sonnet", messages=[{"role": "user", "content": "JSON please"}], response_format={"type": "json_object"}
    )
    assert json.loads(response.choices[0].message.content) == {"ok": True}


def test_reasoning_effort_reaches_upstream_as_effort(client: Any, fake: FakeAnthropic) -> None:
    client.chat.completions.create(
        model="sonnet", messages=[{"role": "user", "content": "think"}], reasoning_effort="high"
    )
    client.chat.completions.create(
        model="sonnet", messages=[{"role": "user", "content": "think"}], reasoning_effort="low"
    )
    first, second = fake.message_requests()
    assert first.body["output_config"]["effort"] == "high"
    assert second.body["output_config"]["effort"] == "low"


def test_thinking_budget_and_disabled_reach_upstream(client: Any, fake: FakeAnthropic) -> None:
    fake.script(Reply(thinking=["Step one."], text=["Done."]))
    response = client.chat.completions.create(
        model="claude-code/claude-sonnet-4-5",
        messages=[{"role": "user", "content": "think"}],
        extra_body={"thinking": {"type": "enabled", "budget_tokens": 2048}},
    )
    assert response.choices[0].message.reasoning_content == "Step one."
    client.chat.completions.create(
        model="claude-code/claude-sonnet-4-5",
        messages=[{"role": "user", "content": "quick"}],
        extra_body={"thinking": {"type": "disabled"}},
    )
    enabled, disabled = fake.message_requests()
    assert enabled.body["thinking"]["type"] == "enabled"
    assert enabled.body["thinking"]["budget_tokens"] == 2048
    assert disabled.body["thinking"] == {"type": "disabled"}


def test_bad_reasoning_effort_is_400(client: Any) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="sonnet", messages=[{"role": "user", "content": "x"}], reasoning_effort="huge"
        )
    assert "reasoning_effort" in str(caught.value)


def test_stop_sequence_cuts_the_answer(client: Any, fake: FakeAnthropic) -> None:
    fake.script(Reply(text=["one two ", "TH", "REE four"]), Reply(text=["alpha END beta"]))
    response = client.chat.completions.create(
        model="sonnet", messages=[{"role": "user", "content": "count"}], stop=["THREE", "never"]
    )
    assert response.choices[0].message.content == "one two "
    assert response.choices[0].finish_reason == "stop"
    assert response.usage.completion_tokens == 7  # the whole turn's exact usage
    stream = client.chat.completions.create(
        model="sonnet", messages=[{"role": "user", "content": "go"}], stop="END", stream=True
    )
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "alpha "
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]


def test_max_completion_tokens_reaches_upstream(client: Any, fake: FakeAnthropic) -> None:
    fake.script(Reply(text=["cut"], stop_reason="max_tokens"))
    response = client.chat.completions.create(
        model="sonnet", messages=[{"role": "user", "content": "long"}], max_completion_tokens=7
    )
    assert response.choices[0].finish_reason == "length"
    assert fake.message_requests()[0].body["max_tokens"] == 7


def test_sampling_parameters_are_accepted_and_reported_once(client: Any, fake: FakeAnthropic, proxy: Proxy) -> None:
    # Parameters no other test sends, so the lines this test finds are its own.
    already = len(proxy.log_text())
    for _ in range(2):
        response = client.chat.completions.create(
            model="sonnet", messages=[{"role": "user", "content": "x"}], presence_penalty=0.5, frequency_penalty=0.2
        )
        assert response.choices[0].message.content == "Hello from fake Claude."
    body = fake.message_requests()[0].body
    assert "presence_penalty" not in body and "frequency_penalty" not in body  # Claude Code cannot pass them on
    log = proxy.log_text()
    assert log.count("presence_penalty") == log[already:].count("presence_penalty")  # nobody logged it before
    for name in ("presence_penalty", "frequency_penalty"):
        assert log[already:].count(f"`{name}` is not supported by Claude Code and is ignored") == 1
