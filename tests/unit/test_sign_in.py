"""`setup-token` and `login`: the bundled CLI's own flows, run in the user's terminal.

A stand-in `claude` (LITELLM_CLAUDE_CODE_CLI_PATH) records how it was run;
the real CLI's flows need claude.ai, which tests never reach.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from litellm_claude_code._serve.cli import main

COMMAND = [sys.executable, "-m", "litellm_claude_code"]


def stand_in_cli(tmp_path: Path, exit_status: int = 0) -> Path:
    """A `claude` that writes its argv, and whether it had a terminal, to a file."""
    record = tmp_path / "record.json"
    script = tmp_path / "claude"
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        f"json.dump({{'argv': sys.argv[1:], 'tty': os.isatty(0) and os.isatty(1)}}, open({str(record)!r}, 'w'))\n"
        "print('Visit https://claude.ai/oauth/authorize?code=... and paste the code here')\n"
        f"sys.exit({exit_status})\n"
    )
    script.chmod(0o700)
    return script


def run_in_a_terminal(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run the command with a pseudo-terminal on stdin/stdout, as a user would."""
    leader, follower = pty.openpty()
    process = subprocess.Popen([*COMMAND, *args], stdin=follower, stdout=follower, stderr=follower, env=env)
    os.close(follower)
    output = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal closed: the command ended
            break
        if not chunk:
            break
        output += chunk
    os.close(leader)
    return process.wait(timeout=60), output.decode(errors="replace")


def environment(tmp_path: Path, cli: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "LITELLM_CLAUDE_CODE_CLI_PATH": str(cli),
    }


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["setup-token"], ["setup-token"]),
        (["login"], ["auth", "login"]),
        (["login", "--console"], ["auth", "login", "--console"]),
    ],
)
def test_the_flows_run_the_cli_in_the_users_terminal(tmp_path: Path, args: list[str], expected: list[str]) -> None:
    cli = stand_in_cli(tmp_path)
    status, output = run_in_a_terminal(args, environment(tmp_path, cli))
    assert status == 0, output
    assert "https://claude.ai/oauth/authorize" in output  # the CLI spoke to the user directly
    record = json.loads((tmp_path / "record.json").read_text())
    assert record == {"argv": expected, "tty": True}


def test_a_failed_flow_is_a_clear_error(tmp_path: Path) -> None:
    cli = stand_in_cli(tmp_path, exit_status=3)
    status, output = run_in_a_terminal(["setup-token"], environment(tmp_path, cli))
    assert status == 1
    assert "setup-token ended with exit status 3" in output


@pytest.mark.parametrize("args", [["setup-token"], ["login"]])
def test_without_a_terminal_the_flows_say_how_to_run_them(tmp_path: Path, args: list[str]) -> None:
    cli = stand_in_cli(tmp_path)
    done = subprocess.run(
        [*COMMAND, *args], env=environment(tmp_path, cli), stdin=subprocess.DEVNULL, capture_output=True, text=True
    )
    assert done.returncode == 1
    assert "is interactive: run it in a terminal" in done.stderr and "docker run -it" in done.stderr
    assert not (tmp_path / "record.json").exists()  # the CLI was not started at all


def test_a_missing_cli_is_named(tmp_path: Path) -> None:
    status, output = run_in_a_terminal(["setup-token"], environment(tmp_path, tmp_path / "no-such-claude"))
    assert status == 1
    assert "no-such-claude" in output


def test_login_status_shows_the_clis_own_account(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["login", "--status"],
        env={"HOME": str(tmp_path), "CLAUDE_CONFIG_DIR": str(tmp_path / "cfg"), "XDG_STATE_HOME": str(tmp_path)},
    )
    assert result.exit_code == 0, result.output
    assert "Not logged in" in result.output or "not logged in" in result.output.lower()
    # Issue 23.7: the commands this package's user has, not the CLI's; no runtime note before it.
    assert "claude auth login" not in result.output and "litellm-claude-code login" in result.output
    assert "Additional CA cert" not in result.output


def test_login_status_without_the_runtime_note_even_when_it_is_printed(tmp_path: Path) -> None:
    from litellm_claude_code._serve.sign_in import login_status

    script = tmp_path / "claude"
    script.write_text(
        "#!/bin/sh\necho 'Additional CA cert(s): /etc/ssl/x.crt' >&2\n"
        "echo 'Not logged in. Run claude auth login to authenticate.'\n"
    )
    script.chmod(0o755)
    assert login_status([str(script)]) == "Not logged in. Run litellm-claude-code login to authenticate."


@pytest.mark.parametrize("command", ["setup-token", "login"])
def test_the_help_says_what_happens_and_where_the_result_goes(command: str) -> None:
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0
    assert "browser on any machine" in result.output
    where = "CLAUDE_CODE_OAUTH_TOKEN" if command == "setup-token" else "CLAUDE_CONFIG_DIR"
    assert where in result.output
