"""The one home for the Claude Agent SDK's private names, and the list of
every SDK or CLI internal a promise of ours leans on.

Each :class:`Internal` says what of the SDK or the CLI we use, which promise
leans on it, and how a change is found: the SDK's Python side here
(:func:`python_changes`), the CLI's by the names its binary must hold
(:attr:`Internal.cli_names`, :func:`missing_names`), the rest where it is
used (the command line and ``initialize`` on every launch, the rewind on
every reset, the transcript through the SDK's own reader: see
:mod:`drift`). A change fails closed: the CLI is not started
(:class:`~litellm_claude_code.errors.SDKDrift`) rather than run with a promise
silently broken, unless the internal is cosmetic or the setting that needs it
is off. ``litellm-claude-code doctor`` lists each as ok or changed.

A private module or name that is gone altogether fails the import of this
module, naming it: nothing runs on a half-present SDK.
"""

from __future__ import annotations

import inspect
import logging
import mmap
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from claude_agent_sdk import ClaudeAgentOptions, ClaudeSDKClient
from claude_agent_sdk import _errors as sdk_errors
from claude_agent_sdk._internal import query as sdk_query
from claude_agent_sdk._internal._mcp_compat import build_tool_server
from claude_agent_sdk._internal._task_compat import spawn_detached
from claude_agent_sdk._internal.transport.subprocess_cli import SubprocessCLITransport
from claude_agent_sdk._version import __version__ as SDK_VERSION

from .environment import CLI_SWITCHES, STREAM_HOLD

__all__ = [
    "CLI_VERSION",
    "INTERNALS",
    "SDK_VERSION",
    "CLIConnectionError",
    "ClaudeAgentOptions",
    "ClaudeSDKError",
    "CLINotFoundError",
    "Internal",
    "SubprocessCLITransport",
    "build_tool_server",
    "bundled_cli",
    "control_request",
    "drift_message",
    "find_cli",
    "internals_table",
    "mcp_tool",
    "missing_names",
    "python_changes",
    "sdk_markers",
    "spawn_detached",
    "tool_result",
    "unsupported_request",
]

logger = logging.getLogger(__name__)

UNKNOWN = "unknown"
try:  # the bundled CLI's version, written into resumed transcripts
    from claude_agent_sdk._cli_version import __cli_version__ as CLI_VERSION
except ImportError:  # the transcript check reports it
    CLI_VERSION = UNKNOWN

CLINotFoundError = sdk_errors.CLINotFoundError
CLIConnectionError = sdk_errors.CLIConnectionError
ClaudeSDKError = sdk_errors.ClaudeSDKError


@dataclass(frozen=True)
class Internal:
    """One SDK or CLI internal we lean on. ``setting``: the setting whose off
    value (0) turns off what needs it, the way out when it changed."""

    name: str
    uses: str
    keeps: str
    cli_names: tuple[str, ...] = ()
    setting: str | None = None
    cosmetic: bool = False  # changed: a warning, never a refusal

    @property
    def off_switch(self) -> str | None:
        """The environment setting that turns off what needs it (settings.py's naming)."""
        return None if self.setting is None else f"LITELLM_CLAUDE_CODE_{self.setting.upper()}=0"


INTERNALS: tuple[Internal, ...] = (
    Internal(
        "transport",
        "the SDK's subprocess transport (SubprocessCLITransport: _build_command, _find_cli, _process, "
        "its stream attributes)",
        "the CLI gets exactly the environment we give it and dies with the proxy",
    ),
    Internal(
        "command-line",
        "how the SDK builds the CLI's command line (--tools, --setting-sources, --strict-mcp-config, "
        "--input-format; checked on every launch)",
        "no built-in tool, setting or CLAUDE.md reaches the CLI, and nothing a client sent is on its command line",
    ),
    Internal(
        "initialize",
        "the SDK's initialize control request, its first line on stdin, and the CLI's systemPrompt and "
        "jsonSchema fields in it (checked on every launch)",
        "the client's system prompt and JSON schema reach the model, through stdin",
        cli_names=("systemPrompt", "jsonSchema"),
    ),
    Internal(
        "rewind",
        "the CLI's rewind_conversation control request, sent on the SDK's control channel "
        "(Query._send_control_request; checked on every reset)",
        "a warm process that serves a new conversation holds nothing of the last one",
        cli_names=("rewind_conversation", "target_message_uuid", "last_seen_user_message_uuid"),
    ),
    Internal(
        "verbatim-prompts",
        "the client_composed mark on the user messages we send",
        "a client's text reaches the model as sent: no slash commands, no @file expansion",
        cli_names=("client_composed",),
    ),
    Internal(
        "cli-environment",
        "the CLI's environment switches " + ", ".join(CLI_SWITCHES),
        "no traffic but the API call, a stalled stream fails instead of a silent retry, no second "
        "upstream call after a refusal, parked tool calls wait for the client, the client's max_tokens",
        cli_names=CLI_SWITCHES,
    ),
    Internal(
        "stream-hold",
        f"the CLI's {STREAM_HOLD}",
        "a streamed block's deltas are joined (a fraction of the chunks and of the proxy's CPU)",
        cli_names=(STREAM_HOLD,),
        setting="stream_hold_ms",
    ),
    Internal(
        "mcp",
        "the SDK's in-process MCP server (_internal._mcp_compat.build_tool_server), MCP's Tool and "
        "CallToolResult, and the CLI's anthropic/maxResultSizeChars hint",
        "client functions are offered to the model with their own schemas, and results reach it whole",
        cli_names=("anthropic/maxResultSizeChars",),
    ),
    Internal(
        "transcript",
        "the CLI's session transcript lines (checked through the SDK's own reader) and the bundled CLI's version",
        "a request's history reaches the model as role-structured messages",
    ),
    Internal(
        "reader-log",
        "the SDK's message-reader logger and its 'Fatal error in message reader' line",
        "CLI processes the pool ends on purpose are not logged as errors",
        cosmetic=True,
    ),
)
BY_NAME = {internal.name: internal for internal in INTERNALS}


def internals_table() -> str:
    """The README's table of the internals, from :data:`INTERNALS` (checked by a test)."""
    lines = [
        "| internal | what of the SDK or CLI | the promise that leans on it | when it changed |",
        "|---|---|---|---|",
    ]
    for internal in INTERNALS:
        if internal.cosmetic:
            then = "a warning"
        elif internal.off_switch is not None:
            then = f"refused, unless `{internal.off_switch}`"
        else:
            then = "refused"
        lines.append(f"| `{internal.name}` | {internal.uses} | {internal.keeps} | {then} |")
    return "\n".join(lines) + "\n"


def drift_message(name: str, change: str) -> str:
    """What a client or operator reads when ``name`` changed: never client text."""
    internal = BY_NAME[name]
    way_out = ""
    if internal.off_switch is not None:
        way_out = f", or set {internal.off_switch} to run without it"
    return (
        f"claude-agent-sdk {SDK_VERSION} (Claude Code {CLI_VERSION}) is not what this provider was tested "
        f"with: {change} ({internal.uses}). That breaks a promise, so Claude Code was not started: "
        f"{internal.keeps}. Install a tested version (`pip install --require-hashes -r requirements.lock`)"
        f"{way_out}; `litellm-claude-code doctor` lists what changed."
    )


def sdk_markers() -> dict[str, str]:
    """The variables the stock transport sets for the CLI, as it sets them."""
    return {
        "CLAUDE_CODE_ENTRYPOINT": "sdk-py",
        "CLAUDE_AGENT_SDK_VERSION": SDK_VERSION,
        "CLAUDE_CODE_SDK_READS_SESSION_STATE": "1",
    }


# -- the SDK's Python side -------------------------------------------------
_TRANSPORT_METHODS = ("_build_command", "_find_cli", "_find_bundled_cli", "_handle_stderr", "connect", "write", "close")
_TRANSPORT_FIELDS = (
    "_process",
    "_stdout_stream",
    "_stdin_stream",
    "_stderr_stream",
    "_stderr_task",
    "_ready",
    "_cwd",
    "_cli_path",
    "_options",
    "_write_lock",
    "_exit_error",
)
SDK_READER_LOGGER = "claude_agent_sdk._internal.query"
_READER_FAILURE = "Fatal error in message reader"


def _absent(owner: Any, names: Iterable[str], *, call: bool = False) -> list[str]:
    return [n for n in names if not hasattr(owner, n) or (call and not callable(getattr(owner, n)))]


def _transport_change() -> str | None:
    gone = _absent(SubprocessCLITransport, _TRANSPORT_METHODS, call=True)
    gone += _absent(SubprocessCLITransport(prompt="", options=ClaudeAgentOptions(cwd="/")), _TRANSPORT_FIELDS)
    return f"SubprocessCLITransport has no {', '.join(gone)}" if gone else None


def _initialize_change() -> str | None:
    initialize = getattr(sdk_query.Query, "initialize", None)
    if initialize is None or '"initialize"' not in inspect.getsource(initialize):
        return "the SDK's Query no longer sends an `initialize` request"
    return None


def _rewind_change() -> str | None:
    if not callable(getattr(sdk_query.Query, "_send_control_request", None)):
        return "the SDK's Query has no _send_control_request"
    if "_query" not in vars(ClaudeSDKClient(ClaudeAgentOptions())):
        return "ClaudeSDKClient has no _query"
    return None


def _mcp_change() -> str | None:
    parameters = list(inspect.signature(build_tool_server).parameters)
    if parameters[:3] != ["name", "version", "tools"] or len(parameters) != 4:
        return f"build_tool_server takes ({', '.join(parameters)})"
    tool = mcp_tool("probe", "d", {"type": "object"}, max_result_chars=1)
    if tool.model_dump(by_alias=True).get("_meta") != {"anthropic/maxResultSizeChars": 1}:
        return "an MCP Tool no longer keeps its _meta"
    return None


def _transcript_change() -> str | None:
    return "the SDK does not say which CLI it bundles (_cli_version)" if CLI_VERSION == UNKNOWN else None


def _reader_log_change() -> str | None:
    if sdk_query.logger.name != SDK_READER_LOGGER or _READER_FAILURE not in inspect.getsource(sdk_query):
        return "the SDK's reader logs its failures elsewhere"
    return None


_PYTHON_CHECKS = {
    "transport": _transport_change,
    "initialize": _initialize_change,
    "rewind": _rewind_change,
    "mcp": _mcp_change,
    "transcript": _transcript_change,
    "reader-log": _reader_log_change,
}


def python_changes() -> dict[str, str]:
    """The internals whose SDK side changed, with what changed (empty: as tested)."""
    changes = {}
    for name, check in _PYTHON_CHECKS.items():
        try:
            change = check()
        except Exception as exc:  # an internal that changed shape: that is the finding
            change = f"{type(exc).__name__}: {exc}"
        if change is not None:
            changes[name] = change
    return changes


# -- the CLI's side ----------------------------------------------------------
def missing_names(cli: Path, names: Iterable[str]) -> list[str]:
    """The ``names`` the CLI binary does not contain (a few tenths of a second:
    each is found in the binary's embedded source, or not at all)."""
    wanted = list(dict.fromkeys(names))
    with cli.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        return [name for name in wanted if data.find(name.encode()) < 0]


UNSUPPORTED_REQUEST = "Unsupported control request subtype"


def unsupported_request(response: Any) -> bool:
    """The CLI's answer to a control request it does not know (``"Exception: Unsupported ..."``)."""
    return isinstance(response, str) and UNSUPPORTED_REQUEST in response


# -- the SDK's names, as the rest of the package uses them -------------------
def bundled_cli() -> Path | None:
    """The CLI inside the SDK wheel, where the SDK itself looks first."""
    found = SubprocessCLITransport(prompt="", options=ClaudeAgentOptions())._find_bundled_cli()
    return Path(found) if found else None


def find_cli(cli_path: str | None = None) -> str:
    """The CLI the SDK would run: ``cli_path``, the bundled one, then PATH.

    Raises:
        CLINotFoundError: there is none.
    """
    if cli_path:
        return cli_path
    found: str = SubprocessCLITransport(prompt="", options=ClaudeAgentOptions())._find_cli()
    return found


async def control_request(client: Any, request: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Send the CLI a control request the SDK has no method for (``rewind_conversation``)
    on ``client``'s own channel; returns the CLI's response.

    Raises:
        Exception: the CLI answered with an error, ended, or did not answer within ``timeout``.
    """
    query = client._query
    if query is None:
        raise CLIConnectionError("Not connected")
    response: dict[str, Any] = await query._send_control_request(request, timeout=timeout)
    return response


def mcp_tool(name: str, description: str, schema: dict[str, Any], *, max_result_chars: int) -> Any:
    """An MCP tool listing; ``max_result_chars`` is Claude Code's own hint for how
    much of a result it keeps inline (the ``anthropic/maxResultSizeChars`` meta key)."""
    from mcp.types import Tool

    return Tool.model_validate(
        {
            "name": name,
            "description": description,
            "inputSchema": schema,
            "_meta": {"anthropic/maxResultSizeChars": max_result_chars},
        }
    )


def tool_result(text: str, is_error: bool) -> Any:
    from mcp.types import CallToolResult

    return CallToolResult.model_validate({"content": [{"type": "text", "text": text}], "isError": is_error})


# The SDK logs an ERROR when a CLI it reads from exits with a signal; the pool
# ends processes with SIGTERM on purpose (a cancelled or finished turn), so
# those exits are expected and their lines only noise.
_ENDED_ON_PURPOSE = ("exit code 143", "exit code -15")


def not_an_ended_cli(record: logging.LogRecord) -> bool:
    """A log filter: False for the SDK's line about a CLI the pool ended on purpose."""
    message = record.getMessage()
    return not (message.startswith(_READER_FAILURE) and any(c in message for c in _ENDED_ON_PURPOSE))


def quiet_exits_on_purpose() -> None:
    """Drop those lines from the SDK's reader log (for ``serve``; idempotent)."""
    reader = logging.getLogger(SDK_READER_LOGGER)
    if not_an_ended_cli not in reader.filters:
        reader.addFilter(not_an_ended_cli)
