"""The compatibility matrix: the core end-to-end tests against the oldest
supported and the newest available LiteLLM and claude-agent-sdk releases.

The oldest are the lower bounds of pyproject.toml's ranges (the locks pin
them: the README's test command runs them); the newest are the highest
releases on the index inside those ranges, found now. Each combination gets
a fresh venv (uv) with this package, its proxy and test extras and the two
versions pinned, then runs the core e2e tests. `--record` writes what passed
into the package's tested.json.

    python scripts/matrix.py [--only newest] [--record]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import tomllib
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
TESTED = ROOT / "src" / "litellm_claude_code" / "_serve" / "tested.json"
PACKAGES = ("litellm", "claude-agent-sdk")
CORE_TESTS = [
    "tests/e2e/test_chat.py",
    "tests/e2e/test_tools.py",
    "tests/e2e/test_tool_loop.py",
    "tests/e2e/test_errors.py",
]


def requirements() -> dict[str, Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    found = {Requirement(line).name: Requirement(line) for line in project["dependencies"]}
    return {name: found[name] for name in PACKAGES}


def available(package: str) -> list[Version]:
    """Every release on the index (pip's own index query, whichever index pip uses)."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "index", "versions", package],
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(line for line in done.stdout.splitlines() if line.startswith("Available versions:"))
    return [Version(v.strip()) for v in line.split(":", 1)[1].split(",")]


def combinations(wanted: list[str]) -> dict[str, dict[str, str]]:
    oldest, newest = {}, {}
    for name, requirement in requirements().items():
        inside = sorted(v for v in available(name) if requirement.specifier.contains(v) and not v.is_prerelease)
        oldest[name], newest[name] = str(inside[0]), str(inside[-1])
    combos = {"oldest": oldest, "newest": newest}
    return {label: combo for label, combo in combos.items() if label in wanted}


def run(label: str, versions: dict[str, str]) -> tuple[bool, float, str]:
    """A fresh venv with ``versions``, then the core tests: (passed, seconds, CLI version)."""
    uv = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"matrix-{label}-") as tmp:
        venv = Path(tmp) / "venv"
        python = venv / "bin" / "python"
        subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True)
        pins = [f"{name}=={version}" for name, version in versions.items()]
        subprocess.run([uv, "pip", "install", "-q", "--python", str(python), f"{ROOT}[proxy,test]", *pins], check=True)
        cli = subprocess.run(
            [str(python), "-c", "from litellm_claude_code._claude.sdk_compat import CLI_VERSION; print(CLI_VERSION)"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
        tests = subprocess.run(
            [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", *CORE_TESTS], cwd=ROOT, env=env
        )
    return tests.returncode == 0, time.monotonic() - started, cli


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=["oldest", "newest"], help="one combination")
    parser.add_argument("--record", action="store_true", help="write what passed into tested.json")
    args = parser.parse_args()
    results = []
    for label, versions in combinations(args.only or ["oldest", "newest"]).items():
        passed, seconds, cli = run(label, versions)
        results.append((label, versions, cli, passed))
        print(
            f"matrix {label}: litellm {versions['litellm']}, claude-agent-sdk {versions['claude-agent-sdk']} "
            f"(CLI {cli}): {'PASS' if passed else 'FAIL'} in {seconds:.0f} s",
            flush=True,
        )
    if args.record:
        tested = json.loads(TESTED.read_text())
        for _, versions, cli, passed in results:
            if passed:
                for name, value in [*versions.items(), ("cli", cli)]:
                    tested[name] = sorted(set(tested.get(name, [])) | {value}, key=Version)
        tested["python"] = sorted(set(tested.get("python", [])) | {f"{sys.version_info[0]}.{sys.version_info[1]}"})
        tested["date"] = time.strftime("%Y-%m-%d")
        TESTED.write_text(json.dumps(tested, indent=2) + "\n")
    if not all(passed for *_, passed in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
