"""Which credential the CLI uses, and the environment that carries it.

Order: a deployment's cloud provider (``model_info.claude_code.env``, see
:func:`cloud_credentials`), then its ``api_key``, then
``CLAUDE_CODE_OAUTH_TOKEN``, then ``ANTHROPIC_API_KEY``, then the CLI's own
login (``claude`` run once on this machine). Only the chosen credential is
handed to the CLI. Secrets are never logged or printed; ``Credentials.id``
names one without the secret.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .types import Credentials

OAUTH_PREFIX = "sk-ant-oat"
ENV_REFERENCE = "os.environ/"  # LiteLLM's way to name a secret kept in the proxy's environment

# What the CLI (2.1.330) reads to use Amazon Bedrock, Google Vertex AI or
# Microsoft Foundry instead of the Anthropic API. A deployment may set only
# these, so it cannot hand its CLI anything else.
SELECTORS = frozenset({"CLAUDE_CODE_USE_BEDROCK", "CLAUDE_CODE_USE_VERTEX", "CLAUDE_CODE_USE_FOUNDRY"})
CLOUD_ENV = SELECTORS | {
    # Amazon Bedrock
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_BEARER_TOKEN_BEDROCK",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "ANTHROPIC_BEDROCK_BASE_URL",
    "CLAUDE_CODE_SKIP_BEDROCK_AUTH",
    # Google Vertex AI (VERTEX_REGION_<MODEL> too)
    "ANTHROPIC_VERTEX_PROJECT_ID",
    "CLOUD_ML_REGION",
    "ANTHROPIC_VERTEX_BASE_URL",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "CLAUDE_CODE_SKIP_VERTEX_AUTH",
    # Microsoft Foundry
    "ANTHROPIC_FOUNDRY_RESOURCE",
    "ANTHROPIC_FOUNDRY_BASE_URL",
    "ANTHROPIC_FOUNDRY_API_KEY",
    "ANTHROPIC_FOUNDRY_AUTH_TOKEN",
    "CLAUDE_CODE_SKIP_FOUNDRY_AUTH",
}
CLOUD_PREFIXES = ("VERTEX_REGION_",)


def cloud_credentials(raw: Mapping[str, Any] | None, environ: Mapping[str, str] = os.environ) -> Credentials | None:
    """A deployment's cloud provider from its ``model_info.claude_code.env``
    (server config only; clients cannot set it): allow-listed names, each a
    string or an ``os.environ/NAME`` reference to the proxy's environment.

    None when ``raw`` is empty. Raises ConfigError naming the bad entry.
    """
    if not raw:
        return None
    env: dict[str, str] = {}
    for name, value in raw.items():
        where = f"model_info.claude_code.env.{name}"
        if name not in CLOUD_ENV and not str(name).startswith(CLOUD_PREFIXES):
            raise ConfigError(f"{where}: not a variable for Bedrock, Vertex AI or Foundry")
        env[name] = _value(value, where, environ)
    if not SELECTORS & env.keys():
        raise ConfigError(f"model_info.claude_code.env must set one of {', '.join(sorted(SELECTORS))}")
    return Credentials("cloud", env)


def _value(value: Any, where: str, environ: Mapping[str, str]) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if not isinstance(value, (str, int)):
        raise ConfigError(f"{where} must be a string")
    text = str(value)
    if not text.startswith(ENV_REFERENCE):
        return text
    name = text.removeprefix(ENV_REFERENCE)
    if name not in environ:
        raise ConfigError(f"{where} names {name}, which is not set in the proxy's environment")
    return environ[name]


def resolve_credentials(
    api_key: str | None, environ: Mapping[str, str] = os.environ, cloud: Credentials | None = None
) -> Credentials:
    """Pick the credential for one request (see the module docstring)."""
    if cloud is not None:
        return cloud
    if api_key:
        return _from_key(api_key)
    token = environ.get("CLAUDE_CODE_OAUTH_TOKEN")
    if token:
        return Credentials("oauth_token", {"CLAUDE_CODE_OAUTH_TOKEN": token})
    key = environ.get("ANTHROPIC_API_KEY")
    if key:
        return Credentials("api_key", {"ANTHROPIC_API_KEY": key})
    login_env = {}
    if environ.get("CLAUDE_CONFIG_DIR"):
        login_env["CLAUDE_CONFIG_DIR"] = environ["CLAUDE_CONFIG_DIR"]
    return Credentials("login", login_env)


def configured_credentials(deployment: Mapping[str, Any], environ: Mapping[str, str] = os.environ) -> Credentials:
    """The credential a deployment of a proxy config will use, read before LiteLLM
    reads the config: an ``os.environ/NAME`` api_key is what LiteLLM makes of it
    (the variable, or none when it is unset). Raises ConfigError for a bad cloud env."""
    params = deployment.get("litellm_params") or {}
    info = deployment.get("model_info") or {}
    claude_code = info.get("claude_code") if isinstance(info, Mapping) else None
    cloud = cloud_credentials(claude_code.get("env") if isinstance(claude_code, Mapping) else None, environ)
    key = params.get("api_key") if isinstance(params, Mapping) else None
    if (name := referenced_variable(key)) is not None:
        key = environ.get(name)
    return resolve_credentials(key if isinstance(key, str) else None, environ, cloud)


def referenced_variable(value: Any) -> str | None:
    """The variable an ``os.environ/NAME`` value names; None for any other value."""
    return value.removeprefix(ENV_REFERENCE) if isinstance(value, str) and value.startswith(ENV_REFERENCE) else None


def _from_key(key: str) -> Credentials:
    """``sk-ant-oat...`` is a subscription OAuth token; anything else an API key."""
    if key.startswith(OAUTH_PREFIX):
        return Credentials("oauth_token", {"CLAUDE_CODE_OAUTH_TOKEN": key})
    return Credentials("api_key", {"ANTHROPIC_API_KEY": key})


def credential_home(private_home: Path, credentials: Credentials) -> Path | None:
    """HOME of the CLIs that use one token or API key: a state directory of
    their own (``.claude.json``, backups, sessions), shared with no other
    credential. None for the CLI's own login, which lives in the user's HOME."""
    return None if credentials.kind == "login" else private_home / credentials.id


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
