"""The proxy's master key: the user's own, or one generated once and kept private."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from ..settings import default_config_dir

KEY_FILE_NAME = "master_key"
WEAK_KEYS = frozenset({"sk-1234", "sk-12345", "changeme", "password"})


@dataclass(frozen=True)
class MasterKey:
    value: str
    origin: str  # "environment", or the file it was read from / written to
    created: bool = False

    def __repr__(self) -> str:  # never show the key itself
        return f"MasterKey(origin={self.origin!r}, created={self.created})"


def key_file(environ: Mapping[str, str] = os.environ) -> Path:
    return default_config_dir(environ) / KEY_FILE_NAME


def ensure_master_key(environ: Mapping[str, str] = os.environ) -> MasterKey:
    """``LITELLM_MASTER_KEY`` if set, else the stored key, else a new one.

    A new key is 32 random bytes, written with mode 0600 in a 0700 directory.

    Raises:
        ConfigError: the configured key is too weak, or the stored key file
            is readable by others.
    """
    configured = environ.get("LITELLM_MASTER_KEY")
    if configured:
        check_key(configured)
        return MasterKey(configured, "environment")
    path = key_file(environ)
    if path.exists():
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            raise ConfigError(f"{path} is readable by other users (mode {mode:o}); run `chmod 600 {path}`")
        value = path.read_text().strip()
        check_key(value)
        return MasterKey(value, str(path))
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    value = "sk-" + secrets.token_urlsafe(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(value + "\n")
    return MasterKey(value, str(path), created=True)


def check_key(value: str) -> None:
    if value in WEAK_KEYS or len(value) < 16:
        raise ConfigError("LITELLM_MASTER_KEY is too weak: use at least 16 random characters, e.g. sk-<random>")
