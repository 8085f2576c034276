"""Load-and-soak benchmark: one real proxy under a mixed, faulty load, then a leak check.

It starts the fake Anthropic API in-process and one real proxy
(`litellm-claude-code serve`, warm-process pool on) and sends a fixed number of
requests at each concurrency: half streamed, single- and multi-turn
conversations, some offering a client function whose call is answered with a
`tool` message, some clients disconnecting at a random moment, some upstream
errors (429/500/529) and, when the fake supports them, mid-stream connection
drops and cut-short SSE streams. Each request's fate is chosen up front from a seeded random mix and
written into its user message, so the fake answers it the same way whatever
order requests arrive in, and the client knows which errors it asked for.

It prints, per level: requests, 200s, 429s, deliberate-fault errors, client
disconnects, other errors, p50/p95, throughput, CPU seconds per request (proxy
and CLIs together), peak and final CLI count against the cap, proxy RSS at
start/peak/end; then CLIs left after stop and files left in the state dir and
temp dirs, with PASS/MISS per target. Everything stays on 127.0.0.1.

    python bench/soak.py                          # writes bench/results/soak-latest.{json,md}
    python bench/soak.py --requests 40 --concurrency 8
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import dataclasses
import json
import os
import platform
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
from starlette.requests import Request
from starlette.responses import Response

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "support"))

from fake_anthropic import FakeAnthropic, Reply, ToolUse  # noqa: E402
from harness import Proxy, base_env, cli_children, start_proxy, stop_process, wait_for  # noqa: E402
from run import gone, pct, rss_mib, tree_cpu  # noqa: E402

from litellm_claude_code.settings import Settings  # noqa: E402

MARKER = re.compile(r"\[soak reply=([a-z0-9:]+)\]")
SYSTEM = "You are the soak benchmark."
TOOL_NAME = "lookup"
TOOL = {
    "type": "function",
    "function": {
        "name": TOOL_NAME,
        "description": "Look a word up",
        "parameters": {"type": "object", "properties": {"word": {"type": "string"}}, "required": ["word"]},
    },
}
POOL_FULL = ("Claude Code processes are busy", "the pool is shutting down")
ERROR_FAULTS = ("err:429", "err:500", "err:529")
# Mid-stream faults, used when the fake's Reply has a field whose name holds the word.
STREAM_FAULTS = {"drop": "drop", "truncate": "truncat"}
TEMP_PATTERNS = ("claude-*", "fswatch-probe-*")


# -- the plan: what each request asks for ------------------------------------
@dataclass(frozen=True)
class Step:
    """One HTTP request: the upstream reply it asks for, and how the client behaves."""

    reply: str  # "text:N", "tool", "err:429|500|529", "drop", "truncate"; "" for a tool follow-up (text)
    stream: bool
    disconnect: tuple[str, float] | None = None  # ("chunks", k) or ("after", seconds)

    @property
    def fault(self) -> bool:
        return self.reply.startswith("err:") or self.reply in STREAM_FAULTS


@dataclass(frozen=True)
class Turn:
    ask: Step
    follow_up: Step | None = None  # sent with the tool result when ask.reply == "tool"


@dataclass(frozen=True)
class Plan:
    index: int
    tools: bool
    turns: tuple[Turn, ...]


@dataclass(frozen=True)
class Mix:
    fault_rate: float = 0.06
    disconnect_rate: float = 0.08
    tools_rate: float = 0.25
    faults: tuple[str, ...] = ERROR_FAULTS


class Planner:
    """An endless, seeded sequence of conversation plans."""

    def __init__(self, seed: int, mix: Mix) -> None:
        self.rng = random.Random(seed)
        self.mix = mix
        self.count = 0
        self.faults = 0  # faults take turns, so every kind occurs even in a short run

    def next(self) -> Plan:
        rng = self.rng
        tools = rng.random() < self.mix.tools_rate
        turns = rng.choices((1, 2, 3), weights=(55, 25, 20))[0]
        self.count += 1
        return Plan(self.count, tools, tuple(self._turn(tools) for _ in range(turns)))

    def _turn(self, tools: bool) -> Turn:
        rng = self.rng
        if rng.random() < self.mix.fault_rate:
            self.faults += 1
            return Turn(self._step(self.mix.faults[self.faults % len(self.mix.faults)]))
        if tools and rng.random() < 0.6:
            return Turn(self._step("tool"), self._step(""))
        return Turn(self._step(f"text:{rng.randint(10, 60)}"))

    def _step(self, reply: str) -> Step:
        rng = self.rng
        stream = rng.random() < 0.5
        disconnect: tuple[str, float] | None = None
        if rng.random() < self.mix.disconnect_rate:
            disconnect = ("chunks", float(rng.randint(1, 4))) if stream else ("after", rng.uniform(0.01, 0.4))
        return Step(reply, stream, disconnect)


# -- the fake upstream -------------------------------------------------------
def stream_faults() -> dict[str, dict[str, Any]]:
    """The mid-stream faults this fake's Reply supports, as Reply keyword arguments
    (a connection dropped, an SSE stream cut short), found by field name."""
    found: dict[str, dict[str, Any]] = {}
    for option in dataclasses.fields(Reply):
        for fault, word in STREAM_FAULTS.items():
            if word in option.name and fault not in found:
                kind = str(option.type)
                found[fault] = {option.name: True if "bool" in kind and "int" not in kind else 3}
    return found


@dataclass(frozen=True)
class Pacing:
    ttfb: float
    delta_delay: float


def reply_for(spec: str, pacing: Pacing, faults: dict[str, dict[str, Any]]) -> Reply:
    paced: dict[str, Any] = {"ttfb": pacing.ttfb, "delta_delay": pacing.delta_delay}
    if spec == "tool":
        use = ToolUse(f"mcp__client__{TOOL_NAME}", {"word": "soak"})
        return Reply(text=[], tool_uses=[use], stop_reason="tool_use", **paced)
    if spec.startswith("err:"):
        status = int(spec[4:])
        headers = {"retry-after": "1"} if status == 429 else {}
        return Reply(status=status, error_message=f"soak fault {status}", headers=headers, **paced)
    if spec in faults:  # cut after 3 of 40 deltas
        return Reply(text=[f" d{i}" for i in range(40)], output_tokens=40, **paced, **faults[spec])
    count = int(spec[5:]) if spec.startswith("text:") else 20
    return Reply(text=[f" w{i}" for i in range(count)], output_tokens=count, **paced)


def marker_of(body: dict[str, Any]) -> str:
    """The reply spec in the last user message (the CLI appends a system message
    after it; a tool result carries no spec: plain text)."""
    users = [m for m in body.get("messages") or [] if m.get("role") == "user"]
    if not users:
        return ""
    content = users[-1].get("content")
    blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content or []
    for text in (b.get("text") for b in blocks if b.get("type") == "text"):
        found = MARKER.search(text or "")
        if found:
            return found.group(1)
    return ""


class SoakUpstream(FakeAnthropic):
    """The fake, answering each request as its marker asks."""

    def __init__(self, pacing: Pacing, faults: dict[str, dict[str, Any]]) -> None:
        super().__init__()
        self.pacing = pacing
        self.faults = faults
        self.served: Counter[str] = Counter()
        self._chosen: contextvars.ContextVar[Reply | None] = contextvars.ContextVar("soak_reply", default=None)

    async def _messages(self, request: Request) -> Response:
        raw = await request.body()  # Starlette caches it for the recorder
        try:
            body = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            body = {}
        spec = marker_of(body) or "follow-up"
        with self._lock:
            self.served[spec.split(":")[0] if spec.startswith("text:") else spec] += 1
        token = self._chosen.set(reply_for(spec, self.pacing, self.faults))
        try:
            return await super()._messages(request)
        finally:
            self._chosen.reset(token)

    def _next_reply(self) -> Reply:
        return self._chosen.get() or self.default_reply


# -- the client ----------------------------------------------------------------
@dataclass
class Outcome:
    kind: str  # ok, pool_429, fault, disconnect, unexpected
    status: int  # 0: the client went away first
    step: Step
    total: float
    ttft: float | None = None
    detail: str = ""
    text: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    retry_after: float = 1.0


@dataclass
class Answer:
    status: int
    body: str = ""
    complete: bool = False
    text: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    ttft: float | None = None
    disconnected: bool = False
    retry_after: float = 1.0


def retry_after(response: httpx.Response) -> float:
    try:
        return min(2.0, max(0.1, float(response.headers.get("retry-after", "1"))))
    except ValueError:
        return 1.0


async def post_plain(client: httpx.AsyncClient, url: str, body: dict[str, Any], headers: dict[str, str]) -> Answer:
    response = await client.post(url, json=body, headers=headers)
    if response.status_code != 200:
        return Answer(response.status_code, response.text[:600], retry_after=retry_after(response))
    message = (response.json().get("choices") or [{}])[0].get("message") or {}
    calls = [
        {"id": c["id"], "name": c["function"]["name"], "arguments": c["function"]["arguments"]}
        for c in message.get("tool_calls") or []
    ]
    return Answer(200, complete=True, text=message.get("content") or "", tool_calls=calls)


async def post_stream(
    client: httpx.AsyncClient, url: str, body: dict[str, Any], headers: dict[str, str], stop_after: int | None
) -> Answer:
    started = time.monotonic()
    answer = Answer(200)
    calls: dict[int, dict[str, Any]] = {}
    chunks = 0
    async with client.stream("POST", url, json=body, headers=headers) as response:
        if response.status_code != 200:
            await response.aread()
            return Answer(response.status_code, response.text[:600], retry_after=retry_after(response))
        async for line in response.aiter_lines():
            if not line.startswith("data:"):
                continue
            if line.strip() == "data: [DONE]":
                answer.complete = True
                break
            chunk = json.loads(line[5:])
            if "error" in chunk:
                code = str((chunk["error"] or {}).get("code") or "")
                return Answer(int(code) if code.isdigit() else 500, line[:600])
            chunks += 1
            if read_delta(chunk, answer, calls) and answer.ttft is None:
                answer.ttft = time.monotonic() - started
            if stop_after is not None and chunks >= stop_after:
                answer.disconnected = True
                break  # leaving the context closes the connection mid-stream
    answer.tool_calls = [calls[i] for i in sorted(calls)]
    return answer


def read_delta(chunk: dict[str, Any], answer: Answer, calls: dict[int, dict[str, Any]]) -> bool:
    """Fold one streamed chunk into the answer; True if it carried content."""
    content = False
    for choice in chunk.get("choices") or []:
        delta = choice.get("delta") or {}
        if delta.get("content"):
            answer.text += delta["content"]
            content = True
        for call in delta.get("tool_calls") or []:
            slot = calls.setdefault(call.get("index", 0), {"id": "", "name": "", "arguments": ""})
            slot["id"] = call.get("id") or slot["id"]
            function = call.get("function") or {}
            slot["name"] += function.get("name") or ""
            slot["arguments"] += function.get("arguments") or ""
            content = True
    return content


async def send(
    client: httpx.AsyncClient, proxy: Proxy, messages: list[dict[str, Any]], tools: bool, step: Step
) -> Outcome:
    body: dict[str, Any] = {"model": "sonnet", "messages": messages, "stream": step.stream}
    if tools:
        body["tools"] = [TOOL]
    url = f"{proxy.url}/v1/chat/completions"
    headers = {"Authorization": f"Bearer {proxy.key}"}
    started = time.monotonic()
    kind, value = step.disconnect or ("", 0.0)
    try:
        if step.stream:
            answer = await post_stream(client, url, body, headers, int(value) if kind == "chunks" else None)
        elif kind == "after":
            answer = await asyncio.wait_for(post_plain(client, url, body, headers), timeout=value)
        else:
            answer = await post_plain(client, url, body, headers)
    except asyncio.TimeoutError:
        answer = Answer(0, disconnected=True)
    except httpx.HTTPError as exc:
        answer = Answer(0, f"client error: {type(exc).__name__}: {exc}")
    return classify(step, answer, time.monotonic() - started)


def classify(step: Step, answer: Answer, elapsed: float) -> Outcome:
    outcome = Outcome("unexpected", answer.status, step, elapsed, answer.ttft, answer.body, answer.text)
    outcome.tool_calls, outcome.retry_after = answer.tool_calls, answer.retry_after
    if answer.disconnected:
        outcome.kind = "disconnect"
    elif answer.status == 429 and any(text in answer.body for text in POOL_FULL):
        outcome.kind = "pool_429"
    elif answer.status == 200 and answer.complete:
        outcome.kind, outcome.detail = answer_kind(step, answer)
    elif step.fault:
        outcome.kind = "fault"
    elif answer.status == 200:
        outcome.detail = "stream ended without [DONE]"
    return outcome


def answer_kind(step: Step, answer: Answer) -> tuple[str, str]:
    if step.fault:
        return "unexpected", f"the injected fault {step.reply} was answered as a success: {answer.text[:200]!r}"
    if step.reply == "tool" and not answer.tool_calls:
        return "unexpected", f"no tool call in the answer: {answer.text[:200]!r}"
    if step.reply != "tool" and answer.tool_calls:
        return "unexpected", f"an unasked tool call: {answer.tool_calls}"
    return "ok", ""


# -- load ------------------------------------------------------------------------
class Budget:
    """The requests left at this level (one event loop: no lock needed)."""

    def __init__(self, total: int) -> None:
        self.left = total

    def take(self) -> bool:
        if self.left <= 0:
            return False
        self.left -= 1
        return True


async def attempt(
    client: httpx.AsyncClient,
    proxy: Proxy,
    messages: list[dict[str, Any]],
    plan: Plan,
    step: Step,
    budget: Budget,
    results: list[Outcome],
) -> Outcome | None:
    """One request, retried after a pool 429 as an OpenAI client would (twice at most)."""
    outcome = None
    for _ in range(3):
        if not budget.take():
            return None
        outcome = await send(client, proxy, messages, plan.tools, step)
        results.append(outcome)
        if outcome.kind != "pool_429":
            return outcome
        await asyncio.sleep(outcome.retry_after)
    return outcome


def assistant_message(outcome: Outcome) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": outcome.text or None}
    if outcome.tool_calls:
        message["tool_calls"] = [
            {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
            for c in outcome.tool_calls
        ]
    return message


async def converse(client: httpx.AsyncClient, proxy: Proxy, plan: Plan, budget: Budget, results: list[Outcome]) -> None:
    """A conversation as an OpenAI client holds it: each answer is appended before the next turn."""
    messages: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM}]
    for number, turn in enumerate(plan.turns):
        text = f"[soak reply={turn.ask.reply}] conversation {plan.index}, question {number + 1}"
        messages.append({"role": "user", "content": text})
        outcome = await attempt(client, proxy, messages, plan, turn.ask, budget, results)
        if outcome is None or outcome.kind != "ok":
            return
        messages.append(assistant_message(outcome))
        if turn.follow_up is None:
            continue
        for call in outcome.tool_calls:
            messages.append({"role": "tool", "tool_call_id": call["id"], "content": "soak: 42"})
        outcome = await attempt(client, proxy, messages, plan, turn.follow_up, budget, results)
        if outcome is None or outcome.kind != "ok":
            return
        messages.append(assistant_message(outcome))


async def run_load(proxy: Proxy, planner: Planner, concurrency: int, total: int) -> tuple[list[Outcome], float]:
    results: list[Outcome] = []
    budget = Budget(total)
    limits = httpx.Limits(max_connections=concurrency + 4, max_keepalive_connections=concurrency + 4)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:

        async def worker() -> None:
            while budget.left > 0:
                await converse(client, proxy, planner.next(), budget, results)

        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return results, time.monotonic() - started


# -- measuring the proxy and its CLIs --------------------------------------------
class Sampler:
    """Every 100 ms: CLI count and proxy RSS (peaks per level); every second a timeline point.

    The cap is on the CLI processes the proxy starts (its direct children); a
    CLI may run a helper copy of itself, counted apart as a helper.
    """

    def __init__(self, proxy: Proxy, cap: int) -> None:
        self.proxy = proxy
        self.cap = cap
        self.seen: set[int] = set()
        self.peak_clis = 0
        self.peak_helpers = 0  # `claude` processes started by a CLI, not by the proxy
        self.helper_detail: list[str] = []
        self.peak_rss = 0.0
        self.over_cap = 0  # samples with more CLIs alive than the cap
        self.over_cap_detail: list[list[str]] = []  # the first few: each CLI's age and state
        self.timeline: list[dict[str, float]] = []
        self._started = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def reset_peaks(self) -> None:
        with self._lock:
            self.peak_clis, self.peak_helpers, self.peak_rss, self.over_cap = 0, 0, 0.0, 0
            self.over_cap_detail, self.helper_detail = [], []

    def clis(self) -> int:
        """The proxy's CLI processes now (helpers apart)."""
        pid = self.proxy.process.pid
        direct, helpers = [], []
        for child in cli_children(pid):
            with gone():
                (direct if child.ppid() == pid else helpers).append(child)
        with self._lock:
            self.seen.update(c.pid for c in direct + helpers)
            self.peak_clis = max(self.peak_clis, len(direct))
            self.peak_helpers = max(self.peak_helpers, len(helpers))
            if helpers and len(self.helper_detail) < 3:
                self.helper_detail += describe(helpers)
            if len(direct) > self.cap:
                self.over_cap += 1
                if len(self.over_cap_detail) < 3:
                    self.over_cap_detail.append(describe(direct))
        return len(direct)

    def _loop(self) -> None:
        ticks = 0
        while not self._stop.wait(0.1):
            count = self.clis()
            rss = rss_mib(self.proxy.process.pid)
            with self._lock:
                self.peak_rss = max(self.peak_rss, rss)
            ticks += 1
            if ticks % 10 == 0:
                own, children = tree_cpu(self.proxy.process.pid)
                self.timeline.append(
                    {
                        "t_s": round(time.monotonic() - self._started, 1),
                        "clis": count,
                        "proxy_rss_mib": rss,
                        "cpu_s": round(own + children, 2),
                    }
                )


def describe(processes: list[psutil.Process]) -> list[str]:
    now = time.time()
    found = []
    for process in processes:
        with gone():
            found.append(
                f"pid {process.pid} (parent {process.ppid()}): {now - process.create_time():.1f} s old, "
                f"{process.status()}, `{' '.join(process.cmdline()[1:4])[:80]}`"
            )
    return found


def settle(sampler: Sampler, cap: int, timeout: float = 30.0) -> tuple[bool, int, float]:
    """Wait until the CLI count is at or under the cap and unchanged for a second."""
    started = time.monotonic()
    history: list[tuple[float, int]] = []

    def steady() -> bool:
        now, count = time.monotonic(), sampler.clis()
        history.append((now, count))
        recent = [c for t, c in history if now - t <= 1.0]
        return count <= cap and history[0][0] <= now - 1.0 and len(set(recent)) == 1

    settled = wait_for(steady, timeout=timeout, interval=0.1)
    return settled, history[-1][1] if history else sampler.clis(), round(time.monotonic() - started, 1)


def our_clis(root: Path, seen: Iterable[int]) -> list[psutil.Process]:
    """Claude CLI processes of this run, anywhere (orphans are re-parented)."""
    found: dict[int, psutil.Process] = {}
    marker = str(root)
    for process in psutil.process_iter(["pid"]):
        with gone():
            cmdline = process.cmdline()
            if not cmdline or Path(cmdline[0]).name != "claude" or process.status() == psutil.STATUS_ZOMBIE:
                continue
            if (
                process.pid in seen
                or marker in " ".join(cmdline)
                or any(marker in v for v in process.environ().values())
            ):
                found[process.pid] = process
    return list(found.values())


def files_under(path: Path, base: Path | None = None) -> list[str]:
    """Every file and folder below ``path``, named relative to ``base`` if given."""
    if not path.exists():
        return []
    return sorted(str(p.relative_to(base) if base else p) for p in path.rglob("*"))


def system_temp_entries() -> set[str]:
    entries: set[str] = set()
    for base in {Path("/tmp"), Path(tempfile.gettempdir())}:
        for pattern in TEMP_PATTERNS:
            entries.update(str(p) for p in base.glob(pattern))
    return entries


def children_cpu_of_this_process() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# -- one level ---------------------------------------------------------------
def summarize(
    concurrency: int,
    results: list[Outcome],
    elapsed: float,
    cpu: tuple[float, float],
    clis: dict[str, Any],
    rss: dict[str, float],
) -> dict[str, Any]:
    kinds = Counter(r.kind for r in results)
    ok = [r for r in results if r.kind == "ok"]
    ttfts = [r.ttft for r in ok if r.step.stream and r.ttft is not None]
    total_cpu = cpu[0] + cpu[1]
    faults = Counter(f"{r.step.reply} -> {r.status or 'cut'}" for r in results if r.kind == "fault")
    return {
        "concurrency": concurrency,
        "requests": len(results),
        "ok_200": kinds["ok"],
        "refused_429_pool": kinds["pool_429"],
        "refused_429_fault": sum(1 for r in results if r.kind == "fault" and r.status == 429),
        "fault_errors": kinds["fault"],
        "fault_statuses": dict(sorted(faults.items())),
        "disconnects": kinds["disconnect"],
        "other_errors": kinds["unexpected"],
        "other_error_samples": [
            {"status": r.status, "planned": r.step.reply, "stream": r.step.stream, "body": r.detail[:400]}
            for r in results
            if r.kind == "unexpected"
        ][:5],
        "streamed": sum(1 for r in results if r.step.stream),
        "tool_requests": sum(1 for r in results if r.step.reply in ("tool", "")),
        "total_p50_ms": pct([r.total for r in ok], 0.5),
        "total_p95_ms": pct([r.total for r in ok], 0.95),
        "ttft_p50_ms": pct(ttfts, 0.5),
        "ttft_p95_ms": pct(ttfts, 0.95),
        "elapsed_s": round(elapsed, 1),
        "throughput_ok_per_s": round(len(ok) / elapsed, 2) if elapsed else 0.0,
        "cpu_s_proxy": round(cpu[0], 2),
        "cpu_s_clis": round(cpu[1], 2),
        "cpu_s_per_request": round(total_cpu / len(results), 3) if results else None,
        "cpu_s_per_ok": round(total_cpu / len(ok), 3) if ok else None,
        **clis,
        **{f"proxy_rss_mib_{k}": v for k, v in rss.items()},
    }


async def run_level(
    proxy: Proxy, sampler: Sampler, planner: Planner, concurrency: int, total: int, cap: int
) -> dict[str, Any]:
    pid = proxy.process.pid
    rss_start = rss_mib(pid)
    seen_before = set(sampler.seen)
    sampler.reset_peaks()
    cpu_before = tree_cpu(pid)
    results, elapsed = await run_load(proxy, planner, concurrency, total)
    settled, final, waited = await asyncio.to_thread(settle, sampler, cap)
    cpu_after = tree_cpu(pid)
    cpu = (cpu_after[0] - cpu_before[0], cpu_after[1] - cpu_before[1])
    clis = {
        "cli_cap": cap,
        "cli_peak": sampler.peak_clis,
        "cli_over_cap_samples": sampler.over_cap,
        "cli_over_cap_detail": sampler.over_cap_detail,
        "cli_helpers_peak": sampler.peak_helpers,
        "cli_helper_detail": sampler.helper_detail[:3],
        "cli_final": final,
        "cli_settled": settled,
        "cli_settle_s": waited,
        "clis_started": len(sampler.seen - seen_before),
    }
    rss = {"start": rss_start, "peak": max(sampler.peak_rss, rss_start), "end": rss_mib(pid)}
    return summarize(concurrency, results, elapsed, cpu, clis, rss)


async def warm_up(proxy: Proxy, seed: int) -> None:
    """A few clean conversations of every kind, so start-up costs are not counted as growth."""
    planner = Planner(seed, Mix(fault_rate=0.0, disconnect_rate=0.0, tools_rate=0.5))
    await run_load(proxy, planner, 2, 10)


# -- reporting -----------------------------------------------------------------
def table(levels: list[dict[str, Any]]) -> str:
    lines = [
        "| conc. | requests | 200 | 429 pool | 429 fault | fault errors | disconnects | other errors | p50 | p95 "
        "| TTFT p50 | 200/s | CPU s/request | CPU s/200 | CLI peak / final / cap | CLIs started | proxy RSS MiB "
        "start / peak / end |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in levels:
        lines.append(
            f"| {c['concurrency']} | {c['requests']} | {c['ok_200']} | {c['refused_429_pool']} "
            f"| {c['refused_429_fault']} | {c['fault_errors']} | {c['disconnects']} | {c['other_errors']} "
            f"| {c['total_p50_ms']} ms | {c['total_p95_ms']} ms | {c['ttft_p50_ms']} ms | {c['throughput_ok_per_s']} "
            f"| {c['cpu_s_per_request']} | {c['cpu_s_per_ok']} "
            f"| {c['cli_peak']} / {c['cli_final']} / {c['cli_cap']} | {c['clis_started']} "
            f"| {c['proxy_rss_mib_start']} / {c['proxy_rss_mib_peak']} / {c['proxy_rss_mib_end']} |"
        )
    return "\n".join(lines)


def targets(result: dict[str, Any]) -> dict[str, bool]:
    levels, after = result["levels"], result["after_stop"]
    rss = result["proxy_rss_mib"]
    return {
        "no error but deliberate 429s and the injected faults' own": all(c["other_errors"] == 0 for c in levels),
        "the CLI cap never exceeded": all(c["cli_peak"] <= c["cli_cap"] for c in levels),
        "proxy RSS back within 10% of the start": rss["end"] <= rss["start_after_warmup"] * 1.10,
        "zero CLIs after stop": after["clis_left"] == 0,
        "zero temp leftovers after stop": not (after["state_scratch"] or after["proxy_tmp"] or after["system_tmp_new"]),
    }


def code_line(code: dict[str, Any]) -> str:
    dirty = code["uncommitted_src_files"]
    return f"Proxy code: {code['src']}, HEAD {code['commit']}" + (
        f" with {dirty} uncommitted file(s) under src/." if dirty else "."
    )


def markdown(result: dict[str, Any]) -> str:
    machine, rss, after, run = result["machine"], result["proxy_rss_mib"], result["after_stop"], result["run"]
    lines = [
        f"Machine: {machine['cpus']} CPUs, {machine['memory_gib']} GiB, {machine['platform']}, "
        f"Python {machine['python']}. {code_line(result['code'])}",
        f"Load: {run['requests_per_level']} requests per level, seed {run['seed']}, CLI cap {run['cli_cap']} "
        f"({run['cli_cap_source']}), queue {run['max_queue']}; faults {', '.join(run['faults'])} "
        f"at {run['fault_rate']:.0%} of turns, disconnects at {run['disconnect_rate']:.0%} of requests, "
        f"a function offered in {run['tools_rate']:.0%} of conversations "
        f"(mid-stream faults as Reply fields: {run['stream_faults'] or 'none in this fake, skipped'}). "
        f"Upstream: {run['ttfb_s'] * 1000:.0f} ms to first byte, {run['tokens_per_second']:.0f} tokens/s.",
        "",
        table(result["levels"]),
        "",
        f"Proxy RSS (MiB): {rss['launch']} at launch, {rss['start_after_warmup']} after warm-up, "
        f"{rss['peak']} peak, {rss['end']} at the end.",
        f"CPU: {result['cpu_s_whole_run']} s for the proxy and its CLIs over the whole run "
        f"(getrusage after stop, which misses CLIs the proxy did not reap; the sampled tree said "
        f"{result['cpu_s_sampled_before_stop']} s just before stop).",
        f"Upstream calls by reply: {', '.join(f'{k} {v}' for k, v in sorted(result['upstream_served'].items()))}.",
        f"After stop: {after['clis_at_exit']} CLI(s) alive at proxy exit, {after['clis_left']} after "
        f"{after['grace_s']} s grace; left in the state dir (outside the CLI home) "
        f"{len(after['state_scratch'])}, in the proxy's TMPDIR {len(after['proxy_tmp'])}, new in the system "
        f"temp dir {len(after['system_tmp_new'])}; files in the CLI home: {after['cli_home_files']}.",
    ]
    for level in result["levels"]:
        if level["fault_statuses"]:
            lines.append(f"Faults at c={level['concurrency']}: {level['fault_statuses']}.")
        for sample in level["other_error_samples"]:
            lines.append(f"Other error at c={level['concurrency']}: {json.dumps(sample)}")
    for level in result["levels"]:
        if level["cli_over_cap_samples"]:
            lines.append(
                f"Over the cap at c={level['concurrency']}: {level['cli_over_cap_samples']} samples (100 ms apart); "
                f"first: {'; '.join(level['cli_over_cap_detail'][0])}."
            )
        if level["cli_helpers_peak"]:
            lines.append(
                f"CLI helpers at c={level['concurrency']} (a `claude` started by a CLI, not counted against "
                f"the cap): up to {level['cli_helpers_peak']} at once; e.g. {level['cli_helper_detail'][0]}."
            )
    for line, count in list(result["proxy_log_warnings"].items())[:6]:
        lines.append(f"Proxy log, {count}x: `{line[:160]}`")
    leftovers = after["state_scratch"] + after["proxy_tmp"] + after["system_tmp_new"]
    if leftovers:
        shown = ", ".join(f"`{p}`" for p in leftovers[:8])
        lines.append(
            f"Left behind (relative to the state dir, or the run's temp root): {shown}"
            + (" ..." if len(leftovers) > 8 else "")
        )
    lines += ["", "Targets:"] + [f"- {'PASS' if ok else 'MISS'}: {name}" for name, ok in result["targets"].items()]
    return "\n".join(lines)


def log_warnings(text: str) -> dict[str, int]:
    """Distinct warning and error lines of the proxy log, counted (numbers blanked)."""
    found: Counter[str] = Counter()
    for line in text.splitlines():
        if re.search(r"WARNING|ERROR|Traceback|Fatal|Exception", line):
            found[re.sub(r"\d+", "N", line.strip())[:200]] += 1
    return dict(found.most_common(10))


# -- main ----------------------------------------------------------------------
def proxy_env(tmp: Path, fake: FakeAnthropic, args: argparse.Namespace) -> dict[str, str]:
    env = base_env(tmp, fake)
    env["LITELLM_MASTER_KEY"] = f"sk-soak-{uuid.uuid4().hex}"
    env["LITELLM_CLAUDE_CODE_POOL"] = "1"
    if args.max_processes:
        env["LITELLM_CLAUDE_CODE_MAX_PROCESSES"] = str(args.max_processes)
    if args.src:
        env["PYTHONPATH"] = str(args.src.resolve())
    return env


def state_leftovers(state_dir: Path) -> list[str]:
    """Everything in the state dir but the CLI's private home: its scratch folders
    (whatever this version names them) and the empty working directory."""
    if not state_dir.exists():
        return []
    found: list[str] = []
    for top in sorted(state_dir.iterdir()):
        if top.name != "home":
            found += files_under(top, state_dir) if top.is_dir() else [top.name]
    return found


def home_files(home: Path) -> dict[str, int]:
    """Files the CLIs left in their private home, counted per folder (growth is a leak too)."""
    counts: Counter[str] = Counter()
    for path in home.rglob("*") if home.exists() else []:
        if path.is_file():
            counts[str(path.parent.relative_to(home))] += 1
    return dict(counts.most_common(10))


def after_stop(root: Path, settings: Settings, env: dict[str, str], seen: set[int], before: set[str]) -> dict[str, Any]:
    """What the stopped proxy left: CLIs (killed after counting) and files."""
    at_exit = len(our_clis(root, seen))
    grace = 5.0
    wait_for(lambda: not our_clis(root, seen), timeout=grace, interval=0.1)
    left = our_clis(root, seen)
    described = []
    for process in left:  # never leave processes behind
        with gone():
            described.append(f"{process.pid}: {' '.join(process.cmdline()[:4])}")
            process.kill()
    return {
        "clis_at_exit": at_exit,
        "clis_left": len(left),
        "clis_left_detail": described[:5],
        "grace_s": grace,
        "state_scratch": state_leftovers(settings.state_dir),
        "proxy_tmp": files_under(Path(env["TMPDIR"]), Path(env["TMPDIR"]).parent),
        "state_dir": str(settings.state_dir),
        "system_tmp_new": sorted(system_temp_entries() - before),
        "cli_home_files": home_files(settings.private_home),
    }


async def soak(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    faults = stream_faults()
    mix = Mix(args.fault_rate, args.disconnect_rate, args.tools_rate, ERROR_FAULTS + tuple(faults))
    pacing = Pacing(args.ttfb, 1.0 / args.tokens_per_second if args.tokens_per_second else 0.0)
    fake = SoakUpstream(pacing, faults).start()
    env = proxy_env(root, fake, args)
    settings = Settings.from_env(env)
    cap_source = "LITELLM_CLAUDE_CODE_MAX_PROCESSES" if args.max_processes else "the package default"
    temp_before = system_temp_entries()
    cpu_before = children_cpu_of_this_process()
    proxy: Proxy | None = None
    try:
        proxy = start_proxy(root, env)
        proxy.key = env["LITELLM_MASTER_KEY"]
        launch_rss = rss_mib(proxy.process.pid)
        await warm_up(proxy, args.seed + 1)
        levels: list[dict[str, Any]] = []
        with Sampler(proxy, settings.max_processes) as sampler:
            await asyncio.to_thread(settle, sampler, settings.max_processes)
            warm_rss = rss_mib(proxy.process.pid)
            planner = Planner(args.seed, mix)
            for concurrency in [int(x) for x in args.concurrency.split(",")]:
                levels.append(
                    await run_level(proxy, sampler, planner, concurrency, args.requests, settings.max_processes)
                )
                print(f"c={concurrency} done: {levels[-1]['ok_200']}/{levels[-1]['requests']} ok", file=sys.stderr)
            peak_rss = max(sampler.peak_rss, *(c["proxy_rss_mib_peak"] for c in levels))
            end_rss = rss_mib(proxy.process.pid)
            sampled_cpu = sum(tree_cpu(proxy.process.pid))
            sampler.clis()
        seen = set(sampler.seen)
        stop_process(proxy.process)
        log = proxy.log_text()
    finally:
        if proxy is not None:
            stop_process(proxy.process)
        fake.stop()
    return {
        "machine": {
            "cpus": os.cpu_count(),
            "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "code": code_under_test(args.src),
        "run": {
            "requests_per_level": args.requests,
            "seed": args.seed,
            "cli_cap": settings.max_processes,
            "cli_cap_source": cap_source,
            "max_queue": settings.max_queue,
            "faults": list(mix.faults),
            "fault_rate": mix.fault_rate,
            "disconnect_rate": mix.disconnect_rate,
            "tools_rate": mix.tools_rate,
            "stream_faults": faults,
            "ttfb_s": args.ttfb,
            "tokens_per_second": args.tokens_per_second,
        },
        "levels": levels,
        "proxy_rss_mib": {"launch": launch_rss, "start_after_warmup": warm_rss, "peak": peak_rss, "end": end_rss},
        "cpu_s_whole_run": round(children_cpu_of_this_process() - cpu_before, 2),
        "cpu_s_sampled_before_stop": round(sampled_cpu, 2),
        "upstream_served": dict(fake.served),
        "after_stop": after_stop(root, settings, env, seen, temp_before),
        "proxy_log_warnings": log_warnings(log),
        "timeline": sampler.timeline,
    }


def code_under_test(src: Path | None) -> dict[str, Any]:
    """Which code the proxy ran: the commit, and how many files under src/ differ from it."""
    repo = HERE.parent

    def git(*argv: str) -> str:
        done = subprocess.run(["git", "-C", str(repo), *argv], capture_output=True, text=True, check=False)
        return done.stdout.strip()

    changed = [line for line in git("status", "--porcelain", "--", "src").splitlines() if line.strip()]
    return {
        "src": str(src.resolve()) if src else "the installed package",
        "commit": git("rev-parse", "--short", "HEAD"),
        "uncommitted_src_files": None if src else len(changed),
    }


def write(result: dict[str, Any], out: Path) -> str:
    result["targets"] = targets(result)
    text = markdown(result)
    out.mkdir(parents=True, exist_ok=True)
    (out / "soak-latest.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "soak-latest.md").write_text(text + "\n")
    return text


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", default="16,48", help="comma-separated levels")
    parser.add_argument("--requests", type=int, default=200, help="HTTP requests per level")
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--max-processes", type=int, default=0, help="the CLI cap (0: the package default)")
    parser.add_argument("--fault-rate", type=float, default=0.06, help="share of turns with an upstream fault")
    parser.add_argument("--disconnect-rate", type=float, default=0.08, help="share of requests the client abandons")
    parser.add_argument("--tools-rate", type=float, default=0.25, help="share of conversations offering a function")
    parser.add_argument("--ttfb", type=float, default=0.05, help="upstream seconds to the first byte")
    parser.add_argument("--tokens-per-second", type=float, default=400.0)
    parser.add_argument(
        "--src", type=Path, help="run the proxy from this source folder (e.g. `git archive` of a commit's src/)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, state) for inspection")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    root = Path(tempfile.mkdtemp(prefix="lcc-soak-"))
    try:
        result = asyncio.run(soak(args, root))
    finally:
        for process in our_clis(root, ()):  # only after a crash: soak() already ended them
            with gone():
                process.kill()
        if args.keep:
            print(f"kept {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    print(write(result, args.out))


if __name__ == "__main__":
    main()
