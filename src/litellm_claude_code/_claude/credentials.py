"""Which credential the CLI uses, and the environment that carries it.

Order: a deployment's ``api_key``, then ``CLAUDE_CODE_OAUTH_TOKEN``, then
``ANTHROPIC_API_KEY``, then the CLI's own login (``claude`` run once on this
machine). Only the chosen credential is handed to the CLI. Secrets are never
logged or printed; ``Credentials.source`` says where one came from.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from .types import Credentials

OAUTH_PREFIX = "sk-ant-oat"


def resolve_credentials(api_key: str | None, environ: Mapping[str, str] = os.environ) -> Credentials:
    """Pick the credential for one request (see the module docstring)."""
    if api_key:
        return _from_key(api_key, "the deployment's api_key")
    token = environ.get("CLAUDE_CODE_OAUTH_TOKEN")
    if token:
        return Credentials("oauth_token", {"CLAUDE_CODE_OAUTH_TOKEN": token}, "CLAUDE_CODE_OAUTH_TOKEN")
    key = environ.get("ANTHROPIC_API_KEY")
    if key:
        return Credentials("api_key", {"ANTHROPIC_API_KEY": key}, "ANTHROPIC_API_KEY")
    login_env = {}
    if environ.get("CLAUDE_CONFIG_DIR"):
        login_env["CLAUDE_CONFIG_DIR"] = environ["CLAUDE_CONFIG_DIR"]
    return Credentials("login", login_env, f"the Claude Code login in {claude_config_dir(environ)}")


def _from_key(key: str, source: str) -> Credentials:
    """``sk-ant-oat...`` is a subscription OAuth token; anything else an API key."""
    if key.startswith(OAUTH_PREFIX):
        return Credentials("oauth_token", {"CLAUDE_CODE_OAUTH_TOKEN": key}, source)
    return Credentials("api_key", {"ANTHROPIC_API_KEY": key}, source)


def claude_config_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """Where the CLI keeps its login: ``$CLAUDE_CONFIG_DIR`` or ``~/.claude``."""
    configured = environ.get("CLAUDE_CONFIG_DIR")
    if configured:
        return Path(configured)
    home = environ.get("HOME")
    return (Path(home) if home else Path.home()) / ".claude"


def login_file(environ: Mapping[str, str] = os.environ) -> Path | None:
    """The CLI's stored login, if there is one on disk (macOS may keep it in the Keychain)."""
    path = claude_config_dir(environ) / ".credentials.json"
    return path if path.is_file() else None
