"""Client functions (OpenAI ``tools``) as the MCP tools Claude Code offers the model.

Claude Code takes extra tools only as MCP tools, so each client function is
registered on an in-process SDK MCP server named ``client``: the model sees
``mcp__client__<name>`` with the client's description and JSON schema. The
CLI never runs one: the call goes back to the client, and the client's result
comes back as the tool's result (see ``parking``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

SERVER = "client"
PREFIX = f"mcp__{SERVER}__"


@dataclass(frozen=True)
class ToolSpec:
    """One client function, as the model will see it."""

    name: str
    description: str
    parameters_json: str  # canonical JSON: keeps the spec hashable for the pool key
    freeform: bool = False  # a custom tool of the client's: one string in, returned as it is

    @property
    def parameters(self) -> dict[str, Any]:
        parameters: dict[str, Any] = json.loads(self.parameters_json)
        return parameters


def upstream_name(name: str) -> str:
    return f"{PREFIX}{name}"


def client_name(name: str) -> str | None:
    """The client's function name for a tool the model called, or None for
    any tool that is not a client function."""
    return name[len(PREFIX) :] if name.startswith(PREFIX) else None
