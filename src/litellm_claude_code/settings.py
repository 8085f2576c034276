"""Settings, read once from the environment and refined per deployment.

Environment variables (all optional):

- ``LITELLM_CLAUDE_CODE_STATE_DIR``: where the CLI's private home, working
  directory and temp files live (default ``$XDG_STATE_HOME/litellm-claude-code``).
- ``LITELLM_CLAUDE_CODE_CLI_PATH``: a Claude Code CLI to use instead of the
  one bundled with the SDK.
- ``LITELLM_CLAUDE_CODE_TIMEOUT``: seconds a request may take (default 600).
- ``LITELLM_CLAUDE_CODE_CLI_MAX_RETRIES``: the CLI's own API retries (default 1).
- ``LITELLM_CLAUDE_CODE_PASS_ENV``: comma-separated extra variable names the
  CLI may see (everything not allow-listed is hidden from it).
- ``LITELLM_CLAUDE_CODE_POOL``: ``1`` (default) keeps warm CLI processes,
  ``0`` starts one per request.
- ``LITELLM_CLAUDE_CODE_MAX_PROCESSES``: requests running at once, and CLI
  processes alive at once (default: what the memory holds, cgroup limits
  included, at 256 MiB a process, 2 to 64; see :mod:`capacity`).
- ``LITELLM_CLAUDE_CODE_MAX_QUEUE``: requests waiting for a process before
  the proxy answers 429 (default 16).
- ``LITELLM_CLAUDE_CODE_IDLE_TTL``: seconds an idle process is kept (default 300).
- ``LITELLM_CLAUDE_CODE_SPARES``: clean processes kept ready per model and
  system prompt in use (default 1), by clearing the longest-idle conversation
  (a new process only when there is none to clear).
- ``LITELLM_CLAUDE_CODE_TOOL_WAIT``: seconds a process that made client
  function calls waits for the client's results (default 300; 0: never
  wait, the next step starts a new process). See :mod:`parking`.
- ``LITELLM_CLAUDE_CODE_SHUTDOWN_GRACE``: seconds running requests get to
  finish after SIGTERM before their CLI is ended (default 10, within
  Docker's default stop timeout).

A deployment's ``litellm_params`` may set ``api_key`` (credential),
``api_base`` (the Anthropic base URL) and ``timeout``: LiteLLM's own
parameters, which clients cannot set. Custom ``litellm_params`` keys are
not read at all: LiteLLM hands them to a provider mixed with the client's
request body, so a client could set them. Per-deployment tuning goes in the
deployment's ``model_info.claude_code`` instead, which only the server config
can set: ``spares``, ``idle_ttl``, ``cli_max_retries``, ``tool_wait``. The caps
(``MAX_PROCESSES``, ``MAX_QUEUE``) and the CLI path stay server-wide.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ._claude import capacity
from .errors import ConfigError

DEFAULT_TIMEOUT = 600.0
DEFAULT_TOOL_WAIT = 300.0
DEFAULT_CLI_MAX_RETRIES = 1
ENV_PREFIX = "LITELLM_CLAUDE_CODE_"


def default_state_dir(environ: Mapping[str, str] = os.environ) -> Path:
    base = environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "litellm-claude-code"


def default_config_dir(environ: Mapping[str, str] = os.environ) -> Path:
    base = environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "litellm-claude-code"


@dataclass(frozen=True)
class Settings:
    state_dir: Path
    cli_path: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    cli_max_retries: int = DEFAULT_CLI_MAX_RETRIES
    base_url: str | None = None
    pass_env: tuple[str, ...] = ()
    pool: bool = True
    max_processes: int = capacity.FALLBACK  # from_env() sizes it to the machine
    max_queue: int = 16
    idle_ttl: float = 300.0
    spares: int = 1
    shutdown_grace: float = 10.0
    tool_wait: float = DEFAULT_TOOL_WAIT

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        """Raises ConfigError naming the variable when a value is invalid."""
        state = environ.get(ENV_PREFIX + "STATE_DIR")
        pass_env = environ.get(ENV_PREFIX + "PASS_ENV", "")
        return cls(
            state_dir=Path(state) if state else default_state_dir(environ),
            cli_path=environ.get(ENV_PREFIX + "CLI_PATH") or None,
            timeout=_positive_float(environ.get(ENV_PREFIX + "TIMEOUT"), ENV_PREFIX + "TIMEOUT", DEFAULT_TIMEOUT),
            cli_max_retries=_non_negative_int(
                environ.get(ENV_PREFIX + "CLI_MAX_RETRIES"),
                ENV_PREFIX + "CLI_MAX_RETRIES",
                DEFAULT_CLI_MAX_RETRIES,
            ),
            base_url=environ.get("ANTHROPIC_BASE_URL") or None,
            pass_env=tuple(name.strip() for name in pass_env.split(",") if name.strip()),
            pool=_flag(environ.get(ENV_PREFIX + "POOL"), ENV_PREFIX + "POOL", True),
            max_processes=_max_processes(environ),
            max_queue=_non_negative_int(*_env(environ, "MAX_QUEUE"), 16),
            idle_ttl=_positive_float(*_env(environ, "IDLE_TTL"), 300.0),
            spares=_non_negative_int(*_env(environ, "SPARES"), 1),
            shutdown_grace=_non_negative_float(*_env(environ, "SHUTDOWN_GRACE"), 10.0),
            tool_wait=_non_negative_float(*_env(environ, "TOOL_WAIT"), DEFAULT_TOOL_WAIT),
        )

    def for_deployment(self, api_base: str | None, tuning: DeploymentTuning | None = None) -> Settings:
        """These settings with a deployment's ``api_base`` and tuning applied."""
        changes: dict[str, Any] = {}
        if api_base:
            changes["base_url"] = api_base
        if tuning is not None and tuning.cli_max_retries is not None:
            changes["cli_max_retries"] = tuning.cli_max_retries
        if tuning is not None and tuning.tool_wait is not None:
            changes["tool_wait"] = tuning.tool_wait
        return replace(self, **changes) if changes else self

    @property
    def workspace(self) -> Path:
        """The CLI's working directory: empty, so nothing in it can leak."""
        return self.state_dir / "workspace"

    @property
    def private_home(self) -> Path:
        """HOME for token-authenticated CLIs, apart from the user's own ~/.claude."""
        return self.state_dir / "home"

    @property
    def runs_dir(self) -> Path:
        """Scratch space of running providers (see :mod:`workdirs`)."""
        return self.state_dir / "run"

    def ensure_dirs(self) -> None:
        for path in (self.state_dir, self.workspace, self.private_home, self.runs_dir):
            path.mkdir(mode=0o700, parents=True, exist_ok=True)


@dataclass(frozen=True)
class DeploymentTuning:
    """A deployment's ``model_info.claude_code``; None: the server-wide value."""

    spares: int | None = None
    idle_ttl: float | None = None
    cli_max_retries: int | None = None
    tool_wait: float | None = None

    @classmethod
    def from_litellm_params(cls, litellm_params: Mapping[str, Any] | None) -> DeploymentTuning:
        """Raises ConfigError naming the bad key."""
        model_info = (litellm_params or {}).get("model_info") or {}
        raw = model_info.get("claude_code") if isinstance(model_info, Mapping) else None
        if not raw:
            return cls()
        if not isinstance(raw, Mapping):
            raise ConfigError("model_info.claude_code must be a mapping")
        unknown = set(raw) - {"spares", "idle_ttl", "cli_max_retries", "tool_wait"}
        if unknown:
            raise ConfigError(f"model_info.claude_code: unknown setting(s) {', '.join(sorted(unknown))}")
        where = "model_info.claude_code."
        return cls(
            spares=None if raw.get("spares") is None else _non_negative_int(raw["spares"], where + "spares", 0),
            idle_ttl=None if raw.get("idle_ttl") is None else _positive_float(raw["idle_ttl"], where + "idle_ttl", 1),
            cli_max_retries=None
            if raw.get("cli_max_retries") is None
            else _non_negative_int(raw["cli_max_retries"], where + "cli_max_retries", 0),
            tool_wait=None
            if raw.get("tool_wait") is None
            else _non_negative_float(raw["tool_wait"], where + "tool_wait", 0),
        )


def request_timeout(timeout: Any, default: float) -> float:
    """The seconds a request may take, from LiteLLM's ``timeout`` argument
    (a number, an ``httpx.Timeout`` or None)."""
    if timeout is None:
        return default
    if isinstance(timeout, (int, float)):
        return float(timeout) if timeout > 0 else default
    for attribute in ("read", "connect"):
        value = getattr(timeout, attribute, None)
        if isinstance(value, (int, float)) and value > 0:
            return float(value)
    return default


def _env(environ: Mapping[str, str], name: str) -> tuple[str | None, str]:
    """A setting's raw value and its full variable name, for the parsers below."""
    return environ.get(ENV_PREFIX + name), ENV_PREFIX + name


def _max_processes(environ: Mapping[str, str]) -> int:
    """The variable when set, else what this machine's memory holds (read only then)."""
    raw, name = _env(environ, "MAX_PROCESSES")
    if raw is None or raw == "":
        return capacity.machine_capacity().processes
    return max(1, _non_negative_int(raw, name, 1))


def _flag(raw: Any, name: str, default: bool) -> bool:
    if raw is None or raw == "":
        return default
    value = str(raw).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be 1 or 0, got {raw!r}")


def _seconds(raw: Any, name: str, default: float, *, zero: bool) -> float:
    """A number of seconds from a setting; ``zero``: 0 is allowed (it turns a wait off)."""
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}") from exc
    if value < 0 or (value == 0 and not zero):
        raise ConfigError(f"{name} must be {'zero or more' if zero else 'positive'}, got {raw!r}")
    return value


def _positive_float(raw: Any, name: str, default: float) -> float:
    return _seconds(raw, name, default, zero=False)


def _non_negative_float(raw: Any, name: str, default: float) -> float:
    return _seconds(raw, name, default, zero=True)


def _non_negative_int(raw: Any, name: str, default: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from exc
    if value < 0:
        raise ConfigError(f"{name} must not be negative, got {raw!r}")
    return value
