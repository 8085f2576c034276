"""Pool state, step by step, with fake sessions (no processes) and a fake clock."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from litellm_claude_code.errors import PoolFull, RequestTimeout
from litellm_claude_code.pool import Pool, PoolLimits
from litellm_claude_code.session import LaunchSpec
from litellm_claude_code.types import Conversation, Turn


class FakeSession:
    started = 0

    def __init__(self, options: Any) -> None:
        self.options = options
        self.state = "new"
        self.resets = 0
        self.reset_ok = True
        self.closed = False

    @property
    def alive(self) -> bool:
        return self.state in ("starting", "idle", "busy")

    async def start(self, timeout: float) -> None:
        FakeSession.started += 1
        self.state = "idle"

    async def reset(self, timeout: float = 5.0) -> bool:
        self.resets += 1
        return self.reset_ok

    async def close(self) -> None:
        self.state = "closed"
        self.closed = True

    def kill_now(self) -> None:
        self.state = "closed"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def spec(system: str = "S") -> LaunchSpec:
    return LaunchSpec(model="sonnet", system_prompt=system, env={"A": "1"}, cwd="/w")


def convo(*history: Turn, prompt: str = "q") -> Conversation:
    return Conversation("S", tuple(history), ({"type": "text", "text": prompt},))


def far() -> float:
    return time.monotonic() + 30


def make(clock: Clock | None = None, **limits: Any) -> Pool:
    return Pool(PoolLimits(**{"spares": 0, **limits}), factory=FakeSession, clock=clock or Clock())  # type: ignore[arg-type]


async def test_start_release_reuse_with_reset() -> None:
    pool = make()
    assert repr(pool) == "<Pool requests: 0 running, 0 queued | processes: 0 total, 0 idle>"
    lease = await pool.acquire(spec(), convo(), deadline=far(), timeout=30)
    assert lease.mode == "start"
    assert repr(pool) == "<Pool requests: 1 running, 0 queued | processes: 1 total, 0 idle>"
    held = [Turn("user", [{"type": "text", "text": "q"}]), Turn("assistant", [{"type": "text", "text": "a"}])]
    await pool.release(lease, reusable=True, holds=held)
    assert repr(pool) == "<Pool requests: 0 running, 0 queued | processes: 1 total, 1 idle>"
    again = await pool.acquire(spec(), convo(prompt="other"), deadline=far(), timeout=30)
    assert again.mode == "reset" and again.session is lease.session and again.session.resets == 1  # type: ignore[attr-defined]


async def test_matching_history_continues_on_the_same_process() -> None:
    pool = make()
    lease = await pool.acquire(spec(), convo(), deadline=far(), timeout=30)
    held = [Turn("user", [{"type": "text", "text": "q"}]), Turn("assistant", [{"type": "text", "text": "a"}])]
    await pool.release(lease, reusable=True, holds=held)
    follow = await pool.acquire(spec(), convo(*held, prompt="next"), deadline=far(), timeout=30)
    assert follow.mode == "continue" and follow.session is lease.session
    await pool.release(follow, reusable=True, holds=None)
    other = [Turn("user", [{"type": "text", "text": "q"}]), Turn("assistant", [{"type": "text", "text": "DIFFERENT"}])]
    fresh = await pool.acquire(spec(), convo(*other), deadline=far(), timeout=30)
    assert fresh.mode == "start"  # history must be resumed at launch


async def test_a_clean_process_is_preferred_and_keys_do_not_mix() -> None:
    pool = make()
    a = await pool.acquire(spec("A"), convo(), deadline=far(), timeout=30)
    await pool.release(a, reusable=True, holds=None)
    b = await pool.acquire(spec("B"), convo(), deadline=far(), timeout=30)
    assert b.mode == "start" and b.session is not a.session
    await pool.release(b, reusable=True, holds=None)
    again = await pool.acquire(spec("A"), convo(), deadline=far(), timeout=30)
    assert again.mode == "fresh" and again.session is a.session


async def test_failed_reset_replaces_the_process() -> None:
    pool = make()
    lease = await pool.acquire(spec(), convo(), deadline=far(), timeout=30)
    lease.session.reset_ok = False  # type: ignore[attr-defined]
    await pool.release(lease, reusable=True, holds=[Turn("user", [{"type": "text", "text": "x"}])])
    replaced = await pool.acquire(spec(), convo(), deadline=far(), timeout=30)
    assert replaced.mode == "start" and replaced.session is not lease.session
    assert lease.session.closed  # type: ignore[attr-defined]


async def test_not_reusable_means_closed() -> None:
    pool = make()
    lease = await pool.acquire(spec(), convo(), deadline=far(), timeout=30)
    await pool.release(lease, reusable=False, holds=None)
    assert lease.session.closed  # type: ignore[attr-defined]
    assert repr(pool) == "<Pool requests: 0 running, 0 queued | processes: 0 total, 0 idle>"


async def test_queue_then_429_then_hand_over() -> None:
    pool = make(max_processes=1, max_queue=1)
    first = await pool.acquire(spec(), convo(), deadline=far(), timeout=30)
    waiting = asyncio.create_task(pool.acquire(spec(), convo(), deadline=far(), timeout=30))
    await asyncio.sleep(0)
    assert repr(pool) == "<Pool requests: 1 running, 1 queued | processes: 1 total, 0 idle>"
    with pytest.raises(PoolFull):
        await pool.acquire(spec(), convo(), deadline=far(), timeout=30)
    await pool.release(first, reusable=True, holds=None)
    second = await waiting
    assert second.session is first.session
    assert repr(pool) == "<Pool requests: 1 running, 0 queued | processes: 1 total, 0 idle>"


async def test_waiting_past_the_deadline_times_out_and_frees_its_place() -> None:
    pool = make(max_processes=1, max_queue=1)
    held = await pool.acquire(spec(), convo(), deadline=far(), timeout=30)
    with pytest.raises(RequestTimeout):
        await pool.acquire(spec(), convo(), deadline=time.monotonic() + 0.05, timeout=0.05)
    assert repr(pool) == "<Pool requests: 1 running, 0 queued | processes: 1 total, 0 idle>"
    await pool.release(held, reusable=True, holds=None)
    assert repr(pool) == "<Pool requests: 0 running, 0 queued | processes: 1 total, 1 idle>"


async def test_cap_evicts_the_longest_idle_process() -> None:
    clock = Clock()
    pool = make(clock, max_processes=2)
    a = await pool.acquire(spec("A"), convo(), deadline=far(), timeout=30)
    await pool.release(a, reusable=True, holds=None)
    clock.now += 10
    b = await pool.acquire(spec("B"), convo(), deadline=far(), timeout=30)
    await pool.release(b, reusable=True, holds=None)
    c = await pool.acquire(spec("C"), convo(), deadline=far(), timeout=30)
    assert a.session.closed and not b.session.closed  # type: ignore[attr-defined]
    assert repr(pool) == "<Pool requests: 1 running, 0 queued | processes: 2 total, 1 idle>"
    await pool.release(c, reusable=True, holds=None)


async def test_idle_processes_are_trimmed_after_the_ttl() -> None:
    clock = Clock()
    pool = make(clock, idle_ttl=60)
    lease = await pool.acquire(spec(), convo(), deadline=far(), timeout=30)
    await pool.release(lease, reusable=True, holds=None)
    clock.now += 30
    assert await pool.trim() == 0
    clock.now += 31
    assert await pool.trim() == 1
    assert repr(pool) == "<Pool requests: 0 running, 0 queued | processes: 0 total, 0 idle>"


async def test_spares_are_started_for_keys_in_use() -> None:
    pool = Pool(PoolLimits(spares=1), factory=FakeSession, clock=Clock())  # type: ignore[arg-type]
    lease = await pool.acquire(spec(), convo(), deadline=far(), timeout=30)
    await pool.release(lease, reusable=True, holds=[Turn("user", [{"type": "text", "text": "x"}])])
    await asyncio.sleep(0.01)
    assert repr(pool) == "<Pool requests: 0 running, 0 queued | processes: 2 total, 2 idle>"
    clean = await pool.acquire(spec(), convo(), deadline=far(), timeout=30)
    assert clean.mode == "fresh" and clean.session is not lease.session


async def test_close_refuses_new_requests_and_ends_processes() -> None:
    pool = make()
    lease = await pool.acquire(spec(), convo(), deadline=far(), timeout=30)
    await pool.release(lease, reusable=True, holds=None)
    await pool.close()
    assert lease.session.closed  # type: ignore[attr-defined]
    with pytest.raises(PoolFull):
        await pool.acquire(spec(), convo(), deadline=far(), timeout=30)


async def test_at_the_cap_older_conversations_are_reset_in_the_background() -> None:
    pool = Pool(PoolLimits(spares=1, max_processes=2), factory=FakeSession, clock=Clock())  # type: ignore[arg-type]
    held = [Turn("user", [{"type": "text", "text": "x"}])]
    first = await pool.acquire(spec(), convo(), deadline=far(), timeout=30)
    await pool.release(first, reusable=True, holds=held)  # starts a spare
    await asyncio.sleep(0.01)
    second = await pool.acquire(spec(), convo(), deadline=far(), timeout=30)
    assert second.mode == "fresh" and second.session is not first.session
    await pool.release(second, reusable=True, holds=held)  # the older conversation is cleared
    await asyncio.sleep(0.01)
    assert first.session.resets == 1 and second.session.resets == 0  # type: ignore[attr-defined]
    assert repr(pool) == "<Pool requests: 0 running, 0 queued | processes: 2 total, 2 idle>"
    third = await pool.acquire(spec(), convo(), deadline=far(), timeout=30)
    assert third.mode == "fresh" and third.session is first.session


async def test_a_process_that_died_while_idle_is_replaced() -> None:
    pool = make()
    lease = await pool.acquire(spec(), convo(), deadline=far(), timeout=30)
    await pool.release(lease, reusable=True, holds=None)
    lease.session.state = "closed"  # type: ignore[misc]  # it crashed while idle
    again = await pool.acquire(spec(), convo(), deadline=far(), timeout=30)
    assert again.mode == "start" and again.session is not lease.session
    assert repr(pool) == "<Pool requests: 1 running, 0 queued | processes: 1 total, 0 idle>"


async def test_under_the_cap_spares_are_new_processes_so_conversations_stay_warm() -> None:
    pool = Pool(PoolLimits(spares=1, max_processes=6), factory=FakeSession, clock=Clock())  # type: ignore[arg-type]
    held = [Turn("user", [{"type": "text", "text": "q"}]), Turn("assistant", [{"type": "text", "text": "a"}])]
    first = await pool.acquire(spec(), convo(), deadline=far(), timeout=30)
    await pool.release(first, reusable=True, holds=held)
    await asyncio.sleep(0.01)
    second = await pool.acquire(spec(), convo(prompt="other"), deadline=far(), timeout=30)
    await pool.release(second, reusable=True, holds=[Turn("user", [{"type": "text", "text": "other"}])])
    await asyncio.sleep(0.01)
    assert first.session.resets == 0  # type: ignore[attr-defined]
    follow = await pool.acquire(spec(), convo(*held, prompt="next"), deadline=far(), timeout=30)
    assert follow.mode == "continue" and follow.session is first.session


async def test_spares_can_be_tuned_per_key() -> None:
    pool = Pool(PoolLimits(spares=2), factory=FakeSession, clock=Clock())  # type: ignore[arg-type]
    lean = await pool.acquire(spec("lean"), convo(), deadline=far(), timeout=30, spares=0)
    await pool.release(lean, reusable=True, holds=None)
    await asyncio.sleep(0.01)
    assert repr(pool) == "<Pool requests: 0 running, 0 queued | processes: 1 total, 1 idle>"
    rich = await pool.acquire(spec("rich"), convo(), deadline=far(), timeout=30)
    await pool.release(rich, reusable=True, holds=[Turn("user", [{"type": "text", "text": "x"}])])
    await asyncio.sleep(0.01)
    assert repr(pool) == "<Pool requests: 0 running, 0 queued | processes: 4 total, 4 idle>"
