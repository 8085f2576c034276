"""Several API keys behind one model name: the shipped `team` example
(`litellm-claude-code config --example team`), through the real proxy, SDK and
CLI, one fake upstream per key."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from examples import credentials_seen, example_config
from fake_anthropic import FakeAnthropic, Reply
from harness import post_chat

from conftest import Proxy, running_proxy, wait_for

pytestmark = pytest.mark.e2e

HI = [{"role": "user", "content": "hi"}]
KEY_A = "sk-ant-api03-team-key-a-0123456789"
KEY_B = "sk-ant-api03-team-key-b-0123456789"


@pytest.fixture(scope="module")
def upstreams() -> Iterator[dict[str, FakeAnthropic]]:
    with FakeAnthropic() as a, FakeAnthropic() as b:
        yield {"ANTHROPIC_KEY_A": a, "ANTHROPIC_KEY_B": b}


@pytest.fixture(autouse=True)
def _reset(upstreams: dict[str, FakeAnthropic]) -> None:
    for upstream in upstreams.values():
        upstream.reset()


def start(upstreams: dict[str, FakeAnthropic], tmp: Path) -> Iterator[Proxy]:
    env = {"ANTHROPIC_KEY_A": KEY_A, "ANTHROPIC_KEY_B": KEY_B, "LITELLM_CLAUDE_CODE_CLI_MAX_RETRIES": "1"}
    config = example_config("team", upstreams)
    with running_proxy(
        tmp, upstreams["ANTHROPIC_KEY_A"], key="sk-team-key-0123456789", env=env, config=config
    ) as proxy:
        yield proxy


@pytest.fixture(scope="module")
def team(upstreams: dict[str, FakeAnthropic], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    """As users run it: the CLI's own retries at their default (1)."""
    yield from start(upstreams, tmp_path_factory.mktemp("team"))


def chat(proxy: Proxy) -> httpx.Response:
    return post_chat(proxy, HI, model="sonnet")


def test_requests_are_balanced_and_each_upstream_gets_only_its_own_key(
    team: Proxy, upstreams: dict[str, FakeAnthropic]
) -> None:
    for _ in range(12):
        response = chat(team)
        assert response.status_code == 200, response.text
    a, b = upstreams["ANTHROPIC_KEY_A"], upstreams["ANTHROPIC_KEY_B"]
    assert a.message_requests() and b.message_requests()
    assert len(a.message_requests()) + len(b.message_requests()) == 12
    assert credentials_seen(a) == {f"x-api-key {KEY_A}"} and credentials_seen(b) == {f"x-api-key {KEY_B}"}


def test_each_key_has_its_own_processes_and_cli_state_directory(team: Proxy) -> None:
    """The warm processes left by the last test: none holds two keys, and each key's CLIs
    share one HOME that no other key uses."""
    assert wait_for(lambda: len(team.cli_processes()) >= 2, timeout=30)
    homes: dict[str, set[str]] = {}
    for process in team.cli_processes():
        env = process.environ()
        assert "CLAUDE_CODE_OAUTH_TOKEN" not in env
        homes.setdefault(env["ANTHROPIC_API_KEY"], set()).add(env["HOME"])
    assert set(homes) == {KEY_A, KEY_B}
    assert all(len(home) == 1 for home in homes.values())
    home_a, home_b = (Path(next(iter(homes[key]))) for key in (KEY_A, KEY_B))
    assert home_a != home_b and home_a.parent == home_b.parent
    for home in (home_a, home_b):
        assert (home / ".claude.json").is_file()  # the CLI's state lives there
        assert home.stat().st_mode & 0o777 == 0o700
        assert KEY_A not in home.name and KEY_B not in home.name  # named by a hash, not the secret


def test_conversations_stick_without_a_callback_in_the_config(team: Proxy) -> None:
    assert "litellm-claude-code: Sticky conversations in sonnet." in team.log_text()
    assert "Warning:" not in team.log_text()  # API keys may serve a team


@pytest.fixture()
def fresh_team(upstreams: dict[str, FakeAnthropic], tmp_path: Path) -> Iterator[Proxy]:
    """A proxy of its own: the limited key's cooldown must not carry over."""
    yield from start(upstreams, tmp_path)


def test_a_limited_key_is_asked_once_the_other_answers_within_a_second_and_it_rests(
    fresh_team: Proxy, upstreams: dict[str, FakeAnthropic]
) -> None:
    """Issue 24.1. Before: the CLI sat out the Retry-After (60 s) and asked again; the client got a 429 at 74 s."""
    a, b = upstreams["ANTHROPIC_KEY_A"], upstreams["ANTHROPIC_KEY_B"]
    a.default_reply = Reply(status=429, error_message="slow down", headers={"retry-after": "60"})
    for _ in range(30):  # until the router picks A first (simple-shuffle)
        started = time.monotonic()
        response = chat(fresh_team)
        took = time.monotonic() - started
        assert response.status_code == 200, response.text
        if a.message_requests():
            break
    [asked_a] = a.message_requests()  # exactly one call reached A
    answered = [r for r in b.message_requests() if r.received_at >= asked_a.received_at]
    assert answered and answered[0].received_at - asked_a.received_at < 1.0
    assert took < 10, took
    before = len(b.message_requests())
    for _ in range(8):
        assert chat(fresh_team).status_code == 200
    assert len(a.message_requests()) == 1  # rested until its reset: every request went to B
    assert len(b.message_requests()) == before + 8
