"""The SDK options for one CLI launch: what makes the CLI a plain model endpoint.

A :class:`LaunchSpec` holds everything fixed when a process starts; the pool
keys processes by it. :func:`build_options` turns one into
``ClaudeAgentOptions``: no built-in tools, no settings/CLAUDE.md/hooks/
plugins, no MCP servers but the one that shows the client's functions (which
never run here), nothing persisted.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from claude_agent_sdk import ClaudeAgentOptions, SdkMcpTool, create_sdk_mcp_server
from claude_agent_sdk.types import (
    PermissionResultAllow,
    PermissionResultDeny,
    ThinkingConfigAdaptive,
    ThinkingConfigDisabled,
    ThinkingConfigEnabled,
    ToolPermissionContext,
)

from .tools import SERVER, ToolSpec

STRUCTURED_OUTPUT_TOOL = "StructuredOutput"  # how the CLI returns `output_format` answers
_NOT_HERE = "Client functions run on the client, not here."


@dataclass(frozen=True)
class LaunchSpec:
    """Everything fixed when a CLI process starts. Equal specs share processes."""

    model: str
    system_prompt: str | None
    env: dict[str, str] = field(repr=False)
    cwd: str
    cli_path: str | None = None
    tools: tuple[ToolSpec, ...] = ()  # client functions, never run here
    effort: str | None = None
    thinking: tuple[str, int | None] | None = None  # ("enabled", budget) / ("disabled", None) / ("adaptive", None)
    output_schema_json: str | None = None  # structured output: the JSON schema

    def key(self) -> tuple[object, ...]:
        """A hashable identity made of every field, so a new field cannot be left out."""
        return tuple(
            tuple(sorted(value.items())) if isinstance(value, dict) else value
            for value in (getattr(self, f.name) for f in dataclasses.fields(self))
        )


def _thinking(setting: tuple[str, int | None] | None) -> Any:
    if setting is None:
        return None
    kind, budget = setting
    if kind == "enabled":
        return ThinkingConfigEnabled(type="enabled", budget_tokens=budget or 1024)
    if kind == "disabled":
        return ThinkingConfigDisabled(type="disabled")
    return ThinkingConfigAdaptive(type="adaptive")


async def _refuse(args: dict[str, Any]) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": _NOT_HERE}], "is_error": True}


async def deny_all_but_structured_output(
    name: str, tool_input: dict[str, Any], context: ToolPermissionContext
) -> PermissionResultAllow | PermissionResultDeny:
    """Deny every tool but the CLI's own answer-as-JSON tool, which runs nothing."""
    if name == STRUCTURED_OUTPUT_TOOL:
        return PermissionResultAllow()
    return PermissionResultDeny(message=_NOT_HERE, interrupt=True)


def _client_tools(specs: Sequence[ToolSpec]) -> dict[str, Any]:
    """The SDK MCP server that shows the model the client's functions."""
    tools = [
        SdkMcpTool(name=s.name, description=s.description, input_schema=s.parameters, handler=_refuse) for s in specs
    ]
    return {SERVER: create_sdk_mcp_server(SERVER, tools=tools)}


def build_options(spec: LaunchSpec, *, resume: str | None = None) -> ClaudeAgentOptions:
    """SDK options that make the CLI a plain model endpoint.

    Prompts are delivered verbatim (each user turn is marked
    ``client_composed``; not ``verbatim_prompts``, which would also make our
    ``/clear`` plain text); one model turn per request. ``resume`` names a
    session transcript the CLI loads at start (the request's history).
    """
    options = ClaudeAgentOptions(
        model=spec.model,
        system_prompt=spec.system_prompt,
        tools=[],
        setting_sources=[],
        strict_mcp_config=True,
        include_partial_messages=True,
        max_turns=1,
        cwd=spec.cwd,
        cli_path=spec.cli_path,
        env=spec.env,
        extra_args={"no-session-persistence": None},
        effort=cast(Any, spec.effort),
        thinking=_thinking(spec.thinking),
        resume=resume,
    )
    if spec.tools:
        options.mcp_servers = _client_tools(spec.tools)
        options.can_use_tool = deny_all_but_structured_output
    if spec.output_schema_json is not None:
        options.output_format = {"type": "json_schema", "schema": json.loads(spec.output_schema_json)}
    return options
