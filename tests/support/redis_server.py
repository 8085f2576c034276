"""A real ``redis-server`` for tests, on a free loopback port, stopped on exit.

CI installs it with ``apt-get install -y redis-server`` (see ``.ci/run``).
Nothing is persisted: no RDB snapshots, no append-only file, a temp ``dir``.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis
from harness import free_port, stop_process


@dataclass
class RedisServer:
    host: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(host=self.host, port=self.port, socket_timeout=5)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def redis_server_binary() -> str:
    found = shutil.which("redis-server")
    if found is None:
        raise RuntimeError("redis-server is not installed: `apt-get install -y redis-server`")
    return found


def _wait_ready(server: RedisServer, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    client = server.client()
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"redis-server exited with {server.process.returncode}:\n{server.log_text()}")
        try:
            if client.ping():
                return
        except redis.RedisError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"redis-server did not answer PING within {timeout} s:\n{server.log_text()}")


@contextmanager
def running_redis(tmp: Path) -> Iterator[RedisServer]:
    """``redis-server`` bound to 127.0.0.1 on a free port, data in ``tmp``."""
    tmp.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = tmp / "redis.log"
    args = [
        redis_server_binary(),
        "--bind", "127.0.0.1",
        "--port", str(port),
        "--dir", str(tmp),
        "--save", "",
        "--appendonly", "no",
        "--protected-mode", "yes",
        "--logfile", str(log),
    ]  # fmt: skip
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
    server = RedisServer(host="127.0.0.1", port=port, process=process, log=log)
    try:
        _wait_ready(server)
        yield server
    finally:
        stop_process(process)
