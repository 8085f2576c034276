"""The SDK and CLI internals we lean on, and the checks that fail closed when one changes.

Run against whichever SDK is installed (the matrix runs this file on the
oldest, the locked and the newest releases): the real ones must pass every
check; fakes of the SDK's command builder, its first stdin line, its members
and of a CLI binary show that each check can fire.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import stat
from pathlib import Path
from typing import Any

import pytest

from litellm_claude_code._claude import drift
from litellm_claude_code._claude.client_tools import ToolSpec
from litellm_claude_code._claude.drift import DriftCheck, Finding, inspect_internals, resolved_cli
from litellm_claude_code._claude.metrics import Metrics
from litellm_claude_code._claude.options import LaunchSpec, build_options, client_data
from litellm_claude_code._claude.sdk_compat import (
    CLI_VERSION,
    INTERNALS,
    SDK_VERSION,
    SubprocessCLITransport,
    bundled_cli,
    find_cli,
    python_changes,
)
from litellm_claude_code._claude.session import CLISession
from litellm_claude_code._claude.transport import (
    ClientData,
    LockedDownTransport,
    argv_problem,
    flag_values,
    with_initialize_fields,
)
from litellm_claude_code._shapes import Conversation
from litellm_claude_code.errors import SDKDrift

PROMPT = "SYSTEM-MARKER-7f3a: you are a careful assistant. " * 4
SCHEMA = {"type": "object", "properties": {"SCHEMA_MARKER_9c1d": {"type": "string"}}}


def spec(tmp_path: Path, cli: str = "/bin/claude", **fields: Any) -> LaunchSpec:
    values: dict[str, Any] = {
        "model": "sonnet",
        "system_prompt": PROMPT,
        "env": {},
        "cwd": str(tmp_path),
        "cli_path": cli,
        "tools": (ToolSpec("lookup", "TOOL-DESCRIPTION-MARKER looks a word up", '{"type":"object"}'),),
        "output_schema_json": json.dumps(SCHEMA, sort_keys=True),
    }
    return LaunchSpec(**{**values, **fields})


def command(launch: LaunchSpec) -> list[str]:
    transport = LockedDownTransport(build_options(launch), env={}, client=client_data(launch))
    built: list[str] = transport._build_command()
    return built


# -- the installed SDK and CLI --------------------------------------------------
def test_the_installed_sdk_and_cli_have_every_internal_as_tested() -> None:
    findings = asyncio.run(inspect_internals(resolved_cli(None)))
    assert [f.internal.name for f in findings] == [i.name for i in INTERNALS]
    assert {f.internal.name: f.change for f in findings if not f.ok} == {}


def test_the_bundled_cli_is_found_the_way_the_sdk_finds_it() -> None:
    bundled = bundled_cli()
    assert bundled is not None and bundled.is_file() and bundled.name == "claude"
    assert find_cli() == str(bundled)
    assert find_cli("/opt/claude") == "/opt/claude"
    assert CLI_VERSION.count(".") == 2


def test_nothing_the_client_wrote_is_on_the_command_line(tmp_path: Path) -> None:
    argv = command(spec(tmp_path))
    joined = " ".join(argv)
    assert "SYSTEM-MARKER" not in joined and "SCHEMA_MARKER" not in joined and "TOOL-DESCRIPTION" not in joined
    assert flag_values(argv, "--system-prompt") == [""]  # no default Claude Code prompt either
    assert flag_values(argv, "--json-schema") == []
    assert flag_values(argv, "--tools") == [""] and flag_values(argv, "--setting-sources") == [""]
    assert flag_values(argv, "--input-format") == ["stream-json"]


def test_a_permission_callback_routes_prompts_over_stdio_as_the_sdk_client_would(tmp_path: Path) -> None:
    assert flag_values(command(spec(tmp_path)), "--permission-prompt-tool") == ["stdio"]


def test_the_cli_gets_a_parent_death_signal_where_setpriv_exists(tmp_path: Path) -> None:
    argv = command(spec(tmp_path))
    if shutil.which("setpriv"):
        assert argv[:4] == [shutil.which("setpriv"), "--pdeathsig", "KILL", "--"] and argv[4] == "/bin/claude"
    else:
        assert argv[0] == "/bin/claude"


def test_the_initialize_request_carries_the_prompt_and_schema() -> None:
    fields = ClientData(system_prompt="P", schema={"type": "object"}).initialize_fields()
    line = json.dumps({"type": "control_request", "request_id": "1", "request": {"subtype": "initialize"}}) + "\n"
    patched, added = with_initialize_fields(line, fields)
    assert added
    assert json.loads(patched)["request"] == {
        "subtype": "initialize",
        "systemPrompt": ["P"],
        "jsonSchema": {"type": "object"},
    }
    user = json.dumps({"type": "user", "message": {"content": "initialize"}}) + "\n"
    assert with_initialize_fields(user, {"x": 1}) == (user, False)


# -- each check can fire ----------------------------------------------------------
LEAKS = {
    "a new spelling of the flag": ["--systemPrompt=" + PROMPT],
    "an underscore spelling, two arguments": ["--system_prompt", PROMPT],
    "the append flag": ["--append-system-prompt", "x"],
    "the schema as one argument": ["--json-schema=" + json.dumps(SCHEMA)],
    "the text under another flag": ["-p", PROMPT],
    "a tool description under another flag": ["--extra", "TOOL-DESCRIPTION-MARKER looks a word up"],
}


@pytest.mark.parametrize("extra", LEAKS.values(), ids=LEAKS.keys())
def test_a_command_builder_that_puts_client_data_on_argv_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: list[str]
) -> None:
    stock = SubprocessCLITransport._build_command
    monkeypatch.setattr(SubprocessCLITransport, "_build_command", lambda self: [*stock(self), *extra])
    with pytest.raises(SDKDrift) as refused:
        command(spec(tmp_path))
    assert refused.value.internal == "command-line"
    message = str(refused.value)
    assert (
        f"claude-agent-sdk {SDK_VERSION} (Claude Code {CLI_VERSION}) is not what this provider was tested with"
        in message
    )
    assert "on the command line" in message and "Claude Code was not started" in message
    assert "SYSTEM-MARKER" not in message and "SCHEMA_MARKER" not in message  # never the client's text


@pytest.mark.parametrize(("drop", "shown"), [("--tools", "`--tools=`"), ("--setting-sources", "`--setting-sources=`")])
def test_a_command_line_without_the_lockdown_flags_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, drop: str, shown: str
) -> None:
    stock = SubprocessCLITransport._build_command

    def without(self: Any) -> list[str]:
        argv = stock(self)
        return [a for i, a in enumerate(argv) if not (a.startswith(drop) or (i and argv[i - 1] == drop))]

    monkeypatch.setattr(SubprocessCLITransport, "_build_command", without)
    with pytest.raises(SDKDrift, match=f"{shown} is missing from the command line"):
        command(spec(tmp_path))


def test_an_argument_too_long_for_the_kernel_is_refused() -> None:
    assert "an argument of 200000 characters" in (argv_problem(["claude", "x" * 200_000], ClientData()) or "")


def test_a_session_whose_command_line_is_refused_starts_no_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The refusal happens before anything runs: the 'CLI' here would leave a file behind."""
    ran = tmp_path / "ran"
    cli = tmp_path / "claude"
    cli.write_text(f"#!/bin/sh\ntouch {ran}\n")
    cli.chmod(cli.stat().st_mode | stat.S_IXUSR)
    stock = SubprocessCLITransport._build_command
    monkeypatch.setattr(
        SubprocessCLITransport, "_build_command", lambda self: [*stock(self), "--systemPrompt=" + PROMPT]
    )
    session = CLISession(spec(tmp_path, cli=str(cli)), Conversation(PROMPT, (), ()), scratch_root=tmp_path / "run")

    async def start() -> None:
        await session.start(timeout=10)

    with pytest.raises(SDKDrift, match="the flag `--systemPrompt` carries a value on the command line"):
        asyncio.run(start())
    assert not ran.exists()


def test_a_first_line_other_than_initialize_is_refused_before_it_is_sent(tmp_path: Path) -> None:
    launch = spec(tmp_path)
    transport = LockedDownTransport(build_options(launch), env={}, client=client_data(launch))
    user = json.dumps({"type": "user", "message": {"role": "user", "content": "hi"}}) + "\n"
    with pytest.raises(SDKDrift, match="the first line the SDK sent the CLI was not `initialize`"):
        asyncio.run(transport.write(user))  # not ready either: it would raise CLIConnectionError once sent


def test_a_missing_transport_member_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(SubprocessCLITransport, "_find_bundled_cli")
    assert python_changes() == {"transport": "SubprocessCLITransport has no _find_bundled_cli"}


def test_a_cli_without_the_names_we_use_is_found(tmp_path: Path) -> None:
    """A binary that has only some of the names: each internal that lacks one is changed."""
    cli = tmp_path / "claude"
    cli.write_bytes(b"\0".join(n.encode() for i in INTERNALS if i.name != "stream-hold" for n in i.cli_names))
    changed = {f.internal.name: f.change for f in asyncio.run(inspect_internals(cli)) if not f.ok}
    assert changed == {"stream-hold": f"Claude Code {CLI_VERSION} has no CLAUDE_CODE_STREAM_EVENT_HOLD_MS"}
    cli.write_bytes(b"nothing at all")
    changed = {f.internal.name for f in asyncio.run(inspect_internals(cli)) if not f.ok}
    assert changed == {i.name for i in INTERNALS if i.cli_names}


# -- the decision -------------------------------------------------------------------
def _findings_with(changes: dict[str, str]) -> list[Finding]:
    return [Finding(internal, changes.get(internal.name)) for internal in INTERNALS]


def test_a_changed_internal_refuses_unless_its_setting_is_off_or_it_is_cosmetic(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def fake(cli: Path | None) -> list[Finding]:
        return _findings_with({"stream-hold": "gone", "reader-log": "moved"})

    monkeypatch.setattr(drift, "inspect_internals", fake)
    check = DriftCheck()
    with pytest.raises(SDKDrift, match="LITELLM_CLAUDE_CODE_STREAM_HOLD_MS=0 to run without it") as refused:
        asyncio.run(check.require(None))
    assert refused.value.internal == "stream-hold"
    asyncio.run(check.require(None, is_off=lambda setting: setting == "stream_hold_ms"))
    asyncio.run(check.require(None, is_off=lambda setting: setting == "stream_hold_ms"))
    assert sum("message-reader logger" in r.getMessage() for r in caplog.records) == 1  # the cosmetic one, once


def test_findings_are_kept_per_cli_binary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Path | None] = []

    async def fake(cli: Path | None) -> list[Finding]:
        seen.append(cli)
        return _findings_with({})

    monkeypatch.setattr(drift, "inspect_internals", fake)
    cli = tmp_path / "claude"
    cli.write_bytes(b"one")
    check = DriftCheck()
    for _ in range(3):
        asyncio.run(check.require(str(cli)))
    cli.write_bytes(b"another binary")
    asyncio.run(check.require(str(cli)))
    assert seen == [cli, cli]


def test_a_refusal_is_counted_in_the_metrics() -> None:
    metrics = Metrics()
    metrics.record_drift("command-line")
    text = metrics.render()[0].decode()
    assert 'litellm_claude_code_sdk_drift_refusals_total{internal="command-line"} 1.0' in text


def test_a_request_on_a_changed_cli_is_refused_before_it_runs_and_counted(tmp_path: Path) -> None:
    import litellm

    from litellm_claude_code.provider import ClaudeCodeLLM
    from litellm_claude_code.settings import Settings

    ran = tmp_path / "ran"
    cli = tmp_path / "claude"
    cli.write_text(f"#!/bin/sh\ntouch {ran}\n")
    cli.chmod(0o755)
    provider = ClaudeCodeLLM(Settings(state_dir=tmp_path / "state", cli_path=str(cli)))
    call = provider.acompletion(
        "claude-code/sonnet",
        [{"role": "user", "content": "hi"}],
        optional_params={},
        litellm_params={},
        api_key="sk-ant-oat01-test",
    )
    with pytest.raises(litellm.InternalServerError, match="Claude Code was not started"):
        asyncio.run(call)
    assert not ran.exists()
    scrape = provider.metrics.render()[0].decode()
    assert 'litellm_claude_code_sdk_drift_refusals_total{internal="initialize"} 1.0' in scrape


def test_the_readme_lists_every_internal() -> None:
    from litellm_claude_code._claude.sdk_compat import internals_table

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert internals_table() in readme, (
        "regenerate the README's internals table: python -c "
        "\"from litellm_claude_code._claude.sdk_compat import internals_table; print(internals_table(), end='')\""
    )


def test_each_off_switch_is_a_real_setting_set_to_zero() -> None:
    from litellm_claude_code.settings import Settings, variable_name

    for internal in INTERNALS:
        if internal.setting is not None:
            assert internal.setting in Settings.model_fields
            assert internal.off_switch == f"{variable_name(internal.setting)}=0"
