"""Settings, read once from the environment and refined per deployment.

Every setting is one typed field of :class:`Settings`; its description is the
README's Configuration table (:func:`settings_table`, checked by a test), so the
documentation and the code cannot drift apart. Built directly, ``Settings(...)``
holds exactly what it is given; :meth:`Settings.from_env` reads the environment.

A deployment's ``litellm_params`` may set ``api_key`` (credential),
``api_base`` (the Anthropic base URL) and ``timeout``: LiteLLM's own
parameters, which clients cannot set. Custom ``litellm_params`` keys are
not read at all: LiteLLM hands them to a provider mixed with the client's
request body, so a client could set them. Per-deployment tuning goes in the
deployment's ``model_info.claude_code`` (:class:`DeploymentTuning`), which only
the server config can set. The caps and the CLI path stay server-wide.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, JsonValue, ValidationError
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, EnvSettingsSource, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict
from pydantic_settings.sources.utils import parse_env_vars

from ._claude import capacity
from ._claude.types import Tuning
from .errors import PROVIDER, ConfigError

DEFAULT_TIMEOUT = 600.0
DEFAULT_TOOL_WAIT = 300.0
DEFAULT_CLI_MAX_RETRIES = 1
DEFAULT_STREAM_HOLD_MS = 50  # CLAUDE_CODE_STREAM_EVENT_HOLD_MS: see cli_environment
ENV_PREFIX = "LITELLM_CLAUDE_CODE_"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
#: The error type of a value one of the parsers below refused; its message reads after the name.
_INVALID = "invalid_setting"


def default_state_dir(environ: Mapping[str, str] = os.environ) -> Path:
    base = environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "litellm-claude-code"


def default_config_dir(environ: Mapping[str, str] = os.environ) -> Path:
    base = environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "litellm-claude-code"


def _invalid(message: str, raw: Any) -> PydanticCustomError:
    return PydanticCustomError(_INVALID, message + ", got {raw}", {"raw": repr(raw)})


def _seconds(*, zero: bool) -> Callable[[Any], Any]:
    """A parser of seconds; ``zero``: 0 is allowed (it turns a wait off)."""

    def parse(raw: Any) -> Any:
        if raw is None:
            return raw  # None is the "not set" of DeploymentTuning; Settings' float type refuses it
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise _invalid("must be a number of seconds", raw) from None
        if math.isnan(value):
            raise _invalid("must be a number of seconds", raw)
        if value < 0 or (value == 0 and not zero):
            raise _invalid("must be zero or more" if zero else "must be positive", raw)
        return value

    return parse


def _count(raw: Any) -> Any:
    if raw is None:
        return raw
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise _invalid("must be a whole number", raw) from None
    if value < 0:
        raise _invalid("must not be negative", raw)
    return value


def _at_least_one(raw: Any) -> Any:
    """A count where 0 means the smallest that works: 1."""
    value = _count(raw)
    return value if value is None else max(1, value)


def _flag(raw: Any) -> Any:
    value = str(raw).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise _invalid("must be 1 or 0", raw)


def _names(raw: Any) -> Any:
    """Comma-separated variable names; a list or tuple is taken as it is."""
    if isinstance(raw, str):
        return tuple(name.strip() for name in raw.split(",") if name.strip())
    return raw


def _directory(raw: Any) -> Any:
    """An existing directory, by its absolute path: the CLI is started in it, so it must be there."""
    if raw is None:
        return raw
    path = Path(str(raw))
    if not path.is_absolute():
        raise _invalid("must be an absolute path", raw)
    if not path.is_dir():
        raise _invalid("must be an existing directory", raw)
    return path


def _log_level(raw: Any) -> Any:
    value = str(raw).strip().upper()
    if value not in LOG_LEVELS:
        raise _invalid(f"must be one of {', '.join(LOG_LEVELS)}", raw)
    return value


PositiveSeconds = Annotated[float, BeforeValidator(_seconds(zero=False))]
Seconds = Annotated[float, BeforeValidator(_seconds(zero=True))]
Count = Annotated[int, BeforeValidator(_count)]


def _setting(default: Any, description: str, *, shown: str | None = None, **extra: Any) -> Any:
    """A field whose description is its README row; ``shown``: the default as the table says it."""
    schema: dict[str, JsonValue] | None = None if shown is None else {"shown_default": shown}
    return Field(default, description=description, json_schema_extra=schema, **extra)


class Settings(BaseSettings):
    """The server-wide settings. Fields are in the README table's order."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_ignore_empty=True,  # VAR= means the default, as it always did
        frozen=True,
        extra="forbid",
        validate_by_name=True,  # base_url= as well as its variable's name
        validate_by_alias=True,
    )

    base_url: str | None = _setting(
        None,
        "passed to the CLI (gateways; the tests' fake API); per deployment: `api_base`",
        shown="Anthropic",
        validation_alias="ANTHROPIC_BASE_URL",
    )
    timeout: PositiveSeconds = _setting(
        DEFAULT_TIMEOUT, "seconds a request may take; per deployment or request: LiteLLM's `timeout`"
    )
    cli_max_retries: Count = _setting(
        DEFAULT_CLI_MAX_RETRIES, "the CLI's own API retries (its default retries a bad token for minutes)"
    )
    stream_hold_ms: Count = _setting(
        DEFAULT_STREAM_HOLD_MS,
        "milliseconds the CLI may hold a streamed block's deltas to join them (the block's first delta and its "
        "end are never held): a fraction of the chunks, and of the CPU they cost the proxy; 0: a chunk per "
        "upstream delta",
    )
    state_dir: Path = _setting(
        ...,
        "the CLI's private home, working and temp directories (under `$XDG_STATE_HOME` when that is set)",
        shown="`~/.local/state/litellm-claude-code`",
    )
    workdir: Annotated[Path | None, BeforeValidator(_directory)] = _setting(
        None,
        "the directory the CLI runs in, which its environment note names to the model as the primary working "
        "directory ([what the CLI adds](#what-the-cli-adds-to-what-the-client-sent)): set it to the directory your "
        "agent works in when the model should see that path. It must exist; the CLI lists it and reads "
        "`.claude/scheduled_tasks.json` in it, and writes nothing there. Per deployment: "
        "`model_info.claude_code.workdir`",
        shown="an empty `workspace` under the state directory",
    )
    cli_path: str | None = _setting(
        None, "another `claude` binary (server-wide only, never per request)", shown="the SDK's bundled CLI"
    )
    pass_env: Annotated[tuple[str, ...], NoDecode, BeforeValidator(_names)] = _setting(
        (),
        "comma-separated extra variable names the CLI may see (every variable not allow-listed is hidden from it)",
        shown="none",
    )
    log_level: Annotated[str, BeforeValidator(_log_level)] = _setting("WARNING", "this package's log level")
    pool: Annotated[bool, BeforeValidator(_flag)] = _setting(True, "keep warm CLI processes (0: start one per request)")
    max_processes: Annotated[int, BeforeValidator(_at_least_one)] = _setting(
        capacity.FALLBACK,  # from_env() sizes it to the machine when the variable is unset
        "requests running at once and CLI processes alive at once. Default: (memory - "
        f"{capacity.PROXY_RESERVE // capacity.MiB} MiB) / {capacity.PROCESS_BUDGET // capacity.MiB} MiB, "
        f"{capacity.FEWEST} to {capacity.MOST}, where memory is the machine's or its cgroup (container) limit "
        f"if smaller; {capacity.FALLBACK} where it cannot be read. `serve` and `doctor` print the chosen cap "
        "and why. Each process takes 160-240 MiB (measured)",
        shown="from memory",
    )
    max_starting: Annotated[int, BeforeValidator(_at_least_one)] = _setting(
        2,  # from_env() counts the CPUs when the variable is unset
        "CLI processes starting at once (each start is about 0.6 s of CPU: more at once only slow every one). "
        "A request that needs a new process past it waits for one to start or to come free. Default: the "
        "CPUs the proxy may use (its affinity, or its cgroup's cpu.max quota if smaller)",
        shown="from CPUs",
    )
    max_queue: Count = _setting(
        16,
        "requests waiting for a process; past it the answer is 429 with `Retry-After: 1`, at once. "
        "Time spent waiting counts against the request's timeout",
    )
    idle_ttl: PositiveSeconds = _setting(300.0, "seconds an idle process is kept")
    spares: Count = _setting(
        1,
        "idle processes kept ready per model + system prompt in use, besides the one a request just used. "
        "A ready process may hold an older conversation: it is rewound (a few ms of CPU) only when a new "
        "conversation needs it, the one idle the longest first, so conversations stay continuable until "
        "then; a new process (~0.6 s of CPU) is started only when no idle one is left",
    )
    tool_wait: Seconds = _setting(
        DEFAULT_TOOL_WAIT,
        "seconds a process that made client function calls waits for their results "
        "([Tool loops](#tool-loops)); 0: never, every step resumes in a new process",
    )
    shutdown_grace: Seconds = _setting(10.0, "seconds running requests get after SIGTERM before their CLI is ended")
    sticky: Annotated[bool, BeforeValidator(_flag)] = _setting(
        True,
        "`serve`: a continuing chat goes back to the deployment that answered its last turn, in every model "
        "group with several claude-code deployments ([sticky conversations](#several-accounts-and-replicas)); "
        "0: off",
    )
    access_log: Annotated[bool, BeforeValidator(_flag)] = _setting(
        True,
        "`serve`: one JSON line per model request on stderr (logger `litellm_claude_code.access`): request id, "
        "endpoint, model, deployment, credential hash, process, queue wait, TTFT, duration, tokens, status, "
        "error; never text or secrets. 0: off",
    )
    header_timeout: PositiveSeconds = _setting(
        10.0,
        "`serve`: seconds a connection may take to send a request's head (a new connection, and after each "
        "response); then it is closed",
    )
    body_timeout: PositiveSeconds = _setting(
        30.0, "`serve`: seconds a client may take to send a request's body; then the answer is 408"
    )
    max_connections: Annotated[int, BeforeValidator(_at_least_one)] = _setting(
        512, "`serve`: connections open at once (idle keep-alive ones count); past it a request gets 503 at once"
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only what the caller passes: the environment is read by :meth:`from_env`
        alone, from the mapping it is given (no ``.env`` files, no secrets dir)."""
        return (init_settings,)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        """Raises ConfigError naming the variable when a value is invalid."""
        values = _EnvironSource(cls, environ)()
        values.setdefault("state_dir", default_state_dir(environ))
        if "max_processes" not in values:  # read the machine only when the variable is unset
            values["max_processes"] = capacity.machine_capacity().processes
        if "max_starting" not in values:
            values["max_starting"] = capacity.usable_cpus()
        try:
            return cls(**values)
        except ValidationError as exc:
            raise _config_error(exc, variable_name) from None

    def for_deployment(self, api_base: str | None, tuning: DeploymentTuning | None = None) -> Settings:
        """These settings with a deployment's ``api_base``, CLI retries and workdir applied
        (its pool tuning is :meth:`DeploymentTuning.resolved`)."""
        changes: dict[str, Any] = {}
        if api_base:
            changes["base_url"] = api_base
        if tuning is not None and tuning.cli_max_retries is not None:
            changes["cli_max_retries"] = tuning.cli_max_retries
        if tuning is not None and tuning.workdir is not None:
            changes["workdir"] = tuning.workdir
        return self.model_copy(update=changes) if changes else self

    def pool_tuning(self) -> Tuning:
        """The server-wide tuning: what a deployment without its own gets."""
        return Tuning(**{f.name: getattr(self, f.name) for f in dataclasses.fields(Tuning)})

    @property
    def workspace(self) -> Path:
        """The CLI's default working directory: empty, so nothing in it can leak."""
        return self.state_dir / "workspace"

    @property
    def cli_directory(self) -> Path:
        """Where the CLI runs: the operator's ``workdir``, else the empty workspace."""
        return self.workdir or self.workspace

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


class _EnvironSource(EnvSettingsSource):
    """pydantic-settings' environment source over a given mapping instead of
    ``os.environ``, so callers and tests never touch the process's environment.
    ``_load_env_vars`` is the hook its own dotenv source overrides the same way."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(self._environ, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str)


def variable_name(field_name: str) -> str:
    """The environment variable a Settings field (or its alias) is read from."""
    for name, info in Settings.model_fields.items():
        if field_name in (name, info.validation_alias):
            alias = info.validation_alias
            return alias if isinstance(alias, str) else ENV_PREFIX + name.upper()
    return field_name


def log_level(environ: Mapping[str, str] = os.environ) -> str:
    """``LOG_LEVEL`` alone, for logging set up before (and whatever) the other settings hold."""
    name = variable_name("log_level")
    try:
        return str(_log_level(environ.get(name) or Settings.model_fields["log_level"].default))
    except PydanticCustomError as exc:
        raise ConfigError(f"{name} {exc.message()}") from None


def settings_table() -> str:
    """The README's Configuration table, from the fields: variable, default, meaning."""
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for name, info in Settings.model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        shown = extra.get("shown_default")
        default = shown if isinstance(shown, str) else _shown(info.default)
        meaning = (info.description or "").replace("|", "\\|")
        lines.append(f"| `{variable_name(name)}` | {default} | {meaning} |")
    return "\n".join(lines) + "\n"


def _shown(default: Any) -> str:
    """A default as a person would set it: 1/0 for flags, 600 rather than 600.0."""
    if isinstance(default, bool):
        return "1" if default else "0"
    if isinstance(default, float) and default.is_integer():
        return str(int(default))
    return str(default)


def is_claude_code(deployment: Mapping[str, Any]) -> bool:
    """A proxy config's deployment that this provider answers (``claude-code/<model>``)."""
    params = deployment.get("litellm_params")
    return isinstance(params, Mapping) and str(params.get("model", "")).startswith(f"{PROVIDER}/")


class DeploymentTuning(BaseModel):
    """A deployment's ``model_info.claude_code``; None: the server-wide value."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    spares: Annotated[int | None, BeforeValidator(_count)] = None
    idle_ttl: Annotated[float | None, BeforeValidator(_seconds(zero=False))] = None
    cli_max_retries: Annotated[int | None, BeforeValidator(_count)] = None
    tool_wait: Annotated[float | None, BeforeValidator(_seconds(zero=True))] = None
    workdir: Annotated[Path | None, BeforeValidator(_directory)] = None
    # Bedrock / Vertex AI / Foundry for this deployment: checked by _claude.credentials.cloud_credentials.
    env: dict[str, str | int | bool] | None = None

    def resolved(self, settings: Settings) -> Tuning:
        """The one tuning value of this deployment: its own values over the server's.
        (None means "the server's"; 0 is a value: ``tool_wait: 0`` never parks.)"""
        own = {f.name: value for f in dataclasses.fields(Tuning) if (value := getattr(self, f.name)) is not None}
        return dataclasses.replace(settings.pool_tuning(), **own)

    @classmethod
    def from_litellm_params(cls, litellm_params: Mapping[str, Any] | None) -> DeploymentTuning:
        """Raises ConfigError naming the bad key."""
        model_info = (litellm_params or {}).get("model_info") or {}
        raw = model_info.get("claude_code") if isinstance(model_info, Mapping) else None
        if not raw:
            return cls()
        if not isinstance(raw, Mapping):
            raise ConfigError("model_info.claude_code must be a mapping")
        try:
            return cls.model_validate(dict(raw))
        except ValidationError as exc:
            raise _config_error(exc, lambda key: f"model_info.claude_code.{key}") from None


def _config_error(error: ValidationError, name: Callable[[str], str]) -> ConfigError:
    """One ConfigError for every problem pydantic found, each naming where it was set."""
    problems = []
    for item in error.errors():
        where = name(str(item["loc"][0]) if item["loc"] else "")
        if item["type"] == _INVALID:
            problems.append(f"{where} {item['msg']}")
        elif item["type"] == "extra_forbidden":
            problems.append(f"{where}: unknown setting")
        else:
            problems.append(f"{where}: {item['msg']}")
    return ConfigError("; ".join(problems))


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
