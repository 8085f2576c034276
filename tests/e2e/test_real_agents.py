"""Real coding agents through the real proxy, where one is installed (optional).

aider is not a dependency of this project: point ``LITELLM_CLAUDE_CODE_TEST_AIDER``
at an aider executable (``pip install aider-chat`` in a venv of its own) to run
this; without it the test is skipped and says so. It is never counted as a pass
when skipped.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from aider_session import EDITED, EDITS, repository, run_steps, text_parts, unchanged
from fake_anthropic import FakeAnthropic, Reply
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
