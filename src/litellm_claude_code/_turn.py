"""One chat request, end to end, in this package's own types.

``prepare`` validates everything that can be checked before a process starts
(so bad input costs nothing), ``run`` starts the CLI, yields the answer's
deltas and its :class:`TurnResult`, and always ends the process.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from . import access_log
from ._claude.credentials import cloud_credentials, credential_home, resolve_credentials
from ._claude.environment import cli_environment
from ._claude.options import LaunchSpec
from ._claude.parking import results_of
from ._claude.pool import Lease
from ._claude.process import Deadline
from ._claude.processes import Outcome, Processes
from ._claude.stream import TurnAssembler
from ._claude.types import Credentials, ToolResult, Tuning
from ._openai.messages import FollowUp, answers_tool_results, to_conversation
from ._openai.params import model_name, read_options
from ._openai.stop import StopFilter
from ._openai.tools import ToolPlan
from ._shapes import AnswerBuffer, Conversation, RateLimit, Restart, StreamItem, ToolCallDelta, TurnResult
from .errors import PROVIDER, OutputError, WorkerError
from .settings import DeploymentTuning, Settings, request_timeout

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreparedTurn:
    spec: LaunchSpec
    conversation: Conversation
    timeout: float
    tuning: Tuning = field(default_factory=Tuning)  # the deployment's, resolved
    tools: ToolPlan = field(default_factory=ToolPlan)
    retry_spec: LaunchSpec | None = None  # for an enforced tool_choice: the insisting second try
    stop: tuple[str, ...] = ()
    schema: dict[str, Any] | None = None  # structured output
    credential_id: str = "login"  # non-secret name of the credential (logs, metrics)
    home: Path | None = None  # the credential's own CLI state directory, made on first use
    tool_results: dict[str, ToolResult] | None = None  # what a parked process waits for, when only that is new
    follow_up: FollowUp = field(default_factory=lambda: FollowUp(()))  # the history the client sends next
    pooled: bool = True  # False: a process of its own, ended with the request (nothing parks)

    @property
    def specs(self) -> list[LaunchSpec]:
        """The launch of each try: one, or two for an enforced tool_choice."""
        return [self.spec] if self.retry_spec is None else [self.spec, self.retry_spec]


@dataclass
class Answer:
    """A whole answer, for non-streamed responses."""

    text: str
    reasoning: str
    tool_calls: list[ToolCallDelta]  # one merged item per call
    result: TurnResult


def prepare(
    *,
    model: str,
    messages: Any,
    optional_params: Mapping[str, Any] | None,
    settings: Settings,
    api_key: str | None,
    timeout: Any,
    tuning: DeploymentTuning | None = None,
    reported: set[str] | None = None,
    pooled: bool = True,
) -> PreparedTurn:
    """Check the request and decide how the CLI will run it.

    ``reported``: the ignored parameters already logged by this provider
    (each is logged once); None logs nothing. ``pooled`` False: the request
    gets a process of its own even when the server pools them.

    Raises:
        TranslationError: the request cannot be served (becomes HTTP 400).
    """
    name = model.removeprefix(f"{PROVIDER}/")
    model_name(name)  # matched whole: `$` let a trailing newline through
    options = read_options(optional_params, reported)
    tools, schema = options.tools, options.schema
    conversation = to_conversation(messages)
    tuning = tuning or DeploymentTuning()
    resolved = tuning.resolved(settings)
    pooled = pooled and settings.pool
    credentials = resolve_credentials(api_key, cloud=cloud_credentials(tuning.env))
    home = credential_home(settings.private_home, credentials)
    spec = LaunchSpec(
        model=name,
        system_prompt=_with_instruction(conversation.system_prompt, tools.instruction()),
        env=_environment(settings, credentials, home, options.max_tokens),
        cwd=str(settings.cli_directory),
        cli_path=settings.cli_path,
        tools=tools.offered,
        effort=options.effort,
        thinking=options.thinking,
        output_schema_json=json.dumps(schema, sort_keys=True) if schema is not None else None,
        park_tools=bool(tools.offered) and pooled and resolved.tool_wait > 0,
    )
    return PreparedTurn(
        spec=spec,
        conversation=conversation,
        timeout=request_timeout(timeout, settings.timeout),
        tuning=resolved,
        tools=tools,
        retry_spec=_insisting(spec, tools) if tools.enforced else None,
        stop=options.stop,
        schema=schema,
        credential_id=credentials.id,
        home=home,
        pooled=pooled,
        tool_results=parked_results(conversation) if spec.park_tools else None,
        follow_up=FollowUp.of(conversation),
    )


def _environment(
    settings: Settings, credentials: Credentials, home: Path | None, max_tokens: int | None
) -> dict[str, str]:
    """The CLI's environment: the credential, our own HOME, and the server's knobs."""
    return cli_environment(
        credentials,
        home=home or settings.private_home,
        max_retries=settings.cli_max_retries,
        stream_hold_ms=settings.stream_hold_ms,
        base_url=settings.base_url,
        pass_env=settings.pass_env,
        max_output_tokens=max_tokens,
    )


def _insisting(spec: LaunchSpec, tools: ToolPlan) -> LaunchSpec:
    """The second try of an enforced ``tool_choice``: the instruction said more firmly."""
    return replace(spec, system_prompt=_with_instruction(spec.system_prompt, tools.instruction(insist=True)))


def _with_instruction(system_prompt: str | None, instruction: str | None) -> str | None:
    if instruction is None:
        return system_prompt
    return f"{system_prompt}\n\n{instruction}" if system_prompt else instruction


async def run(turn: PreparedTurn, processes: Processes) -> AsyncGenerator[StreamItem, None]:
    """Yield the answer's deltas, then its TurnResult.

    With an enforced ``tool_choice`` the answer is held back until it calls
    the function; an answer that does not is retried once with an insisting
    instruction, then refused with :class:`OutputError`. Stop sequences cut
    the text; the turn still runs to its end so usage stays exact.

    Raises:
        UpstreamError, WorkerError, CLINotFound, RequestTimeout, PoolFull, OutputError.
    """
    deadline = Deadline.after(turn.timeout)
    for attempt, spec in enumerate(turn.specs, start=1):
        items = _attempt(turn, spec, processes, deadline)
        stop = StopFilter(turn.stop)
        held: list[StreamItem] | None = [] if turn.tools.enforced else None
        names: list[str] = []
        try:
            async for item in items:
                if isinstance(item, Restart):
                    names.clear()  # the lost attempt's calls do not count
                    if held is not None:  # nothing of it was shown: forget it quietly
                        held.clear()
                        stop = StopFilter(turn.stop)
                        continue
                if isinstance(item, ToolCallDelta) and item.name:
                    names.append(item.name)
                visible = stop.apply(item)
                if held is not None and not turn.tools.satisfied_by(names):
                    held.extend(i for i in visible if not isinstance(i, TurnResult))
                    if any(isinstance(i, TurnResult) for i in visible):
                        break  # the turn ended without the call: try again, or fail
                    continue
                for out in [*(held or []), *visible]:
                    if isinstance(out, TurnResult):
                        access_log.note(tokens_in=out.usage.prompt_tokens, tokens_out=out.usage.output_tokens)
                    else:
                        access_log.note_first_token()
                    yield out
                held = None
            else:
                return
        finally:
            await items.aclose()
        if held is None:
            return
        logger.info("claude-code: tool_choice not followed on attempt %d", attempt)
    wanted = f"the function `{turn.tools.named}`" if turn.tools.named else "a function"
    raise OutputError(f"tool_choice requires a call to {wanted}, but the model answered without one twice")


async def _attempt(
    turn: PreparedTurn, spec: LaunchSpec, processes: Processes, deadline: Deadline
) -> AsyncGenerator[StreamItem, None]:
    """One CLI turn, with one more lease if the first fails unseen.

    A warm process that turns out dead before it answered anything (killed
    while idle, just before the lease) is replaced once, unseen by the client.
    """
    for chance in (1, 2):
        lease = await processes.lease(
            spec,
            turn.conversation,
            deadline=deadline,
            tuning=turn.tuning,
            tool_results=turn.tool_results,
            home=turn.home,
            pooled=turn.pooled,
        )
        known = processes.latest_limit(turn.credential_id)
        access_log.note(
            credential=turn.credential_id,
            process=access_log.process_kind(lease.mode, bool(turn.conversation.history)),
            queue_ms=round(lease.waited * 1000, 1),
        )
        answer = AnswerBuffer()
        try:
            async for item in _stream(turn, spec, processes, lease, deadline, answer, known):
                yield item
            return
        except WorkerError:
            if answer.seen or lease.mode == "start" or chance == 2:
                raise
            logger.warning("a warm Claude Code process was gone when its turn began; starting another")


async def _stream(
    turn: PreparedTurn,
    spec: LaunchSpec,
    processes: Processes,
    lease: Lease,
    deadline: Deadline,
    answer: AnswerBuffer,
    known_limit: RateLimit | None,
) -> AsyncGenerator[StreamItem, None]:
    """The lease's turn as stream items, each also written into ``answer``; then the
    process goes back as the turn's :class:`Outcome` says, however it ended, and the
    limits the CLI reported in it are recorded (once, a rejection's too)."""
    assembler = TurnAssembler(
        offered=frozenset(t.name for t in turn.tools.offered), known_limit=known_limit, schema=turn.schema
    )
    outcome = Outcome()  # until the turn has run to its end: a failed one
    started = time.monotonic()
    logger.debug("cli_turn.started model=%s history=%d mode=%s", spec.model, len(turn.conversation.history), lease.mode)
    try:
        if lease.mode == "parked" and turn.tool_results is not None:
            job = lease.session.resume_with(turn.tool_results, deadline)
        else:
            job = lease.session.turn(turn.conversation.prompt, deadline)
        async for item in assembler.items(job):
            answer.add(item)
            yield item
        outcome = Outcome(
            result_seen=job.completed,
            ended_by_result=assembler.ended_by_result,
            structured=assembler.structured,
            parks=spec.park_tools,
            waits_for_client=assembler.waits_for_client,
            phase=lease.session.phase,
        )
    finally:
        if assembler.rate_limit is not None:
            processes.reported(turn.credential_id, assembler.rate_limit)
        await asyncio.shield(processes.release(lease, outcome, answer, turn.follow_up))
        logger.debug("cli_turn.complete model=%s seconds=%.3f", spec.model, time.monotonic() - started)


def parked_results(conversation: Conversation) -> dict[str, ToolResult] | None:
    """The client's tool results, when they are all the request adds to its history."""
    if not answers_tool_results(conversation) or conversation.history[-1].role != "user":
        return None
    return results_of(conversation.history[-1].content)


async def collect(turn: PreparedTurn, processes: Processes) -> Answer:
    """The whole answer, for a non-streamed response.

    A :class:`Restart` (the upstream lost the attempt and the CLI retried)
    voids what was gathered, so the client gets the retried answer whole.
    A refused answer (``content_filter``) carries no tool calls: the refusal
    may have cut one short, and the CLI ran none of them.
    """
    answer = AnswerBuffer()
    async for item in run(turn, processes):
        answer.add(item)
    result = answer.result
    assert result is not None  # run() always ends with a result or raises
    content = answer.text if result.structured_output is None else json.dumps(result.structured_output)
    calls = [] if result.finish_reason == "content_filter" else answer.tool_calls
    return Answer(text=content, reasoning=answer.reasoning, tool_calls=calls, result=result)
