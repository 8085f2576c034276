"""The bundled Claude Code CLI's own sign-in flows, run for the user.

Nothing here reads, stores or prints a credential: the CLI does all of it,
in the user's terminal. ``setup-token`` prints a one-year subscription token
(``sk-ant-oat01-...``) for ``CLAUDE_CODE_OAUTH_TOKEN``; ``login`` stores a
login in the CLI's config directory (``$CLAUDE_CONFIG_DIR`` or
``~/.claude``), which the provider uses when no token or key is set.
Both show a URL to open in a browser on any machine, then ask for the code
it gives, so they work over SSH and in containers (with ``-it``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from typing import TextIO

from ..errors import CLINotFound, ConfigError


class NotATerminal(ConfigError):
    """The flow asks questions: it needs a terminal on stdin and stdout."""


def require_terminal(command: str, stdin: TextIO | None = None, stdout: TextIO | None = None) -> None:
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    if not (stdin.isatty() and stdout.isatty()):
        raise NotATerminal(
            f"`{command}` is interactive: run it in a terminal (with `docker run -it` or "
            "`docker compose run --rm -it` in a container). It prints a URL to open in a browser "
            "on any machine and asks for the code shown there."
        )


def cli_command(cli_path: str | None, *args: str) -> list[str]:
    """The CLI the provider runs, with ``args``.

    Raises:
        CLINotFound: neither ``cli_path`` nor the SDK's bundled CLI exists.
    """
    from .._claude.sdk_compat import CLINotFoundError, find_cli

    try:
        return [find_cli(cli_path), *args]
    except CLINotFoundError as exc:
        raise CLINotFound(str(exc)) from exc


def run_interactive(command: Sequence[str], environ: Mapping[str, str] = os.environ) -> int:
    """Run the CLI in this terminal and return its exit status."""
    try:
        return subprocess.run(list(command), env=dict(environ), check=False).returncode
    except OSError as exc:
        raise CLINotFound(f"{command[0]} does not run: {exc}") from exc


# The CLI's own commands, as this package's user runs them.
OUR_COMMANDS = {
    "claude auth login": "litellm-claude-code login",
    "claude setup-token": "litellm-claude-code setup-token",
}
RUNTIME_NOTE = "Additional CA cert(s):"  # the CLI's runtime on NODE_EXTRA_CA_CERTS: not about the login


def login_status(command: Sequence[str], environ: Mapping[str, str] = os.environ) -> str:
    """The CLI's own account of its login (``auth status --text``): no secret in it,
    with its commands named as this package's user runs them."""
    done = subprocess.run(list(command), env=dict(environ), capture_output=True, text=True, timeout=60, check=False)
    lines = [line for line in (done.stdout + "\n" + done.stderr).splitlines() if not line.startswith(RUNTIME_NOTE)]
    text = "\n".join(line for line in lines if line.strip())
    for theirs, ours in OUR_COMMANDS.items():
        text = text.replace(theirs, ours)
    return text
