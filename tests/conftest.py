"""Shared fixtures: the fake Anthropic API, and the real proxy started with
``litellm-claude-code serve`` in a temporary HOME, pointed at the fake.

Every path the proxy or the CLI writes to is under pytest's temp directory.
Nothing here reaches beyond 127.0.0.1.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

# LiteLLM fetches its cost map from the internet at import unless told not to.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
sys.path.insert(0, str(Path(__file__).parent / "support"))

from fake_anthropic import FakeAnthropic
from harness import CANARIES, OAUTH_TOKEN, Proxy, base_env, running_proxy, start_proxy, stop_process, wait_for

# Re-exported for the test modules.
__all__ = ["CANARIES", "OAUTH_TOKEN", "Proxy", "base_env", "running_proxy", "start_proxy", "stop_process", "wait_for"]


@pytest.fixture(scope="session")
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as server:
        yield server


@pytest.fixture(autouse=True)
def _reset_fake(request: pytest.FixtureRequest) -> None:
    if "fake" in request.fixturenames:
        request.getfixturevalue("fake").reset()


@pytest.fixture(scope="session")
def proxy(fake: FakeAnthropic, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    """The real proxy, started by `litellm-claude-code serve` with no master key
    in its environment, so it generates and stores one. One CLI process per
    request (the pool has its own proxy in test_pool.py)."""
    tmp = tmp_path_factory.mktemp("proxy")
    env = base_env(tmp, fake)
    env["LITELLM_CLAUDE_CODE_POOL"] = "0"
    running = start_proxy(tmp, env)
    key_path = tmp / "config" / "litellm-claude-code" / "master_key"
    running.key = key_path.read_text().strip()
    try:
        yield running
    finally:
        pid = running.process.pid
        children = psutil.Process(pid).children(recursive=True) if psutil.pid_exists(pid) else []
        stop_process(running.process)
        for child in children:
            try:
                child.wait(timeout=10)
            except psutil.NoSuchProcess:
                pass
            except psutil.TimeoutExpired:
                child.kill()


@pytest.fixture()
def client(proxy: Proxy):  # type: ignore[no-untyped-def]
    import openai

    return openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=proxy.key, max_retries=0, timeout=60)
