"""Warm Claude Code processes, reused across requests, with bounded concurrency.

A process is keyed by everything fixed at its launch (model, system prompt,
environment: credentials and output limit included, CLI path, working
directory). For a request the pool picks, in order:

1. ``continue``: an idle process whose conversation is exactly the request's
   history (the client sent back its last reply): only the new turn is sent,
   so nothing is replayed and the upstream prompt cache keeps working;
2. ``fresh``: an idle process of the key that holds no conversation;
3. ``reset``: an idle process of the key that holds another conversation,
   after ``/clear`` (refused and replaced unless the CLI confirms a new session);
4. ``start``: a new process (with the history resumed from a transcript,
   when there is history).

At most ``max_processes`` requests run at once and at most ``max_queue`` wait;
past both the pool refuses at once (429 upstream of here). A waiting request's
time counts against its timeout. After use a process returns idle only if its
turn completed; a cancelled, failed or cut-short turn ends the process.
Spare processes are started ahead of demand for keys in use, and idle ones
are trimmed after ``idle_ttl`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Literal

from claude_agent_sdk import ClaudeAgentOptions

from .errors import PoolFull, RequestTimeout
from .session import CLISession, LaunchSpec, build_options
from .types import Conversation, Turn

logger = logging.getLogger(__name__)

Mode = Literal["continue", "fresh", "reset", "start"]
PoolKey = tuple[object, ...]
SessionFactory = Callable[[ClaudeAgentOptions], CLISession]


@dataclass(frozen=True)
class PoolLimits:
    max_processes: int = 6
    max_queue: int = 16
    idle_ttl: float = 300.0
    spares: int = 2  # clean processes kept ready per key in use
    start_timeout: float = 60.0


def pool_key(spec: LaunchSpec) -> PoolKey:
    return (
        spec.model,
        spec.system_prompt,
        tuple(sorted(spec.env.items())),
        spec.cli_path,
        spec.cwd,
        spec.tools,
        spec.effort,
        spec.thinking,
        spec.output_schema_json,
    )


@dataclass(eq=False)
class Entry:
    session: CLISession
    key: PoolKey
    spec: LaunchSpec
    holds: list[Turn] | None = None  # the conversation it holds; None: clean
    busy: bool = False
    resetting: bool = False  # being cleared in the background
    idle_since: float = field(default_factory=time.monotonic)


@dataclass
class Lease:
    entry: Entry
    mode: Mode

    @property
    def session(self) -> CLISession:
        return self.entry.session


class Pool:
    def __init__(
        self,
        limits: PoolLimits = PoolLimits(),
        *,
        factory: SessionFactory = CLISession,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = limits
        self._factory = factory
        self._clock = clock
        self._entries: list[Entry] = []
        self._running = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._background: set[asyncio.Task[None]] = set()
        self._trimmer: asyncio.Task[None] | None = None
        self._closed = False
        self._tuning: dict[PoolKey, tuple[int, float]] = {}  # per key: spares, idle_ttl
        self.loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        idle = sum(1 for e in self._entries if not e.busy and e.session.state == "idle")
        return (
            f"<Pool requests: {self._running} running, {len(self._waiters)} queued | "
            f"processes: {len(self._entries)} total, {idle} idle>"
        )

    # -- acquire / release -------------------------------------------------
    async def acquire(
        self,
        spec: LaunchSpec,
        conversation: Conversation,
        *,
        deadline: float,
        timeout: float,
        spares: int | None = None,
        idle_ttl: float | None = None,
    ) -> Lease:
        """A process ready for the request's turn.

        Raises:
            PoolFull: every run slot and queue place is taken.
            RequestTimeout: no slot or process before the deadline.
            CLINotFound, WorkerError: a new process failed to start.
        """
        if self.loop is None:
            self.loop = asyncio.get_running_loop()
        self._start_trimmer()
        self._purge_dead()
        key = pool_key(spec)
        self._tuning[key] = (
            self.limits.spares if spares is None else spares,
            self.limits.idle_ttl if idle_ttl is None else idle_ttl,
        )
        await self._take_slot(deadline, timeout)
        try:
            return await self._lease(spec, conversation, deadline, timeout)
        except BaseException:
            self._give_slot()
            raise

    async def release(self, lease: Lease, *, reusable: bool, holds: list[Turn] | None) -> None:
        """Return a process after its turn; call shielded from cancellation."""
        entry = lease.entry
        entry.busy = False
        keep = reusable and not self._closed and entry.session.state == "idle"
        if keep:
            entry.holds = holds
            entry.idle_since = self._clock()
        else:
            self._remove(entry)
        self._give_slot()
        if not keep:
            await entry.session.close()
        self._top_up_spares(entry.key, entry.spec, keep_holding=entry if keep else None)

    async def close(self) -> None:
        """End every process and refuse new requests."""
        self._closed = True
        if self._trimmer is not None:
            self._trimmer.cancel()
        for task in list(self._background):
            task.cancel()
        entries, self._entries = self._entries, []
        await asyncio.gather(*(e.session.close() for e in entries), return_exceptions=True)
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_exception(PoolFull("the pool is shutting down", retry_after=1))

    def kill_all_now(self) -> None:
        """From outside the pool's event loop (it has ended): kill every process."""
        for entry in self._entries:
            entry.session.kill_now()
        self._entries = []

    # -- slots ---------------------------------------------------------------
    async def _take_slot(self, deadline: float, timeout: float) -> None:
        if self._closed:
            raise PoolFull("the pool is shutting down", retry_after=1)
        if self._running < self.limits.max_processes and not self._waiters:
            self._running += 1
            return
        if len(self._waiters) >= self.limits.max_queue:
            raise PoolFull(
                f"all {self.limits.max_processes} Claude Code processes are busy and "
                f"{self.limits.max_queue} requests are waiting",
                retry_after=1,
            )
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await asyncio.wait_for(asyncio.shield(waiter), timeout=max(0.0, deadline - time.monotonic()))
        except BaseException as exc:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
            elif waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self._give_slot()  # a slot was handed over just as we gave up
            if isinstance(exc, asyncio.TimeoutError):
                raise RequestTimeout(timeout) from None
            raise

    def _give_slot(self) -> None:
        """Pass a finished request's slot to the next waiter, or free it."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot changes hands; _running unchanged
                return
        self._running -= 1

    # -- choosing a process ------------------------------------------------
    async def _lease(self, spec: LaunchSpec, conversation: Conversation, deadline: float, timeout: float) -> Lease:
        key = pool_key(spec)
        lease = self._pick(key, list(conversation.history))
        if lease is not None and lease.mode == "reset":
            remaining = max(0.1, deadline - time.monotonic())
            if not await lease.session.reset(timeout=min(5.0, remaining)):
                logger.warning("a Claude Code process did not confirm /clear; replacing it")
                self._remove(lease.entry)
                await lease.session.close()
                lease = None
        if lease is not None:
            return lease
        await self._make_room()
        options = build_options(spec, conversation)
        entry = Entry(self._factory(options), key, spec, busy=True)
        self._entries.append(entry)
        try:
            await entry.session.start(timeout=max(0.1, min(self.limits.start_timeout, deadline - time.monotonic())))
        except BaseException:
            self._remove(entry)
            raise
        return Lease(entry, "start")

    def _pick(self, key: PoolKey, history: list[Turn]) -> Lease | None:
        idle = [e for e in self._entries if e.key == key and not e.busy and e.session.state == "idle"]
        if history:
            for entry in idle:
                if entry.holds == history:
                    entry.busy = True
                    return Lease(entry, "continue")
            return None  # the history must be resumed at launch: a new process
        for mode, candidates in (("fresh", [e for e in idle if e.holds is None]), ("reset", idle)):
            if candidates:
                entry = max(candidates, key=lambda e: e.idle_since)
                entry.busy = True
                return Lease(entry, mode)  # type: ignore[arg-type]
        return None

    async def _make_room(self) -> None:
        """Keep the process count under the cap by ending the longest-idle process."""
        while len(self._entries) >= self.limits.max_processes:
            idle = [e for e in self._entries if not e.busy and e.session.state != "starting"]
            if not idle:
                return  # every process is in use; starting ones count against slots
            oldest = min(idle, key=lambda e: e.idle_since)
            self._remove(oldest)
            await oldest.session.close()

    def _purge_dead(self) -> None:
        """Forget processes that died while idle (crashed, killed): they are replaced on demand."""
        dead = [e for e in self._entries if not e.busy and e.session.state == "closed"]
        for entry in dead:
            logger.warning("a warm Claude Code process died while idle; it will be replaced")
            self._remove(entry)

    def _remove(self, entry: Entry) -> None:
        with contextlib.suppress(ValueError):
            self._entries.remove(entry)

    # -- spares and trimming ---------------------------------------------
    def _top_up_spares(self, key: PoolKey, spec: LaunchSpec, keep_holding: Entry | None = None) -> None:
        """Keep ``spares`` clean processes ready for a key in use, off the request path.

        While there is room under the cap a new process is started, so every
        held conversation stays continuable; at the cap the longest-idle
        conversation of the key is cleared instead (``/clear``, ~15-30 ms).
        The process just released keeps its conversation either way.
        """
        spares = self._tuning.get(key, (self.limits.spares, self.limits.idle_ttl))[0]
        if self._closed or spares <= 0:
            return
        mine = [e for e in self._entries if e.key == key and e.session.alive]
        clean = [e for e in mine if e.resetting or (e.holds is None and (not e.busy or e.session.state == "starting"))]
        missing = spares - len(clean)
        if missing <= 0:
            return
        room = max(0, self.limits.max_processes - len(self._entries))
        for _ in range(min(missing, room)):
            entry = Entry(self._factory(build_options(spec, Conversation(spec.system_prompt, (), ()))), key, spec)
            self._entries.append(entry)
            self._spawn(self._start_spare(entry))
            missing -= 1
        used = sorted(
            (e for e in mine if not e.busy and e.holds is not None and e is not keep_holding),
            key=lambda e: e.idle_since,
        )
        for entry in used[:missing]:
            entry.busy = entry.resetting = True  # nobody may pick it while it resets
            self._spawn(self._reset_spare(entry))

    async def _reset_spare(self, entry: Entry) -> None:
        if await entry.session.reset():
            entry.holds = None
            entry.busy = entry.resetting = False
            entry.idle_since = self._clock()
        else:
            logger.warning("a Claude Code process did not confirm /clear; replacing it")
            self._remove(entry)
            await entry.session.close()

    async def _start_spare(self, entry: Entry) -> None:
        try:
            await entry.session.start(timeout=self.limits.start_timeout)
            entry.idle_since = self._clock()
        except Exception:
            logger.warning("a spare Claude Code process failed to start", exc_info=True)
            self._remove(entry)

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _start_trimmer(self) -> None:
        if self._trimmer is None or self._trimmer.done():
            self._trimmer = asyncio.ensure_future(self._trim_forever())

    async def _trim_forever(self) -> None:
        interval = max(1.0, min(30.0, self.limits.idle_ttl / 2))
        while not self._closed:
            await asyncio.sleep(interval)
            await self.trim()

    def _idle_ttl(self, key: PoolKey) -> float:
        return self._tuning.get(key, (self.limits.spares, self.limits.idle_ttl))[1]

    async def trim(self) -> int:
        """End processes idle for longer than ``idle_ttl``; returns how many."""
        now = self._clock()
        stale = [
            e
            for e in self._entries
            if not e.busy and e.session.state == "idle" and now - e.idle_since > self._idle_ttl(e.key)
        ]
        for entry in stale:
            self._remove(entry)
        await asyncio.gather(*(e.session.close() for e in stale), return_exceptions=True)
        return len(stale)
