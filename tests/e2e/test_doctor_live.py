"""`doctor --live`: one real request with the configured credential, through the real CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from fake_anthropic import FakeAnthropic, Reply
from harness import OAUTH_TOKEN, base_env

pytestmark = pytest.mark.e2e


def doctor_live(tmp_path: Path, fake: FakeAnthropic) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "litellm_claude_code", "doctor", "--live"],
        env=base_env(tmp_path, fake),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_working_credential_is_shown_working_with_its_limits(tmp_path: Path, fake: FakeAnthropic) -> None:
    fake.script(
        Reply(
            text=["ok"],
            input_tokens=9,
            output_tokens=1,
            headers={
                "anthropic-ratelimit-unified-status": "allowed",
                "anthropic-ratelimit-unified-5h-utilization": "0.82",
                "anthropic-ratelimit-unified-5h-reset": "1893456000",
                "anthropic-ratelimit-unified-representative-claim": "five_hour",
                "anthropic-ratelimit-unified-reset": "1893456000",
            },
        )
    )
    done = doctor_live(tmp_path, fake)
    assert done.returncode == 0, done.stdout + done.stderr
    line = next(line for line in done.stdout.splitlines() if "Live request" in line)
    assert line.startswith("[ok  ]") and "answered 'ok' in " in line and "(9 input, 1 output tokens)" in line
    assert "rate limit allowed, deciding window five_hour, " in line and "resets 2030-01-01 00:00 UTC" in line
    (request,) = fake.message_requests()
    assert request.headers.get("authorization") == f"Bearer {OAUTH_TOKEN}"  # the configured credential
    assert request.body["max_tokens"] == 16  # minimal
    assert OAUTH_TOKEN not in done.stdout + done.stderr


def test_a_refused_credential_fails_the_check(tmp_path: Path, fake: FakeAnthropic) -> None:
    # Every request fails: with an OAuth token the CLI retries a 401 once after a refresh attempt.
    fake.default_reply = Reply(status=401, error_message="invalid x-api-key")
    done = doctor_live(tmp_path, fake)
    assert done.returncode == 1
    line = next(line for line in done.stdout.splitlines() if "Live request" in line)
    assert line.startswith("[FAIL]") and "failed after" in line and "setup-token" in line
    assert "Live request" in done.stderr  # named among the problems to fix
    assert OAUTH_TOKEN not in done.stdout + done.stderr


def test_without_live_no_request_is_made(tmp_path: Path, fake: FakeAnthropic) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "litellm_claude_code", "doctor"],
        env=base_env(tmp_path, fake),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Live request" not in done.stdout
    assert fake.message_requests() == []
