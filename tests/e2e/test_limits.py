"""Limits surfaced, not hidden: through the real proxy, SDK and CLI, on a
config whose router keeps its cooldowns on (as the accounts example does) and
whose model has a single deployment.

LiteLLM never cools a group's only deployment down for a 429 or a 402, so
such a group answers right after one; the client is told when to come back.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import httpx
import pytest
from fake_anthropic import FakeAnthropic, Reply, rate_limited
from harness import post_chat

from conftest import Proxy, running_proxy

pytestmark = pytest.mark.e2e

HI = [{"role": "user", "content": "hi"}]
PREFIX = "llm_provider-anthropic-ratelimit-unified-"  # as LiteLLM forwards a provider's headers
CONFIG = """
model_list:
  - model_name: solo
    litellm_params:
      model: claude-code/sonnet
  - model_name: guarded
    litellm_params:
      model: claude-code/sonnet
      api_key: sk-ant-oat01-guarded-subscription-0123456789
  - model_name: weekly
    litellm_params:
      model: claude-code/sonnet
      api_key: sk-ant-oat01-ultra-subscription-0123456789
  - model_name: backup
    litellm_params:
      model: claude-code/sonnet
      api_key: sk-ant-api03-backup-key-0123456789
      api_base: BACKUP_BASE
litellm_settings:
  num_retries: 0
  custom_provider_map:
    - provider: claude-code
      custom_handler: litellm_claude_code.handler
router_settings:
  routing_strategy: simple-shuffle
  fallbacks:
    - guarded: [backup]
general_settings:
  master_key: os.environ/LITELLM_MASTER_KEY
"""
EXTRA_USAGE = (
    "Third-party apps now draw from your extra usage, not your plan limits. "
    "We've added a $200 credit to get you started. Claim it at claude.ai/settings/usage and keep going."
)
# The same rejection since extra usage was renamed usage credits (2026-10-30).
USAGE_CREDITS = (
    "Third-party apps now draw from your usage credits, not your plan limits. Add credits at /usage-credits."
)
REJECTIONS = {"extra usage (old wording)": EXTRA_USAGE, "usage credits": USAGE_CREDITS}


@pytest.fixture(scope="module")
def backup() -> Iterator[FakeAnthropic]:
    """The upstream of the API-key group that ``guarded`` falls back to."""
    with FakeAnthropic() as server:
        yield server


@pytest.fixture(scope="module")
def solo(fake: FakeAnthropic, backup: FakeAnthropic, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    env = {"LITELLM_CLAUDE_CODE_LOG_LEVEL": "INFO"}
    config = CONFIG.replace("BACKUP_BASE", backup.base_url)
    with running_proxy(
        tmp_path_factory.mktemp("limits"), fake, key="sk-limits-test-key-0123456789", env=env, config=config
    ) as proxy:
        yield proxy


def chat(proxy: Proxy, stream: bool = False, model: str = "solo") -> httpx.Response:
    return post_chat(proxy, HI, model=model, stream=stream)


def test_a_limit_is_429_with_retry_after_until_the_reset_and_the_next_request_is_answered(
    solo: Proxy, fake: FakeAnthropic
) -> None:
    fake.script(rate_limited(int(time.time()) + 60), Reply(text=["Back."]))
    response = chat(solo)
    assert response.status_code == 429, response.text
    assert 50 <= int(response.headers["retry-after"]) <= 61
    assert "limit" in response.json()["error"]["message"].lower()
    again = chat(solo)  # not cooled down: the group has no other deployment
    assert again.status_code == 200, again.text
    assert again.json()["choices"][0]["message"]["content"] == "Back."


@pytest.mark.parametrize("wording", REJECTIONS.values(), ids=REJECTIONS.keys())
@pytest.mark.parametrize("stream", [False, True])
def test_the_usage_credits_rejection_is_a_limit_that_says_what_to_do(
    solo: Proxy, fake: FakeAnthropic, stream: bool, wording: str
) -> None:
    """Never a generic 400 or 500: a 429 (so the router falls back, streamed or
    not) whose message explains it in today's names, which OpenAI clients do not retry."""
    fake.default_reply = Reply(status=400, error_type="invalid_request_error", error_message=wording)
    response = chat(solo, stream=stream)
    assert response.status_code == 429, response.text
    message = response.json()["error"]["message"]
    assert "usage credits" in message and "API key" in message and "claude.ai/settings/usage" in message
    assert "/usage-credits" in message
    if not stream:  # LiteLLM's streaming path drops an error's headers
        assert int(response.headers["retry-after"]) == 300
        assert response.headers["x-should-retry"] == "false"
    fake.default_reply = Reply(text=["Fine again."])
    assert chat(solo).status_code == 200  # the only deployment is not cooled down


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("refusal", ["extra_usage", "usage_credits", "limit"])
def test_a_refused_subscription_falls_back_to_the_api_key_group(
    solo: Proxy, fake: FakeAnthropic, backup: FakeAnthropic, stream: bool, refusal: str
) -> None:
    backup.reset()
    if refusal in ("extra_usage", "usage_credits"):
        wording = EXTRA_USAGE if refusal == "extra_usage" else USAGE_CREDITS
        fake.default_reply = Reply(status=400, error_type="invalid_request_error", error_message=wording)
    else:
        fake.default_reply = rate_limited(int(time.time()) + 60)
    backup.default_reply = Reply(text=["Answered", " by the API key."])
    response = chat(solo, stream=stream, model="guarded")
    assert response.status_code == 200, response.text
    assert "Answered" in response.text and " by the API key." in response.text
    assert fake.message_requests()  # the subscription was asked first
    assert {r.headers.get("x-api-key") for r in backup.message_requests()} == {"sk-ant-api03-backup-key-0123456789"}


def test_limit_warnings_ride_on_the_answer_as_headers_and_are_logged_once(solo: Proxy, fake: FakeAnthropic) -> None:
    reset_5h, reset_7d = int(time.time()) + 3600, int(time.time()) + 3 * 86400
    fake.default_reply = Reply(
        headers={
            "anthropic-ratelimit-unified-status": "allowed_warning",
            "anthropic-ratelimit-unified-reset": str(reset_5h),
            "anthropic-ratelimit-unified-representative-claim": "five_hour",
            "anthropic-ratelimit-unified-5h-status": "allowed_warning",
            "anthropic-ratelimit-unified-5h-utilization": "0.91",
            "anthropic-ratelimit-unified-5h-reset": str(reset_5h),
            "anthropic-ratelimit-unified-5h-surpassed-threshold": "0.9",
            "anthropic-ratelimit-unified-7d-status": "allowed",
            "anthropic-ratelimit-unified-7d-utilization": "0.42",
            "anthropic-ratelimit-unified-7d-reset": str(reset_7d),
        }
    )
    for _ in range(2):
        response = chat(solo)
        assert response.status_code == 200, response.text
        headers = {k: v for k, v in response.headers.items() if k.startswith(PREFIX)}
        assert headers == {
            f"{PREFIX}status": "allowed_warning",
            f"{PREFIX}representative-claim": "five_hour",
            f"{PREFIX}reset": str(reset_5h),
            f"{PREFIX}5h-utilization": "0.91",
            f"{PREFIX}5h-reset": str(reset_5h),
            f"{PREFIX}7d-utilization": "0.42",
            f"{PREFIX}7d-reset": str(reset_7d),
        }
    warnings = re.findall(r"limits of credential \S+: allowed_warning", solo.log_text())
    assert len(warnings) == 1  # two answers, one change


def test_a_plan_with_weekly_limits_only_is_shown_as_it_is(solo: Proxy, fake: FakeAnthropic) -> None:
    """Issue 26.3: Ultra has no 5-hour window; its reports carry only the 7-day one."""
    reset_7d = int(time.time()) + 4 * 86400
    fake.default_reply = Reply(
        headers={
            "anthropic-ratelimit-unified-status": "allowed_warning",
            "anthropic-ratelimit-unified-reset": str(reset_7d),
            "anthropic-ratelimit-unified-representative-claim": "seven_day",
            "anthropic-ratelimit-unified-7d-status": "allowed_warning",
            "anthropic-ratelimit-unified-7d-utilization": "0.93",
            "anthropic-ratelimit-unified-7d-reset": str(reset_7d),
            "anthropic-ratelimit-unified-7d-surpassed-threshold": "0.9",
        }
    )
    response = chat(solo, model="weekly")  # its own credential: the other tests' reports do not mix in
    assert response.status_code == 200, response.text
    headers = {k: v for k, v in response.headers.items() if k.startswith(PREFIX)}
    assert headers == {
        f"{PREFIX}status": "allowed_warning",
        f"{PREFIX}representative-claim": "seven_day",
        f"{PREFIX}reset": str(reset_7d),
        f"{PREFIX}7d-utilization": "0.93",
        f"{PREFIX}7d-reset": str(reset_7d),
    }
    line = next(line for line in solo.log_text().splitlines() if "seven_day" in line and "limits of credential" in line)
    assert line.endswith(f"allowed_warning (window seven_day, resets at {reset_7d}, 7d 93%)"), line
    scrape = httpx.get(f"{solo.url}/metrics", timeout=30).text
    credential = re.search(r"limits of credential (\S+):", line).group(1)  # type: ignore[union-attr]
    assert f'rate_limit_utilization{{credential="{credential}",window="seven_day"}} 0.93' in scrape
    assert f'credential="{credential}",window="five_hour"' not in scrape
    resets = re.search(rf'rate_limit_resets_at_seconds{{credential="{credential}",window="seven_day"}} (\S+)', scrape)
    assert resets is not None and float(resets.group(1)) == reset_7d
