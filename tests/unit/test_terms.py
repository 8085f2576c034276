"""Anthropic's terms on a proxy config (issue 26.1): what doctor and serve warn about."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from litellm_claude_code._serve.terms import sharing_warnings

TOKEN_A, TOKEN_B = "sk-ant-oat01-owner-a-0123456789", "sk-ant-oat01-owner-b-0123456789"
KEY_A, KEY_B = "sk-ant-api03-team-a-0123456789", "sk-ant-api03-team-b-0123456789"


def deployment(name: str, api_key: str | None = None, **info: object) -> dict[str, object]:
    params: dict[str, object] = {"model": "claude-code/sonnet"}
    if api_key is not None:
        params["api_key"] = api_key
    return {"model_name": name, "litellm_params": params, "model_info": info}


def test_one_subscription_for_several_models_on_loopback_is_fine() -> None:
    models = [deployment("sonnet"), deployment("opus"), deployment("haiku")]
    assert sharing_warnings(models, {"CLAUDE_CODE_OAUTH_TOKEN": TOKEN_A}, "127.0.0.1") == []


def test_pooled_subscriptions_are_warned_about() -> None:
    models = [deployment("sonnet", "os.environ/A"), deployment("sonnet", "os.environ/B")]
    [warning] = sharing_warnings(models, {"A": TOKEN_A, "B": TOKEN_B}, "127.0.0.1")
    assert warning.startswith("model `sonnet` pools 2 subscriptions") and "--example team" in warning
    assert TOKEN_A not in warning and TOKEN_B not in warning


def test_one_subscription_repeated_in_a_group_is_warned_about() -> None:
    [warning] = sharing_warnings([deployment("sonnet", TOKEN_A), deployment("sonnet", TOKEN_A)], {}, "localhost")
    assert warning.startswith("model `sonnet` repeats one subscription in 2 deployments")


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "::"])
def test_a_subscription_served_beyond_loopback_is_warned_about(host: str) -> None:
    [warning] = sharing_warnings([deployment("sonnet")], {"CLAUDE_CODE_OAUTH_TOKEN": TOKEN_A}, host)
    assert warning.startswith(f"serve listens on {host} with a subscription credential")


def test_api_keys_and_clouds_may_serve_anyone() -> None:
    cloud = deployment("sonnet", claude_code={"env": {"CLAUDE_CODE_USE_BEDROCK": 1, "AWS_REGION": "us-east-1"}})
    models = [deployment("sonnet", KEY_A), deployment("sonnet", KEY_B), cloud]
    assert sharing_warnings(models, {}, "0.0.0.0") == []
    assert sharing_warnings([deployment("sonnet")], {"ANTHROPIC_API_KEY": KEY_A}, "0.0.0.0") == []


def test_doctor_warns_for_both_shapes(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "HOME": str(tmp_path),
        "XDG_STATE_HOME": str(tmp_path / "s"),
        "CLAUDE_CODE_OAUTH_TOKEN": TOKEN_A,
    }
    env.update(TOKEN_A=TOKEN_A, TOKEN_B=TOKEN_B)
    config = tmp_path / "pooled.yaml"
    config.write_text(
        "model_list:\n"
        "  - {model_name: sonnet, litellm_params: {model: claude-code/sonnet, api_key: os.environ/TOKEN_A}}\n"
        "  - {model_name: sonnet, litellm_params: {model: claude-code/sonnet, api_key: os.environ/TOKEN_B}}\n"
    )
    doctor = [sys.executable, "-m", "litellm_claude_code", "doctor"]
    pooled = subprocess.run([*doctor, "--config", str(config)], env=env, capture_output=True, text=True, timeout=120)
    assert "[warn] Terms: model `sonnet` pools 2 subscriptions" in pooled.stdout, pooled.stdout
    wide = subprocess.run([*doctor, "--host", "0.0.0.0"], env=env, capture_output=True, text=True, timeout=120)
    assert "[warn] Terms: serve listens on 0.0.0.0 with a subscription credential" in wide.stdout
    plain = subprocess.run(doctor, env=env, capture_output=True, text=True, timeout=120)
    assert "[ok  ] Terms: no subscription is pooled, repeated or served beyond loopback" in plain.stdout
    assert TOKEN_A not in pooled.stdout + wide.stdout and TOKEN_B not in pooled.stdout
