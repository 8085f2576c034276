"""Master key handling, doctor checks and the command line (no proxy started)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from litellm_claude_code._serve.cli import embedded_config_path, main
from litellm_claude_code._serve.doctor import check_cli, check_credentials, run_checks
from litellm_claude_code._serve.master_key import ensure_master_key
from litellm_claude_code.errors import ConfigError
from litellm_claude_code.settings import Settings


def test_master_key_generated_once_with_mode_0600(tmp_path: Path) -> None:
    environ = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    first = ensure_master_key(environ)
    assert first.created and first.value.startswith("sk-") and len(first.value) > 40
    path = Path(first.origin)
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    second = ensure_master_key(environ)
    assert not second.created and second.value == first.value
    assert first.value not in repr(first)


def test_master_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    environ = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}
    path = Path(ensure_master_key(environ).origin)
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        ensure_master_key(environ)


@pytest.mark.parametrize("weak", ["sk-1234", "short"])
def test_weak_master_keys_are_refused(weak: str) -> None:
    with pytest.raises(ConfigError):
        ensure_master_key({"LITELLM_MASTER_KEY": weak})


def test_doctor_reports_missing_credentials_and_cli(tmp_path: Path) -> None:
    missing = check_credentials({"HOME": str(tmp_path)})
    assert missing.status == "fail" and "litellm-claude-code setup-token" in missing.detail
    cli = check_cli(Settings(state_dir=tmp_path, cli_path=str(tmp_path / "nope")))
    assert cli.status == "fail" and "pip install claude-agent-sdk" in cli.detail


def test_doctor_finds_the_bundled_cli_and_a_login_file(tmp_path: Path) -> None:
    assert check_cli(Settings(state_dir=tmp_path)).status == "ok"
    (tmp_path / ".claude").mkdir()
    (tmp_path / ".claude" / ".credentials.json").write_text("{}")
    found = check_credentials({"HOME": str(tmp_path)})
    assert found.status == "ok" and ".credentials.json" in found.detail


def test_doctor_never_prints_secrets(tmp_path: Path) -> None:
    environ = {
        "HOME": str(tmp_path),
        "CLAUDE_CODE_OAUTH_TOKEN": "sk-ant-oat01-very-secret",
        "LITELLM_MASTER_KEY": "sk-master-very-secret",
    }
    text = " ".join(check.detail for check in run_checks(Settings(state_dir=tmp_path), environ))
    assert "very-secret" not in text


def test_doctor_command_exit_status(tmp_path: Path) -> None:
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path / "s")}
    failing = subprocess.run(
        [sys.executable, "-m", "litellm_claude_code", "doctor"], env=env, capture_output=True, text=True, timeout=60
    )
    assert failing.returncode == 1 and "Credentials" in failing.stdout
    env["CLAUDE_CODE_OAUTH_TOKEN"] = "sk-ant-oat01-x"
    passing = subprocess.run(
        [sys.executable, "-m", "litellm_claude_code", "doctor"], env=env, capture_output=True, text=True, timeout=60
    )
    assert passing.returncode == 0, passing.stdout + passing.stderr
    assert "sk-ant-oat01-x" not in passing.stdout


def test_config_command_prints_valid_yaml_with_the_handler() -> None:
    result = CliRunner().invoke(main, ["config"])
    assert result.exit_code == 0
    config = yaml.safe_load(result.output)
    embedded = yaml.safe_load(embedded_config_path().read_text())
    assert config == {k: v for k, v in embedded.items() if k != "general_settings"}  # one source
    assert result.output.startswith("# Add to your LiteLLM proxy config")
    names = [m["model_name"] for m in config["model_list"]]
    assert names == ["sonnet", "opus", "haiku", "claude-code/*"]
    assert config["litellm_settings"]["custom_provider_map"][0]["custom_handler"] == "litellm_claude_code.handler"


def test_embedded_config_matches_the_contract() -> None:
    config = yaml.safe_load(embedded_config_path().read_text())
    assert [m["model_name"] for m in config["model_list"]] == ["sonnet", "opus", "haiku", "claude-code/*"]
    assert config["litellm_settings"]["num_retries"] == 0
    assert config["router_settings"]["disable_cooldowns"] is True
    assert config["general_settings"]["master_key"] == "os.environ/LITELLM_MASTER_KEY"


def test_importing_the_package_does_not_import_litellm() -> None:
    code = "import sys, litellm_claude_code, litellm_claude_code._serve.cli; print('litellm' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False"


def test_expected_cli_exits_are_not_logged_as_errors() -> None:
    import logging

    from litellm_claude_code._claude.sdk_compat import not_an_ended_cli

    def record(message: str) -> logging.LogRecord:
        return logging.LogRecord("claude_agent_sdk._internal.query", logging.ERROR, __file__, 1, message, None, None)

    ended = "Fatal error in message reader: Command failed with exit code 143 (exit code: 143)"
    crashed = "Fatal error in message reader: Command failed with exit code 1 (exit code: 1)"
    assert not not_an_ended_cli(record(ended))
    assert not_an_ended_cli(record(crashed))
    assert not_an_ended_cli(record("something else, exit code 143"))


def test_doctor_reports_each_sdk_internal(tmp_path: Path) -> None:
    """Issue 21: every internal a promise leans on, ok or changed; a CLI without them fails doctor."""
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "XDG_STATE_HOME": str(tmp_path / "s"),
        "CLAUDE_CODE_OAUTH_TOKEN": "sk-ant-oat01-x",
    }
    from litellm_claude_code._claude.sdk_compat import INTERNALS

    real = subprocess.run(
        [sys.executable, "-m", "litellm_claude_code", "doctor"], env=env, capture_output=True, text=True, timeout=60
    )
    for internal in INTERNALS:
        assert f"[ok  ] Internal {internal.name}: as tested" in real.stdout
    fake = tmp_path / "claude"
    fake.write_text("#!/bin/sh\necho '9.9.9 (Claude Code)'\n")
    fake.chmod(0o755)
    env["LITELLM_CLAUDE_CODE_CLI_PATH"] = str(fake)
    changed = subprocess.run(
        [sys.executable, "-m", "litellm_claude_code", "doctor"], env=env, capture_output=True, text=True, timeout=60
    )
    assert changed.returncode == 1
    assert "[FAIL] Internal verbatim-prompts: changed: " in changed.stdout
    assert "has no client_composed" in changed.stdout
    assert "[ok  ] Internal transport: as tested" in changed.stdout  # the SDK's side is still as tested
    env["LITELLM_CLAUDE_CODE_STREAM_HOLD_MS"] = "0"
    off = subprocess.run(
        [sys.executable, "-m", "litellm_claude_code", "doctor"], env=env, capture_output=True, text=True, timeout=60
    )
    assert "[warn] Internal stream-hold: changed (not needed: its setting is off)" in off.stdout


def test_doctor_reads_each_deployments_credential_from_the_config(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "model_list:\n"
        "  - {model_name: sonnet, litellm_params: {model: claude-code/sonnet, api_key: os.environ/MINE}}\n"
        "  - {model_name: other, litellm_params: {model: openai/gpt, api_key: os.environ/UNRELATED}}\n"
    )
    environ = {"HOME": str(tmp_path), "MINE": "sk-ant-api03-x"}
    own = check_credentials(environ, config)
    assert own.status == "ok" and "every deployment sets its own credential" in own.detail
    # The variable unset: LiteLLM hands no key, so the environment's credential is used, and said.
    fallback = check_credentials({"HOME": str(tmp_path), "CLAUDE_CODE_OAUTH_TOKEN": "sk-ant-oat01-x"}, config)
    assert fallback.status == "warn" and "names MINE, which is not set" in fallback.detail
    assert "UNRELATED" not in fallback.detail and "sk-ant" not in fallback.detail
    assert check_credentials({"HOME": str(tmp_path)}, config).status == "fail"
