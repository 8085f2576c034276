"""Prerequisite checks, explained in plain words. Secrets are never shown."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .._claude.capacity import machine_capacity
from .._claude.credentials import (
    OAUTH_PREFIX,
    claude_config_dir,
    configured_credentials,
    login_file,
    referenced_variable,
    resolve_credentials,
)
from .._claude.types import Credentials
from ..errors import ConfigError
from ..settings import Settings, is_claude_code, variable_name
from .master_key import key_file

Status = Literal["ok", "warn", "fail"]


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str


def find_cli(settings: Settings) -> Path | None:
    """The CLI the SDK will run, found the way the SDK finds it."""
    try:
        from .._claude.sdk_compat import CLINotFoundError
        from .._claude.sdk_compat import find_cli as sdk_find_cli
    except ImportError:  # no SDK installed
        return None
    try:
        return Path(sdk_find_cli(settings.cli_path))
    except CLINotFoundError:
        return None


@dataclass(frozen=True)
class CLIProbe:
    """The CLI found, and the version it reports (None: it did not run)."""

    check: Check
    version: str | None = None


def probe_cli(settings: Settings) -> CLIProbe:
    path = find_cli(settings)
    if path is None or not path.is_file():
        where = f" at {path}" if path else ""
        return CLIProbe(
            Check(
                "Claude Code CLI",
                "fail",
                f"not found{where}. Install the SDK, whose wheel bundles it: `pip install claude-agent-sdk`, "
                f"or set {variable_name('cli_path')} to a `claude` binary.",
            )
        )
    try:
        done = subprocess.run(
            [str(path), "--version"],
            capture_output=True,
            text=True,
            timeout=30,
            env={"PATH": os.environ.get("PATH", ""), "HOME": str(settings.private_home)},
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return CLIProbe(Check("Claude Code CLI", "fail", f"{path} does not run: {exc}"))
    if done.returncode != 0:
        return CLIProbe(Check("Claude Code CLI", "fail", f"{path} --version exited with {done.returncode}"))
    reported = done.stdout.strip()
    return CLIProbe(Check("Claude Code CLI", "ok", f"{path} (version {reported})"), reported.split()[0] or None)


def check_cli(settings: Settings) -> Check:
    return probe_cli(settings).check


def check_credentials(environ: Mapping[str, str] = os.environ, config: Path | None = None) -> Check:
    """What the claude-code deployments of ``config`` (default: one with no key of
    its own) will authenticate with, in ``credentials.py``'s order."""
    try:
        model_list = read_model_list(config) if config is not None else []
    except (OSError, ValueError) as exc:
        return Check("Credentials", "fail", f"could not read {config}: {exc}")
    deployments = [d for d in model_list if is_claude_code(d)]
    fallback = resolve_credentials(None, environ)
    try:
        chosen = [configured_credentials(d, environ) for d in deployments] or [fallback]
    except ConfigError as exc:
        return Check("Credentials", "fail", str(exc))
    unset = [name for d in deployments if (name := _unset_reference(d, environ))]
    if fallback not in chosen:
        return Check("Credentials", "ok", "every deployment sets its own credential (api_key or a cloud provider).")
    check = _environment_credential(fallback, environ)
    if unset and check.status == "ok":
        names = ", ".join(sorted(set(unset)))
        return Check(
            "Credentials",
            "warn",
            f"{check.detail} A deployment's api_key names {names}, which is not set: "
            "that deployment uses the same credential.",
        )
    return check


def _unset_reference(deployment: Mapping[str, Any], environ: Mapping[str, str]) -> str | None:
    name = referenced_variable((deployment.get("litellm_params") or {}).get("api_key"))
    return name if name is not None and not environ.get(name) else None


def _environment_credential(credentials: Credentials, environ: Mapping[str, str]) -> Check:
    """The credential of the proxy's environment, said in words."""
    if credentials.kind == "oauth_token":
        token = credentials.env["CLAUDE_CODE_OAUTH_TOKEN"]
        shape = "" if token.startswith(OAUTH_PREFIX) else f" (it does not start with {OAUTH_PREFIX}: is it complete?)"
        return Check(
            "Credentials", "warn" if shape else "ok", f"CLAUDE_CODE_OAUTH_TOKEN is set{shape}; it will be used."
        )
    if credentials.kind == "api_key":
        return Check("Credentials", "ok", "ANTHROPIC_API_KEY is set; it will be used (billed per token).")
    stored = login_file(environ)
    if stored is not None:
        return Check("Credentials", "ok", f"using the Claude Code login stored in {stored}.")
    return Check(
        "Credentials",
        "fail",
        "no credential found. Run `litellm-claude-code setup-token` (a browser on any machine will do) and set "
        "the token it prints as CLAUDE_CODE_OAUTH_TOKEN, or set ANTHROPIC_API_KEY, or run "
        f"`litellm-claude-code login` so that {claude_config_dir(environ)}/.credentials.json exists "
        "(on macOS the login may be in the Keychain, which this check cannot see). "
        "A deployment may also set `api_key` in its litellm_params.",
    )


def check_versions(cli_version: str | None = None) -> Check:
    """LiteLLM, the SDK and its CLI against the supported ranges (the package's
    own requirements, known-bad releases excluded there) and the tested matrix."""
    from .versions import check_installed

    combination = check_installed(cli_version)
    found = ", ".join(f"{name} {value or 'not installed'}" for name, value in combination.versions.items())
    if combination.versions["litellm"] is None:
        return Check("Versions", "fail", "LiteLLM is not installed: `pip install litellm-claude-code[proxy]`")
    if combination.unsupported:
        return Check("Versions", "fail", f"unsupported: {'; '.join(combination.unsupported)}. Reinstall from the lock.")
    if combination.untested:
        return Check(
            "Versions", "warn", f"{found}; not among the versions last tested: {'; '.join(combination.untested)}"
        )
    return Check("Versions", "ok", f"{found} (the tested combination)")


def check_internals(settings: Settings) -> list[Check]:
    """Each SDK or CLI internal a promise leans on: as tested, or what changed
    (what ``serve`` and every request refuse to run with; see ``_claude/sdk_compat.py``)."""
    import asyncio

    try:
        from .._claude.drift import inspect_internals, resolved_cli
        from .._claude.sdk_compat import drift_message
    except ImportError as exc:  # a private module or name of the SDK is gone
        return [Check("SDK internals", "fail", f"the installed claude-agent-sdk lacks what this provider uses: {exc}")]
    checks = []
    for finding in asyncio.run(inspect_internals(resolved_cli(settings.cli_path))):
        internal = finding.internal
        name = f"Internal {internal.name}"
        if finding.change is None:
            checks.append(Check(name, "ok", "as tested"))
            continue
        off = internal.setting is not None and not getattr(settings, internal.setting)
        status: Status = "warn" if internal.cosmetic or off else "fail"
        note = " (not needed: its setting is off)" if off else ""
        checks.append(Check(name, status, f"changed{note}: {drift_message(internal.name, finding.change)}"))
    return checks


def read_model_list(config: Path) -> list[Mapping[str, Any]]:
    """The ``model_list`` of the proxy config ``serve`` will run; raises OSError or ValueError."""
    import yaml

    try:
        loaded = yaml.safe_load(config.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ValueError(str(exc)) from exc
    model_list = loaded.get("model_list") if isinstance(loaded, Mapping) else None
    return [d for d in model_list or [] if isinstance(d, Mapping)]


def check_sharing(config: Path, host: str, environ: Mapping[str, str] = os.environ) -> list[Check]:
    """Anthropic's terms on the config ``serve`` will run (see :mod:`terms`): a warning per finding."""
    from .terms import sharing_warnings

    try:
        model_list = read_model_list(config)
    except (OSError, ValueError) as exc:
        return [Check("Terms", "warn", f"could not read {config}: {exc}")]
    warnings = sharing_warnings(model_list, environ, host)
    if not warnings:
        return [Check("Terms", "ok", "no subscription is pooled, repeated or served beyond loopback")]
    return [Check("Terms", "warn", warning) for warning in warnings]


def check_master_key(environ: Mapping[str, str] = os.environ) -> Check:
    if environ.get("LITELLM_MASTER_KEY"):
        return Check("Master key", "ok", "LITELLM_MASTER_KEY is set; clients must send it as their API key.")
    path = key_file(environ)
    if path.exists():
        return Check("Master key", "ok", f"stored in {path}; clients must send it as their API key.")
    return Check(
        "Master key",
        "ok",
        f"not set yet: `serve` will generate one into {path} (mode 0600) on first start.",
    )


def check_state_dir(settings: Settings) -> Check:
    try:
        settings.ensure_dirs()
    except OSError as exc:
        return Check("State directory", "fail", f"{settings.state_dir} is not writable: {exc}")
    return Check("State directory", "ok", f"{settings.state_dir}")


def check_process_cap(settings: Settings, environ: Mapping[str, str] = os.environ, root: Path = Path("/")) -> Check:
    """The cap and where it came from; ``serve`` prints the same line at start-up."""
    variable = variable_name("max_processes")
    if environ.get(variable):
        return Check("Process cap", "ok", f"{settings.max_processes} Claude Code processes at once, set by {variable}.")
    derived = machine_capacity(root)
    if derived.processes != settings.max_processes:
        return Check("Process cap", "ok", f"{settings.max_processes} Claude Code processes at once (as configured).")
    return Check("Process cap", "ok", f"{derived.reason}; set {variable} to change it.")


def run_checks(
    settings: Settings,
    environ: Mapping[str, str] = os.environ,
    *,
    config: Path | None = None,
    host: str = "127.0.0.1",
) -> list[Check]:
    """Every check; ``config`` and ``host``: what ``serve`` will run (default: its embedded config)."""
    from .cli import embedded_config_path

    cli = probe_cli(settings)
    checks = [
        cli.check,
        check_credentials(environ, config),
        check_versions(cli.version),
        *check_internals(settings),
        *check_sharing(config or embedded_config_path(), host, environ),
        check_master_key(environ),
        check_state_dir(settings),
        check_process_cap(settings, environ),
    ]
    if settings.base_url:
        checks.append(Check("Anthropic base URL", "ok", f"the CLI will call {settings.base_url}"))
    return checks
