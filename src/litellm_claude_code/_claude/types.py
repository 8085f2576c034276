"""Shapes of the Claude Code side alone: how a CLI signs in and how its processes are kept.

Standard library only, so every module of the wing can depend on it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Literal

AuthKind = Literal["oauth_token", "api_key", "login", "cloud"]  # cloud: Bedrock, Vertex AI or Foundry


@dataclass(frozen=True)
class Tuning:
    """How the pool keeps one deployment's processes, resolved once (server-wide
    values with the deployment's own over them) and passed whole."""

    spares: int = 1  # clean processes kept ready per key in use
    idle_ttl: float = 300.0  # seconds an idle process is kept
    tool_wait: float = 300.0  # seconds a parked process waits for the client's results; 0: never parks


@dataclass(frozen=True)
class Credentials:
    """How the CLI will authenticate. ``env`` holds the variables to pass."""

    kind: AuthKind
    env: dict[str, str] = field(repr=False)

    @property
    def id(self) -> str:
        """A short, non-reversible name for this credential (its own CLI state
        directory, log lines, metric labels): never the secret itself."""
        if self.kind == "login":
            return "login"
        secret = "\0".join(f"{name}={value}" for name, value in sorted(self.env.items()))
        return f"{self.kind.replace('_', '-')}-{hashlib.sha256(secret.encode()).hexdigest()[:12]}"


@dataclass(frozen=True)
class ToolResult:
    """What the client sent back for one call."""

    text: str
    is_error: bool = False
