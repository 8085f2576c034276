"""The process lifecycle under faults, through the real proxy: leaks, dead
processes, clients that leave, shutdown, crashes (what a CLI can see: test_lockdown.py)."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import psutil
import pytest
from claude_agent_sdk import project_key_for_directory
from fake_anthropic import FakeAnthropic, Reply
from harness import openai_client, post_chat

from conftest import Proxy, base_env, running_proxy, start_proxy, stop_process, wait_for

pytestmark = pytest.mark.e2e

CAP = 2
HI = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def small(fake: FakeAnthropic, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    """The pool at a cap of 2, no spares, a short idle TTL."""
    pool = {"MAX_PROCESSES": str(CAP), "SPARES": "0", "IDLE_TTL": "5"}
    env = {f"LITELLM_CLAUDE_CODE_{name}": value for name, value in pool.items()}
    with running_proxy(tmp_path_factory.mktemp("small"), fake, key="sk-small-test-key-0123456789", env=env) as proxy:
        yield proxy


@pytest.fixture()
def client(small: Proxy) -> openai.OpenAI:
    return openai_client(small)


class CliCounter:
    """Samples the number of CLI processes every 10 ms; ``peak`` is the most seen at once."""

    def __init__(self, proxy: Proxy) -> None:
        self.proxy = proxy
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, len(self.proxy.cli_processes()))
            self._stop.wait(0.01)

    def __enter__(self) -> CliCounter:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def raw_stream_then_hang_up(proxy: Proxy, after: float) -> None:
    """A streamed request over a bare socket, closed ``after`` seconds later."""
    body = json.dumps({"model": "sonnet", "messages": HI, "stream": True}).encode()
    host, port = proxy.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {proxy.key}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        time.sleep(after)


def test_clients_hanging_up_around_resets_never_leak_a_process_or_exceed_the_cap(
    client: Any, small: Proxy, fake: FakeAnthropic
) -> None:
    """Issue 9.1: finish a turn, then hang up on a streamed one 10-400 ms in, many times."""
    fake.default_reply = Reply(text=[f" t{i}" for i in range(20)], delta_delay=0.05)
    rng = random.Random(9)
    with CliCounter(small) as counter:
        for _ in range(12):
            client.chat.completions.create(model="sonnet", messages=HI)
            raw_stream_then_hang_up(small, after=rng.uniform(0.01, 0.4))
    assert counter.peak <= CAP, f"{counter.peak} CLI processes at a cap of {CAP}"
    # Every process is idle in the end, so the idle TTL (5 s) ends them all.
    assert wait_for(lambda: small.cli_processes() == [], timeout=20), "a CLI process was leaked"
    fake.default_reply = Reply()
    assert client.chat.completions.create(model="sonnet", messages=HI).choices[0].message.content


def test_a_non_streamed_client_that_gives_up_ends_its_cli_within_2s(
    client: Any, small: Proxy, fake: FakeAnthropic
) -> None:
    """Issue 9.2: the upstream hangs; clients time out; their CLIs must not hold the slots."""
    fake.default_reply = Reply(hang=True)
    impatient = openai.OpenAI(base_url=f"{small.url}/v1", api_key=small.key, max_retries=0, timeout=2)
    for _ in range(CAP + 1):  # more than the cap: each must free its slot
        assert wait_for(lambda: len(small.cli_processes()) < CAP, timeout=5)
        with pytest.raises(openai.APITimeoutError):
            impatient.chat.completions.create(model="sonnet", messages=HI)
        gave_up = time.monotonic()
        assert wait_for(lambda: small.cli_processes() == [], timeout=2.0), "CLI still running after the client left"
        assert time.monotonic() - gave_up < 2.0
    fake.default_reply = Reply(text=["served"])
    started = time.monotonic()
    assert client.chat.completions.create(model="sonnet", messages=HI).choices[0].message.content == "served"
    assert time.monotonic() - started < 10


def test_idle_processes_killed_from_outside_are_never_handed_out(
    client: Any, small: Proxy, fake: FakeAnthropic
) -> None:
    """Issue 9.4: kill the warm CLIs; the next requests are served, not answered with 500.

    The follow-up continues the conversation, so it goes straight to the process
    that held it (no /clear that would have noticed the death first).
    """
    for round_ in range(3):
        question = [{"role": "user", "content": f"round {round_}"}]
        fake.script(Reply(text=[f"answer {round_}"]))
        first = client.chat.completions.create(model="sonnet", messages=question)
        warm = small.cli_processes()
        assert warm
        for process in warm:
            process.kill()
        if round_ == 0:  # give the pool time to notice, the usual case
            psutil.wait_procs(warm, timeout=5)
        fake.script(Reply(text=[f"after kill {round_}"]))
        follow = [*question, {"role": "assistant", "content": first.choices[0].message.content}]
        answer = client.chat.completions.create(model="sonnet", messages=[*follow, {"role": "user", "content": "more"}])
        assert answer.choices[0].message.content == f"after kill {round_}"


# -- stopping --------------------------------------------------------------


def state_dir(proxy: Proxy) -> Path:
    return proxy.tmp / "state" / "litellm-claude-code"


def connections(proxy: Proxy) -> int:
    """Established client connections to the proxy's port."""
    port = int(proxy.url.rsplit(":", 1)[1])
    return sum(
        1
        for c in psutil.Process(proxy.process.pid).net_connections("tcp")
        if c.laddr and c.laddr.port == port and c.status == psutil.CONN_ESTABLISHED
    )


def post(proxy: Proxy, timeout: float = 60) -> httpx.Response:
    return post_chat(proxy, HI, wait=timeout)


def test_sigterm_fails_queued_requests_lets_running_ones_finish_then_exits(
    fake: FakeAnthropic, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Issue 9.6: stop admitting, 503 for the queue, a grace for running requests, no new CLI."""
    tmp = tmp_path_factory.mktemp("sigterm")
    env = base_env(tmp, fake)
    env.update(
        {
            "LITELLM_MASTER_KEY": "sk-sigterm-test-key-0123456789",
            "LITELLM_CLAUDE_CODE_MAX_PROCESSES": "1",
            "LITELLM_CLAUDE_CODE_SPARES": "0",
            "LITELLM_CLAUDE_CODE_SHUTDOWN_GRACE": "8",
        }
    )
    running = start_proxy(tmp, env)
    running.key = env["LITELLM_MASTER_KEY"]
    try:
        fake.script(Reply(text=["finished in time"], ttfb=3.0))
        results: dict[str, httpx.Response] = {}
        threads = [threading.Thread(target=lambda n=n: results.__setitem__(n, post(running))) for n in "abcd"]
        threads[0].start()
        assert wait_for(lambda: len(fake.message_requests()) == 1, timeout=30)
        for thread in threads[1:]:
            thread.start()
        assert wait_for(lambda: connections(running) >= 4, timeout=10)  # all four accepted
        clis = running.cli_processes()
        stopped_at = time.monotonic()
        running.process.send_signal(signal.SIGTERM)
        for thread in threads:
            thread.join(timeout=30)
        running.process.wait(timeout=20)
        exited_after = time.monotonic() - stopped_at
    finally:
        stop_process(running.process)
    statuses = sorted(r.status_code for r in results.values())
    assert statuses == [200, 503, 503, 503], {n: (r.status_code, r.text[:200]) for n, r in results.items()}
    assert results["a"].json()["choices"][0]["message"]["content"] == "finished in time"
    assert len(fake.message_requests()) == 1  # no queued request reached the upstream
    assert exited_after < 8
    _, alive = psutil.wait_procs(clis, timeout=3)
    assert alive == []
    assert list((state_dir(running) / "run").iterdir()) == []  # its scratch space went with it


def doomed_post(proxy: Proxy) -> None:
    """A request whose proxy is killed under it: its error is the point."""
    with contextlib.suppress(httpx.HTTPError):
        post(proxy, timeout=10)


def test_after_sigkill_no_cli_survives_and_the_next_start_cleans_up(
    fake: FakeAnthropic, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Issue 9.6: a parent-death signal ends the CLIs; leftovers are removed at the next start."""
    tmp = tmp_path_factory.mktemp("sigkill")
    env = base_env(tmp, fake)
    env["LITELLM_MASTER_KEY"] = "sk-sigkill-test-key-0123456789"
    first = start_proxy(tmp, env)
    first.key = env["LITELLM_MASTER_KEY"]
    try:
        post(first)  # warm processes (and spares)
        fake.script(Reply(hang=True))
        threading.Thread(target=doomed_post, args=(first,), daemon=True).start()
        assert wait_for(lambda: len(fake.message_requests()) == 2, timeout=30)
        clis = first.cli_processes()
        assert len(clis) >= 2
        leftover_runs = [p for p in (state_dir(first) / "run").iterdir() if p.is_dir()]
        assert leftover_runs
        os.kill(first.process.pid, signal.SIGKILL)
        first.process.wait(timeout=10)
        _, alive = psutil.wait_procs(clis, timeout=5)
        assert alive == [], "a CLI process outlived the proxy"
    finally:
        stop_process(first.process)
    # A transcript the killed proxy left (it would be removed once its CLI had loaded it).
    workspace = str((state_dir(first) / "workspace").resolve())
    stale = state_dir(first) / "home" / ".claude" / "projects" / project_key_for_directory(workspace) / "left.jsonl"
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_text("{}\n")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))

    second = start_proxy(tmp, env)
    second.key = env["LITELLM_MASTER_KEY"]
    try:
        assert post(second).status_code == 200
        runs = [p for p in (state_dir(second) / "run").iterdir() if p.is_dir()]
        assert not set(leftover_runs) & set(runs), "the killed proxy's scratch space is still there"
        assert len(runs) == 1
        assert not stale.exists()
    finally:
        stop_process(second.process)
    assert not list(tmp.glob("tmp/claude-resume-*"))
