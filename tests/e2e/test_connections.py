"""Slow and idle clients cannot hold `serve`'s connections (issue 23.3), through the real proxy.

Before: a connection that sent nothing, half a request head, or a body shorter
than its Content-Length got no answer at all (20 s and more, unbounded).
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator

import httpx
import pytest
from fake_anthropic import FakeAnthropic

from conftest import Proxy, running_proxy, wait_for

pytestmark = pytest.mark.e2e

HEAD_SECONDS, BODY_SECONDS, CONNECTIONS = 2, 2, 6
KEY = "sk-connections-0123456789"


@pytest.fixture(scope="module")
def proxy(fake: FakeAnthropic, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    env = {
        "LITELLM_CLAUDE_CODE_HEADER_TIMEOUT": str(HEAD_SECONDS),
        "LITELLM_CLAUDE_CODE_BODY_TIMEOUT": str(BODY_SECONDS),
        "LITELLM_CLAUDE_CODE_MAX_CONNECTIONS": str(CONNECTIONS),
    }
    with running_proxy(tmp_path_factory.mktemp("connections"), fake, key=KEY, env=env) as running:
        yield running


def connect(proxy: Proxy) -> socket.socket:
    host, port = proxy.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    sock.settimeout(30)  # an upper bound only: each test waits for the server's own answer or close
    return sock


def answer(sock: socket.socket) -> tuple[bytes, float]:
    """What the server sends until it closes the connection, and after how long."""
    started, data = time.monotonic(), b""
    while chunk := sock.recv(65536):
        data += chunk
    return data, time.monotonic() - started


@pytest.mark.parametrize(
    "sent", [b"", b"GET /health/liveliness HTTP/1.1\r\nHost: x\r\n"], ids=["nothing", "half a head"]
)
def test_a_connection_without_a_whole_request_head_is_closed(proxy: Proxy, sent: bytes) -> None:
    with connect(proxy) as sock:
        sock.sendall(sent)
        data, waited = answer(sock)
    assert data == b"" and HEAD_SECONDS - 0.5 < waited < HEAD_SECONDS + 5


def test_a_body_shorter_than_its_length_is_a_408(proxy: Proxy, fake: FakeAnthropic) -> None:
    head = (
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        f"Authorization: Bearer {KEY}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    )
    with connect(proxy) as sock:
        sock.sendall(head.encode() + b'{"model":')
        data, waited = answer(sock)
    assert data.startswith(b"HTTP/1.1 408 "), data[:200]
    assert b"the request body did not arrive within 2 s" in data
    assert BODY_SECONDS - 0.5 < waited < BODY_SECONDS + 5
    assert fake.message_requests() == []


def test_past_the_connection_cap_a_request_gets_503_at_once(proxy: Proxy) -> None:
    with contextlib.ExitStack() as held:
        for _ in range(CONNECTIONS):
            held.enter_context(connect(proxy))
        refused = httpx.get(f"{proxy.url}/health/liveliness", timeout=10)
        assert refused.status_code == 503
    # Once the server has seen them close (a moment), there is room again.
    assert wait_for(lambda: httpx.get(f"{proxy.url}/health/liveliness", timeout=10).status_code == 200, timeout=10)


def test_a_client_that_sends_in_time_is_served(proxy: Proxy, fake: FakeAnthropic) -> None:
    response = httpx.post(
        f"{proxy.url}/v1/chat/completions",
        json={"model": "sonnet", "messages": [{"role": "user", "content": "hi"}]},
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=60,
    )
    assert response.status_code == 200, response.text
