"""The access log (issue 23.8): one JSON line per model request, through the real proxy.

Each line says what ran and how (model, deployment, credential hash, how the
process was found, queue wait, TTFT, duration, tokens, status, error) and
never what was said: canaries in the messages, the system prompt, the
headers and the credentials appear in no line.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from fake_anthropic import FakeAnthropic, Reply, ToolUse
from functions import WEATHER
from harness import OAUTH_TOKEN, openai_client

from conftest import Proxy, running_proxy, wait_for

pytestmark = pytest.mark.e2e

KEY = "sk-access-log-key-0123456789"
CANARY = "CANARY-4b1e-said-by-the-client"
SYSTEM = "CANARY-SYSTEM-9f2a you answer briefly"


@pytest.fixture(scope="module")
def proxy(fake: FakeAnthropic, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    with running_proxy(tmp_path_factory.mktemp("access"), fake, key=KEY) as running:
        yield running


@pytest.fixture()
def client(proxy: Proxy) -> openai.OpenAI:
    return openai_client(proxy)


def lines(proxy: Proxy) -> list[dict[str, Any]]:
    found = []
    for line in proxy.log_text().splitlines():
        if line.startswith("{") and '"endpoint"' in line:
            found.append(json.loads(line))
    return found


def last_line(proxy: Proxy, count_before: int) -> dict[str, Any]:
    assert wait_for(lambda: len(lines(proxy)) > count_before, timeout=30)
    return lines(proxy)[-1]


def test_a_request_and_its_continuation_are_each_one_line(
    client: openai.OpenAI, proxy: Proxy, fake: FakeAnthropic
) -> None:
    before = len(lines(proxy))
    fake.script(Reply(text=["first"], input_tokens=20, output_tokens=3))
    question = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": CANARY}]
    first = client.chat.completions.create(model="sonnet", messages=question)
    line = last_line(proxy, before)
    assert line["endpoint"] == "/v1/chat/completions" and line["method"] == "POST" and line["status"] == 200
    assert line["model"] == "sonnet" and line["process"] in ("fresh", "warm")
    assert line["credential"].startswith("oauth-token-") and len(line["deployment"]) == 12
    assert line["tokens_in"] == 20 and line["tokens_out"] == 3
    assert line["request_id"] == first._request_id or line["request_id"]  # LiteLLM's x-litellm-call-id
    assert 0 <= line["queue_ms"] <= line["ttft_ms"] <= line["duration_ms"]
    fake.script(Reply(text=["second"]))
    follow = [*question, {"role": "assistant", "content": "first"}, {"role": "user", "content": CANARY}]
    stream = client.chat.completions.create(model="sonnet", messages=follow, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "second"
    line = last_line(proxy, before + 1)
    assert line["process"] == "warm" and line["status"] == 200 and "ttft_ms" in line


def test_a_history_no_process_holds_is_resumed(client: openai.OpenAI, proxy: Proxy, fake: FakeAnthropic) -> None:
    before = len(lines(proxy))
    history = [
        {"role": "user", "content": "earlier"},
        {"role": "assistant", "content": "an answer no process gave"},
        {"role": "user", "content": CANARY},
    ]
    client.chat.completions.create(model="haiku", messages=history)
    assert last_line(proxy, before)["process"] == "resumed"


def test_a_parked_tool_loop_says_so(client: openai.OpenAI, proxy: Proxy, fake: FakeAnthropic) -> None:
    before = len(lines(proxy))
    fake.script(
        Reply(text=[], tool_uses=[ToolUse("mcp__client__get_weather", {"city": "Oslo"})], stop_reason="tool_use"),
        Reply(text=["sunny"]),
    )
    asked = [{"role": "user", "content": CANARY}]
    step = client.chat.completions.create(model="sonnet", messages=asked, tools=[WEATHER])
    call = step.choices[0].message.tool_calls[0]  # type: ignore[index]
    answered = [
        *asked,
        step.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": CANARY},
    ]
    client.chat.completions.create(model="sonnet", messages=answered, tools=[WEATHER])
    assert last_line(proxy, before + 1)["process"] == "parked"


def test_errors_are_named(client: openai.OpenAI, proxy: Proxy, fake: FakeAnthropic) -> None:
    before = len(lines(proxy))
    fake.script(*[Reply(status=401, error_message=CANARY)] * 2)  # with a token the CLI retries a 401 once
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="sonnet", messages=[{"role": "user", "content": CANARY}])
    line = last_line(proxy, before)
    assert line["status"] == 401 and line["error"] == "UpstreamError/authentication_failed"
    refused = httpx.post(
        f"{proxy.url}/v1/chat/completions",
        json={"model": "sonnet", "messages": [{"role": "user", "content": CANARY}], "temperature": "hot"},
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=60,
    )
    assert refused.status_code == 400
    assert last_line(proxy, before + 1)["status"] == 400


def test_the_messages_endpoint_is_logged_too(proxy: Proxy, fake: FakeAnthropic) -> None:
    before = len(lines(proxy))
    response = httpx.post(
        f"{proxy.url}/v1/messages",
        json={"model": "sonnet", "max_tokens": 50, "messages": [{"role": "user", "content": CANARY}]},
        headers={"x-api-key": KEY, "x-canary": CANARY},
        timeout=60,
    )
    assert response.status_code == 200
    line = last_line(proxy, before)
    assert line["endpoint"] == "/v1/messages" and line["status"] == 200 and line["tokens_out"] == 7


def test_no_line_holds_text_headers_or_secrets(proxy: Proxy) -> None:
    logged = "\n".join(json.dumps(line) for line in lines(proxy))
    assert logged  # the tests above wrote lines
    for secret in (CANARY, "CANARY-SYSTEM", KEY, OAUTH_TOKEN, "an answer no process gave", "Oslo"):
        assert secret not in logged, secret
