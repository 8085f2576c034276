"""Real coding agents through the real proxy, where one is installed (optional).

The agents are no dependency of this project: point ``LITELLM_CLAUDE_CODE_TEST_AIDER``
at an aider executable (``requirements-aider.lock`` in a venv of its own) and
``LITELLM_CLAUDE_CODE_TEST_CODEX`` at a codex one (``npm ci`` in a copy of
``tests/agents/codex``); without them the tests are skipped and say so. A skipped
test is never counted as a pass; ``.ci/run`` installs both.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from aider_session import EDITED, EDITS, repository, run_steps, text_parts, unchanged
from fake_anthropic import FakeAnthropic, Reply, ToolUse
from harness import running_proxy

pytestmark = pytest.mark.e2e

AIDER = os.environ.get("LITELLM_CLAUDE_CODE_TEST_AIDER")


@pytest.mark.skipif(not AIDER, reason="set LITELLM_CLAUDE_CODE_TEST_AIDER to an aider executable to run aider")
def test_aider_edits_a_file_in_three_steps(tmp_path: Path, fake: FakeAnthropic) -> None:
    """Issue 22.5: aider's loop works end to end; each step resumes, because aider rewrites the middle."""
    assert AIDER is not None
    repo = repository(tmp_path)
    (tmp_path / "proxy").mkdir()
    fake.reset()
    fake.script(*(Reply(text=edit) for edit in EDITS))
    with running_proxy(tmp_path / "proxy", fake, key="sk-real-agents-0123456789") as proxy:
        done = run_steps(AIDER, repo, proxy, home=tmp_path)
        modes = [json.loads(line)["process"] for line in proxy.log_text().splitlines() if '"process"' in line]
    assert (repo / "hello.py").read_text() == EDITED, done.stdout[-2000:] + done.stderr[-2000:]
    bodies = [request.body for request in fake.message_requests()]
    assert len(bodies) == 3 and modes == ["resumed"] * 3
    first, second = text_parts(bodies[0]), text_parts(bodies[1])
    assert 0 < unchanged(first, second) < len(first)  # a shared start, then a rewritten middle
    assert ("user", "add a docstring to hello") in second  # the step's message, its rules text taken off


CODEX = os.environ.get("LITELLM_CLAUDE_CODE_TEST_CODEX")
CODEX_CONFIG = """model = "sonnet"
model_provider = "proxy"
web_search = "disabled"  # Codex offers a web_search tool by default, which the proxy refuses (400)

[model_providers.proxy]
name = "litellm-claude-code"
base_url = "{url}/v1"
env_key = "PROXY_KEY"
wire_api = "responses"
"""


@pytest.mark.skipif(not CODEX, reason="set LITELLM_CLAUDE_CODE_TEST_CODEX to a codex executable to run Codex CLI")
def test_codex_runs_a_command_and_its_follow_up_continues_the_parked_process(
    tmp_path: Path, fake: FakeAnthropic
) -> None:
    """Codex CLI on /v1/responses, as the README configures it: the model's exec_command call is
    run by Codex, and its output goes back to the same CLI process."""
    assert CODEX is not None
    work, home = tmp_path / "work", tmp_path / "codex-home"
    work.mkdir(), home.mkdir(), (tmp_path / "proxy").mkdir()
    command = "printf 'hello from codex\\n' > notes.txt"
    fake.reset()
    fake.script(
        Reply(
            text=[],
            tool_uses=[ToolUse("mcp__client__exec_command", {"cmd": command}, "toolu_codex")],
            stop_reason="tool_use",
        ),
        Reply(text=["Added notes.txt."]),
    )
    with running_proxy(tmp_path / "proxy", fake, key="sk-real-agents-codex-0123456789") as proxy:
        (home / "config.toml").write_text(CODEX_CONFIG.format(url=proxy.url))
        env = {
            "PATH": os.environ["PATH"],
            "HOME": str(tmp_path),
            "CODEX_HOME": str(home),
            "PROXY_KEY": proxy.key,
            "NO_PROXY": "127.0.0.1",
        }
        done = subprocess.run(
            [CODEX, "exec", "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox", "add a notes file"],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        modes = [json.loads(line)["process"] for line in proxy.log_text().splitlines() if '"process"' in line]
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Added notes.txt." in done.stdout
    assert (work / "notes.txt").read_text() == "hello from codex\n"  # Codex ran the model's call
    requests = fake.message_requests()
    assert len(requests) == 2 and modes == ["fresh", "parked"]
    assert len({r.headers["x-claude-code-session-id"] for r in requests}) == 1
    results = [b for m in requests[1].body["messages"] if isinstance(m["content"], list) for b in m["content"]]
    assert any(b.get("type") == "tool_result" and b["tool_use_id"] == "toolu_codex" for b in results)
    offered = {t["name"] for t in requests[0].body["tools"]}
    assert "mcp__client__exec_command" in offered and not any("web_search" in name for name in offered)
