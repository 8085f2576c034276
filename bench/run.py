"""Latency benchmark: the fake upstream alone, the provider with one CLI process per
request (pool off, what comparable projects do), and with warm processes (pool on).

It starts the fake Anthropic API (configurable time to first byte and token
rate) and real proxies (`litellm-claude-code serve`), then measures time to
first token and total latency (p50, p95), requests per second, errors and CPU
seconds per request (the proxy and its CLIs, background resets included) at
each concurrency, and the resident memory of the proxy and of each CLI
process, at rest and at peak. Everything stays on 127.0.0.1.

Two kinds of rows:

- ``plain``: single-turn conversations, and multi-turn ones whose continuing
  turns are timed; pool off and pool on.
- ``toolloop``: an agent's function-calling loop. Step 1 offers a function and
  gets a ``tool_calls`` answer; step 2 sends the call back with a ``tool``
  message and gets text. Step 2 is timed, in three modes: ``parked`` (pool on,
  default settings), ``resume`` (pool on, ``LITELLM_CLAUDE_CODE_TOOL_WAIT=0``)
  and ``pool off``.

With the plain rows come the floor under their CPU, in the same run: a warm
continuing turn (no reset, no spare), and LiteLLM's own proxy serving
bench/floor_provider.py, a provider that does nothing.

    python bench/run.py                      # prints a table, writes bench/results/latest.{json,md}
    python bench/run.py --only toolloop --requests 3 --out /tmp/bench
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import contextvars
import json
import os
import platform
import shutil
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
from starlette.requests import Request
from starlette.responses import Response

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "support"))

from fake_anthropic import FakeAnthropic, Reply, ToolUse  # noqa: E402
from functions import WEATHER  # noqa: E402
from harness import (  # noqa: E402
    Proxy,
    base_env,
    cli_children,
    start_proxy,
    start_server,
    stop_process,
    wait_for,
)

SCENARIOS = ("plain", "toolloop", "burst")
TOOL_MODES = ("parked", "resume", "pool off")
WEATHER_UPSTREAM = "mcp__client__get_weather"  # the name the model sees
TOOL_RESULT = "12 C"
ROWS_EXPLAINED = (
    "Tool-loop rows time step 2 (the `tool` message sent back, answered with text) of loops whose step 1 got "
    "a `tool_calls` answer; parked = pool on with default settings, resume = pool on with "
    "LITELLM_CLAUDE_CODE_TOOL_WAIT=0. CPU is the user+system time of the proxy and of its CLIs over all the "
    "requests a row sent (first turns and step 1 included), read once the background work has settled. "
    "Each pool-on row is measured warm: after one unmeasured conversation per concurrent client, so the pool "
    "has grown to the row's concurrency (pool off has no warm state)."
)
# Targets from issue 10 (see the markdown's "Targets" lines).
TARGET_PARKED_OVER_PLAIN = 1.5
TARGET_C16_MULTI_TURN_RATIO = 0.3
TARGET_WARM_CPU_S = 0.07
# Issue 24: a burst from an idle pool, and CPU per request over its floor.
TARGET_BURST_P95_OVER_P50 = 2.5
TARGET_CPU_OVER_FLOOR = 1.15
BURST = (8, 64)  # concurrency, requests: from a pool of the 1-2 processes a first request leaves
FLOOR_TURNS = 11  # the continuing-turn measurement: turns 2..11 of one conversation
FLOOR_REQUESTS = 30  # requests to LiteLLM's proxy with the do-nothing provider


@dataclass
class Sample:
    ttft: float | None
    total: float
    ok: bool
    status: int


@dataclass
class Cell:
    scenario: str
    concurrency: int
    requests: int
    errors: int
    refused_429: int
    ttft_p50_ms: float | None
    ttft_p95_ms: float | None
    total_p50_ms: float | None
    total_p95_ms: float | None
    rps: float
    # All requests the cell sent to the proxy (multi-turn: first turns too;
    # tool loops: both steps), and their CPU cost per request.
    requests_sent: int = 0
    cpu_s_per_request: float | None = None
    cpu_s_per_request_proxy: float | None = None
    cpu_s_per_request_clis: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Memory:
    proxy_rss_mib_rest: float = 0.0
    proxy_rss_mib_peak: float = 0.0
    cli_processes_rest: int = 0
    cli_processes_peak: int = 0
    cli_rss_mib_each_rest: list[float] = field(default_factory=list)
    cli_rss_mib_each_peak_max: float = 0.0
    cli_rss_mib_total_peak: float = 0.0
    idle_cpu_s_per_s_rest: float = 0.0  # the proxy and its CLIs at rest


@dataclass
class Sporadic:
    """One request after a long rest: what a warm proxy costs at a human's pace."""

    rest_s: float
    clis_at_rest: int
    rest_cpu_s: float  # the proxy and its CLIs over the rest
    request_cpu_s: float  # the request after it, settled
    request_ttft_ms: float | None
    cpu_s_per_request: float  # the rest's and the request's: the cost of a request at that pace


@dataclass
class TurnCost:
    """The cheapest request a warm proxy serves: a continuing turn (no reset, no
    spare), c=1, per turn, over one long conversation's turns 2..N."""

    turns: int
    proxy_cpu_s: float
    clis_cpu_s: float
    text_chunks_p50: int  # text chunks per answer: what the floor's provider sends


@dataclass
class Floor:
    """LiteLLM's own proxy serving a provider that does nothing (bench/floor_provider.py):
    the CPU under every request, which no code of this package can save."""

    requests: int
    text_chunks: int
    proxy_cpu_s: float


@dataclass
class ProxyRun:
    """What one proxy measured: its rows, and the pool-on plain proxy's extras."""

    cells: list[Cell]
    sporadic: Sporadic | None = None
    turn: TurnCost | None = None


@dataclass
class Tally:
    """What one cell's workers collected: timed samples, step-1 samples of tool
    loops, and every request sent (timed or not)."""

    samples: list[Sample] = field(default_factory=list)
    step1: list[Sample] = field(default_factory=list)
    sent: int = 0


Conversation = Callable[[httpx.AsyncClient, Tally], Awaitable[None]]


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return round(ordered[index] * 1000, 1)


# -- the fake upstream, answering from the request body ----------------------
def holds_tool_result(body: dict[str, Any]) -> bool:
    """Whether any user message carries a tool result. Not only the last one: a
    resumed turn may reach the upstream followed by a synthetic "continue" turn."""
    return any(
        isinstance(block, dict) and block.get("type") == "tool_result"
        for message in body.get("messages") or []
        if message.get("role") == "user" and isinstance(message.get("content"), list)
        for block in message["content"]
    )


def offers_weather(body: dict[str, Any]) -> bool:
    return any(tool.get("name") == WEATHER_UPSTREAM for tool in body.get("tools") or [])


class LoopUpstream(FakeAnthropic):
    """The fake, choosing each reply from the request it answers rather than from
    a global queue, so concurrent agents each get their own script: a call to
    `get_weather` when it is offered and no tool result is in the conversation
    yet (step 1), else text (step 2, and every plain turn)."""

    def __init__(self) -> None:
        super().__init__()
        self._chosen: contextvars.ContextVar[Reply | None] = contextvars.ContextVar("bench_reply", default=None)

    def reply_for(self, body: dict[str, Any]) -> Reply:
        if not offers_weather(body) or holds_tool_result(body):
            return self.default_reply
        pacing = self.default_reply
        return Reply(
            text=[],
            tool_uses=[ToolUse(WEATHER_UPSTREAM, {"city": "Oslo"})],
            stop_reason="tool_use",
            output_tokens=12,
            ttfb=pacing.ttfb,
            delta_delay=pacing.delta_delay,
        )

    async def _messages(self, request: Request) -> Response:
        raw = await request.body()  # Starlette keeps it for the recorder
        try:
            body = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            body = {}
        token = self._chosen.set(self.reply_for(body if isinstance(body, dict) else {}))
        try:
            return await super()._messages(request)
        finally:
            self._chosen.reset(token)

    def _next_reply(self) -> Reply:
        return self._chosen.get() or self.default_reply


# -- one request of each kind ------------------------------------------------
async def direct_request(client: httpx.AsyncClient, base: str) -> Sample:
    body = {"model": "claude-fake", "max_tokens": 64, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    started = time.monotonic()
    ttft = None
    async with client.stream("POST", f"{base}/v1/messages", json=body, headers={"x-api-key": "k"}) as response:
        async for line in response.aiter_lines():
            if ttft is None and line.startswith("data:") and '"text_delta"' in line:
                ttft = time.monotonic() - started
    return Sample(ttft, time.monotonic() - started, response.status_code == 200, response.status_code)


@dataclass
class Answer:
    """A streamed chat completion as the client saw it."""

    status: int
    started: float
    ended: float = 0.0
    first_text: float | None = None
    first_call: float | None = None
    failed: bool = False
    text: list[str] = field(default_factory=list)
    calls: dict[int, dict[str, str]] = field(default_factory=dict)

    def sample(self, first: float | None, *, needs_calls: bool = False) -> Sample:
        """The answer timed to ``first`` (its first text or first tool-call delta)."""
        ttft = first - self.started if first is not None else None
        ok = self.status == 200 and not self.failed and ttft is not None and (bool(self.calls) or not needs_calls)
        return Sample(ttft, self.ended - self.started, ok, 500 if self.failed else self.status)

    def tool_calls(self) -> list[dict[str, Any]]:
        return [
            {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
            for _, c in sorted(self.calls.items())
        ]

    def assistant_message(self) -> dict[str, Any]:
        """The assistant message exactly as the stream delivered it."""
        message: dict[str, Any] = {"role": "assistant", "content": "".join(self.text) or None}
        if self.calls:
            message["tool_calls"] = self.tool_calls()
        return message

    def read(self, chunk: dict[str, Any]) -> None:
        now = time.monotonic()
        for choice in chunk.get("choices", []):
            delta = choice.get("delta") or {}
            if delta.get("content"):
                self.first_text = self.first_text or now
                self.text.append(delta["content"])
            for call in delta.get("tool_calls") or []:
                self.first_call = self.first_call or now
                slot = self.calls.setdefault(call.get("index", 0), {"id": "", "name": "", "arguments": ""})
                function = call.get("function") or {}
                slot["id"] = call.get("id") or slot["id"]
                slot["name"] = function.get("name") or slot["name"]
                slot["arguments"] += function.get("arguments") or ""


async def stream_chat(client: httpx.AsyncClient, proxy: Proxy, body: dict[str, Any]) -> Answer:
    answer = Answer(status=0, started=time.monotonic())
    headers = {"Authorization": f"Bearer {proxy.key}"}
    async with client.stream("POST", f"{proxy.url}/v1/chat/completions", json=body, headers=headers) as response:
        answer.status = response.status_code
        if response.status_code != 200:
            await response.aread()
        else:
            async for line in response.aiter_lines():
                if not line.startswith("data:") or line == "data: [DONE]":
                    continue
                chunk = json.loads(line[5:])
                if "error" in chunk:
                    answer.failed = True
                    break
                answer.read(chunk)
    answer.ended = time.monotonic()
    return answer


async def chat_request(client: httpx.AsyncClient, proxy: Proxy, messages: list[dict[str, Any]]) -> tuple[Sample, str]:
    answer = await stream_chat(client, proxy, {"model": "sonnet", "stream": True, "messages": messages})
    return answer.sample(answer.first_text), "".join(answer.text)


# -- conversations -------------------------------------------------------------
def direct_conversation(fake: FakeAnthropic) -> Conversation:
    async def converse(client: httpx.AsyncClient, tally: Tally) -> None:
        tally.samples.append(await direct_request(client, fake.base_url))

    return converse


def chat_conversation(proxy: Proxy, system: str, turns: int) -> Conversation:
    """One conversation of ``turns`` turns; multi-turn: only continuing turns are timed."""

    async def converse(client: httpx.AsyncClient, tally: Tally) -> None:
        messages: list[dict[str, Any]] = [{"role": "system", "content": system}]
        for turn in range(turns):
            messages.append({"role": "user", "content": f"question {turn} {uuid.uuid4().hex[:8]}"})
            sample, answer = await chat_request(client, proxy, messages)
            tally.sent += 1
            if turns == 1 or turn > 0:
                tally.samples.append(sample)
            if not sample.ok:
                return
            messages.append({"role": "assistant", "content": answer})

    return converse


def tool_loop_conversation(proxy: Proxy, system: str, tool_seconds: float) -> Conversation:
    """One agent step pair: a call to `get_weather`, then its result; step 2 is timed."""

    async def converse(client: httpx.AsyncClient, tally: Tally) -> None:
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": system},
            {"role": "user", "content": f"What is the weather in Oslo? (agent {uuid.uuid4().hex[:8]})"},
        ]
        body = {"model": "sonnet", "stream": True, "tools": [WEATHER]}
        first = await stream_chat(client, proxy, {**body, "messages": messages})
        tally.sent += 1
        step1 = first.sample(first.first_call, needs_calls=True)
        tally.step1.append(step1)
        if not step1.ok:
            return
        await asyncio.sleep(tool_seconds)  # the client running its function
        messages.append(first.assistant_message())
        messages += [{"role": "tool", "tool_call_id": c["id"], "content": TOOL_RESULT} for c in first.tool_calls()]
        second = await stream_chat(client, proxy, {**body, "messages": messages})
        tally.sent += 1
        tally.samples.append(second.sample(second.first_text))

    return converse


# -- load --------------------------------------------------------------------
async def run_load(concurrency: int, total: int, conversation: Conversation) -> tuple[Tally, float]:
    """``total`` conversations over ``concurrency`` workers."""
    tally = Tally()
    remaining = total

    def take() -> bool:
        nonlocal remaining
        remaining -= 1
        return remaining >= 0

    limits = httpx.Limits(max_connections=concurrency + 4, max_keepalive_connections=concurrency + 4)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:

        async def worker() -> None:
            while take():
                await conversation(client, tally)

        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.monotonic() - started
    return tally, elapsed


# -- measuring the proxy and its CLIs ------------------------------------------
def gone() -> contextlib.suppress:
    """For reads of processes that may end at any moment."""
    return contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied)


def tree_cpu(pid: int) -> tuple[float, float]:
    """CPU seconds (user+system) of the proxy itself, and of all its descendants.

    Linux adds a reaped child's times (and its own reaped children's) to the
    parent's ``children_user/children_system``; so the live tree's own times
    plus every member's reaped-children times count each process once. A
    child reaped mid-read would be missed or counted twice: read again then.
    """
    own = descendants = 0.0
    for _ in range(5):
        try:
            root = psutil.Process(pid)
            before = root.cpu_times()
            descendants = before.children_user + before.children_system
            for member in root.children(recursive=True):
                with gone():
                    t = member.cpu_times()
                    descendants += t.user + t.system + t.children_user + t.children_system
            after = root.cpu_times()
        except psutil.NoSuchProcess:
            return 0.0, 0.0
        own = before.user + before.system
        if (after.children_user, after.children_system) == (before.children_user, before.children_system):
            break
    return own, descendants


def tree_members(pid: int) -> dict[int, float]:
    """CPU seconds of the proxy and of each live descendant, by pid, each with
    the times of its own reaped children (so a child that ends shows as a jump)."""
    with gone():
        root = psutil.Process(pid)
        found = {pid: sum(root.cpu_times()[:4])}
        for member in root.children(recursive=True):
            with gone():
                found[member.pid] = sum(member.cpu_times()[:4])
        return found
    return {}


def settle(pid: int, timeout: float = 30.0, window: float = 1.0, idle: float = 0.05) -> bool:
    """Wait until, for ``window`` seconds, no process of the proxy's tree started
    or ended and each used under ``idle`` CPU seconds per second, so the
    background work a cell caused (resets, spare starts, process ends) is
    counted with that cell. Per process, because idle CLIs tick over (about
    0.02 s/s each), and a pool may keep many."""
    history: list[tuple[float, dict[int, float]]] = []

    def quiet() -> bool:
        now = time.monotonic()
        history.append((now, tree_members(pid)))
        older = [(t, members) for t, members in history if t <= now - window]
        if not older:
            return False
        (then, before), after = older[-1], history[-1][1]
        return before.keys() == after.keys() and all((after[k] - before[k]) / (now - then) < idle for k in after)

    return wait_for(quiet, timeout=timeout, interval=0.2)


def idle_rate(pid: int, seconds: float = 3.0) -> float:
    """CPU seconds per second the proxy and its CLIs use with no request running."""
    before = sum(tree_cpu(pid))
    time.sleep(seconds)
    return round((sum(tree_cpu(pid)) - before) / seconds, 4)


class MemorySampler:
    def __init__(self, proxy: Proxy) -> None:
        self.proxy = proxy
        self.memory = Memory()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.seen: set[int] = set()

    def rest(self) -> None:
        self.memory.proxy_rss_mib_rest = rss_mib(self.proxy.process.pid)
        children = cli_children(self.proxy.process.pid)
        self.memory.cli_processes_rest = len(children)
        self.memory.cli_rss_mib_each_rest = sorted(round(rss_mib(c.pid), 1) for c in children)
        self.memory.idle_cpu_s_per_s_rest = idle_rate(self.proxy.process.pid)

    def __enter__(self) -> MemorySampler:
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _loop(self) -> None:
        m = self.memory
        while not self._stop.wait(0.1):
            m.proxy_rss_mib_peak = max(m.proxy_rss_mib_peak, rss_mib(self.proxy.process.pid))
            children = cli_children(self.proxy.process.pid)
            self.seen.update(c.pid for c in children)
            sizes = [rss_mib(c.pid) for c in children]
            m.cli_processes_peak = max(m.cli_processes_peak, len(children))
            if sizes:
                m.cli_rss_mib_each_peak_max = max(m.cli_rss_mib_each_peak_max, max(sizes))
                m.cli_rss_mib_total_peak = max(m.cli_rss_mib_total_peak, round(sum(sizes), 1))


def alive_cli(pid: int) -> bool:
    try:
        process = psutil.Process(pid)
        return bool(process.name() == "claude" and process.status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def clis_left(seen: set[int], timeout: float = 10.0) -> int:
    """CLI processes still alive once they have had ``timeout`` seconds to end after the proxy."""
    wait_for(lambda: not any(alive_cli(pid) for pid in seen), timeout=timeout)
    return sum(1 for pid in seen if alive_cli(pid))


def rss_mib(pid: int) -> float:
    try:
        return round(float(psutil.Process(pid).memory_info().rss) / 2**20, 1)
    except psutil.NoSuchProcess:
        return 0.0


def summarize(scenario: str, concurrency: int, samples: list[Sample], elapsed: float) -> Cell:
    good = [s for s in samples if s.ok]
    return Cell(
        scenario=scenario,
        concurrency=concurrency,
        requests=len(samples),
        errors=sum(1 for s in samples if not s.ok and s.status != 429),
        refused_429=sum(1 for s in samples if s.status == 429),
        ttft_p50_ms=pct([s.ttft for s in good if s.ttft is not None], 0.5),
        ttft_p95_ms=pct([s.ttft for s in good if s.ttft is not None], 0.95),
        total_p50_ms=pct([s.total for s in good], 0.5),
        total_p95_ms=pct([s.total for s in good], 0.95),
        rps=round(len(good) / elapsed, 2) if elapsed else 0.0,
    )


def step1_summary(samples: list[Sample]) -> dict[str, Any]:
    """Step 1 of the tool loops, timed to the first tool-call delta (JSON only)."""
    good = [s for s in samples if s.ok]
    return {
        "step1_requests": len(samples),
        "step1_failed": len(samples) - len(good),
        "step1_first_call_p50_ms": pct([s.ttft for s in good if s.ttft is not None], 0.5),
        "step1_total_p50_ms": pct([s.total for s in good], 0.5),
    }


async def measure(
    scenario: str,
    concurrency: int,
    total: int,
    conversation: Conversation,
    *,
    proxy: Proxy,
    fake: FakeAnthropic,
    warm: bool = False,
) -> Cell:
    """One cell against a proxy, with its CPU cost once the background work has settled.

    ``warm``: first one unmeasured conversation per concurrent client, so a pool
    has grown to the row's concurrency (the rows describe a warm steady state;
    growing it is the first-request cost of the README's Limitations)."""
    pid = proxy.process.pid
    if warm:
        await run_load(concurrency, concurrency, conversation)
        await asyncio.to_thread(settle, pid)
    upstream_before = len(fake.message_requests())
    own0, clis0 = tree_cpu(pid)
    tally, elapsed = await run_load(concurrency, total, conversation)
    settled = await asyncio.to_thread(settle, pid)
    own1, clis1 = tree_cpu(pid)
    cell = summarize(scenario, concurrency, tally.samples, elapsed)
    sent = max(tally.sent, 1)
    cell.requests_sent = tally.sent
    cell.cpu_s_per_request_proxy = round((own1 - own0) / sent, 3)
    cell.cpu_s_per_request_clis = round((clis1 - clis0) / sent, 3)
    cell.cpu_s_per_request = round((own1 - own0 + clis1 - clis0) / sent, 3)
    cell.extra["upstream_requests"] = len(fake.message_requests()) - upstream_before
    cell.extra["settled"] = settled
    if tally.step1:
        cell.extra.update(step1_summary(tally.step1))
    print(f"{scenario} c={concurrency} done", file=sys.stderr)
    return cell


# -- the proxies -----------------------------------------------------------------
@dataclass
class Plan:
    """What to run: the concurrency levels, the scenarios, the sizes."""

    levels: list[int]
    tool_levels: list[int]
    scenarios: set[str]
    requests: int
    turns: int
    warmup: int
    tool_seconds: float
    rest: float = 0.0  # seconds the warm pool-on proxy rests before one more request

    def direct_levels(self) -> list[int]:
        wanted = set(self.levels) if "plain" in self.scenarios else set()
        if "toolloop" in self.scenarios:
            wanted |= set(self.tool_levels)
        return sorted(wanted)


def start(fake: FakeAnthropic, tmp: Path, name: str, extra_env: dict[str, str], args: argparse.Namespace) -> Proxy:
    home = tmp / name.replace(" ", "-").replace(",", "").replace("=", "-")
    home.mkdir()
    env = base_env(home, fake)
    env["LITELLM_MASTER_KEY"] = f"sk-bench-{uuid.uuid4().hex}"
    env.update(extra_env)
    if args.max_processes:
        env["LITELLM_CLAUDE_CODE_MAX_PROCESSES"] = str(args.max_processes)
    if args.spares is not None:
        env["LITELLM_CLAUDE_CODE_SPARES"] = str(args.spares)
    if args.cli_env:
        env.update(item.split("=", 1) for item in args.cli_env)
        env["LITELLM_CLAUDE_CODE_PASS_ENV"] = ",".join(item.split("=", 1)[0] for item in args.cli_env)
    proxy = start_proxy(home, env)
    proxy.key = env["LITELLM_MASTER_KEY"]
    return proxy


async def warm_up(proxy: Proxy, conversation: Conversation, count: int) -> None:
    """Bring the proxy to the steady state the rows describe (first-request cost: see README)."""
    await run_load(2, count, conversation)
    await asyncio.to_thread(settle, proxy.process.pid)


async def plain_cells(
    proxy: Proxy, label: str, levels: list[int], plan: Plan, fake: FakeAnthropic, system: str, *, warm: bool
) -> list[Cell]:
    cells = []
    for conc in levels:
        for turns, mode in ((1, "single"), (plan.turns, "multi")):
            count = plan.requests * conc if turns == 1 else max(conc, plan.requests * conc // (turns - 1))
            conversation = chat_conversation(proxy, system, turns)
            cell = await measure(f"{label}, {mode}-turn", conc, count, conversation, proxy=proxy, fake=fake, warm=warm)
            cells.append(cell)
    return cells


def tool_conversation(proxy: Proxy, plan: Plan) -> Conversation:
    return tool_loop_conversation(proxy, f"You are a weather agent. {proxy.url}", plan.tool_seconds)


async def tool_cells(
    proxy: Proxy, mode: str, plan: Plan, fake: FakeAnthropic, *, warm: bool, pooled: bool
) -> list[Cell]:
    conversation = tool_conversation(proxy, plan)
    if warm:  # the processes serving plain rows have another key
        await warm_up(proxy, conversation, tool_warmup(plan))
    return [
        await measure(
            f"tool loop {mode}, step 2", conc, plan.requests * conc, conversation, proxy=proxy, fake=fake, warm=pooled
        )
        for conc in plan.tool_levels
    ]


def tool_warmup(plan: Plan) -> int:
    return max(2, plan.warmup // 2)  # two requests each


@dataclass
class ProxySpec:
    """One proxy to start: its environment, and which rows it serves."""

    label: str
    env: dict[str, str]
    plain: bool  # the plain single- and multi-turn rows
    tool_mode: str | None  # the tool-loop rows, in this mode
    burst: bool = False  # the burst from an idle pool


def proxy_specs(plan: Plan) -> list[ProxySpec]:
    """The proxies the plan needs, in the order they run."""
    plain, tools = "plain" in plan.scenarios, "toolloop" in plan.scenarios
    specs = [
        ProxySpec("pool off", {"LITELLM_CLAUDE_CODE_POOL": "0"}, plain, "pool off" if tools else None),
        ProxySpec("pool on", {"LITELLM_CLAUDE_CODE_POOL": "1"}, plain, "parked" if tools else None),
        ProxySpec(
            "pool on, TOOL_WAIT=0",
            {"LITELLM_CLAUDE_CODE_POOL": "1", "LITELLM_CLAUDE_CODE_TOOL_WAIT": "0"},
            False,
            "resume" if tools else None,
        ),
    ]
    if "burst" in plan.scenarios:
        specs.append(ProxySpec("pool on, burst", {"LITELLM_CLAUDE_CODE_POOL": "1"}, False, None, burst=True))
    return [spec for spec in specs if spec.plain or spec.tool_mode or spec.burst]


async def run_proxy(proxy: Proxy, spec: ProxySpec, plan: Plan, fake: FakeAnthropic, sampler: MemorySampler) -> ProxyRun:
    """The rows one proxy serves: plain rows, the warm plain turns the parked
    tool loops are compared with (when the plain rows lack their levels), then
    the tool loops. Memory "at rest" is read after the first warm-up."""
    if spec.burst:
        return ProxyRun(await burst_cells(proxy, fake, sampler))
    cells: list[Cell] = []
    system = f"You are a benchmark. {uuid.uuid4().hex}"
    plain_levels = plan.levels if spec.plain else []
    references = [c for c in plan.tool_levels if c not in plain_levels] if spec.tool_mode == "parked" else []
    plain_first = bool(plain_levels or references)
    pooled = spec.env.get("LITELLM_CLAUDE_CODE_POOL") == "1"  # pool off has no warm state to reach
    if plain_first:
        await warm_up(proxy, chat_conversation(proxy, system, 1), plan.warmup)
    else:
        await warm_up(proxy, tool_conversation(proxy, plan), tool_warmup(plan))
    await asyncio.to_thread(sampler.rest)
    turn = None
    with sampler:
        if plain_levels:
            # The continuing turns come after the first level's rows (c=1 by default): the CLIs are as
            # warm, and as few (their idle ticking is in every reading), as in those rows.
            cells += await plain_cells(proxy, spec.label, plain_levels[:1], plan, fake, system, warm=pooled)
            if pooled:
                turn = await continuing_turns(proxy, system, FLOOR_TURNS)
            cells += await plain_cells(proxy, spec.label, plain_levels[1:], plan, fake, system, warm=pooled)
        for conc in references:
            conversation = chat_conversation(proxy, system, 1)
            cell = await measure(
                f"{spec.label}, single-turn",
                conc,
                plan.requests * conc,
                conversation,
                proxy=proxy,
                fake=fake,
                warm=pooled,
            )
            cells.append(cell)
        if spec.tool_mode is not None:
            cells += await tool_cells(proxy, spec.tool_mode, plan, fake, warm=plain_first, pooled=pooled)
    run = ProxyRun(cells, turn=turn)
    if spec.plain and pooled and plan.rest > 0:
        run.sporadic = await sporadic(proxy, system, plan.rest)
    return run


async def burst_cells(proxy: Proxy, fake: FakeAnthropic, sampler: MemorySampler) -> list[Cell]:
    """New conversations at once on a pool that one request left idle (its process and a
    spare): how long the last of them wait while the pool grows to the burst."""
    system = f"You are a benchmark. {uuid.uuid4().hex}"
    await run_load(1, 1, chat_conversation(proxy, system, 1))
    await asyncio.to_thread(settle, proxy.process.pid)
    await asyncio.to_thread(sampler.rest)
    concurrency, total = BURST
    with sampler:
        cell = await measure(
            "burst from idle, single-turn",
            concurrency,
            total,
            chat_conversation(proxy, system, 1),
            proxy=proxy,
            fake=fake,
        )
    cell.extra["cli_processes_before"] = sampler.memory.cli_processes_rest
    return [cell]


async def continuing_turns(proxy: Proxy, system: str, turns: int) -> TurnCost:
    """One conversation of ``turns`` turns at c=1; the CPU of turns 2..N, per turn."""
    pid = proxy.process.pid
    messages: list[dict[str, Any]] = [{"role": "system", "content": system}]
    chunks: list[int] = []
    async with httpx.AsyncClient(timeout=60) as client:
        for turn in range(turns):
            if turn == 1:
                await asyncio.to_thread(settle, pid)
                own0, clis0 = tree_cpu(pid)
            messages.append({"role": "user", "content": f"question {turn} {uuid.uuid4().hex[:8]}"})
            answer = await stream_chat(client, proxy, {"model": "sonnet", "stream": True, "messages": messages})
            if not answer.sample(answer.first_text).ok:
                raise RuntimeError(f"continuing turn {turn} failed: HTTP {answer.status}")
            chunks.append(len(answer.text))
            messages.append({"role": "assistant", "content": "".join(answer.text)})
    await asyncio.to_thread(settle, pid)
    own1, clis1 = tree_cpu(pid)
    timed = turns - 1
    print(f"{turns}-turn conversation done", file=sys.stderr)
    return TurnCost(
        timed, round((own1 - own0) / timed, 3), round((clis1 - clis0) / timed, 3), sorted(chunks)[len(chunks) // 2]
    )


FLOOR_CONFIG = """\
model_list:
  - model_name: sonnet
    litellm_params:
      model: floor/sonnet
litellm_settings:
  num_retries: 0
  custom_provider_map:
    - provider: floor
      custom_handler: floor_provider.handler
general_settings:
  master_key: os.environ/LITELLM_MASTER_KEY
"""


async def litellm_floor(fake: FakeAnthropic, tmp: Path, text_chunks: int, requests: int, warmup: int) -> Floor:
    """LiteLLM's own proxy (its ``litellm`` command) with bench/floor_provider.py, in the
    environment the measured proxies get: the CPU of one streamed chat completion
    at c=1 with nothing behind it."""
    home = tmp / "floor"
    home.mkdir()
    (home / "config.yaml").write_text(FLOOR_CONFIG)
    env = base_env(home, fake)
    env.update(
        PYTHONPATH=str(HERE), LITELLM_MASTER_KEY=f"sk-bench-{uuid.uuid4().hex}", BENCH_FLOOR_CHUNKS=str(text_chunks)
    )
    command = [str(Path(sys.executable).with_name("litellm")), "--config", str(home / "config.yaml")]
    proxy = start_server(home, env, command)  # as `start`: blocking, so a SIGTERM lands after it, then stops it
    proxy.key = env["LITELLM_MASTER_KEY"]
    process = proxy.process
    try:
        conversation = chat_conversation(proxy, "You are a benchmark.", 1)
        await run_load(1, warmup, conversation)
        await asyncio.to_thread(settle, process.pid)
        own0, _ = tree_cpu(process.pid)
        tally, _ = await run_load(1, requests, conversation)
        await asyncio.to_thread(settle, process.pid)
        own1, _ = tree_cpu(process.pid)
    finally:
        stop_process(process)
    failed = sum(not sample.ok for sample in tally.samples)
    if failed:
        raise RuntimeError(f"the floor proxy failed {failed} of {requests} requests; log: {proxy.log}")
    print("LiteLLM floor done", file=sys.stderr)
    return Floor(requests, text_chunks, round((own1 - own0) / requests, 3))


async def sporadic(proxy: Proxy, system: str, rest: float) -> Sporadic:
    """Let a warm proxy rest ``rest`` seconds, then send one new conversation: the
    CPU of the rest (idle processes tick over, their runtime collects) and of the
    request after it (a runtime that dropped its compiled code recompiles it)."""
    pid = proxy.process.pid
    await asyncio.to_thread(settle, pid)
    clis = len(cli_children(pid))
    before = sum(tree_cpu(pid))
    await asyncio.sleep(rest)
    rested = sum(tree_cpu(pid))
    tally, _ = await run_load(1, 1, chat_conversation(proxy, system, 1))
    await asyncio.to_thread(settle, pid)
    after = sum(tree_cpu(pid))
    (sample,) = tally.samples
    if not sample.ok:
        raise RuntimeError(f"the request after the rest failed: HTTP {sample.status}")
    ttft = round(sample.ttft * 1000, 1) if sample.ttft is not None else None
    print(f"one request after {rest:.0f} s at rest done", file=sys.stderr)
    return Sporadic(rest, clis, round(rested - before, 3), round(after - rested, 3), ttft, round(after - before, 3))


# -- reporting -----------------------------------------------------------------
def cpu_text(c: Cell) -> str:
    if c.cpu_s_per_request is None:
        return ""
    return f"{c.cpu_s_per_request:.3f} ({c.cpu_s_per_request_proxy:.3f} + {c.cpu_s_per_request_clis:.3f})"


def table(cells: list[Cell], direct: dict[int, Cell]) -> str:
    lines = [
        "| scenario | conc. | requests | errors | 429 | TTFT p50 | TTFT p95 | total p50 | total p95 | req/s "
        "| TTFT overhead p50 vs direct | CPU s/request (proxy + CLIs) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in cells:
        over = overhead(c, direct)
        lines.append(
            f"| {c.scenario} | {c.concurrency} | {c.requests} | {c.errors} | {c.refused_429} | {c.ttft_p50_ms} ms "
            f"| {c.ttft_p95_ms} ms | {c.total_p50_ms} ms | {c.total_p95_ms} ms | {c.rps} "
            f"| {'' if over is None else f'{over:.0f} ms'} | {cpu_text(c)} |"
        )
    return "\n".join(lines)


def overhead(cell: Cell | None, direct: dict[int, Cell]) -> float | None:
    """p50 TTFT over the direct upstream's at the same concurrency."""
    base = direct.get(cell.concurrency) if cell else None
    if cell is None or base is None or cell.scenario == "direct":
        return None
    if cell.ttft_p50_ms is None or base.ttft_p50_ms is None:
        return None
    return cell.ttft_p50_ms - base.ttft_p50_ms


def ratios(cells: list[Cell], direct: dict[int, Cell]) -> dict[str, float | None]:
    found: dict[str, float | None] = {}
    by = {(c.scenario, c.concurrency): c for c in cells}
    for conc in sorted(direct):
        for mode in ("single", "multi"):
            off, on = by.get((f"pool off, {mode}-turn", conc)), by.get((f"pool on, {mode}-turn", conc))
            over_off, over_on = overhead(off, direct), overhead(on, direct)
            if over_off is not None and over_on is not None:
                found[f"c={conc} {mode}-turn"] = round(over_on / over_off, 3) if over_off > 0 else None
    return found


def tool_ratios(cells: list[Cell], direct: dict[int, Cell]) -> dict[str, float | None]:
    """Step-2 TTFT overhead of each tool-loop mode over a warm plain turn's
    (pool on, single-turn) at the same concurrency, both over the direct upstream."""
    found: dict[str, float | None] = {}
    by = {(c.scenario, c.concurrency): c for c in cells}
    for conc in sorted({c.concurrency for c in cells if c.scenario.startswith("tool loop")}):
        plain = overhead(by.get(("pool on, single-turn", conc)), direct)
        for mode in TOOL_MODES:
            over = overhead(by.get((f"tool loop {mode}, step 2", conc)), direct)
            if over is not None and plain is not None:
                found[f"c={conc} {mode}"] = round(over / plain, 2) if plain > 0 else None
    return found


def targets(result: dict[str, Any]) -> list[str]:
    """Issue 10's targets, each with the measured value and whether it is met."""

    def verdict(value: float | None, limit: float) -> str:
        return "n/a" if value is None else ("met" if value <= limit else "MISSED")

    lines = []
    for key, value in result["step2_ttft_overhead_over_warm_plain_turn"].items():
        if key.endswith(" parked"):
            lines.append(
                f"- parked step-2 TTFT overhead / warm plain turn overhead, {key.removesuffix(' parked')}: "
                f"{value} (target <= {TARGET_PARKED_OVER_PLAIN}: {verdict(value, TARGET_PARKED_OVER_PLAIN)})"
            )
    c16 = result["ttft_overhead_ratio_pool_on_over_off"].get("c=16 multi-turn")
    if "c=16 multi-turn" in result["ttft_overhead_ratio_pool_on_over_off"]:
        lines.append(
            f"- c=16 continuing multi-turn, pool on / pool off overhead: {c16} "
            f"(target <= {TARGET_C16_MULTI_TURN_RATIO}: {verdict(c16, TARGET_C16_MULTI_TURN_RATIO)})"
        )
    for cell in result["cells"]:
        if cell["scenario"] == "pool on, single-turn" and cell["cpu_s_per_request"] is not None:
            value = cell["cpu_s_per_request"]
            lines.append(
                f"- CPU per warm single-turn request, c={cell['concurrency']}: {value} s "
                f"(target <= {TARGET_WARM_CPU_S}: {verdict(value, TARGET_WARM_CPU_S)})"
            )
    turn, floor = result.get("continuing_turn"), result.get("litellm_floor")
    if turn and floor:
        least = round(floor["proxy_cpu_s"] + turn["clis_cpu_s"], 3)
        lines.append(
            f"- floor under that target: LiteLLM's proxy alone, serving a provider that does nothing, "
            f"{floor['proxy_cpu_s']} s + a CLI's continuing turn (no reset, no spare) {turn['clis_cpu_s']} s "
            f"= {least} s per request ({'below' if least < TARGET_WARM_CPU_S else 'ABOVE'} the target)"
        )
        lines += _over_floor(result, least, turn, verdict)
    for cell in result["cells"]:
        if cell["scenario"].startswith("burst from idle") and cell["total_p50_ms"]:
            ratio = round(cell["total_p95_ms"] / cell["total_p50_ms"], 2)
            lines.append(
                f"- burst from idle ({cell['extra'].get('cli_processes_before')} CLIs ready), "
                f"{cell['requests']} requests at c={cell['concurrency']}: total p50 {cell['total_p50_ms']} ms, "
                f"p95 {cell['total_p95_ms']} ms, p95/p50 {ratio}, errors {cell['errors']} "
                f"(target <= {TARGET_BURST_P95_OVER_P50}, no error: "
                f"{verdict(ratio if not cell['errors'] else None, TARGET_BURST_P95_OVER_P50)})"
            )
    return lines


def _over_floor(result: dict[str, Any], least: float, turn: dict[str, Any], verdict: Any) -> list[str]:
    """CPU per request of a single turn (c=1) and of a continuing one, over the floor."""
    lines = []
    single = next(
        (c for c in result["cells"] if c["scenario"] == "pool on, single-turn" and c["concurrency"] == 1), None
    )
    continuing = round(turn["proxy_cpu_s"] + turn["clis_cpu_s"], 3)
    for name, value in (("single-turn c=1", single and single["cpu_s_per_request"]), ("continuing", continuing)):
        if value:
            ratio = round(value / least, 2)
            lines.append(
                f"- CPU per request over the floor, {name}: {value} s / {least} s = {ratio} "
                f"(target <= {TARGET_CPU_OVER_FLOOR}: {verdict(ratio, TARGET_CPU_OVER_FLOOR)})"
            )
    return lines


def markdown(result: dict[str, Any]) -> str:
    machine, upstream = result["machine"], result["upstream"]
    memory = "; ".join(
        f"{label}: proxy {m['proxy_rss_mib_rest']} at rest / {m['proxy_rss_mib_peak']} peak, "
        f"CLI processes {m['cli_processes_rest']} at rest ({', '.join(map(str, m['cli_rss_mib_each_rest']))}) "
        f"/ {m['cli_processes_peak']} peak, largest {m['cli_rss_mib_each_peak_max']}, "
        f"all CLIs {m['cli_rss_mib_total_peak']} peak, left after stop: {m['cli_processes_after_stop']}, "
        f"CPU at rest {m['idle_cpu_s_per_s_rest']} s/s"
        for label, m in result["memory"].items()
    )
    lines = [
        f"Machine: {machine['cpus']} CPUs, {machine['memory_gib']} GiB, {machine['platform']}, "
        f"Python {machine['python']}.",
        f"Fake upstream: {upstream['ttfb_s'] * 1000:.0f} ms to first byte, {upstream['tokens']} tokens at "
        f"{upstream['tokens_per_second']:.0f} tokens/s. Multi-turn rows time turns "
        f"2..{result['turns_per_conversation']} of each conversation. {ROWS_EXPLAINED}",
        "",
        result["table"],
        "",
    ]
    if result["ttft_overhead_ratio_pool_on_over_off"]:
        lines += [
            "TTFT overhead ratio, pool on / pool off (p50, over the direct upstream): "
            + ", ".join(f"{k}: {v}" for k, v in result["ttft_overhead_ratio_pool_on_over_off"].items()),
            "",
        ]
    if result["step2_ttft_overhead_over_warm_plain_turn"]:
        lines += [
            "Step-2 TTFT overhead over a warm plain turn's (pool on, single-turn; p50, over the direct upstream): "
            + ", ".join(f"{k}: {v}" for k, v in result["step2_ttft_overhead_over_warm_plain_turn"].items()),
            "",
        ]
    step1 = [
        f"{c['scenario'].removesuffix(', step 2').removeprefix('tool loop ')} c={c['concurrency']}: "
        f"{c['extra']['step1_first_call_p50_ms']} ms"
        for c in result["cells"]
        if "step1_first_call_p50_ms" in c["extra"]
    ]
    if step1:
        lines += ["Tool-loop step 1, p50 time to the first tool-call delta: " + ", ".join(step1), ""]
    lines += ["Targets:", *targets(result), "", f"Memory (RSS, MiB) and CPU at rest: {memory}"]
    for label, r in result.get("sporadic", {}).items():
        lines += [
            "",
            f"One request after {r['rest_s']:.0f} s at rest ({label}, {r['clis_at_rest']} CLIs at rest): "
            f"{r['rest_cpu_s']} s of CPU over the rest, {r['request_cpu_s']} s for the request "
            f"(TTFT {r['request_ttft_ms']} ms): {r['cpu_s_per_request']} s per request at that pace.",
        ]
    turn, floor = result.get("continuing_turn"), result.get("litellm_floor")
    if turn:
        lines += [
            "",
            f"A continuing turn, c=1 (turns 2..{turn['turns'] + 1} of one conversation): "
            f"{turn['proxy_cpu_s'] + turn['clis_cpu_s']:.3f} s of CPU per turn "
            f"({turn['proxy_cpu_s']} proxy + {turn['clis_cpu_s']} CLIs), "
            f"{turn['text_chunks_p50']} text chunks per answer.",
        ]
    if floor:
        lines += [
            "",
            f"LiteLLM's own proxy (`litellm --config`) with bench/floor_provider.py, a provider that streams "
            f"{floor['text_chunks']} text chunks at once, c=1, {floor['requests']} requests: "
            f"{floor['proxy_cpu_s']} s of CPU per request.",
        ]
    if result.get("cli_env"):
        lines += ["", f"CLI environment added: {', '.join(result['cli_env'])}."]
    return "\n".join(lines)


# -- main ----------------------------------------------------------------------
async def main_async(args: argparse.Namespace, plan: Plan) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="lcc-bench-"))
    fake = LoopUpstream().start()
    fake.default_reply = Reply(
        text=[f" tok{i}" for i in range(args.tokens)],
        output_tokens=args.tokens,
        ttfb=args.ttfb,
        delta_delay=1.0 / args.tokens_per_second if args.tokens_per_second else 0.0,
    )
    cells: list[Cell] = []
    memory: dict[str, Any] = {}
    sporadic_result: dict[str, Any] = {}
    turn: TurnCost | None = None
    floor: Floor | None = None
    proxies: list[Proxy] = []
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)  # so `finally` stops the proxies
    try:
        for conc in plan.direct_levels():
            tally, elapsed = await run_load(conc, plan.requests * conc, direct_conversation(fake))
            cells.append(summarize("direct", conc, tally.samples, elapsed))
            print(f"direct c={conc} done", file=sys.stderr)
        for spec in proxy_specs(plan):
            proxy = start(fake, tmp, spec.label, spec.env, args)
            proxies.append(proxy)
            sampler = MemorySampler(proxy)
            run = await run_proxy(proxy, spec, plan, fake, sampler)
            cells += run.cells
            memory[spec.label] = asdict(sampler.memory)
            if run.sporadic is not None:
                sporadic_result[spec.label] = asdict(run.sporadic)
            turn = run.turn or turn
            sampler.seen.update(c.pid for c in cli_children(proxy.process.pid))
            stop_process(proxy.process)
            memory[spec.label]["cli_processes_after_stop"] = clis_left(sampler.seen)
        if turn is not None:
            floor = await litellm_floor(fake, tmp, turn.text_chunks_p50, FLOOR_REQUESTS, plan.warmup)
    except BaseException:
        print(f"failed; the proxies' logs are under {tmp}", file=sys.stderr)
        raise
    finally:
        for proxy in proxies:
            stop_process(proxy.process)
        fake.stop()
    shutil.rmtree(tmp, ignore_errors=True)
    direct = {c.concurrency: c for c in cells if c.scenario == "direct"}
    return {
        "machine": {
            "cpus": os.cpu_count(),
            "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "upstream": {"ttfb_s": args.ttfb, "tokens": args.tokens, "tokens_per_second": args.tokens_per_second},
        "scenarios": sorted(plan.scenarios),
        "requests_per_worker": plan.requests,
        "turns_per_conversation": plan.turns,
        "tool_seconds": plan.tool_seconds,
        "cells": [asdict(c) for c in cells],
        "ttft_overhead_ratio_pool_on_over_off": ratios(cells, direct),
        "step2_ttft_overhead_over_warm_plain_turn": tool_ratios(cells, direct),
        "memory": memory,
        "sporadic": sporadic_result,
        "continuing_turn": asdict(turn) if turn else None,
        "litellm_floor": asdict(floor) if floor else None,
        "cli_env": args.cli_env,
        "table": table(cells, direct),
    }


def levels(text: str) -> list[int]:
    found = [int(x) for x in text.split(",") if x.strip()]
    if not found or min(found) < 1:
        raise argparse.ArgumentTypeError(f"concurrency levels must be positive integers: {text!r}")
    return found


def scenarios(text: str) -> set[str]:
    found = {x.strip() for x in text.split(",") if x.strip()}
    unknown = found - set(SCENARIOS)
    if not found or unknown:
        raise argparse.ArgumentTypeError(f"unknown scenario {sorted(unknown)}; choose from {', '.join(SCENARIOS)}")
    return found


def cli_variable(text: str) -> str:
    name, sep, _ = text.partition("=")
    if not sep or not name.isidentifier():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE: {text!r}")
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=levels, default=[1, 4, 16], help="levels of the plain rows")
    parser.add_argument("--tool-concurrency", type=levels, default=[1, 8], help="levels of the tool-loop rows")
    parser.add_argument("--only", type=scenarios, default=set(SCENARIOS), help="plain, toolloop or both (comma)")
    parser.add_argument("--requests", type=int, default=6, help="conversations per concurrent client and row")
    parser.add_argument("--turns", type=int, default=3, help="turns per multi-turn conversation")
    parser.add_argument("--tool-seconds", type=float, default=0.0, help="client time running a function")
    parser.add_argument("--ttfb", type=float, default=0.05, help="upstream seconds to the first byte")
    parser.add_argument("--tokens", type=int, default=20)
    parser.add_argument("--tokens-per-second", type=float, default=400.0)
    parser.add_argument("--max-processes", type=int, default=0, help="pool cap (0: the default)")
    parser.add_argument("--spares", type=int, default=None, help="clean processes kept ready (default: the default)")
    parser.add_argument("--warmup", type=int, default=12, help="requests before measuring each proxy")
    parser.add_argument(
        "--rest", type=float, default=120.0, help="seconds pool on rests before one more request (0: skip)"
    )
    parser.add_argument(
        "--cli-env", type=cli_variable, action="append", default=[], help="NAME=VALUE for every CLI (repeatable)"
    )
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()
    plan = Plan(
        levels=args.concurrency,
        tool_levels=args.tool_concurrency,
        scenarios=args.only,
        requests=args.requests,
        turns=args.turns,
        warmup=args.warmup,
        tool_seconds=args.tool_seconds,
        rest=args.rest,
    )
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    try:
        result = asyncio.run(main_async(args, plan))
    except asyncio.CancelledError:  # SIGTERM: the proxies are stopped
        sys.exit(128 + signal.SIGTERM)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latest.json").write_text(json.dumps(result, indent=2) + "\n")
    text = markdown(result)
    (args.out / "latest.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
