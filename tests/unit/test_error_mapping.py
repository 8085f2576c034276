"""Every package error and upstream status has a LiteLLM mapping with the right HTTP status."""

from __future__ import annotations

import litellm
import pytest

from litellm_claude_code import errors
from litellm_claude_code.errors import (
    CLINotFound,
    ConfigError,
    RequestTimeout,
    TranslationError,
    UpstreamError,
    WorkerError,
    to_litellm,
)


@pytest.mark.parametrize(
    ("exc", "status", "kind"),
    [
        (TranslationError("bad"), 400, litellm.BadRequestError),
        (ConfigError("bad"), 400, litellm.BadRequestError),
        (RequestTimeout(5), 408, litellm.Timeout),
        (CLINotFound("install it"), 500, litellm.InternalServerError),
        (WorkerError("died", exit_code=1), 502, litellm.APIError),
        (RuntimeError("surprise"), 500, litellm.InternalServerError),
        (UpstreamError("x", status=401), 401, litellm.AuthenticationError),
        (UpstreamError("x", status=403), 401, litellm.AuthenticationError),
        (UpstreamError("x", kind="authentication_failed"), 401, litellm.AuthenticationError),
        (UpstreamError("x", status=429), 429, litellm.RateLimitError),
        (UpstreamError("x", kind="rate_limit"), 429, litellm.RateLimitError),
        (UpstreamError("x", status=500), 503, litellm.ServiceUnavailableError),
        (UpstreamError("x", status=529), 503, litellm.ServiceUnavailableError),
        (UpstreamError("x", kind="server_error"), 503, litellm.ServiceUnavailableError),
        (UpstreamError("x", status=400), 400, litellm.BadRequestError),
        (UpstreamError("x", kind="invalid_request"), 400, litellm.BadRequestError),
        (UpstreamError("x", kind="billing_error"), 400, litellm.BadRequestError),
        (UpstreamError("x", kind="unknown"), 502, litellm.APIError),
    ],
)
def test_mapping(exc: Exception, status: int, kind: type[Exception]) -> None:
    mapped = to_litellm(exc, "sonnet")
    assert isinstance(mapped, kind)
    assert mapped.status_code == status  # type: ignore[attr-defined]


def test_every_sdk_error_kind_is_mapped() -> None:
    from typing import get_args

    from claude_agent_sdk.types import AssistantMessageError

    for kind in get_args(AssistantMessageError):
        if kind != "unknown":
            assert kind in errors._KIND_STATUS, kind


def test_auth_error_tells_how_to_get_a_token() -> None:
    assert "litellm-claude-code setup-token" in str(to_litellm(UpstreamError("Invalid", status=401), "sonnet"))


def test_rate_limit_carries_retry_after_header() -> None:
    mapped = to_litellm(UpstreamError("slow down", status=429, retry_after=42), "sonnet")
    assert mapped.headers == {"retry-after": "42"}  # type: ignore[attr-defined]
    assert "42 s" in str(mapped)


def test_litellm_errors_pass_through() -> None:
    original = litellm.BadRequestError(message="x", llm_provider="claude-code", model="m")
    assert to_litellm(original, "m") is original


def test_every_error_a_user_can_catch_is_exported() -> None:
    """Issue 25.5: __all__ names exactly the package's error classes (and resolves each)."""
    import inspect

    import litellm_claude_code

    ours = {
        name
        for name, value in vars(errors).items()
        if inspect.isclass(value) and issubclass(value, errors.ClaudeCodeError) and value.__module__ == errors.__name__
    }
    exported = {
        name
        for name in litellm_claude_code.__all__
        if name.endswith(("Error", "NotFound", "Drift", "Full", "Closed", "Timeout", "Mismatch", "Required"))
    }
    assert exported == ours
    for name in litellm_claude_code.__all__:
        assert getattr(litellm_claude_code, name) is not None, name
    assert issubclass(errors.PoolFull, errors.PoolError) and issubclass(errors.PoolClosed, errors.PoolError)
