"""``litellm-claude-code``: serve, config, doctor, the sign-in flows and the manifest.
The only place that configures logging."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path

import click

from ..errors import ClaudeCodeError, ConfigError, SDKDrift
from ..settings import Settings, log_level
from .doctor import Check, check_credentials, check_process_cap, check_sharing, run_checks
from .master_key import ensure_master_key

EMBEDDED_CONFIG = "proxy_config.yaml"
LOCAL_COST_MAP = "LITELLM_LOCAL_MODEL_COST_MAP"  # LiteLLM's switch: its bundled cost map, no download

SNIPPET_HEADER = "# Add to your LiteLLM proxy config (config.yaml):\n"


def embedded_config_path() -> Path:
    return Path(str(files(__package__ or __name__).joinpath(EMBEDDED_CONFIG)))


def config_snippet() -> str:
    """The embedded config, comments included, without what only `serve` needs
    (its ``general_settings``): the one source of both."""
    text = embedded_config_path().read_text()
    body = text[text.index("model_list:") :]
    if "\ngeneral_settings:" in body:
        body = body[: body.index("\ngeneral_settings:")].rstrip() + "\n"
    return SNIPPET_HEADER + body


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="litellm-claude-code")
def main() -> None:
    """Use Claude through Claude Code from any OpenAI-compatible tool."""
    # Before any command can import LiteLLM, which otherwise downloads its cost map at
    # import (a slow start, a warning and a DNS lookup offline): the bundled map is used.
    os.environ.setdefault(LOCAL_COST_MAP, "True")
    try:
        _log_to_stderr(log_level())
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    from .._claude.sdk_compat import quiet_exits_on_purpose
    from .quiet_logs import install as quiet_expected_errors

    quiet_exits_on_purpose()
    quiet_expected_errors()


def _log_to_stderr(level: str) -> None:
    """This package's and the SDK's logs to stderr. Not through the root logger:
    LiteLLM's loggers have handlers of their own and would print every line twice."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s:%(name)s:%(message)s"))
    for name in ("litellm_claude_code", "claude_agent_sdk"):
        logger = logging.getLogger(name)
        if not logger.handlers:
            logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = False


def _access_log_to_stderr(on: bool) -> None:
    """The access log's lines as they are (JSON), whatever the package's log level."""
    from ..access_log import LOGGER

    logger = logging.getLogger(LOGGER)
    logger.propagate = False
    logger.disabled = not on
    if on and not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=4000, show_default=True, type=click.IntRange(1, 65535), help="Port to bind.")
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A LiteLLM proxy config to use instead of the embedded one.",
)
def serve(host: str, port: int, config_file: Path | None) -> None:
    """Start the LiteLLM proxy with the claude-code provider."""
    _require_proxy_extra()
    try:
        settings = Settings.from_env()
        settings.ensure_dirs()
        key = ensure_master_key()
    except (ConfigError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    if key.created:
        where = f"Generated a master key and stored it in {key.origin} (mode 0600)."
    elif key.origin != "environment":
        where = f"Using the master key stored in {key.origin}."
    else:
        where = "Using the master key in LITELLM_MASTER_KEY."
    lines = [where, "Clients authenticate with the master key as their OpenAI API key."]
    if host not in ("127.0.0.1", "localhost", "::1"):
        lines.append(f"Listening on {host}: reachable from other machines; keep the master key secret.")
    lines += [
        f"Warning: {check.detail}"
        for check in check_sharing(config_file or embedded_config_path(), host)
        if check.status == "warn"
    ]
    lines.append(f"Process cap: {check_process_cap(settings).detail}")
    os.environ["LITELLM_MASTER_KEY"] = key.value
    _run_proxy(
        config_file or embedded_config_path(),
        host,
        port,
        settings,
        on_started=lambda: click.echo("\n".join(f"litellm-claude-code: {line}" for line in lines), err=True),
    )


PROXY_EXTRA_HINT = "serve needs the proxy extra: pip install 'litellm-claude-code[proxy]'"


def _require_proxy_extra() -> None:
    """The proxy's dependencies are an extra: name it, not a traceback, when one is missing."""
    try:
        import litellm.proxy.proxy_server  # noqa: F401

        if sys.platform != "win32":
            import uvloop  # noqa: F401  (LiteLLM runs uvicorn with loop="uvloop")
    except ModuleNotFoundError as exc:
        raise click.ClickException(f"{PROXY_EXTRA_HINT} (missing module: {exc.name})") from exc


def _run_proxy(config: Path, host: str, port: int, settings: Settings, on_started: Callable[[], None]) -> None:
    """LiteLLM's own proxy command, in this process, its app wrapped by :class:`ServingApp`
    (uvicorn loads the app by its module path, so the wrapper goes there)."""
    from litellm.proxy import proxy_server
    from litellm.proxy.proxy_cli import run_server

    from .. import handler as provider  # the instance the embedded config names
    from .asgi import ServingApp
    from .connections import bounded_connections
    from .quiet_start import quiet_start

    provider.settings = settings  # read once: the hooks take theirs from the provider
    try:  # fail closed, before listening, if the SDK or CLI changed under a promise
        asyncio.run(provider.check_internals())
    except SDKDrift as exc:
        raise click.ClickException(str(exc)) from exc

    def started() -> None:
        if settings.sticky:
            from ..routing import stick_where_needed

            groups = stick_where_needed()
            if groups:
                click.echo(f"litellm-claude-code: Sticky conversations in {', '.join(groups)}.", err=True)
        on_started()

    proxy_server.app = ServingApp(  # type: ignore[assignment]
        proxy_server.app,
        lambda: provider.drain(settings.shutdown_grace),
        on_started=started,
        metrics=provider.metrics,
        environ=os.environ,
        body_seconds=settings.body_timeout,
        access=settings.access_log,
    )
    quiet_start()
    _access_log_to_stderr(settings.access_log)
    argv = ["--config", str(config), "--host", host, "--port", str(port)]
    argv += ["--limit_concurrency", str(settings.max_connections)]
    with bounded_connections(settings.header_timeout):
        run_server.main(args=argv, prog_name="litellm", standalone_mode=False)


EXAMPLES = ("accounts", "team", "api-credits")  # configs in examples/, shipped with the package


@main.command()
@click.option(
    "--example",
    type=click.Choice(EXAMPLES),
    help="Print a whole proxy config instead: `accounts` (your own subscription, falling back to an API key), "
    "`team` (several API keys behind one model name), `api-credits` (your plan's monthly API credits).",
)
def config(example: str | None) -> None:
    """Print the YAML to add the provider to an existing LiteLLM proxy."""
    if example is not None:
        text = files(__package__ or __name__).joinpath("examples").joinpath(f"{example}.yaml").read_text()
        click.echo(text, nl=False)
        return
    click.echo(config_snippet(), nl=False)


@main.command()
@click.option(
    "--live",
    is_flag=True,
    help="Also make one minimal real request with the configured credential "
    "(a few tokens; says whether it works, how long it took and the rate-limit status).",
)
@click.option("--model", default="haiku", show_default=True, help="The model for --live.")
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The proxy config `serve --config` will run (default: the embedded one).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="The address `serve` will bind.")
@click.option(
    "--only",
    type=click.Choice(["credentials"]),
    help="Run one check (the image's entrypoint asks for the credential before it starts `serve`).",
)
def doctor(live: bool, model: str, config_file: Path | None, host: str, only: str | None) -> None:
    """Check every prerequisite and explain what is missing."""
    if only == "credentials":
        _report([check_credentials(os.environ, config_file)])
        return
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    checks = run_checks(settings, config=config_file, host=host)
    if live and not any(check.status == "fail" for check in checks):
        from .live_check import live_request

        checks.append(asyncio.run(live_request(settings, model)))
    _report(checks)
    click.echo("\nEverything needed is in place: run `litellm-claude-code serve`.")


def _report(checks: list[Check]) -> None:
    """Each check on a line; exit status 1 when one failed."""
    marks = {"ok": "ok  ", "warn": "warn", "fail": "FAIL"}
    for check in checks:
        click.echo(f"[{marks[check.status]}] {check.name}: {check.detail}")
    failed = [check.name for check in checks if check.status == "fail"]
    if failed:
        click.echo(f"\n{len(failed)} problem(s) to fix: {', '.join(failed)}.", err=True)
        sys.exit(1)


@main.command("setup-token")
def setup_token() -> None:
    """Make a one-year token for a Claude Pro/Max subscription.

    Runs the bundled Claude Code CLI's own `claude setup-token`: it prints a
    URL to open in a browser on any machine, asks for the code shown there,
    then prints a token (sk-ant-oat01-...). Nothing is stored: set it as
    CLAUDE_CODE_OAUTH_TOKEN where `serve` runs (or as a deployment's api_key).
    """
    _run_sign_in("setup-token", "setup-token")


@main.command()
@click.option(
    "--console", is_flag=True, help="Sign in to the Anthropic Console (API billing) instead of a subscription."
)
@click.option("--status", is_flag=True, help="Only show whether the CLI is signed in, and how.")
def login(console: bool, status: bool) -> None:
    """Sign the Claude Code CLI in, and keep the login for `serve`.

    Runs the bundled CLI's own `claude auth login`: it prints a URL to open
    in a browser on any machine and asks for the code shown there. The login
    is stored by the CLI in $CLAUDE_CONFIG_DIR (default ~/.claude), where
    `serve` finds it when no CLAUDE_CODE_OAUTH_TOKEN or ANTHROPIC_API_KEY is set.
    """
    if status:
        from .sign_in import cli_command, login_status

        try:
            click.echo(login_status(cli_command(_cli_path(), "auth", "status", "--text")))
        except ClaudeCodeError as exc:
            raise click.ClickException(str(exc)) from exc
        return
    _run_sign_in("login", "auth", "login", *(["--console"] if console else []))


def _cli_path() -> str | None:
    try:
        return Settings.from_env().cli_path
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


def _run_sign_in(name: str, *args: str) -> None:
    from .sign_in import cli_command, require_terminal, run_interactive

    try:
        require_terminal(f"litellm-claude-code {name}")
        code = run_interactive(cli_command(_cli_path(), *args))
    except ClaudeCodeError as exc:
        raise click.ClickException(str(exc)) from exc
    if code != 0:
        raise click.ClickException(f"the Claude Code CLI's {' '.join(args)} ended with exit status {code}")


@main.command()
def manifest() -> None:
    """Print this provider's manifest (JSON): versions, entry point, dependencies, image, tested matrix."""
    from .manifest import build_manifest

    click.echo(json.dumps(build_manifest(), indent=2))
