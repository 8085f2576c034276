"""What the pool and a CLI process agree on: the process's phase, the
``Session`` protocol the pool drives, and the request's ``Deadline``.

The pool knows processes only through this module, never the SDK.
"""

from __future__ import annotations

import enum
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from .._shapes import ContentBlock
from ..errors import RequestTimeout
from .types import ToolResult


class Phase(enum.Enum):
    """Where a CLI process is in its life."""

    NEW = "new"
    STARTING = "starting"
    IDLE = "idle"  # between turns: ready for the next one
    BUSY = "busy"  # in a turn
    PARKED = "parked"  # in client function calls, waiting for the client's results
    CLOSED = "closed"

    @property
    def alive(self) -> bool:
        return self in (Phase.STARTING, Phase.IDLE, Phase.BUSY, Phase.PARKED)


@dataclass(frozen=True)
class Deadline:
    """The moment a request must be answered by, and the budget it was given
    (named in the timeout error the client sees)."""

    at: float  # time.monotonic()
    seconds: float

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        return cls(time.monotonic() + seconds, seconds)

    def remaining(self) -> float:
        return max(0.0, self.at - time.monotonic())

    @property
    def passed(self) -> bool:
        return time.monotonic() >= self.at

    def error(self) -> RequestTimeout:
        return RequestTimeout(self.seconds)


# How a process forgot its conversation; None: it could not (it is replaced).
ResetOutcome = Literal["rewound", "cleared"] | None


class Job(Protocol):
    """One turn's SDK messages, up to and including its result."""

    completed: bool  # the CLI reported the turn's result

    def __aiter__(self) -> AsyncIterator[Any]: ...


class Session(Protocol):
    """What the pool and a request need of a CLI process (see :class:`session.CLISession`)."""

    phase: Phase

    @property
    def alive(self) -> bool: ...

    async def start(self, timeout: float) -> None: ...

    def turn(self, prompt: Sequence[ContentBlock], deadline: Deadline) -> Job: ...

    def park(self) -> None: ...

    def resume_with(self, results: Mapping[str, ToolResult], deadline: Deadline) -> Job: ...

    async def reset(self, deadline: Deadline) -> ResetOutcome: ...

    async def close(self) -> None: ...

    def kill_now(self) -> None: ...
