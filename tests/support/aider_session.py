"""A real aider session through the proxy: three steps on a small git repository.

Shared by ``bench/aider_history.py`` (what changes between steps) and the
optional e2e test (``tests/e2e/test_real_agents.py``). aider itself is not a
dependency: pass the path of one installed in a venv of its own.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from harness import Proxy

STEPS = ("add a docstring to hello", "change the greeting to hello, world", "thanks")
# What the fake model answers to each step: aider's SEARCH/REPLACE edits, then text.
EDITS = (
    'hello.py\n```python\n<<<<<<< SEARCH\ndef hello():\n=======\ndef hello():\n    """Say hello."""\n'
    ">>>>>>> REPLACE\n```\n",
    'hello.py\n```python\n<<<<<<< SEARCH\n    print("hello")\n=======\n    print("hello, world")\n'
    ">>>>>>> REPLACE\n```\n",
    "You are welcome.",
)
EDITED = 'def hello():\n    """Say hello."""\n    print("hello, world")\n'


def repository(root: Path) -> Path:
    """A git repository with the file aider edits and one it only maps."""
    repo = root / "repo"
    repo.mkdir()
    (repo / "hello.py").write_text('def hello():\n    print("hello")\n')
    (repo / "util.py").write_text("def add(a, b):\n    return a + b\n")
    for command in (["init", "-q"], ["add", "."], ["commit", "-qm", "init"]):
        subprocess.run(["git", "-c", "user.email=a@b", "-c", "user.name=a", *command], cwd=repo, check=True)
    return repo


def run_steps(aider: str, repo: Path, proxy: Proxy, home: Path) -> subprocess.CompletedProcess[str]:
    """aider in ``repo``, chatting with ``proxy``: one session, every step of STEPS typed in."""
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "OPENAI_API_BASE": f"{proxy.url}/v1",
        "OPENAI_API_KEY": proxy.key,
        "NO_PROXY": "127.0.0.1",
    }
    command = [aider, "--model", "openai/sonnet", "--edit-format", "diff", "--yes-always", "--no-auto-commits"]
    command += ["--no-pretty", "--no-fancy-input", "--no-show-model-warnings", "--no-check-update"]
    command += ["--analytics-disable", "hello.py"]
    steps = "".join(step + "\n" for step in STEPS)
    return subprocess.run(command, input=steps, text=True, cwd=repo, env=env, capture_output=True, timeout=300)


def text_parts(body: dict[str, Any]) -> list[tuple[str, str]]:
    """(role, text) of every text block one upstream request carried, in order."""
    parts = []
    for message in body["messages"]:
        content = message["content"]
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        parts += [(message["role"], block["text"]) for block in blocks if block.get("type") == "text"]
    return parts


def unchanged(old: list[tuple[str, str]], new: list[tuple[str, str]]) -> int:
    """How many of ``old``'s first parts ``new`` starts with."""
    return next((i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b), min(len(old), len(new)))
