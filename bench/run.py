"""Latency benchmark: the fake upstream alone, the provider with one CLI process per
request (pool off, what comparable projects do), and with warm processes (pool on).

It starts the fake Anthropic API (configurable time to first byte and token
rate) and two real proxies (`litellm-claude-code serve`, pool off and on), then
measures time to first token and total latency (p50, p95), requests per second
and errors at each concurrency, and the resident memory of the proxy and of
each CLI process, at rest and at peak. Everything stays on 127.0.0.1.

    python bench/run.py                      # prints a table, writes bench/results/latest.{json,md}
    python bench/run.py --concurrency 1,4 --requests 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "support"))

from fake_anthropic import FakeAnthropic, Reply  # noqa: E402
from harness import Proxy, base_env, cli_children, start_proxy, stop_process  # noqa: E402


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


@dataclass
class Memory:
    proxy_rss_mib_rest: float = 0.0
    proxy_rss_mib_peak: float = 0.0
    cli_processes_rest: int = 0
    cli_processes_peak: int = 0
    cli_rss_mib_each_rest: list[float] = field(default_factory=list)
    cli_rss_mib_each_peak_max: float = 0.0
    cli_rss_mib_total_peak: float = 0.0


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return round(ordered[index] * 1000, 1)


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


async def chat_request(client: httpx.AsyncClient, proxy: Proxy, messages: list[dict[str, str]]) -> tuple[Sample, str]:
    body = {"model": "sonnet", "stream": True, "messages": messages}
    started = time.monotonic()
    ttft = None
    text: list[str] = []
    async with client.stream(
        "POST", f"{proxy.url}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {proxy.key}"}
    ) as response:
        if response.status_code != 200:
            await response.aread()
            return Sample(None, time.monotonic() - started, False, response.status_code), ""
        async for line in response.aiter_lines():
            if not line.startswith("data:") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[5:])
            if "error" in chunk:
                return Sample(ttft, time.monotonic() - started, False, 500), ""
            for choice in chunk.get("choices", []):
                content = (choice.get("delta") or {}).get("content")
                if content:
                    if ttft is None:
                        ttft = time.monotonic() - started
                    text.append(content)
    return Sample(ttft, time.monotonic() - started, ttft is not None, 200), "".join(text)


# -- load --------------------------------------------------------------------
async def run_cell(
    kind: str, concurrency: int, total: int, *, fake: FakeAnthropic, proxy: Proxy | None, system: str, turns: int
) -> tuple[list[Sample], float]:
    samples: list[Sample] = []
    remaining = total
    lock = asyncio.Lock()

    async def take() -> bool:
        nonlocal remaining
        async with lock:
            if remaining <= 0:
                return False
            remaining -= 1
            return True

    limits = httpx.Limits(max_connections=concurrency + 4, max_keepalive_connections=concurrency + 4)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:

        async def worker() -> None:
            while await take():
                if kind == "direct":
                    samples.append(await direct_request(client, fake.base_url))
                    continue
                assert proxy is not None
                messages: list[dict[str, str]] = [{"role": "system", "content": system}]
                for turn in range(turns):
                    messages.append({"role": "user", "content": f"question {turn} {uuid.uuid4().hex[:8]}"})
                    sample, answer = await chat_request(client, proxy, messages)
                    if turns == 1 or turn > 0:  # multi-turn: measure the continuing turns
                        samples.append(sample)
                    if not sample.ok:
                        break
                    messages.append({"role": "assistant", "content": answer})

        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.monotonic() - started
    return samples, elapsed


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
                m.cli_rss_mib_total_peak = max(m.cli_rss_mib_total_peak, sum(sizes))


def alive_cli(pid: int) -> bool:
    try:
        process = psutil.Process(pid)
        return process.name() == "claude" and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def rss_mib(pid: int) -> float:
    try:
        return round(psutil.Process(pid).memory_info().rss / 2**20, 1)
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


# -- main ----------------------------------------------------------------------
def start(fake: FakeAnthropic, tmp: Path, name: str, pool: bool, args: argparse.Namespace) -> Proxy:
    home = tmp / name
    home.mkdir()
    env = base_env(home, fake)
    env["LITELLM_MASTER_KEY"] = f"sk-bench-{uuid.uuid4().hex}"
    env["LITELLM_CLAUDE_CODE_POOL"] = "1" if pool else "0"
    if args.max_processes:
        env["LITELLM_CLAUDE_CODE_MAX_PROCESSES"] = str(args.max_processes)
    if args.spares is not None:
        env["LITELLM_CLAUDE_CODE_SPARES"] = str(args.spares)
    proxy = start_proxy(home, env)
    proxy.key = env["LITELLM_MASTER_KEY"]
    return proxy


def table(cells: list[Cell], direct: dict[int, Cell]) -> str:
    lines = [
        "| scenario | conc. | requests | errors | 429 | TTFT p50 | TTFT p95 | total p50 | total p95 | req/s "
        "| TTFT overhead p50 vs direct |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in cells:
        base = direct.get(c.concurrency)
        overhead = (
            f"{c.ttft_p50_ms - base.ttft_p50_ms:.0f} ms"
            if base and c.ttft_p50_ms is not None and base.ttft_p50_ms is not None and c.scenario != "direct"
            else ""
        )
        lines.append(
            f"| {c.scenario} | {c.concurrency} | {c.requests} | {c.errors} | {c.refused_429} | {c.ttft_p50_ms} ms "
            f"| {c.ttft_p95_ms} ms | {c.total_p50_ms} ms | {c.total_p95_ms} ms | {c.rps} | {overhead} |"
        )
    return "\n".join(lines)


def ratios(cells: list[Cell], direct: dict[int, Cell]) -> dict[str, float | None]:
    found: dict[str, float | None] = {}
    by = {(c.scenario, c.concurrency): c for c in cells}
    for conc in sorted(direct):
        for mode in ("single", "multi"):
            off, on = by.get((f"pool off, {mode}-turn", conc)), by.get((f"pool on, {mode}-turn", conc))
            base = direct[conc].ttft_p50_ms
            if off and on and off.ttft_p50_ms and on.ttft_p50_ms and base is not None:
                over_off, over_on = off.ttft_p50_ms - base, on.ttft_p50_ms - base
                found[f"c={conc} {mode}-turn"] = round(over_on / over_off, 3) if over_off > 0 else None
    return found


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    levels = [int(x) for x in args.concurrency.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="lcc-bench-"))
    fake = FakeAnthropic().start()
    fake.default_reply = Reply(
        text=[f" tok{i}" for i in range(args.tokens)],
        output_tokens=args.tokens,
        ttfb=args.ttfb,
        delta_delay=1.0 / args.tokens_per_second if args.tokens_per_second else 0.0,
    )
    cells: list[Cell] = []
    memory: dict[str, Any] = {}
    proxies: list[Proxy] = []
    try:
        for conc in levels:
            samples, elapsed = await run_cell(
                "direct", conc, args.requests * conc, fake=fake, proxy=None, system="", turns=1
            )
            cells.append(summarize("direct", conc, samples, elapsed))
            print(f"direct c={conc} done", file=sys.stderr)
        for pool in (False, True):
            proxy = start(fake, tmp, "pool-on" if pool else "pool-off", pool, args)
            proxies.append(proxy)
            label = "pool on" if pool else "pool off"
            system = f"You are a benchmark. {uuid.uuid4().hex}"
            # Warm-up to the steady state the table describes (first-request cost: see README).
            await run_cell("chat", 2, args.warmup, fake=fake, proxy=proxy, system=system, turns=1)
            await asyncio.sleep(2.0)
            sampler = MemorySampler(proxy)
            sampler.rest()
            with sampler:
                for conc in levels:
                    for turns, mode in ((1, "single"), (args.turns, "multi")):
                        count = args.requests * conc if turns == 1 else max(conc, args.requests * conc // (turns - 1))
                        samples, elapsed = await run_cell(
                            "chat", conc, count, fake=fake, proxy=proxy, system=system, turns=turns
                        )
                        cells.append(summarize(f"{label}, {mode}-turn", conc, samples, elapsed))
                        print(f"{label} {mode} c={conc} done", file=sys.stderr)
            memory[label] = asdict(sampler.memory)
            sampler.seen.update(c.pid for c in cli_children(proxy.process.pid))
            stop_process(proxy.process)
            time.sleep(1.0)
            memory[label]["cli_processes_after_stop"] = sum(1 for pid in sampler.seen if alive_cli(pid))
    finally:
        for proxy in proxies:
            stop_process(proxy.process)
        fake.stop()
    direct = {c.concurrency: c for c in cells if c.scenario == "direct"}
    return {
        "machine": {
            "cpus": os.cpu_count(),
            "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "upstream": {"ttfb_s": args.ttfb, "tokens": args.tokens, "tokens_per_second": args.tokens_per_second},
        "requests_per_worker": args.requests,
        "turns_per_conversation": args.turns,
        "cells": [asdict(c) for c in cells],
        "ttft_overhead_ratio_pool_on_over_off": ratios(cells, direct),
        "memory": memory,
        "table": table(cells, direct),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", default="1,4,16")
    parser.add_argument("--requests", type=int, default=6, help="requests per concurrent client and scenario")
    parser.add_argument("--turns", type=int, default=3, help="turns per multi-turn conversation")
    parser.add_argument("--ttfb", type=float, default=0.05, help="upstream seconds to the first byte")
    parser.add_argument("--tokens", type=int, default=20)
    parser.add_argument("--tokens-per-second", type=float, default=400.0)
    parser.add_argument("--max-processes", type=int, default=0, help="pool cap (0: the default)")
    parser.add_argument("--spares", type=int, default=None, help="clean processes kept ready (default: the default)")
    parser.add_argument("--warmup", type=int, default=12, help="requests before measuring each proxy")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    result = asyncio.run(main_async(args))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latest.json").write_text(json.dumps(result, indent=2) + "\n")
    machine = result["machine"]
    markdown = "\n".join(
        [
            f"Machine: {machine['cpus']} CPUs, {machine['memory_gib']} GiB, {machine['platform']}, "
            f"Python {machine['python']}.",
            f"Fake upstream: {args.ttfb * 1000:.0f} ms to first byte, {args.tokens} tokens at "
            f"{args.tokens_per_second:.0f} tokens/s. Multi-turn rows time turns 2..{args.turns} of each conversation.",
            "",
            result["table"],
            "",
            "TTFT overhead ratio, pool on / pool off (p50, over the direct upstream): "
            + ", ".join(f"{k}: {v}" for k, v in result["ttft_overhead_ratio_pool_on_over_off"].items()),
            "",
            "Memory (RSS, MiB): "
            + "; ".join(
                f"{label}: proxy {m['proxy_rss_mib_rest']} at rest / {m['proxy_rss_mib_peak']} peak, "
                f"CLI processes {m['cli_processes_rest']} at rest ({', '.join(map(str, m['cli_rss_mib_each_rest']))}) "
                f"/ {m['cli_processes_peak']} peak, largest {m['cli_rss_mib_each_peak_max']}, "
                f"all CLIs {m['cli_rss_mib_total_peak']} peak, left after stop: {m['cli_processes_after_stop']}"
                for label, m in result["memory"].items()
            ),
        ]
    )
    (args.out / "latest.md").write_text(markdown + "\n")
    print(markdown)


if __name__ == "__main__":
    main()
