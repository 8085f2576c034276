"""What a text-editing agent (aider) changes in its history between steps, through the real proxy.

Runs a real ``aider`` (install it yourself: ``pip install aider-chat`` in a
venv of its own, then pass ``--aider PATH``) for three steps in one session on
a small git repository, against the real proxy and the fake upstream. Prints,
for each step after the first, how many of the conversation's text parts the
model saw unchanged from the step before and the first ones that differ, and
how the proxy found a CLI process for each step (the access log's ``process``:
``warm``/``parked`` continue one, ``resumed`` starts one with the history).
Everything stays on 127.0.0.1; the repository and the proxy live in a temp dir.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))
from aider_session import EDITS, repository, run_steps, text_parts, unchanged
from fake_anthropic import FakeAnthropic, Reply
from harness import running_proxy

KEY = "sk-aider-history-0123456789"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--aider", required=True, help="the aider executable")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name, FakeAnthropic() as fake:
        root = Path(name)
        repo = repository(root)
        (root / "proxy").mkdir()
        fake.script(*(Reply(text=edit) for edit in EDITS))
        with running_proxy(root / "proxy", fake, key=KEY) as proxy:
            run_steps(args.aider, repo, proxy, home=root)
            modes = [json.loads(line)["process"] for line in proxy.log_text().splitlines() if '"process"' in line]
            bodies = [request.body for request in fake.message_requests()]
    print(f"aider steps: {len(bodies)}; how each found its CLI: {', '.join(modes)}")
    for step, (before, after) in enumerate(itertools.pairwise(bodies), start=2):
        old, new = text_parts(before), text_parts(after)
        same = unchanged(old, new)
        print(f"\nstep {step}: {same} of the {len(old)} earlier text parts unchanged, then:")
        for i in range(same, min(len(old), same + 3)):
            print(f"  was {i} {old[i][0]:9} {old[i][1][:90]!r}")
        for i in range(same, min(len(new), same + 7)):
            print(f"  now {i} {new[i][0]:9} {new[i][1][:90]!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
