"""`doctor --live`: one real request with the configured credential, through the real CLI."""

from __future__ import annotations

import subprocess
import sys
import time
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
    reset = (int(time.time()) // 60 + 60) * 60  # within the 5-hour window, on a whole minute
    fake.script(
        Reply(
            text=["ok"],
            input_tokens=9,
            output_tokens=1,
            headers={
                "anthropic-ratelimit-unified-status": "allowed_warning",
                "anthropic-ratelimit-unified-reset": str(reset),
                "anthropic-ratelimit-unified-representative-claim": "five_hour",
                "anthropic-ratelimit-unified-5h-status": "allowed_warning",
                "anthropic-ratelimit-unified-5h-utilization": "0.82",
                "anthropic-ratelimit-unified-5h-reset": str(reset),
                "anthropic-ratelimit-unified-5h-surpassed-threshold": "0.8",
                "anthropic-ratelimit-unified-7d-status": "allowed",
                "anthropic-ratelimit-unified-7d-utilization": "0.3",
                "anthropic-ratelimit-unified-7d-reset": str(reset + 2 * 86400),
            },
        )
    )
    done = doctor_live(tmp_path, fake)
    assert done.returncode == 0, done.stdout + done.stderr
    line = next(line for line in done.stdout.splitlines() if "Live request" in line)
    assert line.startswith("[ok  ]") and "answered 'ok' in " in line and "(9 input, 1 output tokens)" in line
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(reset))
    assert f"rate limit allowed_warning, deciding window five_hour, 5h 82% used, 7d 30% used, resets {when}" in line
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
