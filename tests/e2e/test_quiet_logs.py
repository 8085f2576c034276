"""Expected errors are one log line with the request's id; the start-up lines follow LiteLLM's."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from fake_anthropic import FakeAnthropic, Reply
from harness import Proxy, post_chat, running_proxy, wait_for

pytestmark = pytest.mark.e2e

KEY = "sk-quiet-logs-test-key-0123456789abcdef"
HI = [{"role": "user", "content": "hi"}]


@pytest.fixture()
def proxy(tmp_path: Path, fake: FakeAnthropic) -> Proxy:
    with running_proxy(tmp_path, fake, key=KEY) as running:
        yield running


def post(proxy: Proxy, body: dict[str, object]) -> httpx.Response:
    return post_chat(proxy, HI, wait=120, **body)


def error_lines(proxy: Proxy, call_id: str) -> list[str]:
    """The lines naming the call, but for its access-log line (JSON, see test_access_log.py)."""
    return [line for line in proxy.log_text().splitlines() if call_id in line and not line.startswith("{")]


@pytest.mark.parametrize(
    ("reply", "status"),
    [
        (Reply(status=401, error_message="invalid bearer token"), 401),
        (Reply(status=429, error_message="slow down", headers={"retry-after": "7"}), 429),
        (Reply(status=529, error_message="Overloaded"), 503),
        (Reply(status=402, error_message="credit balance too low"), 400),
    ],
)
def test_an_upstream_error_is_one_line_with_the_call_id(
    proxy: Proxy, fake: FakeAnthropic, reply: Reply, status: int
) -> None:
    fake.default_reply = reply  # the CLI may retry some (a 401 once, after a refresh)
    response = post(proxy, {})
    assert response.status_code == status, response.text
    call_id = response.headers["x-litellm-call-id"]
    assert wait_for(lambda: error_lines(proxy, call_id), timeout=10)
    (line,) = error_lines(proxy, call_id)
    assert re.search(rf"claude-code request {call_id} failed \({status}\): \S", line), line
    assert "Traceback" not in proxy.log_text()


def test_a_stream_cut_by_an_upstream_error_logs_no_traceback(proxy: Proxy, fake: FakeAnthropic) -> None:
    fake.default_reply = Reply(
        text=["partial ", "answer"], stream_error="overloaded_error", stream_error_after_deltas=1
    )
    with httpx.stream(
        "POST",
        f"{proxy.url}/v1/chat/completions",
        json={"model": "sonnet", "messages": HI, "stream": True},
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=120,
    ) as response:
        body = response.read().decode()
    assert "partial" in body and "[DONE]" not in body  # the client was told it failed
    assert wait_for(lambda: "claude-code request" in proxy.log_text(), timeout=10)
    assert "Traceback" not in proxy.log_text()


def test_a_refused_request_logs_no_traceback(proxy: Proxy, fake: FakeAnthropic) -> None:
    response = post(proxy, {"n": 3})
    assert response.status_code == 400 and "`n` must be 1" in response.text
    assert fake.message_requests() == []
    assert "Traceback" not in proxy.log_text()


def test_a_request_without_a_key_logs_one_line(proxy: Proxy) -> None:
    response = httpx.post(f"{proxy.url}/v1/chat/completions", json={"model": "sonnet", "messages": HI}, timeout=30)
    assert response.status_code == 401
    assert wait_for(lambda: "request refused before routing: No api key passed in" in proxy.log_text(), timeout=10)
    assert "Traceback" not in proxy.log_text() and "Requester IP Address" not in proxy.log_text()


def test_the_master_key_line_follows_litellms_start_up(proxy: Proxy) -> None:
    log = proxy.log_text()
    ours = log.index("litellm-claude-code: Using the master key in LITELLM_MASTER_KEY.")
    assert log.index("Application startup complete") > log.index("Waiting for application startup")
    assert ours > log.index("Waiting for application startup")
    assert "Process cap: " in log[ours:]


def test_the_start_up_says_only_what_the_operator_needs(proxy: Proxy) -> None:
    """Issue 23.7: no banner, no feedback box, no help line, no sign-in throttle warning."""
    start_up = proxy.log_text()
    assert "litellm-claude-code: Clients authenticate with the master key" in start_up
    assert "Sticky conversations" not in start_up  # one deployment per group: nothing to stick to
    for noise in ("██", "It would help me", "Give Feedback", "Thank you for using LiteLLM", "trusted_proxy_ranges"):
        assert noise not in start_up, noise
