"""Every internal in :data:`sdk_compat.INTERNALS`, checked against the SDK and
CLI installed now: once per CLI binary, before its first process starts.

The SDK's Python side and the command line it builds are checked in-process;
the transcript format by writing one with our own code and reading it back
with the SDK's public reader; the CLI by the names its binary must contain.
:class:`DriftCheck` keeps the findings for a binary (by path, size and mtime),
so a request pays a dictionary lookup; ``serve`` runs it before it listens
and ``doctor`` prints it.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from claude_agent_sdk import (
    InMemorySessionStore,
    SessionKey,
    get_session_messages_from_store,
    project_key_for_directory,
)

from .._shapes import Turn
from ..errors import SDKDrift
from .client_tools import ToolSpec
from .options import LaunchSpec, build_options, client_data
from .sdk_compat import (
    CLI_VERSION,
    INTERNALS,
    CLINotFoundError,
    Internal,
    SubprocessCLITransport,
    drift_message,
    find_cli,
    missing_names,
    python_changes,
)
from .transcript import transcript_entries
from .transport import LockedDownTransport, argv_problem

logger = logging.getLogger(__name__)

_PROBE_CWD = "/probe"


@dataclass(frozen=True)
class Finding:
    """One internal as found: ``change`` says what differs (None: as tested)."""

    internal: Internal
    change: str | None = None

    @property
    def ok(self) -> bool:
        return self.change is None


def _command_line_change() -> str | None:
    """The command line the SDK builds for a launch with every option we use."""
    spec = LaunchSpec(
        model="sonnet",
        system_prompt="probe system prompt: it must never be on the command line",
        env={},
        cwd=_PROBE_CWD,
        cli_path="/probe/claude",
        tools=(ToolSpec("probe", "probe function description, never on the command line", '{"type":"object"}'),),
        effort="low",
        thinking=("enabled", 2048),
        output_schema_json='{"properties":{"probe_schema_field":{"type":"string"}},"type":"object"}',
    )
    client = client_data(spec)
    transport = LockedDownTransport(build_options(spec, resume=str(uuid.uuid4())), env={}, client=client)
    return argv_problem(SubprocessCLITransport._build_command(transport), client)  # the SDK's, unguarded


def _text(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


async def _transcript_change() -> str | None:
    """Our transcript lines, read back by the SDK's own reader (it follows the CLI's format)."""
    session = str(uuid.uuid4())
    history = (Turn("user", [_text("a")]), Turn("assistant", [_text("b")]), Turn("user", [_text("c")]))
    entries = transcript_entries(history, session_id=session, cwd=_PROBE_CWD, cli_version=CLI_VERSION, model="probe")
    store = InMemorySessionStore()
    key = SessionKey(project_key=project_key_for_directory(_PROBE_CWD), session_id=session)
    await store.append(key, cast(Any, entries))  # the entries are opaque JSON to the store
    read = await get_session_messages_from_store(store, session, directory=_PROBE_CWD)
    if [(m.type, m.uuid) for m in read] != [(e["type"], e["uuid"]) for e in entries]:
        return f"the SDK reads our 3-message transcript as {[m.type for m in read]}"
    return None


async def inspect_internals(cli: Path | None) -> list[Finding]:
    """Every internal as the installed SDK and ``cli`` (None: not found) have it."""
    changes = python_changes()
    for name in ("command-line", "transcript"):
        try:
            change = _command_line_change() if name == "command-line" else await _transcript_change()
        except Exception as exc:  # an internal that changed shape: that is the finding
            change = f"{type(exc).__name__}: {exc}"
        if change is not None:
            changes[name] = "; ".join(filter(None, [changes.get(name), change]))
    if cli is not None:
        wanted = [name for internal in INTERNALS for name in internal.cli_names]
        missing = set(await asyncio.to_thread(missing_names, cli, wanted))
        for internal in INTERNALS:
            gone = [name for name in internal.cli_names if name in missing]
            if gone:
                change = f"Claude Code {CLI_VERSION} has no {', '.join(gone)}"
                changes[internal.name] = "; ".join(filter(None, [changes.get(internal.name), change]))
    return [Finding(internal, changes.get(internal.name)) for internal in INTERNALS]


def resolved_cli(cli_path: str | None) -> Path | None:
    try:
        found = Path(find_cli(cli_path))
    except CLINotFoundError:
        return None
    return found if found.is_file() else None


@dataclass
class DriftCheck:
    """The findings for each CLI binary seen, and the one decision made from them."""

    _findings: dict[tuple[str, int, int], list[Finding]] = field(default_factory=dict)
    _warned: set[str] = field(default_factory=set)

    async def findings(self, cli_path: str | None) -> list[Finding]:
        cli = resolved_cli(cli_path)
        stat = cli.stat() if cli is not None else None
        key = (str(cli), stat.st_size, stat.st_mtime_ns) if stat is not None else ("", 0, 0)
        if key not in self._findings:
            self._findings[key] = await inspect_internals(cli)
        return self._findings[key]

    async def require(self, cli_path: str | None, *, is_off: Callable[[str], bool] = lambda _: False) -> None:
        """Fail closed on a changed internal a promise leans on.

        ``is_off(setting)``: that setting is off, so its internal is not
        needed. A cosmetic change is logged once.

        Raises:
            SDKDrift: naming the first such internal and the versions.
        """
        for finding in await self.findings(cli_path):
            setting = finding.internal.setting
            if finding.change is None or (setting is not None and is_off(setting)):
                continue
            message = drift_message(finding.internal.name, finding.change)
            if not finding.internal.cosmetic:
                raise SDKDrift(finding.internal.name, message)
            if finding.internal.name not in self._warned:
                self._warned.add(finding.internal.name)
                logger.warning("%s", message)
