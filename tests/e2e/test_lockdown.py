"""What a CLI process can see, through the real proxy: its command line and its
environment hold nothing a client sent and nothing of the proxy's; and `serve`
refuses to start on an SDK or CLI that changed under a promise.

In the compatibility matrix (scripts/matrix.py): these run on the oldest, the
locked and the newest SDK releases, where the command line is built differently.
"""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import psutil
import pytest
from fake_anthropic import FakeAnthropic, Reply, ToolUse
from harness import openai_client

from conftest import CANARIES, Proxy, base_env, running_proxy, wait_for

pytestmark = pytest.mark.e2e

HI = [{"role": "user", "content": "hi"}]
MARKER = "SYSTEM-MARKER-7f3a"
SCHEMA_MARKER = "SCHEMA_MARKER_9c1d"


@pytest.fixture(scope="module")
def proxy(fake: FakeAnthropic, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    env = {"LITELLM_CLAUDE_CODE_SPARES": "0"}
    with running_proxy(tmp_path_factory.mktemp("lockdown"), fake, key="sk-lockdown-key-0123456789", env=env) as running:
        yield running


@pytest.fixture()
def client(proxy: Proxy) -> openai.OpenAI:
    return openai_client(proxy)


def command_lines(proxy: Proxy) -> list[bytes]:
    """The raw /proc/<pid>/cmdline of every process the proxy started (setpriv execs into the CLI)."""
    found = []
    for child in psutil.Process(proxy.process.pid).children(recursive=True):
        try:
            found.append(Path(f"/proc/{child.pid}/cmdline").read_bytes())
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return found


def while_in_flight(fake: FakeAnthropic, proxy: Proxy, request: Any) -> tuple[Any, list[bytes]]:
    """Run ``request`` while the fake holds its answer; returns its result and the command lines seen."""
    result: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: result.setdefault("answer", request()))
    worker.start()
    try:
        assert wait_for(lambda: len(fake.message_requests()) == 1, timeout=30)
        seen = command_lines(proxy)
    finally:
        worker.join(timeout=90)
    return result.get("answer"), seen


def test_a_1_mb_system_prompt_reaches_the_api_not_the_command_line(
    client: openai.OpenAI, proxy: Proxy, fake: FakeAnthropic
) -> None:
    """Issue 21: a 1 MB prompt went to argv as one `--system-prompt=` argument (E2BIG: a 500)."""
    system = MARKER + " " + ("agent instructions " * 55_000)  # about 1 MB
    fake.script(Reply(text=["fine"], ttfb=2.0))
    answer, seen = while_in_flight(
        fake,
        proxy,
        lambda: client.chat.completions.create(model="sonnet", messages=[{"role": "system", "content": system}, *HI]),
    )
    assert answer is not None and answer.choices[0].message.content == "fine"
    [request] = fake.message_requests()
    assert any(block.get("text") == system for block in request.body["system"])
    assert any(b"claude" in line for line in seen)
    assert not any(MARKER.encode() in line for line in seen)


def test_a_json_schema_reaches_the_api_not_the_command_line(
    client: openai.OpenAI, proxy: Proxy, fake: FakeAnthropic
) -> None:
    schema = {"type": "object", "properties": {SCHEMA_MARKER: {"type": "string"}}, "required": [SCHEMA_MARKER]}
    fake.script(
        Reply(text=[], tool_uses=[ToolUse("StructuredOutput", {SCHEMA_MARKER: "x"})], stop_reason="tool_use", ttfb=2.0),
        Reply(text=["done"]),
    )
    answer, seen = while_in_flight(
        fake,
        proxy,
        lambda: client.chat.completions.create(
            model="sonnet",
            messages=HI,
            response_format={"type": "json_schema", "json_schema": {"name": "s", "schema": schema}},
        ),
    )
    assert answer is not None and json.loads(answer.choices[0].message.content or "") == {SCHEMA_MARKER: "x"}
    offered = {t["name"]: t for t in fake.message_requests()[0].body.get("tools", [])}
    assert SCHEMA_MARKER in json.dumps(offered["StructuredOutput"]["input_schema"])
    assert seen and not any(SCHEMA_MARKER.encode() in line for line in seen)


def test_the_cli_environment_holds_only_allowed_names(client: openai.OpenAI, proxy: Proxy, fake: FakeAnthropic) -> None:
    """Issue 9.11: an allowlist, not a blanklist: not even the names of proxy variables."""
    fake.script(Reply(ttfb=2.0))
    worker = threading.Thread(target=lambda: client.chat.completions.create(model="sonnet", messages=HI))
    worker.start()
    try:
        assert wait_for(lambda: len(fake.message_requests()) == 1, timeout=30)
        environments = [set(process.environ()) for process in proxy.cli_processes()]
    finally:
        worker.join(timeout=60)
    assert environments
    for names in environments:
        for name in ("LITELLM_MASTER_KEY", "XDG_CONFIG_HOME", "LITELLM_LOCAL_MODEL_COST_MAP", *CANARIES):
            assert name not in names
        assert {"PATH", "HOME", "CLAUDE_CODE_OAUTH_TOKEN", "ANTHROPIC_BASE_URL", "CLAUDE_CODE_TMPDIR"} <= names


def test_serve_refuses_to_start_on_a_cli_that_lacks_what_a_promise_needs(fake: FakeAnthropic, tmp_path: Path) -> None:
    """A `claude` that runs but has none of the names we use: `serve` names the internal and exits 1."""
    cli = tmp_path / "claude"
    cli.write_text("#!/bin/sh\necho '9.9.9 (Claude Code)'\n")
    cli.chmod(cli.stat().st_mode | stat.S_IXUSR)
    env = {
        **base_env(tmp_path, fake),
        "LITELLM_CLAUDE_CODE_CLI_PATH": str(cli),
        "LITELLM_MASTER_KEY": "sk-drift-0123456789",
    }
    done = subprocess.run(
        [sys.executable, "-m", "litellm_claude_code", "serve", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 1, done.stderr
    assert "Claude Code was not started" in done.stderr and "has no systemPrompt, jsonSchema" in done.stderr
    assert "litellm-claude-code doctor" in done.stderr and "Uvicorn running" not in done.stderr
