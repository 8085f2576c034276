"""The provider manifest: what a registry or an operator needs to know to run
this provider, from the package's own metadata (nothing restated)."""

from __future__ import annotations

from importlib.metadata import metadata, requires, version
from typing import Any

from .versions import DISTRIBUTION, supported, tested

IMAGE = "ghcr.io/litellm-claude-code/litellm-claude-code"
ENTRY_POINT = "litellm_claude_code.handler"


def build_manifest() -> dict[str, Any]:
    from .._claude.sdk_compat import CLI_VERSION

    own = version(DISTRIBUTION)
    return {
        "name": DISTRIBUTION,
        "version": own,
        "provider": "claude-code",
        "litellm": str(supported("litellm")),
        "python": metadata(DISTRIBUTION)["Requires-Python"],
        "entry_point": ENTRY_POINT,
        "dependencies": {
            "pip": [line for line in requires(DISTRIBUTION) or [] if "extra ==" not in line],
            "pip_extras": _extras(),
            "claude_code_cli": f"{CLI_VERSION} (bundled with claude-agent-sdk {version('claude-agent-sdk')})",
            "system": "none",
        },
        "docker_image": f"{IMAGE}:{own}",
        "tested": tested(),
    }


def _extras() -> dict[str, list[str]]:
    extras: dict[str, list[str]] = {}
    for line in requires(DISTRIBUTION) or []:
        if "extra ==" in line:
            requirement, _, marker = line.partition(";")
            name = marker.split("extra ==")[1].strip().strip("'\"")
            if name == "proxy":
                extras.setdefault(name, []).append(requirement.strip())
    return extras
