"""Prior turns as a Claude Code session transcript, resumed through the SDK.

The CLI takes earlier turns only from a session it resumes. We hand the SDK a
one-shot :class:`SessionStore` that serves the transcript, and the SDK writes
it into a temporary config directory, resumes it and deletes it. The upstream
then receives each turn as its own role-structured message.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any, cast

from claude_agent_sdk.types import SessionKey, SessionStoreEntry

from .types import Turn


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


class TranscriptStore:
    """A read-only :class:`claude_agent_sdk.SessionStore` for one request.

    Duck-typed, as the SDK allows: only ``append`` and ``load`` are required.

    ``load`` serves the prepared transcript; ``append`` drops the CLI's mirror
    writes, since nothing of a request is kept after it ends.
    """

    def __init__(self, session_id: str, entries: list[dict[str, Any]]) -> None:
        self.session_id = session_id
        self._entries = entries

    async def append(self, key: SessionKey, entries: list[SessionStoreEntry]) -> None:
        return None

    async def load(self, key: SessionKey) -> list[SessionStoreEntry] | None:
        if key.get("session_id") != self.session_id or key.get("subpath"):
            return None
        return cast(list[SessionStoreEntry], self._entries)
