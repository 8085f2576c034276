"""Several credentials for one model, with the shipped example config
(`litellm-claude-code config --example accounts`), through the real proxy,
SDK and CLI: one fake upstream per credential (each deployment's ``api_base``).

Two subscriptions share the ``sonnet`` group and an API key is its fallback
group. The tests run in file order on one proxy: the router's cooldowns they
cause last for the rest of the module.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path

import httpx
import pytest
import yaml
from fake_anthropic import FakeAnthropic, Reply, rate_limited
from harness import post_chat

from conftest import Proxy, running_proxy, wait_for

pytestmark = pytest.mark.e2e

HI = [{"role": "user", "content": "hi"}]
TOKEN_A = "sk-ant-oat01-subscription-a-0123456789"
TOKEN_B = "sk-ant-oat01-subscription-b-0123456789"
API_KEY = "sk-ant-api03-fallback-key-0123456789"
EXTRA_USAGE = (
    "Third-party apps now draw from your extra usage, not your plan limits. "
    "We've added a $20 credit to get you started. Claim it at claude.ai/settings/usage and keep going."
)


@pytest.fixture(scope="module")
def upstreams() -> Iterator[dict[str, FakeAnthropic]]:
    """One fake Anthropic API per credential."""
    with FakeAnthropic() as a, FakeAnthropic() as b, FakeAnthropic() as api:
        yield {"a": a, "b": b, "api": api}


@pytest.fixture(autouse=True)
def _reset(upstreams: dict[str, FakeAnthropic]) -> None:
    for upstream in upstreams.values():
        upstream.reset()


def example_config(upstreams: dict[str, FakeAnthropic]) -> str:
    """The shipped example, each deployment pointed at its own fake."""
    example = files("litellm_claude_code._serve").joinpath("examples").joinpath("accounts.yaml")
    config = yaml.safe_load(example.read_text())
    bases = {
        "os.environ/CLAUDE_TOKEN_A": upstreams["a"],
        "os.environ/CLAUDE_TOKEN_B": upstreams["b"],
        "os.environ/ANTHROPIC_API_KEY": upstreams["api"],
    }
    for deployment in config["model_list"]:
        params = deployment["litellm_params"]
        params["api_base"] = bases[params["api_key"]].base_url
    return yaml.safe_dump(config)


@pytest.fixture(scope="module")
def accounts(upstreams: dict[str, FakeAnthropic], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    env = {"CLAUDE_TOKEN_A": TOKEN_A, "CLAUDE_TOKEN_B": TOKEN_B, "ANTHROPIC_API_KEY": API_KEY}
    with running_proxy(
        tmp_path_factory.mktemp("accounts"),
        upstreams["a"],
        key="sk-accounts-test-key-0123456789",
        env=env,
        config=example_config(upstreams),
    ) as proxy:
        yield proxy


def chat(proxy: Proxy, model: str = "sonnet", stream: bool = False) -> httpx.Response:
    return post_chat(proxy, HI, model=model, stream=stream)


def credentials_seen(upstream: FakeAnthropic) -> set[str]:
    """The credential each request carried: a bearer token or an API key."""
    return {
        r.headers.get("authorization") or f"x-api-key {r.headers.get('x-api-key')}" for r in upstream.message_requests()
    }


def test_requests_are_balanced_and_each_upstream_gets_only_its_own_credential(
    accounts: Proxy, upstreams: dict[str, FakeAnthropic]
) -> None:
    for _ in range(12):
        response = chat(accounts)
        assert response.status_code == 200, response.text
    a, b = upstreams["a"].message_requests(), upstreams["b"].message_requests()
    assert a and b and len(a) + len(b) == 12  # both subscriptions answered
    assert credentials_seen(upstreams["a"]) == {f"Bearer {TOKEN_A}"}
    assert credentials_seen(upstreams["b"]) == {f"Bearer {TOKEN_B}"}
    assert upstreams["api"].message_requests() == []  # the fallback is not used while they answer


def test_each_credential_has_its_own_processes_and_cli_state_directory(accounts: Proxy) -> None:
    """The warm processes left by the last test: none holds two credentials,
    and each credential's CLIs share one HOME that no other credential uses."""
    assert wait_for(lambda: len(accounts.cli_processes()) >= 2, timeout=30)
    homes: dict[str, set[str]] = {}
    for process in accounts.cli_processes():
        env = process.environ()
        tokens = {env.get("CLAUDE_CODE_OAUTH_TOKEN"), env.get("ANTHROPIC_API_KEY")} - {None}
        assert len(tokens) == 1, tokens
        homes.setdefault(tokens.pop() or "", set()).add(env["HOME"])
    assert set(homes) == {TOKEN_A, TOKEN_B}
    assert all(len(home) == 1 for home in homes.values())
    home_a, home_b = (Path(next(iter(homes[token]))) for token in (TOKEN_A, TOKEN_B))
    assert home_a != home_b and home_a.parent == home_b.parent
    for home in (home_a, home_b):
        assert (home / ".claude.json").is_file()  # the CLI's state lives there
        assert home.stat().st_mode & 0o777 == 0o700
        assert TOKEN_A not in home.name and TOKEN_B not in home.name  # named by a hash, not the secret


def test_a_limited_subscription_rests_until_its_reset_and_the_other_answers(
    accounts: Proxy, upstreams: dict[str, FakeAnthropic]
) -> None:
    reset = int(time.time()) + 60
    upstreams["a"].default_reply = rate_limited(reset)
    for _ in range(30):  # until the router picks A (simple-shuffle: about every other request)
        response = chat(accounts)
        assert response.status_code == 200, response.text
        if upstreams["a"].message_requests():
            break
    assert upstreams["a"].message_requests(), "the router never picked subscription A"
    # The request A refused was asked again of B (RateLimitErrorRetries: 1), not of the fallback group.
    assert upstreams["api"].message_requests() == []
    answered_by_b = len(upstreams["b"].message_requests())
    for _ in range(10):
        response = chat(accounts)
        assert response.status_code == 200, response.text
    assert len(upstreams["a"].message_requests()) == 1  # rested: no request reached A after its 429
    assert len(upstreams["b"].message_requests()) == answered_by_b + 10
    assert upstreams["api"].message_requests() == []


@pytest.mark.parametrize("stream", [False, True])
def test_the_extra_usage_rejection_falls_back_to_the_api_key_group(
    accounts: Proxy, upstreams: dict[str, FakeAnthropic], stream: bool
) -> None:
    for name in ("a", "b"):
        upstreams[name].default_reply = Reply(status=400, error_type="invalid_request_error", error_message=EXTRA_USAGE)
    upstreams["api"].default_reply = Reply(text=["Answered", " by the API key."])
    response = chat(accounts, stream=stream)
    assert response.status_code == 200, response.text
    assert "Answered" in response.text and " by the API key." in response.text
    assert credentials_seen(upstreams["api"]) == {f"x-api-key {API_KEY}"}


# -- issue 24.1: a limited credential never stalls its request ----------------------------
@pytest.fixture()
def accounts_as_shipped(
    upstreams: dict[str, FakeAnthropic], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    """The example with the CLI's own retries at their default (1), as users run it
    (a proxy of its own per test: A's cooldown must not carry over)."""
    env = {
        "CLAUDE_TOKEN_A": TOKEN_A,
        "CLAUDE_TOKEN_B": TOKEN_B,
        "ANTHROPIC_API_KEY": API_KEY,
        "LITELLM_CLAUDE_CODE_CLI_MAX_RETRIES": "1",
    }
    with running_proxy(
        tmp_path_factory.mktemp("accounts-shipped"),
        upstreams["a"],
        key="sk-accounts-shipped-key-0123456789",
        env=env,
        config=example_config(upstreams),
    ) as proxy:
        yield proxy


@pytest.mark.parametrize("unified", [False, True], ids=["retry-after", "retry-after and unified headers"])
def test_a_limited_subscription_is_asked_once_and_the_other_answers_within_a_second(
    accounts_as_shipped: Proxy, upstreams: dict[str, FakeAnthropic], unified: bool
) -> None:
    """Before: the CLI sat out A's Retry-After (60 s) and asked again; the client got a 429 after 74 s."""
    reset = int(time.time()) + 60
    limit = rate_limited(reset) if unified else Reply(status=429, error_message="slow down")
    limit.headers["retry-after"] = "60"
    upstreams["a"].default_reply = limit
    for _ in range(30):  # until the router picks A first (simple-shuffle)
        started = time.monotonic()
        response = chat(accounts_as_shipped)
        took = time.monotonic() - started
        assert response.status_code == 200, response.text
        if upstreams["a"].message_requests():
            break
    [asked_a] = upstreams["a"].message_requests()  # exactly one call reached A
    answered = [r for r in upstreams["b"].message_requests() if r.received_at >= asked_a.received_at]
    assert answered, "B did not answer the request A refused"
    assert answered[0].received_at - asked_a.received_at < 1.0
    assert took < 10, took  # the whole request, CLI starts included
    assert upstreams["api"].message_requests() == []  # B answered: no fallback needed
