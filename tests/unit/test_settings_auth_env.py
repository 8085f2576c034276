"""Settings, credential choice and the CLI's environment allowlist."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from litellm_claude_code._claude.credentials import resolve_credentials
from litellm_claude_code._claude.environment import cli_environment
from litellm_claude_code.errors import ConfigError
from litellm_claude_code.settings import Settings, request_timeout


def test_settings_defaults_and_overrides(tmp_path: Path) -> None:
    settings = Settings.from_env({"HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path / "s")})
    assert settings.state_dir == tmp_path / "s" / "litellm-claude-code"
    assert settings.timeout == 600 and settings.cli_max_retries == 1
    custom = Settings.from_env(
        {
            "LITELLM_CLAUDE_CODE_STATE_DIR": str(tmp_path),
            "LITELLM_CLAUDE_CODE_TIMEOUT": "30",
            "LITELLM_CLAUDE_CODE_CLI_MAX_RETRIES": "0",
            "LITELLM_CLAUDE_CODE_PASS_ENV": "A, B",
            "ANTHROPIC_BASE_URL": "http://gw",
        }
    )
    assert (custom.timeout, custom.cli_max_retries, custom.pass_env, custom.base_url) == (
        30,
        0,
        ("A", "B"),
        "http://gw",
    )
    assert custom.for_deployment("http://other").base_url == "http://other"
    assert custom.for_deployment(None) is custom


@pytest.mark.parametrize(
    ("name", "value"), [("TIMEOUT", "soon"), ("TIMEOUT", "-1"), ("CLI_MAX_RETRIES", "-2"), ("CLI_MAX_RETRIES", "two")]
)
def test_bad_settings_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"HOME": "/h", f"LITELLM_CLAUDE_CODE_{name}": value})
    assert f"LITELLM_CLAUDE_CODE_{name}" in str(caught.value)


def test_request_timeout_forms() -> None:
    assert request_timeout(None, 600) == 600
    assert request_timeout(12, 600) == 12
    assert request_timeout(0, 600) == 600
    assert request_timeout(httpx.Timeout(7.0), 600) == 7


def test_credentials_order() -> None:
    environ = {"CLAUDE_CODE_OAUTH_TOKEN": "sk-ant-oat01-env", "ANTHROPIC_API_KEY": "sk-ant-api03-env"}
    assert resolve_credentials("sk-ant-oat01-dep", environ).env == {"CLAUDE_CODE_OAUTH_TOKEN": "sk-ant-oat01-dep"}
    assert resolve_credentials("sk-ant-api03-dep", environ).env == {"ANTHROPIC_API_KEY": "sk-ant-api03-dep"}
    assert resolve_credentials(None, environ).kind == "oauth_token"
    assert resolve_credentials(None, {"ANTHROPIC_API_KEY": "k"}).kind == "api_key"
    login = resolve_credentials(None, {"HOME": "/home/u"})
    assert login.kind == "login" and login.env == {}
    assert "/home/u/.claude" in login.source


def test_credentials_repr_hides_the_secret() -> None:
    assert "sk-ant-oat01-secret" not in repr(resolve_credentials("sk-ant-oat01-secret", {}))


def test_cli_environment_holds_only_allowed_names(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path, base_url="http://127.0.0.1:1", cli_max_retries=0, pass_env=("EXTRA",))
    parent = {
        "PATH": "/bin",
        "HOME": "/home/u",
        "HTTPS_PROXY": "http://proxy",
        "EXTRA": "kept",
        "LITELLM_MASTER_KEY": "sk-master",
        "DATABASE_URL": "postgres://secret",
        "OPENAI_API_KEY": "sk-openai",
        "ANTHROPIC_API_KEY": "sk-ant-api-other",
        "CLAUDE_CODE_OAUTH_TOKEN": "sk-ant-oat-env",
    }
    env = cli_environment(
        resolve_credentials("sk-ant-oat01-dep", parent),
        home=settings.private_home,
        max_retries=settings.cli_max_retries,
        base_url=settings.base_url,
        pass_env=settings.pass_env,
        environ=parent,
    )
    for secret in ("LITELLM_MASTER_KEY", "DATABASE_URL", "OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
        assert secret not in env  # not even the name
    assert env["CLAUDE_CODE_OAUTH_TOKEN"] == "sk-ant-oat01-dep"
    assert env["PATH"] == "/bin" and env["HTTPS_PROXY"] == "http://proxy" and env["EXTRA"] == "kept"
    assert env["HOME"] == str(settings.private_home)
    assert env["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:1"
    assert env["CLAUDE_CODE_MAX_RETRIES"] == "0"
    assert env["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] == "1"


def test_login_mode_keeps_the_users_home(tmp_path: Path) -> None:
    parent = {"HOME": "/home/u", "CLAUDE_CONFIG_DIR": "/cfg"}
    env = cli_environment(resolve_credentials(None, parent), home=tmp_path / "home", max_retries=0, environ=parent)
    assert env["HOME"] == "/home/u"
    assert env["CLAUDE_CONFIG_DIR"] == "/cfg"


def test_deployment_tuning_from_model_info() -> None:
    from litellm_claude_code.settings import DeploymentTuning

    assert DeploymentTuning.from_litellm_params(None) == DeploymentTuning()
    tuned = DeploymentTuning.from_litellm_params(
        {"model_info": {"id": "x", "claude_code": {"spares": 0, "idle_ttl": 30, "cli_max_retries": 2}}}
    )
    assert tuned == DeploymentTuning(spares=0, idle_ttl=30.0, cli_max_retries=2)
    assert Settings(state_dir=Path("/s")).for_deployment(None, tuned).cli_max_retries == 2
    for bad, name in (({"spares": -1}, "spares"), ({"idle_ttl": "soon"}, "idle_ttl"), ({"pool_size": 3}, "pool_size")):
        with pytest.raises(ConfigError, match=name):
            DeploymentTuning.from_litellm_params({"model_info": {"claude_code": bad}})
