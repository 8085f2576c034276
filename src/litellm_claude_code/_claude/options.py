"""The SDK options for one CLI launch: what makes the CLI a plain model endpoint.

A :class:`LaunchSpec` holds everything fixed when a process starts; the pool
keys processes by it. :func:`build_options` turns one into
``ClaudeAgentOptions``: no built-in tools, no settings/CLAUDE.md/hooks/
plugins, no MCP servers but the one that shows the client's functions (which
never run here), nothing persisted. What the client wrote (its system prompt,
its schema) never goes into those options, which the SDK turns into the CLI's
command line: :func:`client_data` carries it to stdin (see :mod:`transport`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from claude_agent_sdk import ClaudeAgentOptions
from claude_agent_sdk.types import (
    McpSdkServerConfig,
    PermissionResultAllow,
    PermissionResultDeny,
    ThinkingConfigAdaptive,
    ThinkingConfigDisabled,
    ThinkingConfigEnabled,
    ToolPermissionContext,
)

from .client_tools import SERVER, ToolSpec
from .sdk_compat import build_tool_server, mcp_tool, tool_result
from .transport import ClientData

STRUCTURED_OUTPUT_TOOL = "StructuredOutput"  # how the CLI returns `output_format` answers
_NOT_HERE = "Client functions run on the client, not here."
PARKED_STEPS = 1000  # model turns one process may run in a tool loop (each step is one)
MAX_RESULT_CHARS = 500_000  # what Claude Code keeps inline of one tool result (its ceiling, measured)


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
    park_tools: bool = False  # client function calls wait for the client's results (see parking.py)

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


async def deny_all_but_structured_output(
    name: str, tool_input: dict[str, Any], context: ToolPermissionContext
) -> PermissionResultAllow | PermissionResultDeny:
    """Deny every tool but the CLI's own answer-as-JSON tool, which runs nothing.

    Without interrupting: the CLI asks as soon as a call's block ends, while the
    rest of the answer (more calls, its stop reason) may still be streaming,
    and an interrupt then cuts that answer short. One model turn per request
    (``max_turns``) keeps the denial from reaching the upstream.
    """
    if name == STRUCTURED_OUTPUT_TOOL:
        return PermissionResultAllow()
    return PermissionResultDeny(message=_NOT_HERE, interrupt=False)


class ToolHandler(Protocol):
    async def run(self, name: str, arguments: dict[str, Any]) -> tuple[str, bool]: ...

    async def permission(
        self, name: str, tool_input: dict[str, Any], context: ToolPermissionContext
    ) -> PermissionResultAllow | PermissionResultDeny: ...


def _client_tools(specs: Sequence[ToolSpec], handler: ToolHandler | None) -> dict[str, Any]:
    """The in-process MCP server that shows the model the client's functions.

    Built on the SDK's own server plumbing, but with our handler and no
    argument validation of its own: a call the model made is the client's to
    judge, and it must never be answered behind the client's back.
    """

    async def run(name: str, arguments: dict[str, Any]) -> Any:
        text, is_error = (_NOT_HERE, True) if handler is None else await handler.run(name, arguments)
        return tool_result(text, is_error)

    wire = [mcp_tool(s.name, s.description, s.parameters, max_result_chars=MAX_RESULT_CHARS) for s in specs]
    return {SERVER: McpSdkServerConfig(type="sdk", name=SERVER, instance=build_tool_server(SERVER, "1.0.0", wire, run))}


def build_options(
    spec: LaunchSpec, *, resume: str | None = None, tools: ToolHandler | None = None
) -> ClaudeAgentOptions:
    """SDK options that make the CLI a plain model endpoint; nothing in them
    is the client's text (see :func:`client_data`).

    Prompts are delivered verbatim (each user turn is marked
    ``client_composed``; not ``verbatim_prompts``, which would also make our
    ``/clear`` plain text); one model turn per request. ``resume`` names a
    session transcript the CLI loads at start (the request's history).
    ``tools`` answers client function calls (parked calls, see
    :mod:`parking`): then one query spans the steps of a tool loop; without
    it every call is refused and the answer ends at the call.
    """
    options = ClaudeAgentOptions(
        model=spec.model,
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
        options.mcp_servers = _client_tools(spec.tools, tools)
        options.can_use_tool = tools.permission if tools is not None else deny_all_but_structured_output
        if tools is not None:
            options.max_turns = PARKED_STEPS
    return options


def client_data(spec: LaunchSpec) -> ClientData:
    """What of ``spec`` the client wrote: the system prompt and schema (sent in
    ``initialize``), and the functions' descriptions and schemas (looked for on
    the command line too)."""
    schema = json.loads(spec.output_schema_json) if spec.output_schema_json is not None else None
    functions = tuple(text for tool in spec.tools for text in (tool.description, tool.parameters_json))
    return ClientData(system_prompt=spec.system_prompt, schema=schema, other=functions)
