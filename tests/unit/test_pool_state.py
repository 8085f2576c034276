"""Pool state, step by step, with fake sessions (no processes) and a fake clock.

Each step asserts on the pool's ``repr``, which counts processes by state.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from litellm_claude_code._claude.options import LaunchSpec
from litellm_claude_code._claude.pool import Pool, PoolLimits, State
from litellm_claude_code._claude.process import Deadline, Phase, ResetOutcome
from litellm_claude_code._claude.types import Tuning
from litellm_claude_code._shapes import Conversation, Turn
from litellm_claude_code.errors import PoolClosed, PoolFull, RequestTimeout, SDKDrift


class FakeSession:
    """A CLI process stand-in. ``reset_gate``/``start_gate`` make those steps wait."""

    def __init__(self, spec: LaunchSpec, conversation: Conversation, on_exit: Callable[[Any], None]) -> None:
        self.spec = spec
        self.conversation = conversation
        self.on_exit = on_exit
        self.phase = Phase.NEW
        self.resets = 0
        self.reset_ok = True
        self.reset_raises: Exception | None = None
        self.closed = False
        self.reset_gate: asyncio.Event | None = None
        self.start_gate: asyncio.Event | None = None
        self.starts = Starts()  # shared by the sessions of one factory

    @property
    def alive(self) -> bool:
        return self.phase.alive

    async def start(self, timeout: float) -> None:
        self.phase = Phase.STARTING
        self.starts.now += 1
        self.starts.most = max(self.starts.most, self.starts.now)
        try:
            if self.start_gate is not None:
                await self.start_gate.wait()
        finally:
            self.starts.now -= 1
        self.phase = Phase.IDLE

    async def reset(self, deadline: Deadline) -> ResetOutcome:
        self.resets += 1
        if self.reset_gate is not None:
            await self.reset_gate.wait()
        if self.reset_raises is not None:
            raise self.reset_raises
        return "rewound" if self.reset_ok else None

    async def close(self) -> None:
        await asyncio.sleep(0)  # closing takes a moment: the process still counts meanwhile
        self.phase = Phase.CLOSED
        self.closed = True

    def die(self) -> None:
        self.phase = Phase.CLOSED
        self.on_exit(self)

    def kill_now(self) -> None:
        self.phase = Phase.CLOSED


@dataclass
class Starts:
    now: int = 0
    most: int = 0  # starts under way at once, at most


class Factory:
    def __init__(self) -> None:
        self.made: list[FakeSession] = []
        self.gate_starts: asyncio.Event | None = None
        self.starts = Starts()

    def __call__(self, spec: LaunchSpec, conversation: Conversation, on_exit: Callable[[Any], None]) -> FakeSession:
        session = FakeSession(spec, conversation, on_exit)
        session.start_gate = self.gate_starts
        session.starts = self.starts
        self.made.append(session)
        return session


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def spec(system: str = "S") -> LaunchSpec:
    return LaunchSpec(model="sonnet", system_prompt=system, env={"A": "1"}, cwd="/w")


def convo(*history: Turn, prompt: str = "q") -> Conversation:
    return Conversation("S", tuple(history), ({"type": "text", "text": prompt},))


HELD = [Turn("user", [{"type": "text", "text": "q"}]), Turn("assistant", [{"type": "text", "text": "a"}])]


def far() -> Deadline:
    return Deadline.after(30)


def limits_of(**fields: Any) -> PoolLimits:
    """PoolLimits from flat keywords: the tuning ones (spares, idle_ttl, tool_wait) go into its Tuning."""
    tuned = {name: fields.pop(name) for name in ("spares", "idle_ttl", "tool_wait") if name in fields}
    return PoolLimits(**fields, tuning=Tuning(**tuned))


def make(clock: Clock | None = None, factory: Factory | None = None, **limits: Any) -> Pool:
    return Pool(limits_of(**{"spares": 0, **limits}), factory=factory or Factory(), clock=clock or Clock())


async def test_start_release_reuse_with_reset() -> None:
    pool = make()
    assert repr(pool) == "<Pool requests: 0 running, 0 queued | processes: 0 total>"
    lease = await pool.acquire(spec(), convo(), deadline=far())
    assert lease.mode == "start"
    assert repr(pool) == "<Pool requests: 1 running, 0 queued | processes: 1 total: 1 leased>"
    await pool.release(lease, reusable=True, holds=HELD)
    assert repr(pool) == "<Pool requests: 0 running, 0 queued | processes: 1 total: 1 idle>"
    again = await pool.acquire(spec(), convo(prompt="other"), deadline=far())
    assert again.mode == "reset" and again.session is lease.session and again.session.resets == 1


async def test_matching_history_continues_on_the_same_process() -> None:
    pool = make()
    lease = await pool.acquire(spec(), convo(), deadline=far())
    await pool.release(lease, reusable=True, holds=HELD)
    follow = await pool.acquire(spec(), convo(*HELD, prompt="next"), deadline=far())
    assert follow.mode == "continue" and follow.session is lease.session
    await pool.release(follow, reusable=True, holds=None)
    other = [HELD[0], Turn("assistant", [{"type": "text", "text": "DIFFERENT"}])]
    fresh = await pool.acquire(spec(), convo(*other), deadline=far())
    assert fresh.mode == "start"  # history must be resumed at launch
    assert fresh.session.conversation.history == tuple(other)


async def test_a_clean_process_is_preferred_and_keys_do_not_mix() -> None:
    pool = make()
    a = await pool.acquire(spec("A"), convo(), deadline=far())
    await pool.release(a, reusable=True, holds=None)
    b = await pool.acquire(spec("B"), convo(), deadline=far())
    assert b.mode == "start" and b.session is not a.session
    await pool.release(b, reusable=True, holds=None)
    again = await pool.acquire(spec("A"), convo(), deadline=far())
    assert again.mode == "fresh" and again.session is a.session


def test_every_launch_spec_field_is_in_the_key() -> None:
    base = spec()
    variants = [
        LaunchSpec(model="opus", system_prompt="S", env={"A": "1"}, cwd="/w"),
        LaunchSpec(model="sonnet", system_prompt="S", env={"A": "2"}, cwd="/w"),
        LaunchSpec(model="sonnet", system_prompt="S", env={"A": "1"}, cwd="/w", effort="low"),
        LaunchSpec(model="sonnet", system_prompt="S", env={"A": "1"}, cwd="/w", output_schema_json="{}"),
    ]
    assert len({base.key(), *(v.key() for v in variants)}) == 5


async def test_failed_reset_replaces_the_process() -> None:
    pool = make()
    lease = await pool.acquire(spec(), convo(), deadline=far())
    lease.session.reset_ok = False
    await pool.release(lease, reusable=True, holds=[HELD[0]])
    replaced = await pool.acquire(spec(), convo(), deadline=far())
    assert replaced.mode == "start" and replaced.session is not lease.session
    await pool.settled()
    assert lease.session.closed


async def test_a_reset_the_cli_does_not_know_replaces_the_process_and_is_counted() -> None:
    """Issue 21: /clear would leave its record in the next conversation; a new process leaves nothing."""
    factory = Factory()
    pool = make(factory=factory)
    lease = await pool.acquire(spec(), convo(), deadline=far())
    await pool.release(lease, reusable=True, holds=HELD)
    factory.made[0].reset_raises = SDKDrift("rewind", "the CLI does not know rewind_conversation")
    lease = await pool.acquire(spec(), convo(), deadline=far())
    assert lease.mode == "start" and lease.session is factory.made[1]
    await pool.settled()
    assert factory.made[0].closed
    scrape = pool.metrics.render()[0].decode()
    assert 'litellm_claude_code_sdk_drift_refusals_total{internal="rewind"} 1.0' in scrape


async def test_a_request_cancelled_during_reset_ends_that_process() -> None:
    """The leak of issue 9.1: a cancel during /clear left the entry busy forever."""
    pool = make(max_processes=2)
    lease = await pool.acquire(spec(), convo(), deadline=far())
    await pool.release(lease, reusable=True, holds=HELD)
    lease.session.reset_gate = asyncio.Event()
    waiting = asyncio.create_task(pool.acquire(spec(), convo(prompt="other"), deadline=far()))
    while lease.session.resets == 0:
        await asyncio.sleep(0)
    assert repr(pool) == "<Pool requests: 1 running, 0 queued | processes: 1 total: 1 resetting>"
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await pool.settled()
    assert lease.session.closed
    assert repr(pool) == "<Pool requests: 0 running, 0 queued | processes: 0 total>"


async def test_not_reusable_means_closed_and_counted_until_it_has_exited() -> None:
    pool = make()
    lease = await pool.acquire(spec(), convo(), deadline=far())
    await pool.release(lease, reusable=False, holds=None)
    assert repr(pool) == "<Pool requests: 0 running, 0 queued | processes: 1 total: 1 closing>"
    await pool.settled()
    assert lease.session.closed
    assert repr(pool) == "<Pool requests: 0 running, 0 queued | processes: 0 total>"


async def test_queue_then_429_then_hand_over() -> None:
    pool = make(max_processes=1, max_queue=1)
    first = await pool.acquire(spec(), convo(), deadline=far())
    waiting = asyncio.create_task(pool.acquire(spec(), convo(), deadline=far()))
    await asyncio.sleep(0)
    assert repr(pool) == "<Pool requests: 1 running, 1 queued | processes: 1 total: 1 leased>"
    with pytest.raises(PoolFull):
        await pool.acquire(spec(), convo(), deadline=far())
    await pool.release(first, reusable=True, holds=None)
    second = await waiting
    assert second.session is first.session
    assert repr(pool) == "<Pool requests: 1 running, 0 queued | processes: 1 total: 1 leased>"


async def test_waiting_past_the_deadline_times_out_and_frees_its_place() -> None:
    pool = make(max_processes=1, max_queue=1)
    held = await pool.acquire(spec(), convo(), deadline=far())
    with pytest.raises(RequestTimeout):
        await pool.acquire(spec(), convo(), deadline=Deadline.after(0.05))
    assert repr(pool) == "<Pool requests: 1 running, 0 queued | processes: 1 total: 1 leased>"
    await pool.release(held, reusable=True, holds=None)
    assert repr(pool) == "<Pool requests: 0 running, 0 queued | processes: 1 total: 1 idle>"


async def test_at_the_cap_the_longest_idle_process_is_ended_before_a_new_one_starts() -> None:
    clock = Clock()
    pool = make(clock, max_processes=2)
    a = await pool.acquire(spec("A"), convo(), deadline=far())
    await pool.release(a, reusable=True, holds=None)
    clock.now += 10
    b = await pool.acquire(spec("B"), convo(), deadline=far())
    await pool.release(b, reusable=True, holds=None)
    c = await pool.acquire(spec("C"), convo(), deadline=far())
    assert c.mode == "start" and a.session.closed and not b.session.closed  # the old one had exited before C started
    assert repr(pool) == "<Pool requests: 1 running, 0 queued | processes: 2 total: 1 idle, 1 leased>"
    assert pool.peak_processes == 2


async def test_at_the_cap_a_process_being_reset_counts_and_the_cap_holds() -> None:
    pool = Pool(limits_of(spares=0, max_processes=2), factory=Factory(), clock=Clock())
    first, second = [await pool.acquire(spec(), convo(prompt=p), deadline=far()) for p in "ab"]
    await pool.release(first, reusable=True, holds=HELD)
    await pool.release(second, reusable=True, holds=[HELD[0]])
    first.session.reset_gate = asyncio.Event()
    new = asyncio.create_task(pool.acquire(spec(), convo(prompt="new"), deadline=far()))  # rewinds the idlest
    while first.session.resets == 0:
        await asyncio.sleep(0)
    assert repr(pool) == "<Pool requests: 1 running, 0 queued | processes: 2 total: 1 idle, 1 resetting>"
    other = await pool.acquire(spec("other"), convo(), deadline=far())  # ends the idle one, starts under the cap
    assert other.mode == "start" and second.session.closed
    first.session.reset_gate.set()
    assert (await new).mode == "reset" and (await new).session is first.session
    assert pool.peak_processes == 2


async def test_a_conversation_stays_continuable_until_its_process_is_needed() -> None:
    """Resets happen only when a new conversation needs a process; spares are not made by resetting."""
    clock = Clock()
    factory = Factory()
    pool = Pool(limits_of(spares=1, max_processes=6), factory=factory, clock=clock)
    first = await pool.acquire(spec(), convo(), deadline=far())
    await pool.release(first, reusable=True, holds=HELD)  # no other idle process: a spare is started
    await pool.settled()
    clock.now += 5
    second = await pool.acquire(spec(), convo(prompt="other"), deadline=far())
    assert second.mode == "fresh"
    other_turns = [Turn("user", [{"type": "text", "text": "other"}])]
    await pool.release(second, reusable=True, holds=other_turns)  # first is idle: nothing is started or reset
    await pool.settled()
    assert len(factory.made) == 2 and first.session.resets == second.session.resets == 0
    clock.now += 5
    follow = await pool.acquire(spec(), convo(*HELD, prompt="next"), deadline=far())
    assert follow.mode == "continue" and follow.session is first.session  # its conversation was kept
    await pool.release(follow, reusable=True, holds=HELD)
    clock.now += 5
    third = await pool.acquire(spec(), convo(prompt="third"), deadline=far())
    assert third.mode == "reset" and third.session is second.session  # the conversation idle the longest
    assert second.session.resets == 1 and first.session.resets == 0 and len(factory.made) == 2
    await pool.close()


async def test_idle_processes_are_trimmed_after_the_ttl() -> None:
    clock = Clock()
    pool = make(clock, idle_ttl=60)
    lease = await pool.acquire(spec(), convo(), deadline=far())
    await pool.release(lease, reusable=True, holds=None)
    clock.now += 30
    assert await pool.trim() == 0
    clock.now += 31
    assert await pool.trim() == 1
    assert repr(pool) == "<Pool requests: 0 running, 0 queued | processes: 0 total>"


async def test_spares_are_started_for_keys_in_use() -> None:
    pool = Pool(limits_of(spares=1), factory=Factory(), clock=Clock())
    lease = await pool.acquire(spec(), convo(), deadline=far())
    await pool.release(lease, reusable=True, holds=[HELD[0]])
    assert repr(pool) == "<Pool requests: 0 running, 0 queued | processes: 2 total: 1 starting, 1 idle>"
    await pool.settled()
    assert repr(pool) == "<Pool requests: 0 running, 0 queued | processes: 2 total: 2 idle>"
    clean = await pool.acquire(spec(), convo(), deadline=far())
    assert clean.mode == "fresh" and clean.session is not lease.session


async def test_a_process_that_died_while_idle_is_dropped_at_once() -> None:
    pool = make()
    lease = await pool.acquire(spec(), convo(), deadline=far())
    await pool.release(lease, reusable=True, holds=None)
    lease.session.die()
    assert repr(pool) == "<Pool requests: 0 running, 0 queued | processes: 0 total>"
    again = await pool.acquire(spec(), convo(), deadline=far())
    assert again.mode == "start" and again.session is not lease.session


async def test_drain_fails_queued_requests_waits_for_running_ones_then_ends_everything() -> None:
    pool = make(max_processes=1, max_queue=2)
    running = await pool.acquire(spec(), convo(), deadline=far())
    queued = asyncio.create_task(pool.acquire(spec(), convo(), deadline=far()))
    await asyncio.sleep(0)
    draining = asyncio.create_task(pool.drain(grace=30))
    with pytest.raises(PoolClosed):
        await queued
    with pytest.raises(PoolClosed):
        await pool.acquire(spec(), convo(), deadline=far())
    assert not draining.done() and not running.session.closed  # the running request gets its grace
    await pool.release(running, reusable=True, holds=None)
    await draining
    assert running.session.closed
    assert repr(pool) == "<Pool requests: 0 running, 0 queued | processes: 0 total>"


async def test_drain_ends_running_processes_after_the_grace() -> None:
    pool = make()
    running = await pool.acquire(spec(), convo(), deadline=far())
    await pool.drain(grace=0.01)
    assert running.session.closed
    assert running.entry.state is State.CLOSING
    await pool.release(running, reusable=False, holds=None)  # the request notices afterwards
    assert repr(pool) == "<Pool requests: 0 running, 0 queued | processes: 0 total>"


async def test_continuing_turns_clear_nothing() -> None:
    factory = Factory()
    pool = Pool(limits_of(spares=1, max_processes=6), factory=factory, clock=Clock())
    lease = await pool.acquire(spec(), convo(), deadline=far())
    await pool.release(lease, reusable=True, holds=HELD)
    await pool.settled()
    for _ in range(3):
        lease = await pool.acquire(spec(), convo(*HELD, prompt="next"), deadline=far())
        assert lease.mode == "continue"
        await pool.release(lease, reusable=True, holds=HELD)
        await pool.settled()
    assert sum(session.resets for session in factory.made) == 0 and len(factory.made) == 2


async def test_spares_can_be_tuned_per_key() -> None:
    pool = Pool(limits_of(spares=2), factory=Factory(), clock=Clock())
    lean = await pool.acquire(spec("lean"), convo(), deadline=far(), tuning=Tuning(spares=0))
    await pool.release(lean, reusable=True, holds=None)
    await pool.settled()
    assert repr(pool) == "<Pool requests: 0 running, 0 queued | processes: 1 total: 1 idle>"
    rich = await pool.acquire(spec("rich"), convo(), deadline=far())
    await pool.release(rich, reusable=True, holds=[HELD[0]])
    await pool.settled()
    assert repr(pool) == "<Pool requests: 0 running, 0 queued | processes: 4 total: 4 idle>"


async def test_no_spare_starts_while_requests_wait_for_a_slot() -> None:
    pool = Pool(limits_of(spares=2, max_processes=2, max_queue=2), factory=Factory(), clock=Clock())
    a = await pool.acquire(spec(), convo(), deadline=far())
    b = await pool.acquire(spec("B"), convo(), deadline=far())
    waiting = asyncio.create_task(pool.acquire(spec("C"), convo(), deadline=far()))
    await asyncio.sleep(0)
    await pool.release(a, reusable=True, holds=None)  # the slot goes to the waiter, not a spare
    c = await waiting
    assert c.mode == "start" and pool.peak_processes == 2
    await pool.release(b, reusable=True, holds=None)
    await pool.release(c, reusable=True, holds=None)


# -- parked tool calls -------------------------------------------------------
ASKED = [Turn("user", [{"type": "text", "text": "q"}])]
CALLED = [*ASKED, Turn("assistant", [{"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}])]
ANSWERED = Turn("user", [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "r"}])


async def parked_pool(**limits: Any) -> tuple[Pool, Any]:
    pool = make(**limits)
    lease = await pool.acquire(spec(), convo(), deadline=far())
    lease.session.phase = Phase.PARKED  # the CLI now waits in the call
    await pool.release(lease, reusable=False, holds=CALLED, parked=frozenset({"toolu_1"}))
    return pool, lease


async def test_a_parked_process_takes_the_follow_up_that_answers_all_its_calls() -> None:
    pool, first = await parked_pool()
    assert repr(pool) == "<Pool requests: 0 running, 0 queued | processes: 1 total: 1 parked>"
    follow = await pool.acquire(spec(), convo(*CALLED, ANSWERED), deadline=far(), tool_results=["toolu_1"])
    assert follow.mode == "parked" and follow.session is first.session


async def test_other_follow_ups_do_not_take_a_parked_process() -> None:
    pool, first = await parked_pool()
    other = await pool.acquire(spec(), convo(*CALLED, ANSWERED), deadline=far(), tool_results=["toolu_2"])
    assert other.mode == "start" and other.session is not first.session
    await pool.settled()
    assert first.session.closed  # same conversation, other calls: nobody can answer this one now
    plain = await pool.acquire(spec(), convo(), deadline=far())
    assert plain.session is not first.session


async def test_a_parked_process_ends_after_its_tool_wait() -> None:
    pool, first = await parked_pool(tool_wait=0.05)
    while not first.session.closed:  # its own timer ends it
        await asyncio.sleep(0.01)
    await pool.settled()
    assert repr(pool) == "<Pool requests: 0 running, 0 queued | processes: 0 total>"


async def test_at_the_cap_idle_processes_go_before_parked_ones() -> None:
    clock = Clock()
    pool = make(clock, max_processes=2)
    parked = await pool.acquire(spec("P"), convo(), deadline=far())
    parked.session.phase = Phase.PARKED
    await pool.release(parked, reusable=False, holds=CALLED, parked=frozenset({"toolu_1"}))
    clock.now += 10
    idle = await pool.acquire(spec("I"), convo(), deadline=far())
    await pool.release(idle, reusable=True, holds=None)  # newer, but idle
    third = await pool.acquire(spec("T"), convo(), deadline=far())
    assert idle.session.closed and not parked.session.closed
    await pool.release(third, reusable=True, holds=None)
    fourth = await pool.acquire(spec("F"), convo(), deadline=far())
    await pool.settled()
    assert third.session.closed and not parked.session.closed  # still idle before parked
    await pool.release(fourth, reusable=False, holds=None)
    await pool.settled()
    fifth = await pool.acquire(spec("G"), convo(), deadline=far())
    sixth = await pool.acquire(spec("H"), convo(), deadline=far())  # no idle left: the parked one goes
    assert fifth.mode == sixth.mode == "start" and parked.session.closed


async def test_drain_ends_parked_processes_at_once() -> None:
    pool, first = await parked_pool()
    await pool.drain(grace=30)
    assert first.session.closed


def test_when_its_event_loop_ends_the_pool_closes_its_processes_on_it() -> None:
    """``asyncio.run`` cancels every task before it closes the loop: the pool then closes its
    processes, a spare half started too, while the loop can still reap them, and starts no other."""
    factory = Factory()
    pool = Pool(limits_of(spares=1), factory=factory, clock=Clock())

    async def one_request() -> None:
        lease = await pool.acquire(spec(), convo(), deadline=far())
        factory.gate_starts = asyncio.Event()  # the spare's start never finishes by itself
        await pool.release(lease, reusable=True, holds=HELD)
        assert repr(pool) == "<Pool requests: 0 running, 0 queued | processes: 2 total: 1 starting, 1 idle>"

    asyncio.run(one_request())
    assert len(factory.made) == 2 and all(session.closed for session in factory.made)
    assert repr(pool) == "<Pool requests: 0 running, 0 queued | processes: 0 total>"


async def test_no_more_processes_start_at_once_than_max_starting() -> None:
    factory = Factory()
    pool = make(factory=factory, max_starting=1)
    factory.gate_starts = asyncio.Event()
    first = asyncio.create_task(pool.acquire(spec("A"), convo(), deadline=far()))
    second = asyncio.create_task(pool.acquire(spec("B"), convo(), deadline=far()))
    await until(lambda: factory.starts.now == 1)
    factory.gate_starts.set()  # the first start is done: the second may begin (and ends at once)
    leases = await asyncio.gather(first, second)
    assert [lease.mode for lease in leases] == ["start", "start"] and len(factory.made) == 2
    assert factory.starts.most == 1
    assert repr(pool) == "<Pool requests: 2 running, 0 queued | processes: 2 total: 2 leased>"


async def until(condition: Callable[[], bool]) -> None:
    """Let the pool's tasks run until ``condition`` holds."""
    while not condition():
        await asyncio.sleep(0)


async def busy_and_starting(conversation: Conversation) -> tuple[Pool, Factory, Any, asyncio.Task[Any]]:
    """One process leased, and a request for ``conversation`` whose own start is held back."""
    factory = Factory()
    pool = make(factory=factory)
    busy = await pool.acquire(spec(), convo(), deadline=far())
    factory.gate_starts = asyncio.Event()
    waiting = asyncio.create_task(pool.acquire(spec(), conversation, deadline=far()))
    await until(lambda: factory.starts.now == 1)
    return pool, factory, busy, waiting


async def test_a_new_conversation_takes_a_process_freed_before_its_own_start_and_that_one_becomes_a_spare() -> None:
    pool, factory, busy, waiting = await busy_and_starting(convo(prompt="new"))
    assert repr(pool) == "<Pool requests: 2 running, 0 queued | processes: 2 total: 1 starting, 1 leased>"
    await pool.release(busy, reusable=True, holds=HELD)
    taken = await waiting
    assert taken.mode == "reset" and taken.session is busy.session  # a few ms, not a start
    assert factory.gate_starts is not None
    factory.gate_starts.set()
    await pool.settled()
    assert repr(pool) == "<Pool requests: 1 running, 0 queued | processes: 2 total: 1 idle, 1 leased>"


async def test_a_continuing_conversation_waits_for_its_own_start() -> None:
    pool, factory, busy, waiting = await busy_and_starting(convo(*HELD, prompt="other"))
    await pool.release(busy, reusable=True, holds=None)  # free, but it cannot hold that history
    assert factory.gate_starts is not None
    factory.gate_starts.set()
    resumed = await waiting
    assert resumed.mode == "start" and resumed.session is not busy.session
    assert resumed.session.conversation.history == tuple(HELD)
    assert repr(pool) == "<Pool requests: 1 running, 0 queued | processes: 2 total: 1 idle, 1 leased>"
