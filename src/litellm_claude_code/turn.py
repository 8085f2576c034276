"""One chat request, end to end, in this package's own types.

``prepare`` validates everything that can be checked before a process starts
(so bad input costs nothing), ``run`` starts the CLI, yields the answer's
deltas and its :class:`TurnResult`, and always ends the process.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .auth import resolve_credentials
from .config import DeploymentTuning, Settings, request_timeout
from .environment import cli_environment
from .errors import TranslationError
from .pool import Lease, Pool
from .session import CLISession, LaunchSpec, build_options
from .stream import TurnAssembler
from .translate import to_conversation
from .types import Conversation, ReasoningDelta, StreamItem, TextDelta, Turn, TurnResult

logger = logging.getLogger(__name__)

# A model name becomes a CLI argument: keep it to characters model ids use.
_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@\[\]/-]{0,127}$")

# OpenAI parameters that another part of the project will honour; until then
# they are refused rather than silently ignored.
_NOT_YET = ("tools", "tool_choice", "functions", "function_call", "response_format")
# Accepted, but Claude Code has no way to pass them on: said once in the log.
IGNORED = (
    "temperature",
    "top_p",
    "top_k",
    "stop",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "logit_bias",
    "logprobs",
    "top_logprobs",
)
_reported: set[str] = set()


@dataclass(frozen=True)
class PreparedTurn:
    spec: LaunchSpec
    conversation: Conversation
    timeout: float
    tuning: DeploymentTuning = field(default_factory=DeploymentTuning)


def prepare(
    *,
    model: str,
    messages: Any,
    optional_params: Mapping[str, Any] | None,
    settings: Settings,
    api_key: str | None,
    timeout: Any,
    tuning: DeploymentTuning | None = None,
) -> PreparedTurn:
    """Check the request and decide how the CLI will run it.

    Raises:
        TranslationError: the request cannot be served (becomes HTTP 400).
    """
    params = dict(optional_params or {})
    name = model.split("/", 1)[1] if model.startswith("claude-code/") else model
    if not _MODEL_NAME.match(name):
        raise TranslationError(f"invalid model name {model!r}")
    for key in _NOT_YET:
        if params.get(key):
            raise TranslationError(f"`{key}` is not supported by the claude-code provider yet")
    n = params.get("n")
    if n not in (None, 1):
        raise TranslationError("`n` must be 1: Claude Code returns one choice per request")
    for key in IGNORED:
        if params.get(key) is not None and key not in _reported:
            _reported.add(key)
            logger.warning("`%s` is not supported by Claude Code and is ignored (reported once)", key)
    conversation = to_conversation(messages)
    credentials = resolve_credentials(api_key)
    env = cli_environment(settings, credentials)
    max_tokens = params.get("max_completion_tokens") or params.get("max_tokens")
    if max_tokens is not None:
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
            raise TranslationError("`max_tokens` must be a positive integer")
        env["CLAUDE_CODE_MAX_OUTPUT_TOKENS"] = str(max_tokens)
    spec = LaunchSpec(
        model=name,
        system_prompt=conversation.system_prompt,
        env=env,
        cwd=str(settings.workspace),
        cli_path=settings.cli_path,
    )
    return PreparedTurn(
        spec=spec,
        conversation=conversation,
        timeout=request_timeout(timeout, settings.timeout),
        tuning=tuning or DeploymentTuning(),
    )


async def run(turn: PreparedTurn, settings: Settings, pool: Pool | None = None) -> AsyncGenerator[StreamItem, None]:
    """Yield the answer's deltas, then its TurnResult.

    With a pool the process comes from it and goes back only if the turn
    completed; without one, a process is started for this turn. Either way no
    process outlives the request in a half-finished state.

    Raises:
        UpstreamError, WorkerError, CLINotFound, RequestTimeout, PoolFull.
    """
    settings.ensure_dirs()
    started = time.monotonic()
    deadline = started + turn.timeout
    assembler = TurnAssembler()
    lease: Lease | None = None
    session: CLISession | None = None
    answer: list[str] = []
    completed = False
    try:
        if pool is not None:
            lease = await pool.acquire(
                turn.spec,
                turn.conversation,
                deadline=deadline,
                timeout=turn.timeout,
                spares=turn.tuning.spares,
                idle_ttl=turn.tuning.idle_ttl,
            )
            session = lease.session
        else:
            session = CLISession(build_options(turn.spec, turn.conversation))
            await session.start(timeout=turn.timeout)
        logger.debug(
            "cli_turn.started model=%s history=%d mode=%s",
            turn.spec.model,
            len(turn.conversation.history),
            lease.mode if lease else "one-shot",
        )
        job = session.turn(turn.conversation.prompt, timeout=turn.timeout, deadline=deadline)
        async for message in job:
            for item in assembler.feed(message):
                if isinstance(item, TextDelta):
                    answer.append(item.text)
                yield item
            if assembler.done:
                break
        else:
            yield assembler.finish_without_result()
        completed = job.completed and assembler.ended_by_result
    finally:
        if lease is not None and pool is not None:
            holds = None
            if completed:
                holds = [
                    *turn.conversation.history,
                    Turn("user", list(turn.conversation.prompt)),
                    Turn("assistant", [{"type": "text", "text": "".join(answer)}]),
                ]
            await asyncio.shield(pool.release(lease, reusable=completed, holds=holds))
        elif session is not None:
            await asyncio.shield(session.close())
        logger.debug("cli_turn.complete model=%s seconds=%.3f", turn.spec.model, time.monotonic() - started)


async def collect(turn: PreparedTurn, settings: Settings, pool: Pool | None = None) -> tuple[str, str, TurnResult]:
    """The whole answer: text, reasoning, result."""
    text: list[str] = []
    reasoning: list[str] = []
    result: TurnResult | None = None
    async for item in run(turn, settings, pool):
        if isinstance(item, TextDelta):
            text.append(item.text)
        elif isinstance(item, ReasoningDelta):
            reasoning.append(item.text)
        else:
            result = item
    assert result is not None  # run() always ends with a result or raises
    return "".join(text), "".join(reasoning), result
