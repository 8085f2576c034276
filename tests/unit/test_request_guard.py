"""The proxy's request guard for claude-code models: pure checks, no proxy."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from fastapi import HTTPException

from litellm_claude_code._openai import params
from litellm_claude_code.errors import TranslationError
from litellm_claude_code.proxy_hooks import (
    SERVER_OWNED,
    check_request,
    drop_unsafe_guardrails,
    request_validator,
    server_timeout,
    timeout_limit,
)
from litellm_claude_code.settings import Settings

HI = [{"role": "user", "content": "hi"}]


def chat(**extra: Any) -> dict[str, Any]:
    return {"model": "claude-code/sonnet", "messages": HI, **extra}


def refusal(data: dict[str, Any], call_type: str = "acompletion", limit: float = 600) -> str:
    with pytest.raises(TranslationError) as caught:
        check_request(data, call_type, limit)
    return str(caught.value)


@pytest.mark.parametrize("key", sorted(SERVER_OWNED))
def test_every_server_owned_key_is_refused_by_name(key: str) -> None:
    assert f"`{key}`" in refusal(chat(**{key: 1}))


@pytest.mark.parametrize("key", ["mock_delay", "mock_timeout", "mock_testing_fallbacks", "mock_anything_new"])
def test_testing_knobs_are_refused(key: str) -> None:
    assert f"`{key}`" in refusal(chat(**{key: True}))


def test_header_sources_are_named() -> None:
    assert "x-litellm-num-retries header" in refusal(chat(num_retries=2))
    assert "x-litellm-timeout header" in refusal(chat(timeout=601))


def test_an_ordinary_request_passes() -> None:
    data = chat(
        user="u1",
        metadata={"tags": ["a"], "guardrails": ["pii-mask"], "headers": {"x": "y"}},
        stream=True,
        stream_options={"include_usage": True},
        timeout=30,
        stream_timeout="45",
        api_version="2024-06-01",  # Azure-style clients send it; it does nothing here
        litellm_call_id="id",
        proxy_server_request={"body": {}},
    )
    check_request(data, "acompletion", 600)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (601, "at most 600"),
        ("1e9", "at most 600"),
        ("abc", "positive number"),
        (0, "positive number"),
        (-5, "positive number"),
        (float("inf"), "positive number"),
        (True, "positive number"),
        ([30], "positive number"),
    ],
)
@pytest.mark.parametrize("key", ["timeout", "request_timeout", "stream_timeout"])
def test_client_timeouts_are_bounded_by_the_servers(key: str, value: Any, fragment: str) -> None:
    message = refusal(chat(**{key: value}))
    assert f"`{key}`" in message and fragment in message


def test_timeout_at_the_limit_is_accepted() -> None:
    assert params.client_timeout("`timeout`", 600, 600) == 600.0
    assert params.client_timeout("`timeout`", "12.5", 600) == 12.5


@pytest.mark.parametrize("model", ["claude-code/sonnet\n", "claude-code/a b", "claude-code/", "claude-code/\uc917"])
def test_model_names_that_cannot_be_a_header_are_refused(model: str) -> None:
    assert "`model`" in refusal(chat(model=model))


@pytest.mark.parametrize("name", ["sonnet", "claude-sonnet-4-5-20250929", "opus[1m]", "claude-opus-4-1@20250805"])
def test_claude_model_ids_pass(name: str) -> None:
    assert params.model_name(name) == name


@pytest.mark.parametrize(
    "guardrails",
    [
        {"guardrails": ["\uc917"]},
        {"metadata": {"guardrails": ["ok", "bad\n"]}},
        {"litellm_metadata": {"guardrails": [{"\uc917": {}}]}},
        {"metadata": {"guardrails": "pii"}},
    ],
)
def test_guardrail_names_that_cannot_be_a_header_are_refused(guardrails: dict[str, Any]) -> None:
    assert "`guardrails" in refusal(chat(**guardrails))


def test_unsafe_guardrail_names_are_dropped_before_the_error_response() -> None:
    data = chat(metadata={"guardrails": ["ok", "\uc917"]}, litellm_metadata={"guardrails": "x"})
    drop_unsafe_guardrails(data)
    assert data["metadata"]["guardrails"] == ["ok"]
    assert data["litellm_metadata"]["guardrails"] == []


@pytest.mark.parametrize(
    ("messages", "fragment"),
    [
        ([], "messages: at least one message is required"),
        ("hi", "messages: Input should be a valid list"),
        ([5], "messages.0: Input should be an object"),
        ([{"role": "system", "content": "x"}], "messages.0.role"),
        ([{"role": "user", "content": "x"}, {"role": "assistant"}], "messages.1.content"),
    ],
)
def test_anthropic_messages_are_checked(messages: Any, fragment: str) -> None:
    data = {"model": "claude-code/sonnet", "max_tokens": 5, "messages": messages}
    assert fragment in refusal(data, "anthropic_messages")


def test_anthropic_messages_pass_and_missing_ones_are_left_to_litellm() -> None:
    blocks = [{"type": "text", "text": "hi"}]
    check_request({"model": "sonnet", "messages": [{"role": "user", "content": blocks}]}, "anthropic_messages", 600)
    check_request({"model": "sonnet"}, "anthropic_messages", 600)


@pytest.mark.parametrize(("value", "fragment"), [(5, "`input`"), ([], "at least one"), (["hi"], "`input[0]`")])
def test_responses_input_is_checked(value: Any, fragment: str) -> None:
    assert fragment in refusal({"model": "claude-code/sonnet", "input": value}, "aresponses")


def test_chat_messages_use_the_providers_translation() -> None:
    assert "messages[0]" in refusal(chat(messages=[{"role": "user", "content": 5}]))


def test_hook_answers_400_and_leaves_other_providers_alone() -> None:
    async def hook(data: dict[str, Any], call_type: str = "acompletion") -> dict[str, Any]:
        result: dict[str, Any] = await request_validator.async_pre_call_hook(None, None, data, call_type)
        return result

    other = {"model": "gpt-4o", "messages": HI, "num_retries": 3}
    assert asyncio.run(hook(other)) is other
    with pytest.raises(HTTPException) as caught:
        asyncio.run(hook(chat(fallbacks=["opus"]), "aresponses"))
    assert caught.value.status_code == 400
    assert "`fallbacks`" in str(caught.value.detail)


def test_timeout_limit_is_the_setting_the_provider_was_handed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """`serve` reads the settings once and hands them to the provider; the hook reads no environment."""
    import litellm_claude_code
    from litellm_claude_code.provider import ClaudeCodeLLM

    provider = ClaudeCodeLLM()
    provider.settings = Settings(state_dir=tmp_path, timeout=120)
    monkeypatch.setattr(litellm_claude_code, "_handler", provider)
    monkeypatch.setenv("LITELLM_CLAUDE_CODE_TIMEOUT", "999")  # not read again
    assert server_timeout() == 120
    assert timeout_limit("claude-code/sonnet", server_timeout()) == 120


def test_timeout_limit_falls_back_when_the_environment_is_wrong(monkeypatch: pytest.MonkeyPatch) -> None:
    import litellm_claude_code
    from litellm_claude_code.provider import ClaudeCodeLLM

    monkeypatch.setattr(litellm_claude_code, "_handler", ClaudeCodeLLM())
    monkeypatch.setenv("LITELLM_CLAUDE_CODE_TIMEOUT", "not a number")
    assert server_timeout() == 600
