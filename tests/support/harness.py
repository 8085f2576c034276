"""Start and inspect the real proxy (`litellm-claude-code serve`) for tests and the benchmark.

Every path the proxy or the CLI writes to is under the given temp directory,
and all traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
from fake_anthropic import FakeAnthropic

# Values the CLI must never see; the tests look for them in its environment.
CANARIES = {
    "OPENAI_API_KEY": "sk-canary-openai-0123456789",
    "SOME_SERVICE_SECRET": "canary-service-secret-0123456789",
}
OAUTH_TOKEN = "sk-ant-oat01-fake-test-token-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def base_env(tmp: Path, fake: FakeAnthropic) -> dict[str, str]:
    """A clean environment: temp HOME and XDG dirs, the fake as upstream."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "HOME": str(tmp / "home"),
        "XDG_CONFIG_HOME": str(tmp / "config"),
        "XDG_STATE_HOME": str(tmp / "state"),
        "XDG_CACHE_HOME": str(tmp / "cache"),
        "TMPDIR": str(tmp / "tmp"),
        "ANTHROPIC_BASE_URL": fake.base_url,
        "CLAUDE_CODE_OAUTH_TOKEN": OAUTH_TOKEN,
        "LITELLM_CLAUDE_CODE_CLI_MAX_RETRIES": "0",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        **CANARIES,
    }
    for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"):
        if name in os.environ:
            env[name] = os.environ[name]
    for key in ("home", "config", "state", "cache", "tmp"):
        (tmp / key).mkdir(parents=True, exist_ok=True)
    return env


@dataclass
class Proxy:
    url: str
    key: str
    process: subprocess.Popen[bytes]
    log: Path
    env: dict[str, str]
    tmp: Path

    def cli_processes(self) -> list[psutil.Process]:
        """Claude Code CLI processes started by the proxy (any depth)."""
        return cli_children(self.process.pid)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def post_chat(
    proxy: Proxy, messages: list[dict[str, Any]], *, model: str = "sonnet", wait: float = 60, **body: Any
) -> httpx.Response:
    """A chat completion posted to ``proxy`` with its key, as the wire carries it.

    ``body``: more request parameters (``timeout`` among them); ``wait``: how
    long this client waits for the answer."""
    return httpx.post(
        f"{proxy.url}/v1/chat/completions",
        json={"model": model, "messages": messages, **body},
        headers={"Authorization": f"Bearer {proxy.key}"},
        timeout=wait,
    )


def openai_client(proxy: Proxy) -> Any:
    """The official client pointed at ``proxy``: no retries of its own."""
    import openai

    return openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=proxy.key, max_retries=0, timeout=60)


def cli_children(pid: int) -> list[psutil.Process]:
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    found = []
    for child in children:
        try:
            cmdline = child.cmdline()
            if cmdline and Path(cmdline[0]).name == "claude" and child.status() != psutil.STATUS_ZOMBIE:
                found.append(child)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"proxy exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(f"{url}/health/liveliness", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"proxy not healthy after {timeout} s:\n{log.read_text()[-4000:]}")


def start_proxy(tmp: Path, env: dict[str, str], extra_args: list[str] | None = None) -> Proxy:
    """`litellm-claude-code serve` in ``tmp``, healthy."""
    return start_server(tmp, env, [sys.executable, "-m", "litellm_claude_code", "serve", *(extra_args or [])])


def start_server(tmp: Path, env: dict[str, str], command: list[str]) -> Proxy:
    """``command --port N`` (a LiteLLM proxy: ours or LiteLLM's own) in ``tmp``, its
    output in ``tmp/proxy.log``; returned once healthy, stopped if it never is."""
    port = free_port()
    log = tmp / "proxy.log"
    with log.open("wb") as handle:  # the child keeps its own copy
        process = subprocess.Popen(
            [*command, "--port", str(port)],
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            cwd=tmp,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process, log)
    except BaseException:
        stop_process(process)
        raise
    return Proxy(url=url, key="", process=process, log=log, env=env, tmp=tmp)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def wait_for(predicate: Any, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


@contextmanager
def running_proxy(
    tmp: Path, fake: FakeAnthropic, *, key: str, env: dict[str, str] | None = None, config: str | None = None
) -> Iterator[Proxy]:
    """A proxy (`serve`, or `serve --config` with ``config`` as its YAML) in ``tmp``,
    pointed at ``fake``, stopped on exit."""
    environment = {**base_env(tmp, fake), "LITELLM_MASTER_KEY": key, **(env or {})}
    args: list[str] = []
    if config is not None:
        path = tmp / "config.yaml"
        path.write_text(config)
        args = ["--config", str(path)]
    proxy = start_proxy(tmp, environment, args)
    proxy.key = key
    try:
        yield proxy
    finally:
        stop_process(proxy.process)
