"""`serve`, `doctor` and `doctor --live` start without the network (issue 23.5).

Each runs in a network namespace of its own with only loopback, and with an
audit hook (``sitecustomize``) that records every name lookup and connection
Python makes to anything but loopback. LiteLLM downloads its cost map at import
unless told not to: that was a lookup of raw.githubusercontent.com, a warning
and a retry, in each command that imports it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fake_anthropic import FakeAnthropic

from conftest import base_env

pytestmark = pytest.mark.e2e

AUDIT = """\
import os, sys

_LOG = os.environ["OFFLINE_AUDIT_LOG"]
_LOCAL = ("127.0.0.1", "::1", "localhost", "0.0.0.0", "")


def _host(args):
    if not args:
        return ""
    first = args[0]
    if isinstance(first, tuple):  # socket.connect: (socket, address)
        first = first[0]
    if isinstance(first, (str, bytes)):
        return first.decode() if isinstance(first, bytes) else first
    if len(args) > 1 and isinstance(args[1], tuple) and args[1]:
        return str(args[1][0])
    return ""


def _hook(event, args):
    if event in ("socket.getaddrinfo", "socket.gethostbyname", "socket.connect"):
        host = _host(args)
        if host not in _LOCAL and not host.startswith("/"):
            with open(_LOG, "a") as log:
                log.write(f"{event} {host}\\n")


sys.addaudithook(_hook)
"""


def offline(command: list[str]) -> list[str]:
    """``command`` in a network namespace with only loopback (as root, or mapped to root)."""
    mapped = [] if os.geteuid() == 0 else ["--map-root-user"]
    return ["unshare", "--net", *mapped, "sh", "-c", 'ip link set lo up && exec "$@"', "sh", *command]


@pytest.fixture()
def env(tmp_path: Path, fake: FakeAnthropic) -> dict[str, str]:
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(AUDIT)
    environment = base_env(tmp_path, fake)
    del environment["LITELLM_LOCAL_MODEL_COST_MAP"]  # what a user's shell has: nothing of the sort
    environment.update({"PYTHONPATH": str(hooks), "OFFLINE_AUDIT_LOG": str(tmp_path / "outside")})
    return environment


def outside(tmp_path: Path) -> list[str]:
    log = tmp_path / "outside"
    return log.read_text().splitlines() if log.exists() else []


def test_the_audit_hook_sees_an_outside_lookup(tmp_path: Path, env: dict[str, str]) -> None:
    """The check can fail: a lookup of an outside name is recorded."""
    probe = "import socket\ntry:\n    socket.getaddrinfo('example.invalid', 443)\nexcept OSError:\n    pass\n"
    subprocess.run(offline([sys.executable, "-c", probe]), env=env, timeout=60, check=True)
    assert outside(tmp_path) == ["socket.getaddrinfo example.invalid"]


@pytest.mark.parametrize("args", [["doctor"], ["doctor", "--live"]], ids=["doctor", "doctor --live"])
def test_doctor_makes_no_outside_connection(tmp_path: Path, env: dict[str, str], args: list[str]) -> None:
    done = subprocess.run(
        offline([sys.executable, "-m", "litellm_claude_code", *args]),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Credentials:" in done.stdout, done.stdout + done.stderr
    if "--live" in args:
        assert "Live request:" in done.stdout  # it got as far as the request, through LiteLLM
    assert outside(tmp_path) == []
    assert "cost map" not in done.stdout + done.stderr


def test_serve_starts_without_an_outside_connection(tmp_path: Path, env: dict[str, str]) -> None:
    log = tmp_path / "serve.log"
    with log.open("w") as handle:
        process = subprocess.Popen(
            offline([sys.executable, "-m", "litellm_claude_code", "serve", "--port", "4999"]),
            env={**env, "LITELLM_MASTER_KEY": "sk-offline-0123456789abcdef"},
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 90
        while "Process cap:" not in log.read_text() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)  # the line `serve` prints once the proxy has started
        started = log.read_text()
        assert "Process cap:" in started, started[-3000:]
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert outside(tmp_path) == []
    assert "cost map" not in started
