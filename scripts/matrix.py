"""The compatibility matrix: the core tests against the oldest supported, the
locked and the newest LiteLLM and claude-agent-sdk releases.

- **oldest**: the lower bounds of pyproject.toml's ranges;
- **locked**: the pins of requirements.lock (what the README's install runs);
- **newest**: the newest release the index serves now, whatever the ranges
  say, known-bad releases excepted (a release the range does not admit yet is
  tested all the same, so the day it breaks us is known before the range is
  widened to it).

Each combination gets a fresh venv (uv) with this package, its proxy and test
extras and the two versions forced (uv's overrides), then runs the core tests.
Every line of output names the versions. It fails when a combination the
ranges admit fails; a newer release outside them that fails is reported as
such (the daily workflow opens an issue for it). ``--record`` writes what
passed into the package's tested.json.

    python scripts/matrix.py [--only newest] [--record]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import tomllib
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
TESTED = ROOT / "src" / "litellm_claude_code" / "_serve" / "tested.json"
LOCK = ROOT / "requirements.lock"
PACKAGES = ("litellm", "claude-agent-sdk")
LEGS = ("oldest", "locked", "newest")
CORE_TESTS = [
    "tests/unit/test_sdk_compat.py",
    "tests/e2e/test_lockdown.py",
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


def excluded(requirement: Requirement, version: Version) -> bool:
    """A release the range names as bad (`!=`), whatever its bounds."""
    return any(spec.operator == "!=" and not spec.contains(version) for spec in requirement.specifier)


def locked(package: str) -> str:
    match = re.search(rf"^{re.escape(package)}==([^\s\\]+)", LOCK.read_text(), flags=re.MULTILINE)
    if match is None:
        raise SystemExit(f"{LOCK.name} pins no {package}")
    return match.group(1)


@dataclass(frozen=True)
class Leg:
    label: str
    versions: dict[str, str]
    admitted: bool  # every version is inside the supported ranges


def legs(wanted: list[str]) -> list[Leg]:
    ranges = requirements()
    picked: dict[str, dict[str, str]] = {label: {} for label in LEGS}
    for name, requirement in ranges.items():
        releases = sorted(v for v in available(name) if not v.is_prerelease)
        inside = [v for v in releases if requirement.specifier.contains(v)]
        picked["oldest"][name] = str(inside[0])
        picked["locked"][name] = locked(name)
        picked["newest"][name] = str(next(v for v in reversed(releases) if not excluded(requirement, v)))
    found = []
    for label in LEGS:
        if label not in wanted:
            continue
        versions = picked[label]
        admitted = all(ranges[name].specifier.contains(Version(value)) for name, value in versions.items())
        same = next((leg for leg in found if leg.versions == versions), None)
        if same is not None:  # e.g. the lock pins the oldest: run it once
            found[found.index(same)] = Leg(f"{same.label} = {label}", versions, admitted)
        else:
            found.append(Leg(label, versions, admitted))
    return found


def run(leg: Leg) -> tuple[bool, float, str]:
    """A fresh venv with ``leg``'s versions, then the core tests: (passed, seconds, CLI version)."""
    uv = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="matrix-") as tmp:
        venv = Path(tmp) / "venv"
        python = venv / "bin" / "python"
        overrides = Path(tmp) / "overrides.txt"
        overrides.write_text("".join(f"{name}=={version}\n" for name, version in leg.versions.items()))
        subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True)
        install = [uv, "pip", "install", "-q", "--python", str(python), "--override", str(overrides)]
        subprocess.run([*install, f"{ROOT}[proxy,test]"], check=True)
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
    parser.add_argument("--only", action="append", choices=LEGS, help="one combination")
    parser.add_argument("--record", action="store_true", help="write what passed into tested.json")
    args = parser.parse_args()
    results = []
    for leg in legs(args.only or list(LEGS)):
        passed, seconds, cli = run(leg)
        results.append((leg, cli, passed))
        where = "" if leg.admitted else " [outside the supported ranges: pip does not install it for users yet]"
        named = ", ".join(f"{name} {value}" for name, value in leg.versions.items())
        verdict = "PASS" if passed else "FAIL"
        print(f"matrix {leg.label}: {named} (CLI {cli}): {verdict} in {seconds:.0f} s{where}", flush=True)
    if args.record:
        record([(leg, cli) for leg, cli, passed in results if passed])
    failed = [leg for leg, _, passed in results if not passed]
    if any(leg.admitted for leg in failed):
        sys.exit(1)
    if failed:
        sys.exit(3)  # only releases the ranges do not admit failed: users are not affected yet


def record(passed: list[tuple[Leg, str]]) -> None:
    tested = json.loads(TESTED.read_text())
    for leg, cli in passed:
        for name, value in [*leg.versions.items(), ("cli", cli)]:
            tested[name] = sorted(set(tested.get(name, [])) | {value}, key=Version)
    tested["python"] = sorted(set(tested.get("python", [])) | {f"{sys.version_info[0]}.{sys.version_info[1]}"})
    tested["date"] = time.strftime("%Y-%m-%d")
    TESTED.write_text(json.dumps(tested, indent=2) + "\n")


if __name__ == "__main__":
    main()
