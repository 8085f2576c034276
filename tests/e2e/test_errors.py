"""Errors are errors: upstream failures, bad input and bad keys, through the real proxy."""

from __future__ import annotations

import time
from typing import Any

import httpx
import openai
import pytest
from fake_anthropic import FakeAnthropic, Reply

from conftest import Proxy, wait_for

pytestmark = pytest.mark.e2e

HI = [{"role": "user", "content": "hi"}]


def fail_always(fake: FakeAnthropic, reply: Reply) -> None:
    # With an OAuth token the CLI retries a 401 once after a refresh attempt.
    fake.default_reply = reply


def test_upstream_401_is_401_with_setup_token_advice(client: Any, proxy: Proxy, fake: FakeAnthropic) -> None:
    fail_always(fake, Reply(status=401, error_message="invalid bearer token"))
    started = time.monotonic()
    with pytest.raises(openai.AuthenticationError) as caught:
        client.chat.completions.create(model="sonnet", messages=HI)
    assert caught.value.status_code == 401
    assert "litellm-claude-code setup-token" in str(caught.value)
    assert time.monotonic() - started < 10  # no minutes of retries
    assert wait_for(lambda: proxy.cli_processes() == [], timeout=2)


def test_upstream_403_is_401(client: Any, fake: FakeAnthropic) -> None:
    fail_always(fake, Reply(status=403, error_message="forbidden"))
    with pytest.raises(openai.AuthenticationError) as caught:
        client.chat.completions.create(model="sonnet", messages=HI)
    assert caught.value.status_code == 401


def test_streaming_401_is_an_http_error_not_a_chunk(client: Any, fake: FakeAnthropic) -> None:
    fail_always(fake, Reply(status=401))
    with pytest.raises(openai.AuthenticationError):
        for _ in client.chat.completions.create(model="sonnet", messages=HI, stream=True):
            pass


def test_upstream_429_is_429_with_retry_after(proxy: Proxy, fake: FakeAnthropic) -> None:
    reset = int(time.time()) + 120
    fail_always(
        fake,
        Reply(
            status=429,
            error_message="rate limited",
            headers={
                "anthropic-ratelimit-unified-status": "rejected",
                "anthropic-ratelimit-unified-reset": str(reset),
                "retry-after": "120",
            },
        ),
    )
    response = httpx.post(
        f"{proxy.url}/v1/chat/completions",
        json={"model": "sonnet", "messages": HI},
        headers={"Authorization": f"Bearer {proxy.key}"},
        timeout=60,
    )
    assert response.status_code == 429
    retry_after = int(response.headers["retry-after"])
    assert 100 <= retry_after <= 121
    assert "rate" in response.json()["error"]["message"].lower()


@pytest.mark.parametrize("status", [500, 529])
def test_upstream_server_errors_are_503(client: Any, fake: FakeAnthropic, status: int) -> None:
    fail_always(fake, Reply(status=status, error_message="Overloaded"))
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="sonnet", messages=HI)
    assert caught.value.status_code == 503


def test_good_request_right_after_a_failed_one_succeeds(client: Any, fake: FakeAnthropic) -> None:
    fail_always(fake, Reply(status=401))
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="sonnet", messages=HI)
    fake.default_reply = Reply(text=["fine"])
    response = client.chat.completions.create(model="sonnet", messages=HI)
    assert response.choices[0].message.content == "fine"


@pytest.mark.parametrize(
    ("messages", "names"),
    [
        ([], "at least one message"),
        ([{"role": "wizard", "content": "x"}], "unknown role 'wizard'"),
        ([{"role": "user", "content": [{"type": "audio"}]}], "messages[0].content[0]"),
        (
            [{"role": "user", "content": [{"text": "no type"}, {"type": "text", "text": 5}]}],
            "messages[0].content[1].text",
        ),
        ([{"role": "user", "content": 5}], "messages[0].content"),
        ([{"role": "user"}], "content is empty"),
        ("not a list", "must be a list"),
        ([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "last"}], "last non-system message"),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_bad_input_is_400_naming_the_problem(
    proxy: Proxy, fake: FakeAnthropic, messages: Any, names: str, stream: bool
) -> None:
    response = httpx.post(
        f"{proxy.url}/v1/chat/completions",
        json={"model": "sonnet", "messages": messages, "stream": stream},
        headers={"Authorization": f"Bearer {proxy.key}"},
        timeout=30,
    )
    assert response.status_code == 400, response.text
    assert names in response.json()["error"]["message"]
    assert fake.message_requests() == []  # nothing reached the upstream


def test_n_greater_than_one_is_400(client: Any) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="sonnet", messages=HI, n=2)
    assert "`n`" in str(caught.value)


def test_proxy_keeps_serving_after_bad_input(proxy: Proxy, client: Any) -> None:
    httpx.post(
        f"{proxy.url}/v1/chat/completions",
        json={"model": "sonnet", "messages": [{"role": 1}]},
        headers={"Authorization": f"Bearer {proxy.key}"},
        timeout=30,
    )
    assert client.chat.completions.create(model="sonnet", messages=HI).choices[0].message.content


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/models", "/v1/messages", "/v1/responses"])
@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer sk-not-the-master-key-123"}, {"x-api-key": "sk-wrong-123456"}]
)
def test_master_key_required(proxy: Proxy, fake: FakeAnthropic, path: str, headers: dict[str, str]) -> None:
    body = {"model": "sonnet", "messages": HI, "max_tokens": 10, "input": "hi"}
    method = httpx.get if path == "/v1/models" else httpx.post
    kwargs: dict[str, Any] = {"headers": headers, "timeout": 30}
    if method is httpx.post:
        kwargs["json"] = body
    response = method(f"{proxy.url}{path}", **kwargs)
    assert response.status_code == 401, response.text
    assert fake.message_requests() == []


def test_master_key_accepted_as_x_api_key(proxy: Proxy) -> None:
    response = httpx.get(f"{proxy.url}/v1/models", headers={"x-api-key": proxy.key}, timeout=30)
    assert response.status_code == 200


def test_liveliness_needs_no_key(proxy: Proxy) -> None:
    assert httpx.get(f"{proxy.url}/health/liveliness", timeout=10).status_code == 200


def test_generated_master_key_is_private_and_never_logged(proxy: Proxy) -> None:
    key_file = proxy.tmp / "config" / "litellm-claude-code" / "master_key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert proxy.key.startswith("sk-") and len(proxy.key) > 30
    log = proxy.log_text()
    assert str(key_file) in log  # says where it is
    assert proxy.key not in log  # never the key itself
