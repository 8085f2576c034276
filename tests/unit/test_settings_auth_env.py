"""Settings, credential choice and the CLI's environment allowlist."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

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


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("TIMEOUT", "-1", "must be positive, got '-1'"),
        ("TIMEOUT", "0", "must be positive, got '0'"),
        ("TIMEOUT", "nan", "must be a number of seconds, got 'nan'"),
        ("IDLE_TTL", "soon", "must be a number of seconds, got 'soon'"),
        ("TOOL_WAIT", "-1", "must be zero or more, got '-1'"),
        ("SHUTDOWN_GRACE", "-0.5", "must be zero or more, got '-0.5'"),
        ("SPARES", "-1", "must not be negative, got '-1'"),
        ("MAX_QUEUE", "1.5", "must be a whole number, got '1.5'"),
        ("POOL", "maybe", "must be 1 or 0, got 'maybe'"),
        ("LOG_LEVEL", "loud", "must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got 'loud'"),
    ],
)
def test_bad_settings_say_what_is_wrong(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"HOME": "/h", f"LITELLM_CLAUDE_CODE_{name}": value})
    assert str(caught.value) == f"LITELLM_CLAUDE_CODE_{name} {message}"


def test_every_bad_setting_is_named_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"HOME": "/h", "LITELLM_CLAUDE_CODE_TIMEOUT": "-1", "LITELLM_CLAUDE_CODE_POOL": "2"})
    assert str(caught.value) == (
        "LITELLM_CLAUDE_CODE_TIMEOUT must be positive, got '-1'; LITELLM_CLAUDE_CODE_POOL must be 1 or 0, got '2'"
    )


def test_empty_values_are_defaults_and_edge_values_parse(tmp_path: Path) -> None:
    names = ("TIMEOUT", "CLI_PATH", "PASS_ENV", "POOL", "LOG_LEVEL", "STATE_DIR", "TOOL_WAIT", "MAX_QUEUE")
    empty = Settings.from_env({"HOME": str(tmp_path), **{f"LITELLM_CLAUDE_CODE_{name}": "" for name in names}})
    assert (empty.timeout, empty.cli_path, empty.pass_env, empty.pool) == (600, None, (), True)
    assert (empty.log_level, empty.tool_wait, empty.max_queue, empty.base_url) == ("WARNING", 300, 16, None)
    edge = Settings.from_env(
        {
            "LITELLM_CLAUDE_CODE_STATE_DIR": str(tmp_path),
            "LITELLM_CLAUDE_CODE_POOL": "off",
            "LITELLM_CLAUDE_CODE_TOOL_WAIT": "0",
            "LITELLM_CLAUDE_CODE_MAX_PROCESSES": "0",
            "LITELLM_CLAUDE_CODE_LOG_LEVEL": "debug",
            "LITELLM_CLAUDE_CODE_SHUTDOWN_GRACE": "2.5",
            "LITELLM_CLAUDE_CODE_PORT": "4000",  # compose's, not a setting: left alone
        }
    )
    assert (edge.pool, edge.tool_wait, edge.max_processes, edge.log_level) == (False, 0, 1, "DEBUG")
    assert edge.shutdown_grace == 2.5 and edge.state_dir == tmp_path


def test_only_the_given_environment_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LITELLM_CLAUDE_CODE_TIMEOUT", "5")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://process-env")
    assert Settings.from_env({"HOME": str(tmp_path)}).timeout == 600
    direct = Settings(state_dir=tmp_path)
    assert (direct.timeout, direct.base_url) == (600, None)
    assert Settings.from_env().timeout == 5  # the default mapping is the process's environment


def test_settings_built_directly_are_validated_and_frozen(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="must be positive"):
        Settings(state_dir=tmp_path, timeout=-1)
    with pytest.raises(ValidationError, match="no_such_setting"):
        Settings(state_dir=tmp_path, no_such_setting=1)
    settings = Settings(state_dir=tmp_path, base_url="http://gw", pass_env=["A"])
    assert settings == Settings(state_dir=tmp_path, base_url="http://gw", pass_env=("A",))
    with pytest.raises(ValidationError):
        settings.timeout = 1


def test_log_level_is_read_alone_for_the_command_line() -> None:
    from litellm_claude_code.settings import log_level

    assert log_level({}) == "WARNING"
    assert log_level({"LITELLM_CLAUDE_CODE_LOG_LEVEL": " info", "LITELLM_CLAUDE_CODE_TIMEOUT": "-1"}) == "INFO"
    with pytest.raises(ConfigError) as caught:
        log_level({"LITELLM_CLAUDE_CODE_LOG_LEVEL": "loud"})
    assert str(caught.value) == (
        "LITELLM_CLAUDE_CODE_LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got 'loud'"
    )


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
    assert env["BUN_IDLE_GC_SECONDS"] == "0"  # no idle full collections in a warm process


def test_an_operators_runtime_tuning_passed_through_wins(tmp_path: Path) -> None:
    parent = {"BUN_IDLE_GC_SECONDS": "10,65,65"}
    env = cli_environment(
        resolve_credentials("sk-ant-oat01-dep", parent),
        home=tmp_path / "home",
        max_retries=0,
        pass_env=("BUN_IDLE_GC_SECONDS",),
        environ=parent,
    )
    assert env["BUN_IDLE_GC_SECONDS"] == "10,65,65"


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
    assert DeploymentTuning.from_litellm_params({"model_info": {"claude_code": {"tool_wait": 0}}}).tool_wait == 0


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"spares": -1}, "model_info.claude_code.spares must not be negative, got -1"),
        ({"idle_ttl": 0}, "model_info.claude_code.idle_ttl must be positive, got 0"),
        ({"tool_wait": "later"}, "model_info.claude_code.tool_wait must be a number of seconds, got 'later'"),
        ({"cli_max_retries": "x"}, "model_info.claude_code.cli_max_retries must be a whole number, got 'x'"),
        ({"pool_size": 3}, "model_info.claude_code.pool_size: unknown setting"),
    ],
)
def test_bad_deployment_tuning_says_what_is_wrong(bad: dict[str, object], message: str) -> None:
    from litellm_claude_code.settings import DeploymentTuning

    with pytest.raises(ConfigError) as caught:
        DeploymentTuning.from_litellm_params({"model_info": {"claude_code": bad}})
    assert str(caught.value) == message


def test_a_deployments_tuning_resolves_once_over_the_servers() -> None:
    """Issue 25.2: None is "the server's"; 0 is a value (tool_wait 0 never parks, it must not fall back)."""
    from litellm_claude_code._claude.types import Tuning
    from litellm_claude_code.settings import DeploymentTuning

    server = Settings(state_dir=Path("/s"), spares=2, idle_ttl=120, tool_wait=300)
    assert server.pool_tuning() == Tuning(spares=2, idle_ttl=120.0, tool_wait=300.0)
    assert DeploymentTuning().resolved(server) == server.pool_tuning()
    own = DeploymentTuning(spares=0, tool_wait=0)
    assert own.resolved(server) == Tuning(spares=0, idle_ttl=120.0, tool_wait=0.0)


def test_tool_wait_0_on_a_deployment_never_parks_whatever_the_server_says(tmp_path: Path) -> None:
    from litellm_claude_code import _turn as turn
    from litellm_claude_code.settings import DeploymentTuning

    server = Settings(state_dir=tmp_path, tool_wait=300)
    weather = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}

    def prepared_with(tuning: DeploymentTuning | None) -> turn.PreparedTurn:
        messages = [{"role": "user", "content": "hi"}]
        return turn.prepare(
            model="claude-code/sonnet",
            messages=messages,
            optional_params={"tools": [weather]},
            settings=server,
            api_key="sk-ant-oat01-x",
            timeout=None,
            tuning=tuning,
        )

    never = prepared_with(DeploymentTuning(tool_wait=0))
    assert never.tuning.tool_wait == 0 and not never.spec.park_tools
    default = prepared_with(None)
    assert default.tuning.tool_wait == 300 and default.spec.park_tools


def test_a_sticky_answer_that_asked_for_results_lives_no_longer_than_a_tool_wait_of_0(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The router's memory of a conversation: a deployment's tool_wait 0 fell back to the server's 300 s.
    The hook takes the provider's settings (handed by `serve`), not the environment's."""
    import litellm_claude_code
    from litellm_claude_code.provider import ClaudeCodeLLM
    from litellm_claude_code.routing import StickyConversations

    provider = ClaudeCodeLLM()
    provider.settings = Settings(state_dir=tmp_path, idle_ttl=60, tool_wait=300)
    monkeypatch.setattr(litellm_claude_code, "_handler", provider)
    monkeypatch.setenv("LITELLM_CLAUDE_CODE_IDLE_TTL", "7")  # not read
    sticky = StickyConversations()
    deployment = {"model_info": {"id": "a", "claude_code": {"tool_wait": 0}}}
    assert sticky._lifetime(deployment, asks_for_results=True) == 60
    assert sticky._lifetime({"model_info": {"id": "b"}}, asks_for_results=True) == 300


def test_workdir_server_wide_and_per_deployment(tmp_path: Path) -> None:
    """Issue 22.4: the CLI runs where the operator says; a deployment's own directory wins."""
    from litellm_claude_code.settings import DeploymentTuning

    shared, own = tmp_path / "shared", tmp_path / "own"
    shared.mkdir(), own.mkdir()
    default = Settings(state_dir=tmp_path / "state")
    assert default.cli_directory == tmp_path / "state" / "workspace"
    server = Settings.from_env({"HOME": str(tmp_path), "LITELLM_CLAUDE_CODE_WORKDIR": str(shared)})
    assert server.cli_directory == shared
    tuning = DeploymentTuning.from_litellm_params({"model_info": {"claude_code": {"workdir": str(own)}}})
    assert server.for_deployment(None, tuning).cli_directory == own
    assert server.for_deployment(None, DeploymentTuning()).cli_directory == shared


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("relative", "must be an absolute path, got 'relative'"),
        ("/no/such/directory/here", "must be an existing directory, got '/no/such/directory/here'"),
    ],
)
def test_a_workdir_that_cannot_be_run_in_is_refused(tmp_path: Path, value: str, message: str) -> None:
    from litellm_claude_code.settings import DeploymentTuning

    with pytest.raises(ConfigError, match=f"^LITELLM_CLAUDE_CODE_WORKDIR {message}$"):
        Settings.from_env({"HOME": str(tmp_path), "LITELLM_CLAUDE_CODE_WORKDIR": value})
    with pytest.raises(ConfigError, match=f"^model_info.claude_code.workdir {message}$"):
        DeploymentTuning.from_litellm_params({"model_info": {"claude_code": {"workdir": value}}})
    afile = tmp_path / "a-file"
    afile.write_text("")
    with pytest.raises(ConfigError, match="must be an existing directory"):
        DeploymentTuning.from_litellm_params({"model_info": {"claude_code": {"workdir": str(afile)}}})


def test_every_pool_knob_is_a_server_setting_and_a_deployment_one() -> None:
    """A knob is one Tuning field; both sources have it, and the merge goes by name."""
    import dataclasses

    from litellm_claude_code._claude.types import Tuning
    from litellm_claude_code.settings import DeploymentTuning

    for knob in dataclasses.fields(Tuning):
        assert knob.name in Settings.model_fields and knob.name in DeploymentTuning.model_fields, knob.name
    server = Settings(state_dir=Path("/nonexistent"), spares=3, idle_ttl=40, tool_wait=50)
    assert server.pool_tuning() == Tuning(spares=3, idle_ttl=40.0, tool_wait=50.0)
    assert DeploymentTuning(tool_wait=0).resolved(server) == Tuning(spares=3, idle_ttl=40.0, tool_wait=0.0)
