"""How a CLI process starts: the SDK's own subprocess transport, locked down.

:class:`LockedDownTransport` changes three things, each closing a hole the
stock transport leaves open on a server:

- **The environment is exactly what we pass.** The stock transport lays
  ``options.env`` over the proxy's whole ``os.environ``, so the CLI would see
  the name of every proxy variable (and the value of any we forget to blank).
- **Nothing a client sent is on the command line**, where every local user
  can read it (``ps``, ``/proc/<pid>/cmdline``) and where Linux caps one
  argument at 128 KiB (E2BIG). The system prompt and the output schema never
  enter the options the SDK turns into ``argv`` (:class:`ClientData` carries
  them apart); they go in the CLI's ``initialize`` control request on stdin,
  as the TypeScript SDK sends them. The final ``argv`` is then checked on
  every launch (:func:`guard_argv`): a client text, a flag that could carry
  one in any spelling, or a lockdown flag gone (built-in tools back on)
  refuses the start with :class:`SDKDrift` naming the SDK version.
- **The CLI dies with its parent.** Where ``setpriv`` exists (util-linux),
  the CLI is started with a parent-death signal, so a proxy killed with
  SIGKILL leaves no CLI behind.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from subprocess import PIPE
from typing import Any

import anyio
from anyio.streams.text import TextReceiveStream, TextSendStream

from ..errors import SDKDrift
from .sdk_compat import (
    ClaudeAgentOptions,
    CLIConnectionError,
    CLINotFoundError,
    SubprocessCLITransport,
    drift_message,
    sdk_markers,
    spawn_detached,
)

# Flag names (lower case, without dashes or underscores) whose value would be client text.
_CARRIERS = ("systemprompt", "jsonschema")
# Flags the lockdown needs, with the value each must have ("" for an empty one; None: no value).
LOCKDOWN: dict[str, str | None] = {
    "--tools": "",  # no built-in tools at all
    "--setting-sources": "",  # no settings, CLAUDE.md, hooks or agents
    "--strict-mcp-config": None,  # no MCP servers but ours
    "--input-format": "stream-json",  # prompts on stdin
}
# Client texts are looked for by their first and last characters: a copy would hold both.
_WINDOW = 64
_SHORTEST_LOOKED_FOR = 24  # shorter texts can occur in any argv (paths, flags)
LONGEST_ARGUMENT = 16 * 1024  # nothing of ours comes near; 128 KiB fails with E2BIG


@dataclass(frozen=True)
class ClientData:
    """What a request gives a CLI at its start. None of it may reach ``argv``.

    ``system_prompt`` and ``schema`` are delivered in ``initialize``;
    ``other`` is the rest of what the client wrote that the CLI gets by
    other channels (tool descriptions and schemas, over the MCP control
    protocol): looked for in ``argv`` too.
    """

    system_prompt: str | None = None
    schema: dict[str, Any] | None = None
    other: tuple[str, ...] = field(default=(), repr=False)

    def initialize_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        if self.system_prompt is not None:
            fields["systemPrompt"] = [self.system_prompt]
        if self.schema is not None:
            fields["jsonSchema"] = self.schema
        return fields

    def texts(self) -> list[str]:
        found = [*self.other]
        if self.system_prompt:
            found.append(self.system_prompt)
        if self.schema is not None:
            found += [json.dumps(self.schema), json.dumps(self.schema, separators=(",", ":"))]
        return found


def flag_values(argv: Sequence[str], flag: str) -> list[str | None]:
    """Every value ``flag`` has in ``argv``, in either spelling (``--f v`` or
    ``--f=v``); None where it stands alone (last, or before another flag)."""
    values: list[str | None] = []
    for at, arg in enumerate(argv):
        if arg == flag:
            following = argv[at + 1] if at + 1 < len(argv) else None
            values.append(None if following is None or following.startswith("--") else following)
        elif arg.startswith(flag + "="):
            values.append(arg[len(flag) + 1 :])
    return values


def _carrier(arg: str) -> bool:
    name = arg.lstrip("-").split("=", 1)[0].lower().replace("-", "").replace("_", "")
    return arg.startswith("-") and any(carrier in name for carrier in _CARRIERS)


def argv_problem(argv: Sequence[str], client: ClientData) -> str | None:
    """What is wrong with ``argv``, or None. See the module docstring."""
    for at, arg in enumerate(argv):
        if len(arg) > LONGEST_ARGUMENT:
            return f"an argument of {len(arg)} characters (`{arg[:24]}...`) is on the command line"
        if _carrier(arg):
            value = arg.split("=", 1)[1] if "=" in arg else (argv[at + 1] if at + 1 < len(argv) else "")
            if value and not value.startswith("--"):
                return f"the flag `{arg.split('=', 1)[0]}` carries a value on the command line"
    joined = "\0".join(argv)
    for text in client.texts():
        for window in {text[:_WINDOW].strip(), text[-_WINDOW:].strip()}:
            if len(window) >= _SHORTEST_LOOKED_FOR and window in joined:
                return "text the client sent is on the command line"
    for flag, wanted in LOCKDOWN.items():
        values = flag_values(argv, flag)
        if not values or any(value != wanted and not (wanted is None and value is None) for value in values):
            shown = flag if wanted is None else f"{flag}={wanted}"
            return f"`{shown}` is missing from the command line (found: {values or 'nothing'})"
    return None


def guard_argv(argv: Sequence[str], client: ClientData) -> None:
    """Refuse to start a CLI whose ``argv`` breaks the lockdown.

    Raises:
        SDKDrift: naming what was found (never the client's text itself).
    """
    problem = argv_problem(argv, client)
    if problem is not None:
        raise SDKDrift("command-line", drift_message("command-line", problem))


class LockedDownTransport(SubprocessCLITransport):
    """The SDK's subprocess transport, with the exact environment given,
    client data on stdin only, a checked ``argv`` and a parent-death signal."""

    def __init__(self, options: ClaudeAgentOptions, *, env: dict[str, str], client: ClientData) -> None:
        if options.can_use_tool is not None:  # what ClaudeSDKClient does for its own transport
            options = replace(options, permission_prompt_tool_name="stdio")
        super().__init__(prompt="", options=options)
        self._env = env
        self._client = client
        self._initialize_fields = client.initialize_fields()
        self._first_write = True

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
        command: list[str] = super()._build_command()
        guard_argv(command, self._client)
        setpriv = shutil.which("setpriv")
        if setpriv:
            command = [setpriv, "--pdeathsig", "KILL", "--", *command]
        return command

    async def connect(self) -> None:
        """Start the CLI with exactly ``env`` (plus the SDK's own markers).

        Raises:
            SDKDrift: the command line breaks the lockdown (nothing started).
            CLINotFoundError, CLIConnectionError: as the stock transport.
        """
        if self._process:
            return
        if self._cli_path is None:
            # A few stat() calls: not worth a worker thread, which could outlive a
            # short-lived event loop (litellm.completion's) and hold up interpreter exit.
            self._cli_path = self._find_cli()
        if not os.access(self._cli_path, os.X_OK):  # setpriv would fail later, less clearly
            raise CLINotFoundError(f"Claude Code not found at: {self._cli_path}")
        command = self._build_command()
        env = {**self._env, **sdk_markers()}
        if self._cwd:
            env["PWD"] = self._cwd
        try:
            self._process = await anyio.open_process(
                command, stdin=PIPE, stdout=PIPE, stderr=PIPE, cwd=self._cwd, env=env
            )
        except FileNotFoundError as exc:
            if self._cwd and not Path(self._cwd).exists():
                raise CLIConnectionError(f"Working directory does not exist: {self._cwd}") from exc
            raise CLINotFoundError(f"Claude Code not found at: {self._cli_path}") from exc
        except OSError as exc:
            raise CLIConnectionError(f"Failed to start Claude Code: {exc}") from exc
        assert self._process.stdout and self._process.stdin and self._process.stderr
        self._stdout_stream = TextReceiveStream(self._process.stdout)
        self._stderr_stream = TextReceiveStream(self._process.stderr)
        self._stderr_task = spawn_detached(self._handle_stderr())
        self._stdin_stream = TextSendStream(self._process.stdin)
        self._ready = True

    async def write(self, data: str) -> None:
        """The SDK's first line is its ``initialize`` request: the client's
        fields are added to it. Any other first line means they would be lost.

        Raises:
            SDKDrift: the first line was not ``initialize``.
        """
        if self._first_write:
            self._first_write = False
            if self._initialize_fields:
                data, added = with_initialize_fields(data, self._initialize_fields)
                if not added:
                    raise SDKDrift(
                        "initialize",
                        drift_message("initialize", "the first line the SDK sent the CLI was not `initialize`"),
                    )
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
