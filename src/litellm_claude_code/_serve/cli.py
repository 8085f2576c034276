"""``litellm-claude-code``: serve, config and doctor. The only place that configures logging."""

from __future__ import annotations

import logging
import os
import sys
from importlib.resources import files
from pathlib import Path

import click

from ..errors import ConfigError
from ..settings import Settings
from .doctor import check_process_cap, run_checks
from .master_key import ensure_master_key

EMBEDDED_CONFIG = "proxy_config.yaml"

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
    logging.basicConfig(level=os.environ.get("LITELLM_CLAUDE_CODE_LOG_LEVEL", "WARNING").upper())
    from .._claude.sdk_compat import quiet_exits_on_purpose

    quiet_exits_on_purpose()


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
    try:
        settings = Settings.from_env()
        settings.ensure_dirs()
        key = ensure_master_key()
    except (ConfigError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    if key.created:
        click.echo(f"Generated a master key and stored it in {key.origin} (mode 0600).", err=True)
    elif key.origin != "environment":
        click.echo(f"Using the master key stored in {key.origin}.", err=True)
    click.echo("Clients authenticate with the master key as their OpenAI API key.", err=True)
    if host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(f"Listening on {host}: reachable from other machines; keep the master key secret.", err=True)
    os.environ["LITELLM_MASTER_KEY"] = key.value
    # The cost map bundled with LiteLLM, not a download at every start.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    click.echo(f"Process cap: {check_process_cap(settings).detail}", err=True)
    _run_proxy(config_file or embedded_config_path(), host, port, settings.shutdown_grace)


def _run_proxy(config: Path, host: str, port: int, grace: float) -> None:
    """LiteLLM's own proxy command, in this process, its app wrapped by :class:`ServingApp`
    (uvicorn loads the app by its module path, so the wrapper goes there)."""
    from litellm.proxy import proxy_server
    from litellm.proxy.proxy_cli import run_server

    from .. import handler as provider  # the instance the embedded config names
    from .asgi import ServingApp

    proxy_server.app = ServingApp(proxy_server.app, lambda: provider.drain(grace))  # type: ignore[assignment]
    argv = ["--config", str(config), "--host", host, "--port", str(port)]
    run_server.main(args=argv, prog_name="litellm", standalone_mode=False)


@main.command()
def config() -> None:
    """Print the YAML to add the provider to an existing LiteLLM proxy."""
    click.echo(config_snippet(), nl=False)


@main.command()
def doctor() -> None:
    """Check every prerequisite and explain what is missing."""
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    checks = run_checks(settings)
    marks = {"ok": "ok  ", "warn": "warn", "fail": "FAIL"}
    for check in checks:
        click.echo(f"[{marks[check.status]}] {check.name}: {check.detail}")
    failed = [check.name for check in checks if check.status == "fail"]
    if failed:
        click.echo(f"\n{len(failed)} problem(s) to fix: {', '.join(failed)}.", err=True)
        sys.exit(1)
    click.echo("\nEverything needed is in place: run `litellm-claude-code serve`.")
