"""One structured line per request, for operators: what ran, where, how fast.

``serve``'s ASGI layer opens an :class:`AccessRecord` for each HTTP request
(:func:`open_record`) and writes it as one JSON line on the
``litellm_claude_code.access`` logger when the response is done; the
provider and the turn fill in what only they know (:func:`note`), through the
request's context (LiteLLM runs the provider in a copy of it). Outside
``serve`` no record is open and :func:`note` does nothing.

Every field is a number, a status, or a name this package chose: never a
message's text, a header, a key or a token (a credential appears as its short
hash, :attr:`Credentials.id`).
"""

from __future__ import annotations

import json
import logging
import time
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

LOGGER = "litellm_claude_code.access"
logger = logging.getLogger(LOGGER)

# How a request found its CLI process (the pool's lease modes, as an operator says them).
PROCESS = {"parked": "parked", "continue": "warm", "fresh": "warm", "reset": "warm"}


@dataclass
class AccessRecord:
    """One request, as the access log shows it (None: not known, or not this provider's)."""

    method: str
    endpoint: str
    started: float = field(default_factory=time.monotonic, repr=False)
    time: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="milliseconds"))
    request_id: str | None = None
    status: int | None = None
    model: str | None = None
    deployment: str | None = None
    credential: str | None = None
    process: str | None = None  # parked / warm / fresh / resumed
    queue_ms: float | None = None
    ttft_ms: float | None = None
    duration_ms: float | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    error: str | None = None

    def line(self) -> str:
        fields = {k: v for k, v in asdict(self).items() if k != "started" and v is not None}
        return json.dumps(fields, separators=(",", ":"))


_current: ContextVar[AccessRecord | None] = ContextVar("litellm_claude_code_access", default=None)


def open_record(method: str, endpoint: str) -> AccessRecord:
    """A record for the request this context serves."""
    record = AccessRecord(method=method, endpoint=endpoint)
    _current.set(record)
    return record


def note(**fields: Any) -> None:
    """Fill in fields of the current request's record (nothing outside a request)."""
    record = _current.get()
    if record is None:
        return
    for name, value in fields.items():
        setattr(record, name, value)


def note_first_token() -> None:
    """The answer's first token left the provider now (kept once)."""
    record = _current.get()
    if record is not None and record.ttft_ms is None:
        record.ttft_ms = round((time.monotonic() - record.started) * 1000, 1)


def process_kind(mode: str, resumed: bool) -> str:
    """A lease mode as the log says it: a new process is ``resumed`` when it loaded a history."""
    return PROCESS.get(mode, "resumed" if resumed else "fresh")


def write(record: AccessRecord) -> None:
    record.duration_ms = round((time.monotonic() - record.started) * 1000, 1)
    logger.info("%s", record.line())
