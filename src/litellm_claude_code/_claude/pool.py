"""Warm Claude Code processes, reused across requests, with hard caps.

A process is keyed by its :class:`LaunchSpec` (model, system prompt,
environment, tools, ...). For a request the pool picks, in order:

1. ``continue``: an idle process whose conversation is exactly the request's
   history (the client sent back its last reply): only the new turn is sent;
2. ``fresh``: an idle process of the key that holds no conversation;
3. ``reset``: the idle process of the key whose conversation has been idle
   the longest, once that conversation is rewound away (replaced unless the
   CLI confirms): a few ms of CPU, against ~0.6 s for a new process. Resets
   happen only here, when a new conversation needs a process, so a
   conversation stays continuable until then;
4. ``start``: a new process (with the history resumed from a transcript).

**The caps hold at every instant.** Every process counts against
``max_processes`` from the moment it is started until it has exited:
starting, idle, leased, resetting and closing ones alike. At most
``max_processes`` requests run at once and at most ``max_queue`` wait; past
both the pool refuses at once (429 upstream of here). A request that needs a
new process at the cap ends the longest-idle one first, or waits for a
background start to finish. A waiting request's time counts against its
timeout.

**Every state change is synchronous** (``_set``), so a cancellation at any
``await`` leaves the books right: a lease that is abandoned half way (the
client left during a reset, say) ends its process. After use a process
returns idle only if its turn completed. Spare processes are started ahead
of demand for keys in use, and idle ones are trimmed after ``idle_ttl``.

``drain()`` is the graceful stop: no new requests, queued ones fail at once,
running ones get a grace period, then every process is ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Collection, Coroutine
from dataclasses import dataclass, field
from typing import Any, Literal

from .._shapes import Conversation, Turn
from ..errors import PoolClosed, PoolFull, SDKDrift
from .metrics import Metrics, PoolGauges
from .options import LaunchSpec
from .process import Deadline, Phase, Session
from .types import Tuning

logger = logging.getLogger(__name__)

Mode = Literal["parked", "continue", "fresh", "reset", "start"]
PoolKey = tuple[object, ...]
# A rewind takes a few ms; this bounds one on a stalled CLI. Under overload (the soak at c=48)
# 5 s was too short: timed-out resets replaced their processes, and the starts deepened the overload.
REQUEST_RESET_TIMEOUT = 15.0
# How long the pool's processes may take to end when their event loop is ending (each ends in ~2 s at most).
LOOP_END_GRACE = 5.0


# Makes a session for a launch spec and the conversation it starts with; the
# callback tells the pool when the process has ended on its own.
SessionFactory = Callable[[LaunchSpec, Conversation, Callable[[Any], None]], Session]


class State(enum.Enum):
    STARTING = "starting"
    IDLE = "idle"
    LEASED = "leased"
    PARKED = "parked"  # waiting in client function calls for the client's results
    RESETTING = "resetting"
    CLOSING = "closing"


@dataclass(frozen=True)
class PoolLimits:
    """The caps, and the tuning of keys that bring none of their own."""

    max_processes: int = 6
    max_queue: int = 16
    start_timeout: float = 60.0
    tuning: Tuning = field(default_factory=Tuning)
    max_starting: int = 2  # processes starting at once: each start takes a CPU for ~0.6 s


@dataclass(eq=False)
class Entry:
    session: Session
    key: PoolKey
    spec: LaunchSpec
    state: State
    holds: list[Turn] | None = None  # the conversation it holds; None: clean
    pending: frozenset[str] = frozenset()  # parked: the call ids it waits for
    idle_since: float = field(default_factory=time.monotonic)
    expiry: asyncio.TimerHandle | None = None  # parked: ends it after the tool wait


@dataclass
class Lease:
    entry: Entry
    mode: Mode
    waited: float = 0.0  # seconds the request waited for a slot (queued)
    pooled: bool = True  # False: a process of its own, ended after the turn

    @property
    def session(self) -> Session:
        return self.entry.session


class Pool:
    def __init__(
        self,
        limits: PoolLimits,
        *,
        factory: SessionFactory,
        clock: Callable[[], float] = time.monotonic,
        metrics: Metrics | None = None,
    ) -> None:
        self.limits = limits
        self._factory = factory
        self.metrics = metrics or Metrics()
        self.metrics.watch(self.gauges)
        self._clock = clock
        self._entries: list[Entry] = []
        self._running = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._changed: list[asyncio.Future[None]] = []  # requests waiting for a process to free up
        self._background: set[asyncio.Task[None]] = set()
        self._trimmer: asyncio.Task[None] | None = None
        self._draining = False
        self._tuning: dict[PoolKey, Tuning] = {}
        self.peak_processes = 0
        self.loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        states = ", ".join(f"{n} {s.value}" for s, n in self.counts().items() if n)
        return (
            f"<Pool requests: {self._running} running, {len(self._waiters)} queued | "
            f"processes: {len(self._entries)} total{': ' + states if states else ''}>"
        )

    def count(self, state: State | None = None) -> int:
        return sum(1 for e in self._entries if state is None or e.state is state)

    def counts(self) -> dict[State, int]:
        """Processes by state, every state present (one pass)."""
        counts = dict.fromkeys(State, 0)
        for entry in self._entries:
            counts[entry.state] += 1
        return counts

    def gauges(self) -> PoolGauges:
        """The live counts a metrics scrape reads."""
        counts = {state.value: n for state, n in self.counts().items()}
        limits = self.limits
        return PoolGauges(counts, len(self._waiters), self._running, limits.max_processes, limits.max_queue)

    # -- acquire / release -------------------------------------------------
    async def acquire(
        self,
        spec: LaunchSpec,
        conversation: Conversation,
        *,
        deadline: Deadline,
        tuning: Tuning | None = None,
        tool_results: Collection[str] | None = None,
    ) -> Lease:
        """A process ready for the request's turn.

        ``tuning``: how to keep the processes of ``spec``'s key (None: the
        pool's own). ``tool_results``: the call ids the request answers, when
        its last turn is the client's tool results that a parked process could take.

        Raises:
            PoolFull: every run slot and queue place is taken.
            PoolClosed: the pool is draining.
            RequestTimeout: no slot or process before the deadline.
            CLINotFound, WorkerError: a new process failed to start.
        """
        if self.loop is None:
            self.loop = asyncio.get_running_loop()
        self._start_trimmer()
        key = spec.key()
        self._tuning[key] = tuning or self.limits.tuning
        queued = self._clock()
        await self._take_slot(deadline)
        waited = self._clock() - queued
        answered = frozenset(tool_results) if tool_results is not None else None
        try:
            lease = await self._lease(key, spec, conversation, deadline, answered)
        except BaseException:
            self._give_slot()
            raise
        self.metrics.record_lease(lease.mode)
        lease.waited = waited
        return lease

    async def release(
        self, lease: Lease, *, reusable: bool, holds: list[Turn] | None, parked: frozenset[str] | None = None
    ) -> None:
        """Return a process after its turn. Never raises; the process, if not
        kept, is ended in the background and counts until it has exited.

        ``parked``: the turn ended in these client calls and the process now
        waits in them; it is kept (holding ``holds``) for the follow-up.
        """
        entry = lease.entry
        park = bool(parked) and not self._draining and entry.session.phase is Phase.PARKED
        keep = park or (reusable and not self._draining and entry.session.phase is Phase.IDLE)
        if park:
            entry.holds, entry.pending = holds, parked or frozenset()
            self._set(entry, State.PARKED)
        elif keep:
            entry.holds = holds
            self._set(entry, State.IDLE)
        elif entry.state is not State.CLOSING:
            self._end(entry)
        self._give_slot()
        self._top_up_spares(entry.key, entry.spec, keep_holding=entry if keep else None)

    async def drain(self, grace: float) -> None:
        """Stop: refuse new requests, fail queued ones, give running ones
        ``grace`` seconds, then end every process and return once all exited."""
        self._draining = True
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_exception(PoolClosed())
        self._waiters.clear()
        for entry in [e for e in self._entries if e.state is State.PARKED]:
            self._end(entry)  # nobody will bring their results now
        deadline = Deadline.after(grace)
        while self.count(State.LEASED) and not deadline.passed:
            await self._wait_for_change(deadline)
        await self.close()

    async def close(self) -> None:
        """End every process now and refuse new requests."""
        self._draining = True
        if self._trimmer is not None:
            self._trimmer.cancel()
        for entry in list(self._entries):
            if entry.state is not State.CLOSING:
                self._end(entry)
        await self.settled()

    async def settled(self) -> None:
        """Returns once the background starts and closes under way have finished."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    def kill_all_now(self) -> None:
        """From outside the pool's event loop (it has ended): kill every process."""
        for entry in self._entries:
            entry.session.kill_now()
        self._entries = []

    # -- the only place states change ------------------------------------
    def _set(self, entry: Entry, state: State) -> None:
        if entry.expiry is not None:
            entry.expiry.cancel()
            entry.expiry = None
        entry.state = state
        if state in (State.IDLE, State.PARKED):
            entry.idle_since = self._clock()
        if state is State.PARKED:
            wait = self._tuning_of(entry.key).tool_wait
            entry.expiry = asyncio.get_running_loop().call_later(wait, self._expire, entry)
        self._notify()

    def _expire(self, entry: Entry) -> None:
        if entry.state is State.PARKED and entry in self._entries:
            logger.info("a parked Claude Code process waited its tool wait out; ending it")
            self._end(entry)

    def _add(self, entry: Entry) -> None:
        assert len(self._entries) < self.limits.max_processes, f"cap exceeded: {self!r}"
        self._entries.append(entry)
        self.peak_processes = max(self.peak_processes, len(self._entries))

    def _forget(self, entry: Entry) -> None:
        with contextlib.suppress(ValueError):
            self._entries.remove(entry)
        self._notify()

    def _end(self, entry: Entry) -> asyncio.Task[None] | None:
        """Close a process in the background; it counts until it has exited.

        Outside a running loop (a pool task finalized after its loop ended, as
        a library user's ``asyncio.run`` does) nothing could await a close:
        the process is killed at once and None returned.
        """
        self._set(entry, State.CLOSING)
        if not _loop_running():
            entry.session.kill_now()
            self._forget(entry)
            return None

        async def close() -> None:
            try:
                await entry.session.close()
            finally:
                self._forget(entry)

        return self._spawn(close())

    def _on_exit(self, entry: Entry) -> None:
        """A process ended by itself (crashed, killed): drop it if nobody holds it."""
        if entry.state in (State.IDLE, State.STARTING, State.PARKED) and entry in self._entries:
            if entry.state is State.IDLE:
                logger.warning("a warm Claude Code process died while idle; it will be replaced")
            self._forget(entry)
            self._top_up_spares(entry.key, entry.spec)

    def _new_entry(self, key: PoolKey, spec: LaunchSpec, conversation: Conversation, state: State) -> Entry:
        entry: Entry

        def on_exit(_: Any) -> None:
            self._on_exit(entry)

        entry = Entry(self._factory(spec, conversation, on_exit), key, spec, state)
        self._add(entry)
        return entry

    def _notify(self) -> None:
        for future in self._changed:
            if not future.done():
                future.set_result(None)
        self._changed.clear()

    async def _wait_for_change(self, deadline: Deadline, also: asyncio.Future[None] | None = None) -> None:
        """Until a process changes state, ``also`` is done, or the deadline passes."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._changed.append(future)
        try:
            await asyncio.wait(
                [future, *([also] if also else [])], timeout=deadline.remaining(), return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            future.cancel()

    # -- slots ---------------------------------------------------------------
    async def _take_slot(self, deadline: Deadline) -> None:
        if self._draining:
            raise PoolClosed()
        if self._running < self.limits.max_processes and not self._waiters:
            self._running += 1
            return
        if len(self._waiters) >= self.limits.max_queue:
            self.metrics.record_rejected("queue_full")
            raise PoolFull(
                f"all {self.limits.max_processes} Claude Code processes are busy and "
                f"{self.limits.max_queue} requests are waiting",
                retry_after=1,
            )
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await asyncio.wait_for(asyncio.shield(waiter), timeout=deadline.remaining())
        except BaseException as exc:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
            elif waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self._give_slot()  # a slot was handed over just as we gave up
            if isinstance(exc, asyncio.TimeoutError):
                raise deadline.error() from None
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
    async def _lease(
        self,
        key: PoolKey,
        spec: LaunchSpec,
        conversation: Conversation,
        deadline: Deadline,
        answered: frozenset[str] | None,
    ) -> Lease:
        history = list(conversation.history)
        while True:
            if self._draining:
                raise PoolClosed()
            lease = self._pick_parked(key, history, answered) if answered else None
            lease = lease or self._pick(key, history)
            if lease is not None and lease.mode == "reset":
                lease = await self._reset_for(lease, deadline)
            if lease is not None:
                return lease
            if len(self._entries) < self.limits.max_processes:
                if self.count(State.STARTING) < self.limits.max_starting:
                    return await self._start_for(key, spec, conversation, deadline)
                # Every CPU is busy starting one: the first of those to start, or a process
                # coming free, serves this request sooner than one more start at once would.
            else:  # at the cap: end the longest-idle process, else the longest-parked one
                spare = [e for e in self._entries if e.state is State.IDLE] or [
                    e for e in self._entries if e.state is State.PARKED
                ]
                if spare:
                    oldest = min(spare, key=lambda e: e.idle_since)
                    closing = self._end(oldest)
                    if closing is not None:
                        await asyncio.shield(closing)
                    continue
            if deadline.passed:
                raise deadline.error()
            await self._wait_for_change(deadline)  # a start, reset or close under way will free one

    def _pick_parked(self, key: PoolKey, history: list[Turn], answered: frozenset[str]) -> Lease | None:
        """The parked process whose conversation the request continues with the results of all its calls."""
        before = history[:-1]
        for entry in self._entries:
            if entry.key != key or entry.state is not State.PARKED or entry.holds != before:
                continue
            if entry.pending == answered and entry.session.alive:
                self._set(entry, State.LEASED)
                return Lease(entry, "parked")
            self._end(entry)  # the client went on differently: nobody will answer these calls
        return None

    def _pick(self, key: PoolKey, history: list[Turn]) -> Lease | None:
        idle = [e for e in self._entries if e.key == key and e.state is State.IDLE and e.session.alive]
        if history:
            for entry in idle:
                if entry.holds == history:
                    self._set(entry, State.LEASED)
                    return Lease(entry, "continue")
            return None  # the history must be resumed at launch: a new process
        for mode, candidates in (("fresh", [e for e in idle if e.holds is None]), ("reset", idle)):
            if candidates:  # the conversation idle the longest is the least likely to go on
                entry = min(candidates, key=lambda e: e.idle_since)
                self._set(entry, State.RESETTING if mode == "reset" else State.LEASED)
                return Lease(entry, mode)  # type: ignore[arg-type]
        return None

    async def _reset_for(self, lease: Lease, deadline: Deadline) -> Lease | None:
        entry = lease.entry
        ok = False
        try:
            outcome = await entry.session.reset(
                Deadline.after(min(REQUEST_RESET_TIMEOUT, max(0.1, deadline.remaining())))
            )
            self.metrics.record_reset(outcome)
            ok = outcome is not None
        except SDKDrift as drift:  # the reset cannot keep its promise: a new process can
            self.metrics.record_drift(drift.internal)
            logger.warning("%s", drift)
        finally:  # cancelled or failed: the process holds an unknown state
            if ok:
                entry.holds = None
                self._set(entry, State.LEASED)
            else:
                self._end(entry)
        if not ok:
            logger.warning("a Claude Code process did not confirm its reset; replacing it")
            return None
        return lease

    async def _start_for(self, key: PoolKey, spec: LaunchSpec, conversation: Conversation, deadline: Deadline) -> Lease:
        """A new process for the request. A new conversation takes instead a process of
        its key that comes free first (under load a turn ends sooner than a start, which
        takes most of a CPU); the process still starting then becomes a spare."""
        entry = self._new_entry(key, spec, conversation, State.STARTING)
        self.metrics.record_start("request")
        timeout = max(0.1, min(self.limits.start_timeout, deadline.remaining()))
        start = asyncio.ensure_future(entry.session.start(timeout=timeout))
        freed: Lease | None = None
        try:
            while not start.done() and freed is None:
                await self._wait_for_change(deadline, also=start)
                if not conversation.history and not start.done():
                    freed = await self._take_freed(key, deadline)
                if deadline.passed and not start.done() and freed is None:
                    raise deadline.error()
            if freed is None:
                start.result()  # raises what the start raised
        except BaseException:
            start.cancel()
            self._end(entry)
            raise
        if freed is not None:
            self._spawn(self._become_spare(entry, start))
            return freed
        self._set(entry, State.LEASED)
        return Lease(entry, "start")

    async def _take_freed(self, key: PoolKey, deadline: Deadline) -> Lease | None:
        """An idle process of ``key`` for a new conversation (reset if it holds one), if any."""
        lease = self._pick(key, [])
        if lease is not None and lease.mode == "reset":
            return await self._reset_for(lease, deadline)
        return lease

    async def _become_spare(self, entry: Entry, start: Awaitable[None]) -> None:
        """A start nobody waits for (a spare, or one its request no longer needs): the
        process is kept ready once it has started; a failure is said in one line."""
        started = False
        try:
            await start
            started = True
        except Exception as exc:
            if not self._draining:
                logger.warning("a spare Claude Code process failed to start: %s", exc)
        finally:
            if started and not self._draining and entry.state is State.STARTING:
                self._set(entry, State.IDLE)
            elif entry.state is not State.CLOSING:
                self._end(entry)

    # -- spares and trimming ---------------------------------------------
    def _top_up_spares(self, key: PoolKey, spec: LaunchSpec, keep_holding: Entry | None = None) -> None:
        """Keep ``spares`` idle processes ready for a key in use, besides the one just released.

        A ready process may still hold an older conversation: it is rewound
        when a new conversation needs it (a few ms, on the request path), not
        before, so every conversation stays continuable until its process is
        wanted. A new process (~0.6 s of CPU) is started only under the cap,
        while nobody waits for a slot.
        """
        spares = self._tuning_of(key).spares
        if self._draining or spares <= 0:
            return
        mine = [e for e in self._entries if e.key == key and e is not keep_holding]
        ready = sum(1 for e in mine if e.state is State.IDLE)
        starting = sum(1 for e in mine if e.state is State.STARTING and e.holds is None)
        room = 0 if self._waiters else max(0, self.limits.max_processes - len(self._entries))
        cpus = max(0, self.limits.max_starting - self.count(State.STARTING))
        for _ in range(min(spares - ready - starting, room, cpus)):
            entry = self._new_entry(key, spec, Conversation(spec.system_prompt, (), ()), State.STARTING)
            self.metrics.record_start("spare")
            self._spawn(self._start_spare(entry))

    async def _start_spare(self, entry: Entry) -> None:
        await self._become_spare(entry, entry.session.start(timeout=self.limits.start_timeout))

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    def _start_trimmer(self) -> None:
        if self._trimmer is None or self._trimmer.done():
            self._trimmer = asyncio.ensure_future(self._trim_forever())

    async def _trim_forever(self) -> None:
        """Trims idle processes; its cancellation, when not by ``close()``, means the loop is ending.

        ``asyncio.run`` and ``asyncio.Runner`` (pytest-asyncio too) cancel every
        task of a loop before closing it. The pool then ends its processes
        while the loop can still reap them, instead of leaving them (and a
        spare started to replace the ones the cancellation killed) to a loop
        that is gone.
        """
        try:
            while not self._draining:
                shortest = min([self.limits.tuning.idle_ttl, *(t.idle_ttl for t in self._tuning.values())])
                await asyncio.sleep(max(1.0, min(30.0, shortest / 2)))
                await self.trim()
        except asyncio.CancelledError:
            if not self._draining:
                await self._close_as_loop_ends()
            raise

    async def _close_as_loop_ends(self) -> None:
        self._draining = True
        self._trimmer = None  # this task: close() must not cancel it again
        try:
            await asyncio.wait_for(self.close(), timeout=LOOP_END_GRACE)
        except asyncio.TimeoutError:
            logger.warning("Claude Code processes did not end with their event loop; killing them")
            self.kill_all_now()

    def _tuning_of(self, key: PoolKey) -> Tuning:
        return self._tuning.get(key) or self.limits.tuning

    async def trim(self) -> int:
        """End processes idle for longer than ``idle_ttl``; returns how many.
        (Parked ones end on their own timer, after their ``tool_wait``.)"""
        now = self._clock()
        stale = [
            e for e in self._entries if e.state is State.IDLE and now - e.idle_since > self._tuning_of(e.key).idle_ttl
        ]
        closing = [task for task in map(self._end, stale) if task is not None]
        await asyncio.gather(*closing, return_exceptions=True)
        return len(stale)


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class OneShot:
    """The pool's interface without a pool: a process per request, ended after it."""

    def __init__(self, factory: SessionFactory, start_timeout: float = 60.0, metrics: Metrics | None = None) -> None:
        self._factory = factory
        self._start_timeout = start_timeout
        self.metrics = metrics or Metrics()

    async def acquire(self, spec: LaunchSpec, conversation: Conversation, *, deadline: Deadline, **_: Any) -> Lease:
        session = self._factory(spec, conversation, lambda _: None)
        self.metrics.record_start("request")
        self.metrics.record_lease("start")
        await session.start(timeout=max(0.001, min(self._start_timeout, deadline.remaining())))
        return Lease(Entry(session, spec.key(), spec, State.LEASED), "start", pooled=False)
