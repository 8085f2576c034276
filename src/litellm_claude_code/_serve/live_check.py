"""``doctor --live``: one minimal real request with the configured credential.

It goes the way every request goes (a CLI process driven by the SDK, with
the same environment and credential), so it proves what ``serve`` will do;
it prints no secret, only whether it worked, how long it took, and the
rate-limit status the upstream reported.
"""

from __future__ import annotations

import time

from .. import _turn
from .._shapes import RateLimit
from ..errors import ClaudeCodeError, to_litellm
from ..settings import Settings
from .doctor import Check

PROMPT = "Reply with the single word: ok"


async def live_request(settings: Settings, model: str) -> Check:
    """One turn on a fresh process (no pool): a ``Check`` saying how it went."""
    from ..provider import ClaudeCodeLLM

    provider = ClaudeCodeLLM(settings.model_copy(update={"pool": False}))
    started = time.monotonic()
    try:
        prepared = _turn.prepare(
            model=model,
            messages=[{"role": "user", "content": PROMPT}],
            optional_params={"max_tokens": 16},
            settings=provider.settings,
            api_key=None,
            timeout=120,
        )
        answer = await _turn.collect(prepared, provider.processes)
    except ClaudeCodeError as exc:
        seconds = time.monotonic() - started
        said = to_litellm(exc, model)  # what a client of `serve` would be told
        return Check("Live request", "fail", f"{model} failed after {seconds:.1f} s: {getattr(said, 'message', said)}")
    finally:
        provider.shutdown()
    seconds = time.monotonic() - started
    usage = answer.result.usage
    limits = rate_limit_line(answer.result.rate_limit)
    detail = (
        f"{answer.result.model or model} answered {answer.text.strip()[:40]!r} in {seconds:.1f} s "
        f"({usage.input_tokens} input, {usage.output_tokens} output tokens); {limits}"
    )
    return Check("Live request", "ok", detail)


def rate_limit_line(limit: RateLimit | None) -> str:
    """What the upstream said of the credential's limits, if it said anything."""
    if limit is None:
        return "no rate-limit status reported (API keys report none)"
    parts = [f"rate limit {limit.status}"]
    if limit.window:
        parts.append(f"deciding window {limit.window}")
    for name, used in (("5h", limit.utilization_5h), ("7d", limit.utilization_7d)):
        if used is not None:
            parts.append(f"{name} {used:.0%} used")
    if limit.resets_at:
        parts.append("resets " + time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(limit.resets_at)))
    return ", ".join(parts)
