"""`litellm.completion` in-process after `register()`: real SDK and CLI, no proxy."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import litellm
import psutil
import pytest
from fake_anthropic import FakeAnthropic, Reply
from harness import cli_children

import litellm_claude_code
from conftest import OAUTH_TOKEN, wait_for
from litellm_claude_code import ClaudeCodeLLM, Settings

pytestmark = pytest.mark.e2e

HI = [{"role": "user", "content": "hi"}]


def running_cli() -> list[psutil.Process]:
    """This test process's CLI children that have not exited."""
    return cli_children(os.getpid())


@pytest.fixture()
def provider(fake: FakeAnthropic, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ClaudeCodeLLM]:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.base_url)
    monkeypatch.setenv("CLAUDE_CODE_OAUTH_TOKEN", OAUTH_TOKEN)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.setenv("LITELLM_CLAUDE_CODE_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("LITELLM_CLAUDE_CODE_CLI_MAX_RETRIES", "0")
    handler = ClaudeCodeLLM()
    litellm_claude_code.register(handler)
    yield handler
    handler.shutdown()
    litellm_claude_code.register()


def test_register_is_idempotent(provider: ClaudeCodeLLM) -> None:
    litellm_claude_code.register(provider)
    entries = [e for e in litellm.custom_provider_map if e["provider"] == "claude-code"]
    assert len(entries) == 1 and entries[0]["custom_handler"] is provider


def test_sync_completion(provider: ClaudeCodeLLM, fake: FakeAnthropic) -> None:
    fake.script(Reply(text=["sync", " ok"], input_tokens=5, output_tokens=2))
    response = litellm.completion(model="claude-code/sonnet", messages=HI)
    assert response.choices[0].message.content == "sync ok"
    assert response.usage.prompt_tokens == 5 and response.usage.completion_tokens == 2
    assert len(fake.message_requests()) == 1


def test_sync_streaming(provider: ClaudeCodeLLM, fake: FakeAnthropic) -> None:
    fake.script(Reply(text=["a", "b", "c"]))
    chunks = list(litellm.completion(model="claude-code/haiku", messages=HI, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "abc"


async def test_async_completion_and_streaming(provider: ClaudeCodeLLM, fake: FakeAnthropic) -> None:
    fake.script(Reply(text=["async"]), Reply(text=["x", "y"]))
    response = await litellm.acompletion(model="claude-code/sonnet", messages=HI)
    assert response.choices[0].message.content == "async"
    stream = await litellm.acompletion(model="claude-code/sonnet", messages=HI, stream=True)
    text = "".join([c.choices[0].delta.content or "" async for c in stream])
    assert text == "xy"


def test_upstream_error_raises_litellm_exception(provider: ClaudeCodeLLM, fake: FakeAnthropic) -> None:
    fake.default_reply = Reply(status=401)
    with pytest.raises(litellm.AuthenticationError) as caught:
        litellm.completion(model="claude-code/sonnet", messages=HI)
    assert "litellm-claude-code setup-token" in str(caught.value)


def test_missing_cli_names_what_to_install(
    fake: FakeAnthropic, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLAUDE_CODE_OAUTH_TOKEN", OAUTH_TOKEN)
    handler = ClaudeCodeLLM(
        Settings(state_dir=tmp_path, cli_path=str(tmp_path / "no-such-claude"), base_url=fake.base_url)
    )
    litellm_claude_code.register(handler)
    try:
        with pytest.raises(litellm.InternalServerError) as caught:
            litellm.completion(model="claude-code/sonnet", messages=HI)
    finally:
        litellm_claude_code.register()
    assert "claude-agent-sdk" in str(caught.value)
    assert fake.message_requests() == []


def test_cli_crash_mid_request_is_an_error_and_the_next_request_works(
    provider: ClaudeCodeLLM, fake: FakeAnthropic
) -> None:
    fake.script(Reply(text=["never"], ttfb=5.0))
    import threading

    errors: list[BaseException] = []

    def call() -> None:
        try:
            litellm.completion(model="claude-code/sonnet", messages=HI)
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=call)
    worker.start()

    # Kill it once its request is on the wire, mid-answer.
    assert wait_for(lambda: len(fake.message_requests()) == 1, timeout=10)
    for process in running_cli():
        process.kill()
    worker.join(timeout=30)
    assert len(errors) == 1
    assert isinstance(errors[0], litellm.APIError) and errors[0].status_code == 502  # the CLI, our upstream, failed
    assert "Claude Code" in str(errors[0])
    fake.script(Reply(text=["recovered"]))
    assert litellm.completion(model="claude-code/sonnet", messages=HI).choices[0].message.content == "recovered"


async def test_reasoning_effort_reaches_upstream_after_register(provider: ClaudeCodeLLM, fake: FakeAnthropic) -> None:
    await litellm.acompletion(model="claude-code/sonnet", messages=HI, reasoning_effort="high")
    (request,) = fake.message_requests()
    assert request.body["output_config"]["effort"] == "high"


def test_making_a_provider_adds_no_litellm_callback(fake: FakeAnthropic) -> None:
    before = list(litellm.callbacks)
    ClaudeCodeLLM().shutdown()
    assert litellm.callbacks == before


async def test_a_provider_used_as_a_context_manager_ends_its_warm_processes(
    fake: FakeAnthropic, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLAUDE_CODE_OAUTH_TOKEN", OAUTH_TOKEN)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with ClaudeCodeLLM(Settings(state_dir=tmp_path / "state", base_url=fake.base_url, cli_max_retries=0)) as handler:
        litellm_claude_code.register(handler)
        try:
            await litellm.acompletion(model="claude-code/sonnet", messages=HI)
            assert running_cli()  # the pool keeps the process warm
        finally:
            litellm_claude_code.register()
    assert wait_for(lambda: not running_cli(), timeout=10)


def test_asyncio_run_ends_the_warm_processes_with_its_loop(provider: ClaudeCodeLLM, fake: FakeAnthropic) -> None:
    """The pool lives on the loop of its requests; ``asyncio.run`` ending that loop ends its processes,
    the one kept warm and the spare started after the answer, before it returns."""

    async def ask() -> None:
        await litellm.acompletion(model="claude-code/sonnet", messages=HI)
        assert running_cli()  # kept warm

    asyncio.run(ask())
    assert running_cli() == []
