"""This provider's Claude Code processes: the one door into the Claude Code side.

A request leases a process (:meth:`Processes.lease`), runs its turn on the
lease's session, and gives it back with the :class:`ReleasePlan` its
:class:`Outcome` makes (:meth:`Processes.release`). Behind the door: the run
directory the processes keep their scratch in (and the CLI's on-disk layout
it sweeps), the pool of the running event loop or a process per request,
the metrics, the credentials' limit reports and the drift check.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from claude_agent_sdk import project_key_for_directory

from .._shapes import AnswerBuffer, Conversation, RateLimit, ToolCallDelta, Turn
from ..errors import WorkerError
from .credentials import claude_config_dir
from .drift import DriftCheck
from .limits import LimitWatch
from .metrics import Metrics
from .options import LaunchSpec
from .pool import Lease, OneShot, Pool, PoolLimits, SessionFactory
from .process import Deadline, Phase
from .session import CLISession
from .types import Tuning
from .workdirs import RunDir

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Places:
    """Where the processes keep their state (made on first use, mode 0700)."""

    workspace: Path  # the CLI's default working directory, kept empty
    private_home: Path  # HOME of token-authenticated CLIs, one more under it per credential
    runs: Path  # run directories of live providers (see :mod:`workdirs`)

    def make(self) -> None:
        for path in (self.workspace, self.private_home, self.runs):
            path.mkdir(mode=0o700, parents=True, exist_ok=True)


@dataclass(frozen=True)
class Outcome:
    """How a leased process's turn ended: the facts the release decides on.
    The default is a turn that failed or was abandoned."""

    result_seen: bool = False  # the CLI reported the turn's result
    ended_by_result: bool = False  # the answer ran to that result (not cut at a stop the CLI acts on)
    structured: bool = False  # structured output: the CLI's turn goes on past the answer
    parks: bool = False  # the launch spec lets the process wait in client calls
    waits_for_client: bool = False  # the answer ended in client calls
    phase: Phase = Phase.CLOSED  # where the process is now


@dataclass(frozen=True)
class ReleasePlan:
    """What becomes of a process after its turn."""

    reusable: bool = False  # the conversation may go on on this process
    park: bool = False  # it waits in the client's calls for their results

    @property
    def holds_answer(self) -> bool:
        """The process holds the conversation with this answer in it."""
        return self.reusable or self.park


def release_plan(outcome: Outcome) -> ReleasePlan:
    """Kept only when the turn completed; parked only while the CLI is still in the calls."""
    return ReleasePlan(
        reusable=outcome.result_seen and outcome.ended_by_result and not outcome.structured,
        park=outcome.parks and outcome.waits_for_client and outcome.phase is Phase.BUSY,
    )


class FollowUp(Protocol):
    """The history a client sends after an answer (the OpenAI wing's ``FollowUp``)."""

    def after(self, text: str, calls: Sequence[ToolCallDelta]) -> list[Turn]: ...


class Processes:
    """Owns every CLI process this provider runs; nothing starts before the first lease.

    ``limits`` None: no pool, a process per request.
    """

    def __init__(self, places: Places, limits: PoolLimits | None, *, metrics: Metrics | None = None) -> None:
        self.places = places
        self.metrics = metrics or Metrics()
        self._limit_watch = LimitWatch()  # each credential's limit status, logged when it changes
        self._pool_limits = limits
        self._pool: Pool | None = None
        self._run_dir: RunDir | None = None  # claimed on the first lease
        self._drift = DriftCheck()

    async def lease(
        self,
        spec: LaunchSpec,
        conversation: Conversation,
        *,
        deadline: Deadline,
        tuning: Tuning,
        tool_results: Collection[str] | None = None,
        home: Path | None = None,
        pooled: bool = True,
    ) -> Lease:
        """A process ready for the turn: a warm one, a parked one, or a new one.

        ``home``: the credential's own CLI state directory (under
        ``places.private_home``), made here. ``pooled`` False: a process of its
        own, ended after the turn (sync calls run on a loop of their own,
        which outlives no request).

        Raises:
            PoolFull, PoolClosed, RequestTimeout, CLINotFound, WorkerError.
        """
        self.places.make()
        if home is not None:
            home.mkdir(mode=0o700, exist_ok=True)
        if self._pool_limits is None or not pooled:
            return await OneShot(self._factory(), metrics=self.metrics).acquire(spec, conversation, deadline=deadline)
        pool = self._pool_of_this_loop(self._pool_limits)
        return await pool.acquire(spec, conversation, deadline=deadline, tuning=tuning, tool_results=tool_results)

    async def release(self, lease: Lease, outcome: Outcome, answer: AnswerBuffer, follow_up: FollowUp) -> None:
        """Give the process back as the turn's outcome says (:func:`release_plan`). Never raises.

        A kept process holds the conversation as the client will send it next
        (``follow_up`` of the answer); a parked one waits in the answer's calls."""
        plan = release_plan(outcome)
        if plan.park:
            with contextlib.suppress(WorkerError):  # it left the calls meanwhile: the pool ends it
                lease.session.park()
        if not lease.pooled or self._pool is None:
            await lease.session.close()
            return
        holds = follow_up.after(answer.text, answer.tool_calls if plan.park else []) if plan.holds_answer else None
        parked = frozenset(c.id for c in answer.tool_calls if c.id) if plan.park else None
        await self._pool.release(lease, reusable=plan.reusable, holds=holds, parked=parked)

    def latest_limit(self, credential: str) -> RateLimit | None:
        """The credential's latest limit report, if any came."""
        return self._limit_watch.latest(credential)

    def reported(self, credential: str, limit: RateLimit) -> None:
        """Record a credential's limit report: its metrics, and a log line when it changed."""
        self.metrics.record_rate_limits(credential, limit)
        self._limit_watch.update(credential, limit)

    async def check_internals(self, cli_path: str | None, *, is_off: Callable[[str], bool]) -> None:
        """Fail closed when an SDK or CLI internal a promise leans on changed.

        Raises:
            SDKDrift: naming the internal, the versions and the way out.
        """
        await self._drift.require(cli_path, is_off=is_off)

    async def drain(self, grace: float) -> None:
        """Graceful stop: refuse new work, fail queued requests (503), give
        running ones ``grace`` seconds, then end every CLI process."""
        if self._pool is not None:
            await self._pool.drain(grace)
        self._release_run_dir()

    def kill_all_now(self) -> None:
        """End every warm process now (safe from any thread or loop)."""
        if self._pool is not None:
            self._pool.kill_all_now()
            self._pool = None
        self._release_run_dir()

    def _pool_of_this_loop(self, limits: PoolLimits) -> Pool:
        loop = asyncio.get_running_loop()
        if self._pool is not None and self._pool.loop not in (None, loop):
            self._pool.kill_all_now()  # its loop is gone: nothing could await these
            self._pool = None
        if self._pool is None:
            self._pool = Pool(limits, factory=self._factory(), metrics=self.metrics)
        return self._pool

    def _factory(self) -> SessionFactory:
        """Sessions whose scratch space lives in this provider's run directory."""
        if self._run_dir is None:
            self._run_dir = self._claim_run_dir()
        scratch = self._run_dir.path

        def make(spec: LaunchSpec, conversation: Conversation, on_exit: Callable[[Any], None]) -> CLISession:
            return CLISession(spec, conversation, scratch_root=scratch, on_exit=on_exit)

        return make

    def _claim_run_dir(self) -> RunDir:
        """A run directory, after sweeping what dead providers left where the CLI writes:
        transcripts of the workspace's project, and backups of our own config directories."""
        places = self.places
        private = claude_config_dir({"HOME": str(places.private_home)})  # the CLI's, with a token
        project = project_key_for_directory(str(places.workspace))
        # Each token or API key has its own HOME under the private one (credentials.credential_home).
        own = (
            claude_config_dir({"HOME": str(home)})
            for home in places.private_home.iterdir()
            if home.is_dir() and not home.name.startswith(".")
        )
        homes = [private, *own]
        transcripts = tuple(home / "projects" / project for home in (*homes, claude_config_dir()))
        backups = tuple(home / "backups" for home in homes)
        return RunDir.claim(places.runs, transcripts, backups)

    def _release_run_dir(self) -> None:
        if self._run_dir is not None:
            self._run_dir.release()
            self._run_dir = None
