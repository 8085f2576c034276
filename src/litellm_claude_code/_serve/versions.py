"""Which releases of LiteLLM, the SDK and its CLI this package supports and
was tested with: read from the package's own metadata and ``tested.json``,
never restated in code.

The supported ranges (and the excluded bad releases) are the requirements in
``pyproject.toml``; ``tested.json`` is what the compatibility matrix last
passed with (``scripts/matrix.py`` rewrites it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, requires, version
from importlib.resources import files
from typing import Any

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

DISTRIBUTION = "litellm-claude-code"
TESTED_FILE = "tested.json"


def supported(package: str) -> SpecifierSet:
    """The versions of ``package`` this distribution accepts (empty: any)."""
    for line in requires(DISTRIBUTION) or []:
        requirement = Requirement(line)
        if requirement.name == package and requirement.marker is None:
            return requirement.specifier
    return SpecifierSet()


def installed(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


def tested() -> dict[str, Any]:
    """The matrix last tested: ``{"litellm": [...], "claude-agent-sdk": [...], "cli": [...], "date": ...}``."""
    loaded: dict[str, Any] = json.loads(files(__package__ or __name__).joinpath(TESTED_FILE).read_text())
    return loaded


@dataclass(frozen=True)
class Combination:
    """The installed versions, and what is wrong with them (empty: nothing)."""

    versions: dict[str, str | None]
    unsupported: list[str]  # outside the declared range: a known-bad or too old/new release
    untested: list[str]  # inside the range, but not among the versions last tested


def check_installed(cli_version: str | None) -> Combination:
    matrix = tested()
    versions = {"litellm": installed("litellm"), "claude-agent-sdk": installed("claude-agent-sdk"), "cli": cli_version}
    unsupported, untested = [], []
    for package, found in versions.items():
        if found is None:
            continue
        if package != "cli" and found not in supported(package):
            unsupported.append(f"{package} {found} (supported: {supported(package)})")
        elif found not in matrix.get(package, []):
            untested.append(f"{package} {found} (tested: {', '.join(matrix.get(package, [])) or 'none'})")
    return Combination(versions, unsupported, untested)


_TABLE_ROWS = (
    ("litellm", "LiteLLM"),
    ("claude-agent-sdk", "Claude Agent SDK (`claude-agent-sdk`)"),
    ("cli", "Claude Code CLI (bundled in the SDK)"),
    ("python", "Python"),
)


def tested_table() -> str:
    """The README's matrix table, from ``tested.json`` (``scripts/matrix.py --record`` updates both)."""
    matrix = tested()
    lines = ["| component | versions the end-to-end tests passed with |", "|---|---|"]
    lines += [f"| {label} | {', '.join(matrix.get(key, [])) or 'none'} |" for key, label in _TABLE_ROWS]
    lines.append(f"\nLast matrix run: {matrix.get('date', 'never')}.")
    return "\n".join(lines) + "\n"
