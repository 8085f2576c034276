"""The SDK internals `_sdk_compat` leans on: this fails loudly when an SDK upgrade changes one."""

from __future__ import annotations

import inspect
import json
import shutil

from claude_agent_sdk import ClaudeAgentOptions
from claude_agent_sdk._internal.transport.subprocess_cli import SubprocessCLITransport

from litellm_claude_code._claude.sdk_compat import (
    CLI_VERSION,
    SDK_READER_LOGGER,
    LockedDownTransport,
    bundled_cli,
    find_cli,
    with_initialize_fields,
)


def test_the_private_transport_members_we_use_still_exist() -> None:
    for method in ("_build_command", "_find_cli", "_find_bundled_cli", "_handle_stderr", "connect", "write", "close"):
        assert callable(getattr(SubprocessCLITransport, method)), method
    transport = SubprocessCLITransport(prompt="", options=ClaudeAgentOptions(cwd="/w"))
    for attribute in ("_process", "_stdout_stream", "_stdin_stream", "_stderr_stream", "_stderr_task", "_ready"):
        assert hasattr(transport, attribute), attribute
    assert transport._cwd == "/w" and transport._cli_path is None
    # connect() of the stock transport still merges os.environ: the reason we replace it.
    assert "os.environ" in inspect.getsource(SubprocessCLITransport.connect)


def test_the_bundled_cli_is_found_the_way_the_sdk_finds_it() -> None:
    bundled = bundled_cli()
    assert bundled is not None and bundled.is_file() and bundled.name == "claude"
    assert find_cli() == str(bundled)
    assert find_cli("/opt/claude") == "/opt/claude"
    assert CLI_VERSION.count(".") == 2


def command(**options: object) -> list[str]:
    transport = LockedDownTransport(ClaudeAgentOptions(cli_path="/bin/claude", **options), env={})  # type: ignore[arg-type]
    return transport._build_command()


def test_client_data_never_reaches_argv() -> None:
    schema = {"type": "object", "properties": {"secret_field": {"type": "string"}}}
    argv = command(system_prompt="SECRET PROMPT", output_format={"type": "json_schema", "schema": schema})
    assert "--system-prompt" not in argv and "--json-schema" not in argv
    assert not any("SECRET" in arg or "secret_field" in arg for arg in argv)
    assert argv[argv.index("--input-format") + 1] == "stream-json"


def test_no_system_prompt_still_means_no_default_claude_code_prompt() -> None:
    argv = command()
    assert argv[argv.index("--system-prompt") + 1] == ""


def test_the_cli_gets_a_parent_death_signal_where_setpriv_exists() -> None:
    argv = command()
    if shutil.which("setpriv"):
        assert argv[:4] == [shutil.which("setpriv"), "--pdeathsig", "KILL", "--"] and argv[4] == "/bin/claude"
    else:
        assert argv[0] == "/bin/claude"


def test_the_initialize_request_carries_the_prompt_and_schema() -> None:
    transport = LockedDownTransport(
        ClaudeAgentOptions(system_prompt="P", output_format={"type": "json_schema", "schema": {"type": "object"}}),
        env={},
    )
    line = json.dumps({"type": "control_request", "request_id": "1", "request": {"subtype": "initialize"}}) + "\n"
    patched, added = with_initialize_fields(line, transport._initialize_extra)
    assert added
    assert json.loads(patched)["request"] == {
        "subtype": "initialize",
        "systemPrompt": ["P"],
        "jsonSchema": {"type": "object"},
    }
    user = json.dumps({"type": "user", "message": {"content": "initialize"}}) + "\n"
    assert with_initialize_fields(user, {"x": 1}) == (user, False)


def test_a_permission_callback_routes_prompts_over_stdio_as_the_sdk_client_would() -> None:
    async def allow(*_: object) -> None:
        return None

    transport = LockedDownTransport(ClaudeAgentOptions(cli_path="/bin/claude", can_use_tool=allow), env={})  # type: ignore[arg-type]
    argv = transport._build_command()
    assert argv[argv.index("--permission-prompt-tool") + 1] == "stdio"


def test_the_sdk_logs_reader_failures_where_the_filter_looks() -> None:
    from claude_agent_sdk._internal import query

    assert query.logger.name == SDK_READER_LOGGER
    assert "Fatal error in message reader" in inspect.getsource(query)
