"""Your own subscription, falling back to an API key: the shipped `accounts` example
(`litellm-claude-code config --example accounts`), through the real proxy, SDK and
CLI, one fake upstream per credential (each deployment's ``api_base``)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from examples import credentials_seen, example_config
from fake_anthropic import FakeAnthropic, Reply, rate_limited
from harness import post_chat

from conftest import Proxy, running_proxy

pytestmark = pytest.mark.e2e

HI = [{"role": "user", "content": "hi"}]
TOKEN = "sk-ant-oat01-own-subscription-0123456789"
API_KEY = "sk-ant-api03-fallback-key-0123456789"
USAGE_CREDITS = "Third-party apps now draw from your usage credits, not your plan limits."
EXTRA_USAGE = (
    "Third-party apps now draw from your extra usage, not your plan limits. "
    "We've added a $20 credit to get you started. Claim it at claude.ai/settings/usage and keep going."
)


@pytest.fixture(scope="module")
def upstreams() -> Iterator[dict[str, FakeAnthropic]]:
    with FakeAnthropic() as subscription, FakeAnthropic() as api:
        yield {"CLAUDE_CODE_OAUTH_TOKEN": subscription, "ANTHROPIC_API_KEY": api}


@pytest.fixture(autouse=True)
def _reset(upstreams: dict[str, FakeAnthropic]) -> None:
    for upstream in upstreams.values():
        upstream.reset()


@pytest.fixture(scope="module")
def accounts(upstreams: dict[str, FakeAnthropic], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    """As users run it: the CLI's own retries at their default (1)."""
    env = {"CLAUDE_CODE_OAUTH_TOKEN": TOKEN, "ANTHROPIC_API_KEY": API_KEY, "LITELLM_CLAUDE_CODE_CLI_MAX_RETRIES": "1"}
    with running_proxy(
        tmp_path_factory.mktemp("accounts"),
        upstreams["CLAUDE_CODE_OAUTH_TOKEN"],
        key="sk-accounts-test-key-0123456789",
        env=env,
        config=example_config("accounts", upstreams),
    ) as proxy:
        yield proxy


def chat(proxy: Proxy, stream: bool = False) -> httpx.Response:
    return post_chat(proxy, HI, model="sonnet", stream=stream)


def test_your_subscription_answers_and_the_api_key_waits(accounts: Proxy, upstreams: dict[str, FakeAnthropic]) -> None:
    for _ in range(3):
        assert chat(accounts).status_code == 200
    assert credentials_seen(upstreams["CLAUDE_CODE_OAUTH_TOKEN"]) == {f"Bearer {TOKEN}"}
    assert upstreams["ANTHROPIC_API_KEY"].message_requests() == []


@pytest.mark.parametrize("unified", [False, True], ids=["retry-after", "retry-after and unified headers"])
def test_a_limited_subscription_is_asked_once_and_the_api_key_answers_at_once(
    accounts: Proxy, upstreams: dict[str, FakeAnthropic], unified: bool
) -> None:
    """Issue 24.1. Before: the CLI sat out the Retry-After (60 s), asked again, and the client got a 429 at 74 s."""
    subscription, api = upstreams["CLAUDE_CODE_OAUTH_TOKEN"], upstreams["ANTHROPIC_API_KEY"]
    limit = rate_limited(int(time.time()) + 60) if unified else Reply(status=429, error_message="slow down")
    limit.headers["retry-after"] = "60"
    subscription.default_reply = limit
    api.default_reply = Reply(text=["Answered", " by the API key."])
    started = time.monotonic()
    response = chat(accounts)
    took = time.monotonic() - started
    assert response.status_code == 200, response.text
    assert "Answered by the API key." in response.json()["choices"][0]["message"]["content"]
    [asked] = subscription.message_requests()  # asked once: no wait, no second call
    [answered] = api.message_requests()
    assert answered.received_at - asked.received_at < 1.0
    assert credentials_seen(api) == {f"x-api-key {API_KEY}"}
    assert took < 10, took  # the whole request, CLI starts included


@pytest.mark.parametrize("wording", [USAGE_CREDITS, EXTRA_USAGE], ids=["usage credits", "extra usage (old wording)"])
@pytest.mark.parametrize("stream", [False, True])
def test_the_usage_credits_rejection_falls_back_to_the_api_key(
    accounts: Proxy, upstreams: dict[str, FakeAnthropic], stream: bool, wording: str
) -> None:
    upstreams["CLAUDE_CODE_OAUTH_TOKEN"].default_reply = Reply(
        status=400, error_type="invalid_request_error", error_message=wording
    )
    upstreams["ANTHROPIC_API_KEY"].default_reply = Reply(text=["Answered", " by the API key."])
    response = chat(accounts, stream=stream)
    assert response.status_code == 200, response.text
    assert "Answered" in response.text and " by the API key." in response.text
    assert credentials_seen(upstreams["ANTHROPIC_API_KEY"]) == {f"x-api-key {API_KEY}"}


def test_serve_warns_for_nothing_here(accounts: Proxy) -> None:
    """One subscription, on loopback, with an API key beside it: the shape the terms allow."""
    assert "Warning:" not in accounts.log_text()


def test_the_api_credits_example_serves_with_its_key(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Issue 26.4: the plans' API credits are an API-key deployment."""
    credits_key = "sk-ant-api03-plan-credits-0123456789"
    with FakeAnthropic() as upstream:
        config = example_config("api-credits", {"ANTHROPIC_CREDITS_KEY": upstream})
        env = {"ANTHROPIC_CREDITS_KEY": credits_key}
        with running_proxy(
            tmp_path_factory.mktemp("credits"), upstream, key="sk-credits-0123456789", env=env, config=config
        ) as proxy:
            for model in ("sonnet", "opus"):
                assert post_chat(proxy, HI, model=model).status_code == 200
            assert "Warning:" not in proxy.log_text()
        assert credentials_seen(upstream) == {f"x-api-key {credits_key}"}
