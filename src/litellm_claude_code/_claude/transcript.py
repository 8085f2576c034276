"""Prior turns as a Claude Code session transcript, for the CLI to resume.

The CLI takes earlier turns only from a session it resumes. These are the
lines of its own transcript format (the entries the SDK's ``SessionStore``
adapters pass through); :mod:`session` writes them where the CLI looks,
resumes them at start and deletes the file. The upstream then receives each
turn as its own role-structured message. (Not the SDK's own
``session_store`` route: it cannot be combined with our transport, and it
copies a ``claude`` login's access token into ``/tmp``.)
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from .._shapes import Turn


def transcript_entries(
    history: Sequence[Turn], *, session_id: str, cwd: str, cli_version: str, model: str
) -> list[dict[str, Any]]:
    """The JSONL entries of a transcript holding ``history``, oldest first."""
    timestamp = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    entries: list[dict[str, Any]] = []
    parent: str | None = None
    for turn in history:
        entry_id = str(uuid.uuid4())
        if turn.role == "assistant":
            message: dict[str, Any] = {
                "id": f"msg_{uuid.uuid4().hex[:24]}",
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": list(turn.content),
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": 0, "output_tokens": 0},
            }
        else:
            message = {"role": "user", "content": list(turn.content)}
        entries.append(
            {
                "type": turn.role,
                "uuid": entry_id,
                "parentUuid": parent,
                "sessionId": session_id,
                "cwd": cwd,
                "timestamp": timestamp,
                "version": cli_version,
                "isSidechain": False,
                "userType": "external",
                "message": message,
            }
        )
        parent = entry_id
    return entries
