"""Package exceptions, and their one mapping to LiteLLM's exceptions.

```
ClaudeCodeError
├─ ConfigError            bad settings                        → 400
├─ TranslationError       request not expressible             → 400
├─ CLINotFound            no Claude Code CLI to run           → 500, says what to install
├─ SDKDrift               the SDK or CLI changed something    → 500, names it and the versions
│                         a promise of ours leans on
├─ WorkerError            the CLI died or broke protocol      → 502 (the proxy's upstream failed)
├─ OutputError            the model ignored a hard constraint → 502 (tool_choice, JSON schema)
├─ RequestTimeout         the request ran out of time         → 408
├─ PoolError              no process for the request now
│  ├─ PoolFull            every process busy, queue full      → 429 + Retry-After
│  └─ PoolClosed          the proxy is shutting down          → 503
└─ UpstreamError          the Anthropic API refused the call  → by status
   └─ ExtraUsageRequired  a subscription out of usage credits (extra usage) → 429 + Retry-After
```
A limit (429) carries ``Retry-After``: the seconds until the reset the
upstream gave. LiteLLM's router cools the deployment down for exactly that
long (it reads the exception's ``retry-after`` header) when its model group
has other deployments, so the next requests go to another credential.

This is the only module that imports LiteLLM's exception types, so the
HTTP status a client sees is decided here and nowhere else. It imports them
lazily: the command line must not pay for importing LiteLLM.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PROVIDER = "claude-code"

AUTH_HELP = (
    "Claude Code could not authenticate. Run `litellm-claude-code setup-token` (a browser "
    "on any machine will do) and set the token it prints as CLAUDE_CODE_OAUTH_TOKEN (or set "
    "ANTHROPIC_API_KEY, or run `litellm-claude-code login` on this machine); check that the "
    "token is complete and not revoked."
)


class ClaudeCodeError(Exception):
    """Base of every error this package raises."""


class ConfigError(ClaudeCodeError):
    """A setting is invalid."""


class TranslationError(ClaudeCodeError):
    """The request cannot be expressed for Claude Code (bad input)."""


class CLINotFound(ClaudeCodeError):
    """The Claude Code CLI the SDK needs is missing."""


class SDKDrift(ClaudeCodeError):
    """An SDK or CLI internal that a promise leans on is not what was tested
    (see ``_claude/sdk_compat.py``): the CLI is not started rather than run
    with the promise silently broken. ``internal`` names it (metrics, doctor)."""

    def __init__(self, internal: str, message: str) -> None:
        self.internal = internal
        super().__init__(message)


class WorkerError(ClaudeCodeError):
    """The CLI process failed outside of an API error."""

    def __init__(self, message: str, *, exit_code: int | None = None, stderr_tail: str = "") -> None:
        self.exit_code = exit_code
        self.stderr_tail = stderr_tail
        super().__init__(message)


class OutputError(ClaudeCodeError):
    """The model's answer breaks what the request demanded (a required tool
    call, a JSON schema): an error, never an answer that looks valid."""


class SchemaMismatch(OutputError):
    """The structured answer does not match the request's JSON schema."""

    def __init__(self, problem: str) -> None:
        super().__init__(f"The answer did not match the requested JSON schema: {problem}")


class RequestTimeout(ClaudeCodeError):
    """The request did not finish within its timeout."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        super().__init__(f"Claude Code did not finish within the {seconds:g} s request timeout")


class PoolError(ClaudeCodeError):
    """The pool has no process for the request now (full, or stopping)."""


class PoolFull(PoolError):
    """No process and no queue place: the client should retry shortly."""

    def __init__(self, message: str, *, retry_after: int = 1) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class PoolClosed(PoolError):
    """The pool is draining (the proxy is stopping): no new work is taken."""

    def __init__(self) -> None:
        super().__init__("the proxy is shutting down; retry on another instance or in a moment")


@dataclass
class UpstreamError(ClaudeCodeError):
    """The Anthropic API answered with an error the CLI reported to us."""

    message: str
    status: int | None = None
    kind: str | None = None  # the SDK's AssistantMessage.error
    retry_after: int | None = None  # seconds, when known

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


# How the API words the rejection: "Third-party apps now draw from your extra usage" (April 2026),
# "... from your usage credits" since extra usage was renamed usage credits (2026-10-30).
USAGE_CREDITS_MARKS = ("third-party apps now draw from", "draw from your usage credits", "draw from your extra usage")
EXTRA_USAGE_RETRY_AFTER = 300  # seconds the router rests such a deployment before trying it again

EXTRA_USAGE_HELP = (
    "This Claude subscription refused the request: Anthropic bills use of a subscription by "
    "third-party apps to its usage credits (called extra usage before October 2026), and the "
    "account has none to draw from. The operator can add usage credits at "
    "claude.ai/settings/usage (`/usage-credits` in Claude Code), or serve this model with an "
    "Anthropic API key (a deployment whose api_key is an sk-ant-api... key, e.g. as a "
    "`fallbacks` group; Max, Ultra and Team plans include monthly API credits for one)."
)


@dataclass
class ExtraUsageRequired(UpstreamError):
    """Anthropic's "Third-party apps now draw from your usage credits" rejection
    ("... extra usage" before the rename; an HTTP 400 upstream). Not a bad request: no change to the request helps;
    it is the credential's billing state. So it is answered like a limit: a
    429 with its own explanation, which the router cools down and falls back
    from. (A 402 would say "payment" better, but LiteLLM's streaming path
    raises a 4xx other than 429 straight to the client, with no fallback.)
    ``x-should-retry: false`` keeps OpenAI clients from retrying it at once."""

    retry_after: int | None = EXTRA_USAGE_RETRY_AFTER

    @classmethod
    def matches(cls, error: UpstreamError) -> bool:
        text = error.message.lower()
        return error.status in (None, 400) and any(mark in text for mark in USAGE_CREDITS_MARKS)

    @classmethod
    def of(cls, error: UpstreamError) -> ExtraUsageRequired:
        return cls(message=error.message, status=error.status, kind=error.kind)


_KIND_STATUS = {
    "authentication_failed": 401,
    "billing_error": 402,
    "rate_limit": 429,
    "invalid_request": 400,
    "server_error": 503,
    "max_output_tokens": 400,
}


def lost_mid_answer() -> UpstreamError:
    """The error for a stream that already showed part of an answer the
    upstream then lost: splicing the retry onto it would be a mixed answer."""
    return UpstreamError(
        message=(
            "the connection to the Anthropic API dropped mid-answer, so the answer streamed so far is "
            "incomplete; the CLI's retry cannot be joined to it. Retry the request."
        ),
        kind="connection_lost",
    )


def upstream_status(error: UpstreamError) -> int:
    """The HTTP status the client should see for an upstream failure.

    Auth failures are 401, limits 429, upstream outages 503; a failure
    nothing identifies is a 502 (bad gateway), never a 200.
    """
    status = error.status or _KIND_STATUS.get(error.kind or "")
    if status is None:
        return 502
    if status in (401, 403):
        return 401
    if status >= 500:
        return 503
    return status


# How an error nothing here expected is told: the one kind logged with its traceback.
UNEXPECTED = "claude-code provider failed"


def to_litellm(exc: BaseException, model: str) -> Exception:
    """Turn any exception from the request path into the LiteLLM exception
    whose ``status_code`` the proxy will send. Unknown errors become 500."""
    import openai
    from litellm import exceptions as litellm

    if isinstance(exc, openai.OpenAIError):  # LiteLLM's exceptions derive from these
        return exc
    kwargs: dict[str, Any] = {"llm_provider": PROVIDER, "model": model}
    if isinstance(exc, (TranslationError, ConfigError)):
        return litellm.BadRequestError(message=str(exc), **kwargs)
    if isinstance(exc, RequestTimeout):
        return litellm.Timeout(message=str(exc), **kwargs)
    if isinstance(exc, (CLINotFound, SDKDrift)):
        return litellm.InternalServerError(message=str(exc), **kwargs)
    if isinstance(exc, WorkerError):
        return litellm.APIError(status_code=502, message=f"claude-code: {exc}", **kwargs)
    if isinstance(exc, OutputError):
        return litellm.APIError(status_code=502, message=f"claude-code: {exc}", **kwargs)
    if isinstance(exc, ExtraUsageRequired):
        return _extra_usage(exc, model)
    if isinstance(exc, UpstreamError):
        return _upstream_to_litellm(exc, model)
    if isinstance(exc, PoolClosed):
        return litellm.ServiceUnavailableError(message=f"claude-code: {exc}", **kwargs)
    if isinstance(exc, PoolFull):
        return _rate_limited(f"claude-code: {exc}. Retry after {exc.retry_after} s.", exc.retry_after, model)
    return litellm.InternalServerError(message=f"{UNEXPECTED}: {type(exc).__name__}: {exc}", **kwargs)


def _rate_limited(message: str, retry_after: int | None, model: str, extra: dict[str, str] | None = None) -> Exception:
    import httpx
    from litellm import exceptions as litellm

    headers = {"retry-after": str(retry_after)} if retry_after is not None else {}
    headers.update(extra or {})
    response = httpx.Response(429, headers=headers, request=httpx.Request("POST", "https://claude-code.invalid"))
    error = litellm.RateLimitError(message=message, llm_provider=PROVIDER, model=model, response=response)
    # The proxy copies an exception's `headers` onto the HTTP response; the
    # router reads `retry-after` there for the deployment's cooldown.
    error.headers = headers
    return error


def _extra_usage(exc: ExtraUsageRequired, model: str) -> Exception:
    message = f"{EXTRA_USAGE_HELP} Anthropic API error ({exc.status or exc.kind}): {exc.message}"
    return _rate_limited(message, exc.retry_after, model, {"x-should-retry": "false"})


def _upstream_to_litellm(exc: UpstreamError, model: str) -> Exception:
    from litellm import exceptions as litellm

    kwargs: dict[str, Any] = {"llm_provider": PROVIDER, "model": model}
    status = upstream_status(exc)
    detail = f"Anthropic API error ({exc.status or exc.kind}): {exc.message}"
    if status == 401:
        return litellm.AuthenticationError(message=f"{AUTH_HELP} {detail}", **kwargs)
    if status == 429:
        when = f" Retry after {exc.retry_after} s." if exc.retry_after is not None else ""
        return _rate_limited(f"{detail}{when}", exc.retry_after, model)
    if status == 503:
        return litellm.ServiceUnavailableError(message=detail, **kwargs)
    if status == 400:
        return litellm.BadRequestError(message=detail, **kwargs)
    if status == 402:
        return litellm.BadRequestError(message=f"Billing problem on the account: {detail}", **kwargs)
    return litellm.APIError(status_code=status, message=detail, **kwargs)
