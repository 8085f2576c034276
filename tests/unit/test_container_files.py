"""The Dockerfile, the entrypoint and compose.yaml: linted and checked here;
the image itself is built and run by docker/check-image.sh (CI)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from litellm_claude_code._serve.master_key import ensure_master_key

ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"


def tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    assert found, f"{name} is a test dependency (requirements-dev.lock)"
    return found


def test_hadolint_clean() -> None:
    done = subprocess.run([tool("hadolint"), str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_shellcheck_clean() -> None:
    scripts = sorted(str(p) for p in (ROOT / "docker").glob("*.sh"))
    done = subprocess.run([tool("shellcheck"), *scripts], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_compose_contract() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    proxy = compose["services"]["litellm-claude-code"]
    assert proxy["ports"] == ["127.0.0.1:${PORT:-4000}:4000"]
    assert "claude-state:/home/claude/.claude" in proxy["volumes"]
    assert proxy["restart"] == "unless-stopped"
    assert proxy["security_opt"] == ["no-new-privileges:true"]
    assert proxy["cap_drop"] == ["ALL"]
    assert proxy["read_only"] is True and any(t.startswith("/tmp") for t in proxy["tmpfs"])
    assert proxy["env_file"] == ".env"
    assert compose["services"]["postgres"]["profiles"] == ["db"]
    assert "healthcheck" in compose["services"]["postgres"]
    assert compose["services"]["open-webui"]["profiles"] == ["ui"]
    example = (ROOT / ".env.example").read_text()
    assert "CLAUDE_CODE_OAUTH_TOKEN=" in example and "LITELLM_MASTER_KEY=" in example


def test_dockerignore_keeps_tests_and_git_out() -> None:
    lines = [line for line in (ROOT / ".dockerignore").read_text().splitlines() if line and not line.startswith("#")]
    # Everything excluded first, then only what the image needs let back in (caches out again).
    assert lines[0] == "*", lines
    allowed = {line[1:].rstrip("/") for line in lines[1:] if line.startswith("!")}
    assert allowed == {
        "requirements-image.lock",
        "pyproject.toml",
        "README.md",
        "LICENSE",
        "src",
        "docker/entrypoint.sh",
        "docker/bytecode.py",
    }
    assert all(line.startswith("!") or "pycache" in line or line.endswith(".pyc") for line in lines[1:]), lines
    assert not any(name.startswith(("tests", ".git", "bench")) for name in allowed)


def run_entrypoint(home: Path, env: dict[str, str], *command: str) -> subprocess.CompletedProcess[str]:
    """Run the entrypoint script as an unprivileged user (it refuses root)."""
    path = f"{Path(sys.executable).parent}:{os.environ['PATH']}"  # litellm-claude-code, as in the image
    base = {"PATH": path, "HOME": str(home), "CLAUDE_CONFIG_DIR": str(home / ".claude")}
    prefix: list[str] = []
    if os.geteuid() == 0:
        # Not root, as the image's user is; allowed to read the interpreter wherever it lives (/root/...).
        reader = ["--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search"]
        prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *reader]
    return subprocess.run(
        [*prefix, "sh", str(ENTRYPOINT), *command], env={**base, **env}, capture_output=True, text=True, timeout=60
    )


@pytest.fixture()
def home() -> Iterator[Path]:
    # Not under pytest's tmp_path: its parents are private to the test's user.
    base = Path(tempfile.mkdtemp(prefix="lcc-entrypoint-"))
    base.chmod(0o755)
    home = base / "home"
    home.mkdir()
    home.chmod(0o777)  # writable by the unprivileged uid
    yield home
    shutil.rmtree(base, ignore_errors=True)


def test_entrypoint_without_a_credential_explains_how_to_get_one(home: Path) -> None:
    done = run_entrypoint(home, {}, "echo", "started")
    assert done.returncode == 64
    assert "litellm-claude-code setup-token" in done.stderr and "started" not in done.stdout


def test_entrypoint_reads_the_credentials_of_the_config_the_command_names(home: Path) -> None:
    config = home / "config.yaml"
    config.write_text(
        "model_list:\n"
        "  - model_name: sonnet\n"
        "    litellm_params: {model: claude-code/sonnet, api_key: os.environ/TEAM_KEY}\n"
    )
    unset = run_entrypoint(home, {}, "litellm-claude-code", "serve", "--config", str(config))
    assert unset.returncode == 64 and "no credential found" in unset.stderr
    done = run_entrypoint(home, {"TEAM_KEY": "sk-ant-api03-x"}, "sh", "-c", "echo started", f"--config={config}")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "started"


def test_entrypoint_prepares_state_and_points_serve_at_the_volume_for_its_key(home: Path) -> None:
    done = run_entrypoint(
        home, {"CLAUDE_CODE_OAUTH_TOKEN": "sk-ant-oat01-x"}, "sh", "-c", 'echo "config=$XDG_CONFIG_HOME"'
    )
    assert done.returncode == 0, done.stderr
    assert (home / ".claude" / ".claude.json").read_text().strip() == '{"hasCompletedOnboarding": true}'
    volume = home / ".claude"
    assert done.stdout.strip() == f"config={volume}"
    assert not (volume / "litellm-claude-code").exists()  # the key is made by `serve`, in one place
    # ... which, with that XDG_CONFIG_HOME, keeps it in the volume, private, across restarts:
    key = ensure_master_key({"XDG_CONFIG_HOME": str(volume), "HOME": str(home)})
    assert key.created and Path(key.origin) == volume / "litellm-claude-code" / "master_key"
    assert stat.S_IMODE(Path(key.origin).stat().st_mode) == 0o600
    assert ensure_master_key({"XDG_CONFIG_HOME": str(volume), "HOME": str(home)}).value == key.value


def test_entrypoint_accepts_a_login_in_the_volume_and_a_given_key(home: Path) -> None:
    (home / ".claude").mkdir()
    (home / ".claude").chmod(0o777)
    (home / ".claude" / ".credentials.json").write_text('{"claudeAiOauth": {}}')
    done = run_entrypoint(home, {"LITELLM_MASTER_KEY": "sk-given-0123456789"}, "sh", "-c", 'echo "$LITELLM_MASTER_KEY"')
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "sk-given-0123456789"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run the script as root")
def test_entrypoint_refuses_root(home: Path) -> None:
    done = subprocess.run(
        ["sh", str(ENTRYPOINT), "true"],
        env={"PATH": os.environ["PATH"], "HOME": str(home), "CLAUDE_CODE_OAUTH_TOKEN": "x"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and "refusing to run as root" in done.stderr
