"""One Claude Code CLI process, driven through the official SDK, turn by turn.

An actor task owns the :class:`ClaudeSDKClient` (the SDK's anyio scopes must
open and close in one task): it connects once, then runs turns from a queue,
feeding each turn's messages to that turn's own queue, which the request
reads with a deadline. A process serves one turn at a time; between turns it
keeps its conversation (for continuation) or is reset for another. While
idle the actor also watches the process, so one that dies (killed, crashed)
is reported at once through ``on_exit`` and never handed out.

A reset rewinds the conversation to before its first message (the CLI's own
``rewind_conversation``: nothing of it stays, and the next conversation's
requests are those of a fresh process); when the CLI refuses, ``/clear``
starts a new session instead, whose first message then carries the command's
record. Every user message is sent with a uuid of ours, so the first and the
latest of a conversation are known.

Each process gets a scratch directory of its own (the CLI's temp files, which
it does not clean up itself) that is removed when it ends. A request's history
is written as a session transcript the CLI resumes at start, and deleted as
soon as the CLI has loaded it.

``close()`` ends the process whatever state it is in: an idle CLI exits on
stdin EOF, anything else gets SIGTERM, then SIGKILL. The SDK's own shutdown
waits ~5 s before signalling, too long for a cancelled request.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from claude_agent_sdk import ClaudeSDKClient, ResultMessage, UserMessage, project_key_for_directory

from .._shapes import ContentBlock, Conversation
from ..errors import CLINotFound, RequestTimeout, SDKDrift, WorkerError
from .credentials import claude_config_dir
from .environment import TMPDIR
from .options import LaunchSpec, build_options, client_data
from .parking import ToolBridge
from .process import Deadline, Phase, ResetOutcome
from .sdk_compat import (
    CLI_VERSION,
    ClaudeSDKError,
    CLINotFoundError,
    control_request,
    drift_message,
    unsupported_request,
)
from .transcript import transcript_entries
from .transport import LockedDownTransport
from .types import ToolResult

logger = logging.getLogger(__name__)

TERM_GRACE = 1.0  # seconds between SIGTERM and SIGKILL
EXIT_GRACE = 1.0  # seconds a finished CLI gets to exit on stdin EOF
_END = object()


def user_message(prompt: Sequence[ContentBlock], message_id: str) -> dict[str, Any]:
    """A user turn delivered verbatim (no ``@file`` expansion, no slash commands),
    under a uuid of ours (a rewind names its target by it)."""
    plain = len(prompt) == 1 and prompt[0].get("type") == "text"
    content: str | list[ContentBlock] = prompt[0]["text"] if plain else list(prompt)
    return {
        "type": "user",
        "message": {"role": "user", "content": content},
        "parent_tool_use_id": None,
        "client_composed": True,
        "uuid": message_id,
    }


CLEAR_MESSAGE: dict[str, Any] = {
    "type": "user",
    "message": {"role": "user", "content": "/clear"},
    "parent_tool_use_id": None,
}


def transcript_path(spec: LaunchSpec, session_id: str) -> Path:
    """Where the CLI of ``spec`` (its own HOME or CLAUDE_CONFIG_DIR) looks for a session to resume."""
    return claude_config_dir(spec.env) / "projects" / project_key_for_directory(spec.cwd) / f"{session_id}.jsonl"


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)


class TurnMessages:
    """One turn's SDK messages, read with a deadline (for a ``control`` request: its response)."""

    def __init__(self, message: dict[str, Any], deadline: Deadline, *, control: bool = False) -> None:
        self.message = message
        self.control = control
        self.completed = False  # the CLI reported this turn's result
        self.deadline = deadline
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
            if self.deadline.passed:
                raise self.deadline.error()
            try:
                item = await asyncio.wait_for(self._queue.get(), timeout=self.deadline.remaining())
            except asyncio.TimeoutError:
                raise self.deadline.error() from None
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item


class CLISession:
    """One CLI process. ``start()``, then ``turn()`` as often as wanted, then ``close()``.

    ``phase`` says where the process is (see :class:`process.Phase`).
    """

    def __init__(
        self,
        spec: LaunchSpec,
        conversation: Conversation,
        *,
        scratch_root: Path,
        on_exit: Callable[[CLISession], None] | None = None,
    ) -> None:
        self.spec = spec
        self._history = conversation.history
        self._scratch = scratch_root / uuid.uuid4().hex
        self._on_exit = on_exit
        self._jobs: asyncio.Queue[TurnMessages | None] = asyncio.Queue()
        self._started: asyncio.Future[None] | None = None
        self._transport: LockedDownTransport | None = None
        self._transcript: Path | None = None
        self._task: asyncio.Task[None] | None = None
        self._current: TurnMessages | None = None
        self.bridge: ToolBridge | None = ToolBridge() if spec.park_tools else None
        self.phase = Phase.NEW
        self.session_id: str | None = None
        self._opened: str | None = None  # uuid of the conversation's first user message
        self._latest: str | None = None  # ... and of its latest one
        self.turns = 0
        self.stderr_tail: deque[str] = deque(maxlen=20)

    def __repr__(self) -> str:
        return f"<CLISession {self.phase.value} turns={self.turns} pid={self.pid}>"

    @property
    def alive(self) -> bool:
        return self.phase.alive

    @property
    def pid(self) -> int | None:
        return self._transport.pid if self._transport is not None else None

    async def start(self, timeout: float) -> None:
        """Launch and connect the CLI (about 0.6 s).

        Raises:
            CLINotFound, WorkerError, RequestTimeout.
        """
        self.phase = Phase.STARTING
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

    def turn(self, prompt: Sequence[ContentBlock], deadline: Deadline) -> TurnMessages:
        """Send a user turn; iterate the result for its messages."""
        message_id = str(uuid.uuid4())
        job = self._submit(user_message(prompt, message_id), deadline)
        self._opened = self._opened or message_id
        self._latest = message_id
        return job

    async def reset(self, deadline: Deadline) -> ResetOutcome:
        """Forget the conversation: rewind it, else ``/clear`` it. None unless the CLI confirmed."""
        if self._opened is not None:
            rewound = await self._rewind(deadline)
            if rewound is None:  # no answer: the CLI is stalled or gone
                return None
            if rewound:
                return "rewound"
        return "cleared" if await self._clear(deadline) else None

    async def _rewind(self, deadline: Deadline) -> bool | None:
        """True: the conversation is gone; False: the CLI refused; None: it did not answer.

        Raises:
            SDKDrift: the CLI does not know the request (then ``/clear`` would
            leave its record in the next conversation: the process is replaced).
        """
        request = {
            "subtype": "rewind_conversation",
            "target_message_uuid": self._opened,
            "last_seen_user_message_uuid": self._latest,
        }
        job = self._submit(request, deadline, control=True)
        try:
            [response] = [item async for item in job]
        except Exception:
            return None
        if unsupported_request(response):
            raise SDKDrift("rewind", drift_message("rewind", "the CLI does not know rewind_conversation"))
        if isinstance(response, dict) and response.get("rewound") is True:
            self._opened = self._latest = None
            return True
        reason = response.get("reason") if isinstance(response, dict) else response
        logger.info("Claude Code did not rewind a conversation (%s); clearing it instead", reason)
        return False

    async def _clear(self, deadline: Deadline) -> bool:
        """``/clear``: True only if the CLI started a new session."""
        before = self.session_id
        job = self._submit(CLEAR_MESSAGE, deadline)
        try:
            async for _ in job:
                pass
        except Exception:
            return False
        cleared = job.completed and self.session_id is not None and self.session_id != before
        if cleared:
            self._opened = self._latest = None
        return cleared

    def park(self) -> None:
        """The turn ended in client function calls: the CLI waits in them for the client's results.

        Messages the CLI sends meanwhile belong to the step already answered
        and are dropped.
        """
        if self.phase is not Phase.BUSY or self.bridge is None:
            raise WorkerError(f"Claude Code CLI is {self.phase.value}, it cannot wait for tool results")
        self._current = None
        self.phase = Phase.PARKED

    def resume_with(self, results: Mapping[str, ToolResult], deadline: Deadline) -> TurnMessages:
        """Hand the client's tool results to the waiting calls; iterate the result for the next step."""
        if self.phase is not Phase.PARKED or self.bridge is None:
            raise WorkerError(f"Claude Code CLI is {self.phase.value}, not waiting for tool results")
        job = TurnMessages({}, deadline)
        self.phase = Phase.BUSY
        self._current = job  # before delivering: the CLI answers at once
        self.bridge.deliver(results)
        return job

    def _submit(self, message: dict[str, Any], deadline: Deadline, *, control: bool = False) -> TurnMessages:
        if self.phase is not Phase.IDLE:
            raise WorkerError(f"Claude Code CLI is {self.phase.value}, not ready for a turn")
        self.phase = Phase.BUSY
        job = TurnMessages(message, deadline, control=control)
        self._jobs.put_nowait(job)
        return job

    def on_stderr(self, line: str) -> None:
        self.stderr_tail.append(line)
        logger.debug("cli stderr: %s", line)

    def _launch(self) -> ClaudeSDKClient:
        """The scratch directory, the history transcript, and a client on our transport."""
        tmp = self._scratch / "tmp"
        tmp.mkdir(mode=0o700, parents=True, exist_ok=True)
        resume = None
        if self._history:
            resume = str(uuid.uuid4())
            entries = transcript_entries(
                self._history, session_id=resume, cwd=self.spec.cwd, cli_version=CLI_VERSION, model=self.spec.model
            )
            self._transcript = transcript_path(self.spec, resume)
            _write_private(self._transcript, "".join(json.dumps(entry) + "\n" for entry in entries))
            users = [entry["uuid"] for entry in entries if entry["type"] == "user"]
            self._opened, self._latest = (users[0], users[-1]) if users else (None, None)
        options = build_options(self.spec, resume=resume, tools=self.bridge)
        options.stderr = self.on_stderr
        # Temp files and the CLI's cache (MCP logs, one folder per session) live and die with the process.
        env = {**self.spec.env, TMPDIR: str(tmp), "TMPDIR": str(tmp), "XDG_CACHE_HOME": str(tmp)}
        self._transport = LockedDownTransport(options, env=env, client=client_data(self.spec))
        return ClaudeSDKClient(options, transport=self._transport)

    def _forget_transcript(self) -> None:
        if self._transcript is not None:
            with contextlib.suppress(OSError):
                self._transcript.unlink()
            self._transcript = None

    async def _next_job(self, exited: asyncio.Future[Any]) -> TurnMessages | None:
        """The next turn to run, or None when asked to stop or the process died while idle."""
        getting = asyncio.ensure_future(self._jobs.get())
        try:
            await asyncio.wait({getting, exited}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not getting.done():
                getting.cancel()
        if getting.done() and not getting.cancelled():
            job = getting.result()
            if job is not None and exited.done():
                job.put(WorkerError("Claude Code CLI ended before it could take the turn"))
                return None
            return job
        logger.warning(
            "an idle Claude Code CLI process ended (exit code %s)", self._transport and self._transport.returncode
        )
        return None

    async def _run(self) -> None:
        started = self._started
        assert started is not None
        client: ClaudeSDKClient | None = None
        exited: asyncio.Future[Any] | None = None
        try:
            client = self._launch()
            await client.connect()
            self._forget_transcript()  # loaded at start: nothing of the request stays on disk
            assert self._transport is not None
            exited = asyncio.ensure_future(self._transport.wait_exit())
            self.phase = Phase.IDLE
            started.set_result(None)
            while (job := await self._next_job(exited)) is not None:
                self._current = job
                if job.control:
                    job.put(await self._control(client, job, exited))
                elif await self._run_turn(client, job):
                    self.turns += 1
                else:  # the message stream ended: the CLI is gone
                    break
                job = self._current or job
                job.completed = True
                self._current = None
                self.phase = Phase.IDLE
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
            self.phase = Phase.CLOSED
            if self._current is not None and not self._current.completed:
                self._current.put(WorkerError("Claude Code CLI ended before it finished the answer"))
            if exited is not None and not exited.done():
                exited.cancel()
            if client is not None:
                with contextlib.suppress(Exception):
                    await client.disconnect()
            self._forget_transcript()
            shutil.rmtree(self._scratch, ignore_errors=True)
            if self._on_exit is not None:
                self._on_exit(self)

    async def _run_turn(self, client: ClaudeSDKClient, job: TurnMessages) -> bool:
        """Feed one turn's messages to whoever reads them; False if the CLI ended first."""
        await client.query(_once(job.message))
        result_seen = False
        async for message in client.receive_response():
            session_id = getattr(message, "session_id", None)
            if isinstance(session_id, str) and session_id:
                self.session_id = session_id
            if isinstance(message, UserMessage) and message.uuid:  # the CLI's own: tool results
                self._latest = message.uuid
            result_seen = result_seen or isinstance(message, ResultMessage)
            if self._current is not None:  # None while parked: the rest of the step nobody reads
                self._current.put(message)
        return result_seen

    async def _control(self, client: ClaudeSDKClient, job: TurnMessages, exited: asyncio.Future[Any]) -> Any:
        """The CLI's response to a control request; its error, as text, if it answered with one."""
        try:
            return await control_request(client, job.message, timeout=max(0.1, job.deadline.remaining()))
        except Exception as exc:
            if exited.done():
                raise
            return f"{type(exc).__name__}: {exc}"

    def _failure(self, exc: BaseException) -> Exception:
        if isinstance(exc, SDKDrift):  # nothing was started: its message says why
            return exc
        if isinstance(exc, CLINotFoundError):
            return CLINotFound(
                f"The Claude Code CLI was not found ({exc}). Install it with "
                "`pip install claude-agent-sdk` (its wheel bundles the CLI) or set "
                "LITELLM_CLAUDE_CODE_CLI_PATH to a `claude` binary."
            )
        exit_code = getattr(exc, "exit_code", None)
        tail = "\n".join(self.stderr_tail)
        if tail:
            logger.warning("Claude Code CLI failed (exit code %s); stderr tail:\n%s", exit_code, tail)
        if isinstance(exc, ClaudeSDKError):
            code = f" (exit code {exit_code})" if exit_code is not None else ""
            return WorkerError(f"Claude Code CLI ended unexpectedly{code}", exit_code=exit_code, stderr_tail=tail)
        return WorkerError(f"Claude Code CLI failed: {type(exc).__name__}: {exc}")

    def kill_now(self) -> None:
        """SIGKILL the process without awaiting anything (its event loop may be gone)."""
        pid = self.pid
        if pid is not None and self._transport is not None and self._transport.returncode is None:
            with contextlib.suppress(ProcessLookupError, OSError):
                os.kill(pid, signal.SIGKILL)
        self.phase = Phase.CLOSED

    async def close(self) -> None:
        """End the CLI process; returns once it has exited (bounded, ~2 s at most).

        Call it shielded from cancellation: it is what reaps the process.
        """
        task = self._task
        if task is None:
            self.phase = Phase.CLOSED
            return
        if self.phase is not Phase.IDLE:
            await self._signal_process()
        self._jobs.put_nowait(None)  # an idle CLI exits on stdin EOF
        done, _ = await asyncio.wait({task}, timeout=EXIT_GRACE)
        if not done:
            await self._signal_process()
            task.cancel()
            await asyncio.wait({task}, timeout=TERM_GRACE)
        self.phase = Phase.CLOSED

    async def _signal_process(self) -> None:
        transport = self._transport
        pid = transport.pid if transport is not None else None  # the SDK forgets it once reaped
        if transport is None or pid is None or transport.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(transport.wait_exit(), timeout=TERM_GRACE)
        except asyncio.TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(transport.wait_exit(), timeout=TERM_GRACE)


async def _once(message: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
    yield message
