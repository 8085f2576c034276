"""The pure parts of limits and credentials: the CLI's rate-limit report, its
headers and log lines, the extra-usage rejection, a credential's own id and home."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import litellm
import pytest
from claude_agent_sdk import AssistantMessage, RateLimitEvent, TextBlock
from claude_agent_sdk.types import RateLimitInfo
from test_stream import result

from litellm_claude_code._claude.credentials import credential_home, resolve_credentials
from litellm_claude_code._claude.limits import LimitWatch
from litellm_claude_code._claude.stream import TurnAssembler, rate_limit_of
from litellm_claude_code._openai.response import rate_limit_headers
from litellm_claude_code._shapes import RateLimit, TurnResult
from litellm_claude_code.errors import ExtraUsageRequired, UpstreamError, to_litellm

# What CLI 2.1.330 reported for a 5-hour window past its warning threshold (measured).
WARNING_RAW: dict[str, Any] = {
    "status": "allowed_warning",
    "resetsAt": 1796170587,
    "rateLimitType": "five_hour",
    "utilization": 0.91,
    "surpassedThreshold": 0.9,
    "unifiedWindows": {
        "five_hour": {"utilization": 0.91, "resetsAt": 1796170587, "status": "allowed_warning"},
        "seven_day": {"utilization": 0.42, "resetsAt": 1796426187, "status": "allowed"},
    },
}
EXTRA_USAGE = "API Error: 400 Third-party apps now draw from your extra usage, not your plan limits. Claim it."


def warning_info() -> RateLimitInfo:
    return RateLimitInfo(
        status="allowed_warning", resets_at=1796170587, rate_limit_type="five_hour", utilization=0.91, raw=WARNING_RAW
    )


def test_rate_limit_report_takes_the_window_figures_from_the_raw_event() -> None:
    assert rate_limit_of(warning_info()) == RateLimit(
        status="allowed_warning",
        resets_at=1796170587,
        window="five_hour",
        utilization_5h=0.91,
        utilization_7d=0.42,
        reset_5h=1796170587,
        reset_7d=1796426187,
    )
    bare = rate_limit_of(RateLimitInfo(status="allowed", raw={"status": "allowed", "unifiedWindows": "junk"}))
    assert bare == RateLimit(status="allowed")


def test_the_turn_result_carries_the_cli_report() -> None:
    assembler = TurnAssembler()
    assembler.feed(RateLimitEvent(rate_limit_info=warning_info(), uuid="u", session_id="s"))
    (final,) = assembler.feed(result())
    assert isinstance(final, TurnResult)
    assert final.rate_limit is not None and final.rate_limit.utilization_5h == 0.91


def test_headers_name_only_what_was_reported() -> None:
    assert rate_limit_headers(None) == {}
    prefix = "llm_provider-anthropic-ratelimit-unified-"
    assert rate_limit_headers(RateLimit(status="allowed")) == {f"{prefix}status": "allowed"}
    headers = rate_limit_headers(rate_limit_of(warning_info()))
    assert headers[f"{prefix}5h-utilization"] == "0.91"
    assert headers[f"{prefix}7d-reset"] == "1796426187"


def test_limits_are_logged_once_per_change_and_per_credential(caplog: pytest.LogCaptureFixture) -> None:
    watch = LimitWatch()
    warning = rate_limit_of(warning_info())
    fuller = RateLimit(**{**warning.__dict__, "utilization_5h": 0.95})
    allowed = RateLimit(status="allowed")
    with caplog.at_level(logging.INFO, logger="litellm_claude_code._claude.limits"):
        assert watch.update("oauth-token-aaa", None) is None  # nothing known yet
        assert watch.update("oauth-token-aaa", warning) == warning
        assert watch.update("oauth-token-aaa", fuller) == fuller  # only the utilization moved: no log
        assert watch.update("oauth-token-aaa", None) == fuller  # no new report: the latest one
        assert watch.update("oauth-token-bbb", warning) == warning  # another credential
        assert watch.update("oauth-token-aaa", allowed) == allowed
    assert [r.levelname for r in caplog.records] == ["WARNING", "WARNING", "INFO"]
    assert "91%" in caplog.records[0].getMessage()


def test_the_extra_usage_rejection_is_its_own_error() -> None:
    assembler = TurnAssembler()
    assembler.feed(AssistantMessage(content=[TextBlock(EXTRA_USAGE)], model="<synthetic>", error="unknown"))
    with pytest.raises(ExtraUsageRequired) as caught:
        assembler.feed(result(is_error=True, api_error_status=400, result=EXTRA_USAGE))
    assert caught.value.status == 400
    assert not ExtraUsageRequired.matches(UpstreamError("prompt is too long", status=400))
    assert not ExtraUsageRequired.matches(UpstreamError(EXTRA_USAGE, status=429))


def test_the_extra_usage_rejection_is_a_429_with_advice_that_clients_do_not_retry() -> None:
    error = to_litellm(ExtraUsageRequired(EXTRA_USAGE, status=400), "claude-code/sonnet")
    assert isinstance(error, litellm.RateLimitError)  # the router cools it down and falls back
    assert error.headers == {"retry-after": "300", "x-should-retry": "false"}  # type: ignore[attr-defined]
    text = str(error)
    assert "extra usage" in text and "API key" in text and "Third-party apps" in text


def test_a_limit_429_carries_retry_after_for_the_router() -> None:
    error = to_litellm(UpstreamError("limited", status=429, retry_after=60), "claude-code/sonnet")
    assert error.status_code == 429  # type: ignore[attr-defined]
    assert error.headers == {"retry-after": "60"}  # type: ignore[attr-defined]
    assert error.response.headers["retry-after"] == "60"  # type: ignore[attr-defined]


def test_each_token_or_key_has_its_own_home_named_without_the_secret(tmp_path: Path) -> None:
    a = resolve_credentials("sk-ant-oat01-secret-a", environ={})
    b = resolve_credentials("sk-ant-oat01-secret-b", environ={})
    key = resolve_credentials("sk-ant-api03-secret-c", environ={})
    homes = {credential_home(tmp_path, c) for c in (a, b, key)}
    assert len(homes) == 3 and all(home is not None and home.parent == tmp_path for home in homes)
    assert a.id == resolve_credentials("sk-ant-oat01-secret-a", environ={}).id  # stable across restarts
    assert a.id.startswith("oauth-token-") and key.id.startswith("api-key-")
    assert all("secret" not in c.id for c in (a, b, key))
    login = resolve_credentials(None, environ={})
    assert credential_home(tmp_path, login) is None and login.id == "login"
