"""The one home for the Claude Agent SDK's private names.

Everything here leans on SDK internals that have no public equivalent; a unit
test (``tests/unit/test_sdk_compat.py``) fails loudly when an SDK upgrade
changes one of them.

:class:`LockedDownTransport` is the SDK's own subprocess transport with three
changes, each closing a hole the stock transport leaves open on a server:

- **The environment is exactly what we pass.** The stock transport lays
  ``options.env`` over the proxy's whole ``os.environ``, so the CLI would see
  the name of every proxy variable (and the value of any we forget to blank).
- **Nothing a client sent is on the command line.** The stock transport puts
  the system prompt (``--system-prompt``) and the output schema
  (``--json-schema``) in ``argv``, where every local user can read them in
  ``ps`` and where Linux caps one argument at 128 KiB (E2BIG). Both go in the
  CLI's ``initialize`` control request on stdin instead, as the TypeScript
  SDK sends them.
- **The CLI dies with its parent.** Where ``setpriv`` exists (util-linux),
  the CLI is started with a parent-death signal, so a proxy killed with
  SIGKILL leaves no CLI behind.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import replace
from pathlib import Path
from subprocess import PIPE
from typing import Any

import anyio
from anyio.streams.text import TextReceiveStream, TextSendStream
from claude_agent_sdk import ClaudeAgentOptions
from claude_agent_sdk import _errors as sdk_errors
from claude_agent_sdk._internal._mcp_compat import build_tool_server
from claude_agent_sdk._internal._task_compat import spawn_detached
from claude_agent_sdk._internal.transport.subprocess_cli import SubprocessCLITransport
from claude_agent_sdk._version import __version__ as SDK_VERSION

__all__ = [
    "CLI_VERSION",
    "SDK_VERSION",
    "ClaudeSDKError",
    "CLINotFoundError",
    "LockedDownTransport",
    "build_tool_server",
    "bundled_cli",
    "control_request",
    "find_cli",
    "mcp_tool",
    "tool_result",
]

logger = logging.getLogger(__name__)

try:  # the bundled CLI's version, written into resumed transcripts
    from claude_agent_sdk._cli_version import __cli_version__ as CLI_VERSION
except ImportError:  # pragma: no cover - older SDKs
    CLI_VERSION = "2.1.0"

CLINotFoundError = sdk_errors.CLINotFoundError
ClaudeSDKError = sdk_errors.ClaudeSDKError

# Flags whose value is client data: delivered through `initialize` instead.
_CLIENT_DATA_FLAGS = ("--system-prompt", "--json-schema")


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
    return SubprocessCLITransport(prompt="", options=ClaudeAgentOptions())._find_cli()


class LockedDownTransport(SubprocessCLITransport):
    """The SDK's subprocess transport, with the exact environment given,
    client data on stdin instead of argv, and a parent-death signal."""

    def __init__(self, options: ClaudeAgentOptions, *, env: dict[str, str]) -> None:
        if options.can_use_tool is not None:  # what ClaudeSDKClient does for its own transport
            options = replace(options, permission_prompt_tool_name="stdio")
        super().__init__(prompt="", options=options)
        self._env = env
        self._initialize_extra: dict[str, Any] = {}
        if isinstance(options.system_prompt, str):
            self._initialize_extra["systemPrompt"] = [options.system_prompt]
        output_format = options.output_format
        if isinstance(output_format, dict) and output_format.get("type") == "json_schema":
            self._initialize_extra["jsonSchema"] = output_format.get("schema")

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def returncode(self) -> int | None:
        return self._process.returncode if self._process is not None else None

    async def wait_exit(self) -> int | None:
        """Returns once the CLI process has exited (at once if it never started)."""
        if self._process is None:
            return None
        return await self._process.wait()

    def _build_command(self) -> list[str]:
        command = super()._build_command()
        for flag in _CLIENT_DATA_FLAGS:
            if flag in command and (flag != "--system-prompt" or "systemPrompt" in self._initialize_extra):
                at = command.index(flag)
                del command[at : at + 2]
        setpriv = shutil.which("setpriv")
        if setpriv:
            command = [setpriv, "--pdeathsig", "KILL", "--", *command]
        return command

    async def connect(self) -> None:
        """Start the CLI with exactly ``env`` (plus the SDK's own markers)."""
        if self._process:
            return
        if self._cli_path is None:
            # A few stat() calls: not worth a worker thread, which could outlive a
            # short-lived event loop (litellm.completion's) and hold up interpreter exit.
            self._cli_path = self._find_cli()
        if not os.access(self._cli_path, os.X_OK):  # setpriv would fail later, less clearly
            raise CLINotFoundError(f"Claude Code not found at: {self._cli_path}")
        command = self._build_command()
        env = {
            **self._env,
            "CLAUDE_CODE_ENTRYPOINT": "sdk-py",
            "CLAUDE_AGENT_SDK_VERSION": SDK_VERSION,
            "CLAUDE_CODE_SDK_READS_SESSION_STATE": "1",
        }
        if self._cwd:
            env["PWD"] = self._cwd
        try:
            self._process = await anyio.open_process(
                command, stdin=PIPE, stdout=PIPE, stderr=PIPE, cwd=self._cwd, env=env
            )
        except FileNotFoundError as exc:
            if self._cwd and not Path(self._cwd).exists():
                raise sdk_errors.CLIConnectionError(f"Working directory does not exist: {self._cwd}") from exc
            raise CLINotFoundError(f"Claude Code not found at: {self._cli_path}") from exc
        except OSError as exc:
            raise sdk_errors.CLIConnectionError(f"Failed to start Claude Code: {exc}") from exc
        assert self._process.stdout and self._process.stdin and self._process.stderr
        self._stdout_stream = TextReceiveStream(self._process.stdout)
        self._stderr_stream = TextReceiveStream(self._process.stderr)
        self._stderr_task = spawn_detached(self._handle_stderr())
        self._stdin_stream = TextSendStream(self._process.stdin)
        self._ready = True

    async def write(self, data: str) -> None:
        if self._initialize_extra:
            data, added = with_initialize_fields(data, self._initialize_extra)
            if added:
                self._initialize_extra = {}
        await super().write(data)


def with_initialize_fields(line: str, fields: dict[str, Any]) -> tuple[str, bool]:
    """``line`` with ``fields`` added if it is the ``initialize`` control request."""
    if '"initialize"' not in line:
        return line, False
    message = json.loads(line)
    request = message.get("request") if isinstance(message, dict) else None
    if message.get("type") != "control_request" or not isinstance(request, dict):
        return line, False
    if request.get("subtype") != "initialize":
        return line, False
    request.update(fields)
    return json.dumps(message) + "\n", True


async def control_request(client: Any, request: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Send the CLI a control request the SDK has no method for (``rewind_conversation``)
    on ``client``'s own channel; returns the CLI's response.

    Raises:
        Exception: the CLI answered with an error, ended, or did not answer within ``timeout``.
    """
    query = client._query
    if query is None:
        raise sdk_errors.CLIConnectionError("Not connected")
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
SDK_READER_LOGGER = "claude_agent_sdk._internal.query"
_ENDED_ON_PURPOSE = ("exit code 143", "exit code -15")


def not_an_ended_cli(record: logging.LogRecord) -> bool:
    """A log filter: False for the SDK's line about a CLI the pool ended on purpose."""
    message = record.getMessage()
    return not (message.startswith("Fatal error in message reader") and any(c in message for c in _ENDED_ON_PURPOSE))


def quiet_exits_on_purpose() -> None:
    """Drop those lines from the SDK's reader log (for ``serve``; idempotent)."""
    reader = logging.getLogger(SDK_READER_LOGGER)
    if not_an_ended_cli not in reader.filters:
        reader.addFilter(not_an_ended_cli)
