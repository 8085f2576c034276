"""One request's Claude Code CLI process, driven through the official SDK.

A producer task owns the :class:`ClaudeSDKClient` (the SDK's anyio scopes must
open and close in one task) and feeds its messages into a queue; the request
reads that queue with a deadline. ``close()`` ends the process whatever state
it is in: a finished turn lets the CLI exit on stdin EOF, anything else gets
SIGTERM, then SIGKILL. The SDK's own shutdown waits ~5 s before signalling,
too long for a cancelled request, hence the direct signal.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from claude_agent_sdk import ClaudeAgentOptions, ClaudeSDKClient
from claude_agent_sdk import _errors as sdk_errors
from claude_agent_sdk.types import SessionStore

from . import reaper
from .errors import CLINotFound, RequestTimeout, WorkerError
from .transcript import TranscriptStore, transcript_entries
from .types import ContentBlock, Conversation

logger = logging.getLogger(__name__)

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
        verbatim_prompts=True,
        include_partial_messages=True,
        max_turns=1,
        cwd=spec.cwd,
        cli_path=spec.cli_path,
        env=spec.env,
        extra_args={"no-session-persistence": None},
    )
    if conversation.history:
        session_id = str(uuid.uuid4())
        entries = transcript_entries(
            conversation.history, session_id=session_id, cwd=spec.cwd, cli_version=CLI_VERSION, model=spec.model
        )
        options.session_store = cast(SessionStore, TranscriptStore(session_id, entries))
        options.resume = session_id
    return options


def user_message(prompt: Sequence[ContentBlock]) -> dict[str, Any]:
    plain = len(prompt) == 1 and prompt[0].get("type") == "text"
    content: str | list[ContentBlock] = prompt[0]["text"] if plain else list(prompt)
    return {"type": "user", "message": {"role": "user", "content": content}, "parent_tool_use_id": None}


class CLISession:
    """Runs one prompt on a fresh CLI process; use as an async context manager."""

    def __init__(self, options: ClaudeAgentOptions, prompt: Sequence[ContentBlock], *, timeout: float) -> None:
        self._options = dataclasses.replace(options, stderr=self.on_stderr)
        self._prompt = prompt
        self._timeout = timeout
        self._deadline = time.monotonic() + timeout
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._client: ClaudeSDKClient | None = None
        self._task: asyncio.Task[None] | None = None
        self._finished = False  # the CLI reported its result
        self.stderr_tail: deque[str] = deque(maxlen=20)

    async def __aenter__(self) -> CLISession:
        reaper.track(self)
        self._task = asyncio.create_task(self._produce(), name="claude-code-cli")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def on_stderr(self, line: str) -> None:
        self.stderr_tail.append(line)
        logger.debug("cli stderr: %s", line)

    async def messages(self) -> AsyncIterator[Any]:
        """The SDK's messages, up to and including the ResultMessage.

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

    async def _produce(self) -> None:
        client = ClaudeSDKClient(self._options)
        self._client = client
        try:
            await client.connect()

            async def one_message() -> AsyncIterator[dict[str, Any]]:
                yield user_message(self._prompt)

            await client.query(one_message())
            async for message in client.receive_response():
                await self._queue.put(message)
            self._finished = True
            await self._queue.put(_END)
        except asyncio.CancelledError:
            raise
        except sdk_errors.CLINotFoundError as exc:
            await self._queue.put(
                CLINotFound(
                    f"The Claude Code CLI was not found ({exc}). Install it with "
                    "`pip install claude-agent-sdk` (its wheel bundles the CLI) or set "
                    "LITELLM_CLAUDE_CODE_CLI_PATH to a `claude` binary."
                )
            )
        except sdk_errors.ClaudeSDKError as exc:
            await self._queue.put(self._worker_error(exc))
        except Exception as exc:  # the request must see every failure
            await self._queue.put(WorkerError(f"Claude Code CLI failed: {type(exc).__name__}: {exc}"))
        finally:
            with contextlib.suppress(Exception):
                await client.disconnect()

    def _worker_error(self, exc: BaseException) -> WorkerError:
        exit_code = getattr(exc, "exit_code", None)
        tail = "\n".join(self.stderr_tail)
        if tail:
            logger.warning("Claude Code CLI failed (exit code %s); stderr tail:\n%s", exit_code, tail)
        code = f" (exit code {exit_code})" if exit_code is not None else ""
        return WorkerError(f"Claude Code CLI ended unexpectedly{code}", exit_code=exit_code, stderr_tail=tail)

    def process(self) -> Any:
        # Private SDK attributes: the only handle on the child process. Guarded
        # so an SDK change degrades to the SDK's own (slower) shutdown.
        transport = getattr(self._client, "_transport", None)
        return getattr(transport, "_process", None)

    async def close(self) -> None:
        """End the CLI process; returns once it has exited (bounded, ~2 s at most).

        Call it shielded from cancellation: it is what reaps the process.
        """
        task = self._task
        if task is None:
            return
        if not self._finished:
            await self._signal_process()
        done, _ = await asyncio.wait({task}, timeout=EXIT_GRACE)
        if not done:
            await self._signal_process()
            task.cancel()
            await asyncio.wait({task}, timeout=TERM_GRACE)
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
