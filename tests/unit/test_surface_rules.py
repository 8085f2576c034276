"""Which routes `serve` answers, and what its /health report keeps (pure code)."""

from __future__ import annotations

import pytest

from litellm_claude_code._serve.health import without_tracebacks
from litellm_claude_code._serve.routes import allowed


@pytest.mark.parametrize(
    "path",
    ["/v1/chat/completions", "/chat/completions", "/v1/messages", "/v1/messages/count_tokens", "/v1/responses",
     "/responses", "/v1/models", "/models", "/v1/models/sonnet", "/health", "/health/liveliness", "/metrics"],
)  # fmt: skip
def test_what_users_need_is_allowed(path: str) -> None:
    assert allowed(path, {})


@pytest.mark.parametrize(
    "path",
    ["/", "/openapi.json", "/routes", "/docs", "/ui/", "/key/generate", "/langfuse/x1", "/register", "/v1/realtime"],
)
def test_the_rest_is_not(path: str) -> None:
    assert not allowed(path, {})


def test_the_admin_routes_open_only_with_a_database() -> None:
    assert not allowed("/key/generate", {})
    assert allowed("/key/generate", {"DATABASE_URL": "postgresql://db"}) and allowed("/ui/", {"DATABASE_URL": "x"})
    assert not allowed("/langfuse/x1", {"DATABASE_URL": "x"})


def test_a_report_keeps_the_error_and_loses_the_traceback() -> None:
    report = {
        "unhealthy_endpoints": [{"error": "AuthenticationError: bad\nstack trace: Traceback (most recent...", "n": 1}]
    }
    assert without_tracebacks(report) == {"unhealthy_endpoints": [{"error": "AuthenticationError: bad", "n": 1}]}
