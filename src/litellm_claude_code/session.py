"""One Claude Code CLI process, driven through the official SDK, turn by turn.

An actor task owns the :class:`ClaudeSDKClient` (the SDK's anyio scopes must
open and close in one task): it connects once, then runs turns from a queue,
feeding each turn's messages to that turn's own queue, which the request
reads with a deadline. A process serves one turn at a time; between turns it
keeps its conversation (for continuation) or is reset with ``/clear``.

``close()`` ends the process whatever state it is in: an idle CLI exits on
stdin EOF, anything else gets SIGTERM, then SIGKILL. The SDK's own shutdown
waits ~5 s before signalling, too long for a cancelled request.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import signal
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from claude_agent_sdk import ClaudeAgentOptions, ClaudeSDKClient, ResultMessage, SdkMcpTool, create_sdk_mcp_server
from claude_agent_sdk import _errors as sdk_errors
from claude_agent_sdk.types import (
    PermissionResultAllow,
    PermissionResultDeny,
    SessionStore,
    ThinkingConfigAdaptive,
    ThinkingConfigDisabled,
    ThinkingConfigEnabled,
    ToolPermissionContext,
)

from . import reaper
from .errors import CLINotFound, RequestTimeout, WorkerError
from .tools import SERVER, ToolSpec
from .transcript import TranscriptStore, transcript_entries
from .types import ContentBlock, Conversation

logger = logging.getLogger(__name__)

STRUCTURED_OUTPUT_TOOL = "StructuredOutput"  # how the CLI returns `output_format` answers
TERM_GRACE = 1.0  # seconds between SIGTERM and SIGKILL
EXIT_GRACE = 1.0  # seconds a finished CLI gets to exit on stdin EOF
_END = object()

try:  # the bundled CLI's version, written into resumed transcripts
    from claude_agent_sdk._cli_version import __cli_version__ as CLI_VERSION
except ImportError:  # pragma: no cover - older SDKs
    CLI_VERSION = "2.1.0"


@dataclass(frozen=True)
class LaunchSpec:
    """Everything fixed when a CLI process starts."""

    model: str
    system_prompt: str | None
    env: dict[str, str] = field(repr=False)
    cwd: str
    cli_path: str | None = None
    tools: tuple[ToolSpec, ...] = ()  # client functions, never run here
    effort: str | None = None
    thinking: tuple[str, int | None] | None = None  # ("enabled", budget) / ("disabled", None) / ("adaptive", None)
    output_schema_json: str | None = None  # structured output: the JSON schema


def _thinking(setting: tuple[str, int | None] | None) -> Any:
    if setting is None:
        return None
    kind, budget = setting
    if kind == "enabled":
        return ThinkingConfigEnabled(type="enabled", budget_tokens=budget or 1024)
    if kind == "disabled":
        return ThinkingConfigDisabled(type="disabled")
    return ThinkingConfigAdaptive(type="adaptive")


_NOT_HERE = "Client functions run on the client, not here."


async def _refuse(args: dict[str, Any]) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": _NOT_HERE}], "is_error": True}


async def _permission(
    name: str, tool_input: dict[str, Any], context: ToolPermissionContext
) -> PermissionResultAllow | PermissionResultDeny:
    """Deny every tool but the CLI's own answer-as-JSON tool, which runs nothing."""
    if name == STRUCTURED_OUTPUT_TOOL:
        return PermissionResultAllow()
    return PermissionResultDeny(message=_NOT_HERE, interrupt=True)


def _client_tools(specs: Sequence[ToolSpec]) -> dict[str, Any]:
    """The SDK MCP server that shows the model the client's functions."""
    tools = [
        SdkMcpTool(name=s.name, description=s.description, input_schema=s.parameters, handler=_refuse) for s in specs
    ]
    return {SERVER: create_sdk_mcp_server(SERVER, tools=tools)}


def build_options(spec: LaunchSpec, conversation: Conversation) -> ClaudeAgentOptions:
    """SDK options that make the CLI a plain model endpoint.

    No built-in tools, no settings/CLAUDE.md/hooks/plugins, no MCP servers but
    ours, prompts delivered verbatim (no ``@file`` expansion, no slash
    commands), nothing persisted, one model turn.
    """
    options = ClaudeAgentOptions(
        model=spec.model,
        system_prompt=spec.system_prompt,
        tools=[],
        setting_sources=[],
        strict_mcp_config=True,
        # Not verbatim_prompts: it would also make our `/clear` plain text.
        # Every user prompt is marked client_composed instead (user_message).
        include_partial_messages=True,
        max_turns=1,
        cwd=spec.cwd,
        cli_path=spec.cli_path,
        env=spec.env,
        extra_args={"no-session-persistence": None},
        effort=cast(Any, spec.effort),
        thinking=_thinking(spec.thinking),
    )
    if spec.tools:
        options.mcp_servers = _client_tools(spec.tools)
        options.can_use_tool = _permission
    if spec.output_schema_json is not None:
        options.output_format = {"type": "json_schema", "schema": json.loads(spec.output_schema_json)}
    if conversation.history:
        session_id = str(uuid.uuid4())
        entries = transcript_entries(
            conversation.history, session_id=session_id, cwd=spec.cwd, cli_version=CLI_VERSION, model=spec.model
        )
        options.session_store = cast(SessionStore, TranscriptStore(session_id, entries))
        options.resume = session_id
    return options


def user_message(prompt: Sequence[ContentBlock]) -> dict[str, Any]:
    """A user turn delivered verbatim: no ``@file`` expansion, no slash commands."""
    plain = len(prompt) == 1 and prompt[0].get("type") == "text"
    content: str | list[ContentBlock] = prompt[0]["text"] if plain else list(prompt)
    return {
        "type": "user",
        "message": {"role": "user", "content": content},
        "parent_tool_use_id": None,
        "client_composed": True,
    }


CLEAR_MESSAGE: dict[str, Any] = {
    "type": "user",
    "message": {"role": "user", "content": "/clear"},
    "parent_tool_use_id": None,
}


class TurnMessages:
    """One turn's SDK messages, read with a deadline."""

    def __init__(self, message: dict[str, Any], deadline: float, timeout: float) -> None:
        self.message = message
        self.completed = False  # the CLI reported this turn's result
        self._deadline = deadline
        self._timeout = timeout
        self._queue: asyncio.Queue[Any] = asyncio.Queue()

    def put(self, item: Any) -> None:
        self._queue.put_nowait(item)

    async def __aiter__(self) -> AsyncIterator[Any]:
        """Up to and including the ResultMessage.

        Raises:
            RequestTimeout: the deadline passed.
            CLINotFound, WorkerError: the CLI could not run or died.
        """
        while True:
            remaining = self._deadline - time.monotonic()
            if remaining <= 0:
                raise RequestTimeout(self._timeout)
            try:
                item = await asyncio.wait_for(self._queue.get(), timeout=remaining)
            except asyncio.TimeoutError:
                raise RequestTimeout(self._timeout) from None
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item


class CLISession:
    """One CLI process. ``start()``, then ``turn()`` as often as wanted, then ``close()``.

    ``state`` is one of starting, idle, busy, closed.
    """

    def __init__(self, options: ClaudeAgentOptions) -> None:
        self._options = dataclasses.replace(options, stderr=self.on_stderr)
        self._jobs: asyncio.Queue[TurnMessages | None] = asyncio.Queue()
        self._started: asyncio.Future[None] | None = None
        self._client: ClaudeSDKClient | None = None
        self._task: asyncio.Task[None] | None = None
        self._current: TurnMessages | None = None
        self.state = "new"
        self.session_id: str | None = None
        self.turns = 0
        self.last_used = time.monotonic()
        self.stderr_tail: deque[str] = deque(maxlen=20)

    def __repr__(self) -> str:
        return f"<CLISession {self.state} turns={self.turns}>"

    @property
    def alive(self) -> bool:
        return self.state in ("starting", "idle", "busy")

    async def start(self, timeout: float) -> None:
        """Launch and connect the CLI (about 0.6 s).

        Raises:
            CLINotFound, WorkerError, RequestTimeout.
        """
        reaper.track(self)
        self.state = "starting"
        self._started = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._run(), name="claude-code-cli")
        try:
            await asyncio.wait_for(asyncio.shield(self._started), timeout=timeout)
        except asyncio.TimeoutError:
            await asyncio.shield(self.close())
            raise RequestTimeout(timeout) from None
        except BaseException:
            await asyncio.shield(self.close())
            raise

    def turn(self, prompt: Sequence[ContentBlock], *, timeout: float, deadline: float | None = None) -> TurnMessages:
        """Send a user turn; iterate the result for its messages."""
        return self._submit(user_message(prompt), timeout, deadline)

    async def reset(self, timeout: float = 5.0) -> bool:
        """Forget the conversation (``/clear``). True only if the CLI started a new session."""
        before = self.session_id
        job = self._submit(CLEAR_MESSAGE, timeout, None)
        try:
            async for _ in job:
                pass
        except Exception:
            return False
        return job.completed and self.session_id is not None and self.session_id != before

    def _submit(self, message: dict[str, Any], timeout: float, deadline: float | None) -> TurnMessages:
        if self.state != "idle":
            raise WorkerError(f"Claude Code CLI is {self.state}, not ready for a turn")
        self.state = "busy"
        self.last_used = time.monotonic()
        job = TurnMessages(message, deadline if deadline is not None else time.monotonic() + timeout, timeout)
        self._jobs.put_nowait(job)
        return job

    def on_stderr(self, line: str) -> None:
        self.stderr_tail.append(line)
        logger.debug("cli stderr: %s", line)

    async def _run(self) -> None:
        client = ClaudeSDKClient(self._options)
        self._client = client
        started = self._started
        assert started is not None
        try:
            await client.connect()
            self.state = "idle"
            started.set_result(None)
            while (job := await self._jobs.get()) is not None:
                self._current = job
                await client.query(_once(job.message))
                result_seen = False
                async for message in client.receive_response():
                    session_id = getattr(message, "session_id", None)
                    if isinstance(session_id, str) and session_id:
                        self.session_id = session_id
                    result_seen = result_seen or isinstance(message, ResultMessage)
                    job.put(message)
                if not result_seen:  # the message stream ended: the CLI is gone
                    break
                job.completed = True
                self.turns += 1
                self._current = None
                self.state = "idle"
                self.last_used = time.monotonic()
                job.put(_END)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the waiting request must see every failure
            failure = self._failure(exc)
            if not started.done():
                started.set_exception(failure)
            if self._current is not None:
                self._current.put(failure)
        finally:
            self.state = "closed"
            if self._current is not None and not self._current.completed:
                self._current.put(WorkerError("Claude Code CLI ended before it finished the answer"))
            with contextlib.suppress(Exception):
                await client.disconnect()

    def _failure(self, exc: BaseException) -> Exception:
        if isinstance(exc, sdk_errors.CLINotFoundError):
            return CLINotFound(
                f"The Claude Code CLI was not found ({exc}). Install it with "
                "`pip install claude-agent-sdk` (its wheel bundles the CLI) or set "
                "LITELLM_CLAUDE_CODE_CLI_PATH to a `claude` binary."
            )
        exit_code = getattr(exc, "exit_code", None)
        tail = "\n".join(self.stderr_tail)
        if tail:
            logger.warning("Claude Code CLI failed (exit code %s); stderr tail:\n%s", exit_code, tail)
        if isinstance(exc, sdk_errors.ClaudeSDKError):
            code = f" (exit code {exit_code})" if exit_code is not None else ""
            return WorkerError(f"Claude Code CLI ended unexpectedly{code}", exit_code=exit_code, stderr_tail=tail)
        return WorkerError(f"Claude Code CLI failed: {type(exc).__name__}: {exc}")

    def process(self) -> Any:
        # Private SDK attributes: the only handle on the child process. Guarded
        # so an SDK change degrades to the SDK's own (slower) shutdown.
        transport = getattr(self._client, "_transport", None)
        return getattr(transport, "_process", None)

    def kill_now(self) -> None:
        """SIGKILL the process without awaiting anything (its event loop may be gone)."""
        process = self.process()
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError, OSError):
                os.kill(process.pid, signal.SIGKILL)
        self.state = "closed"

    async def close(self) -> None:
        """End the CLI process; returns once it has exited (bounded, ~2 s at most).

        Call it shielded from cancellation: it is what reaps the process.
        """
        task = self._task
        if task is None:
            self.state = "closed"
            return
        if self.state != "idle":
            await self._signal_process()
        self._jobs.put_nowait(None)  # an idle CLI exits on stdin EOF
        done, _ = await asyncio.wait({task}, timeout=EXIT_GRACE)
        if not done:
            await self._signal_process()
            task.cancel()
            await asyncio.wait({task}, timeout=TERM_GRACE)
        self.state = "closed"
        reaper.untrack(self)

    async def _signal_process(self) -> None:
        process = self.process()
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), timeout=TERM_GRACE)
        except asyncio.TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(process.wait(), timeout=TERM_GRACE)


async def _once(message: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
    yield message
