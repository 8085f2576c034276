"""Every CLI process ends with its request, and never sees the proxy's secrets."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import psutil
import pytest
from fake_anthropic import FakeAnthropic, Reply

from conftest import CANARIES, Proxy, base_env, start_proxy, stop_process, wait_for

pytestmark = pytest.mark.e2e

HI = [{"role": "user", "content": "hi"}]


def test_no_cli_process_outlives_a_request(client: Any, proxy: Proxy) -> None:
    client.chat.completions.create(model="sonnet", messages=HI)
    assert wait_for(lambda: proxy.cli_processes() == [], timeout=2)
    for _ in client.chat.completions.create(model="sonnet", messages=HI, stream=True):
        pass
    assert wait_for(lambda: proxy.cli_processes() == [], timeout=2)


def test_client_disconnect_ends_cli_and_upstream_within_2s(proxy: Proxy, fake: FakeAnthropic) -> None:
    fake.script(Reply(text=[f" t{i}" for i in range(40)], delta_delay=0.5))
    with httpx.stream(
        "POST",
        f"{proxy.url}/v1/chat/completions",
        json={"model": "sonnet", "messages": HI, "stream": True},
        headers={"Authorization": f"Bearer {proxy.key}"},
        timeout=60,
    ) as response:
        assert response.status_code == 200
        lines = response.iter_lines()
        got = [line for _, line in zip(range(6), lines, strict=False) if line.startswith("data:")]
        assert got  # tokens were flowing
        assert proxy.cli_processes(), "the CLI should be running mid-stream"
    closed_at = time.monotonic()
    assert wait_for(lambda: proxy.cli_processes() == [], timeout=2.0), "CLI still running 2 s after disconnect"
    assert wait_for(lambda: fake.open_streams == 0, timeout=2.0 - (time.monotonic() - closed_at) + 0.5)
    assert fake.finished_streams >= 1


def test_request_timeout_is_408_and_ends_the_cli(client: Any, proxy: Proxy, fake: FakeAnthropic) -> None:
    fake.default_reply = Reply(hang=True)
    started = time.monotonic()
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="sonnet", messages=HI, extra_body={"timeout": 3})
    elapsed = time.monotonic() - started
    assert caught.value.status_code == 408
    assert 2.5 < elapsed < 10
    assert wait_for(lambda: proxy.cli_processes() == [], timeout=2)


def test_stall_after_message_start_times_out(client: Any, proxy: Proxy, fake: FakeAnthropic) -> None:
    fake.default_reply = Reply(stall_after_start=True)
    with pytest.raises(openai.APIStatusError) as caught:
        for _ in client.chat.completions.create(model="sonnet", messages=HI, stream=True, extra_body={"timeout": 3}):
            pass
    assert caught.value.status_code == 408
    assert wait_for(lambda: proxy.cli_processes() == [], timeout=2)


def test_cli_environment_holds_no_proxy_secrets(client: Any, proxy: Proxy, fake: FakeAnthropic) -> None:
    fake.script(Reply(ttfb=3.0))
    worker = threading.Thread(target=lambda: client.chat.completions.create(model="sonnet", messages=HI))
    worker.start()
    try:
        assert wait_for(lambda: bool(proxy.cli_processes()), timeout=10)
        environ = proxy.cli_processes()[0].environ()
    finally:
        worker.join(timeout=30)
    values = set(environ.values())
    for secret in [*CANARIES.values(), proxy.key]:
        assert secret not in values
    assert environ.get("LITELLM_MASTER_KEY", "") == ""
    assert environ["CLAUDE_CODE_OAUTH_TOKEN"] == proxy.env["CLAUDE_CODE_OAUTH_TOKEN"]
    assert environ["ANTHROPIC_BASE_URL"] == fake.base_url
    assert environ["BUN_IDLE_GC_SECONDS"] == "0"
    # A private HOME, one per credential: the user's own ~/.claude (settings, MCP servers) is not used.
    assert Path(environ["HOME"]).parent == proxy.tmp / "state" / "litellm-claude-code" / "home"


def test_prompt_is_verbatim_no_file_mentions_or_slash_commands(client: Any, fake: FakeAnthropic) -> None:
    client.chat.completions.create(model="sonnet", messages=[{"role": "user", "content": "/clear @/etc/passwd"}])
    [request] = fake.message_requests()
    assert request.body["messages"][0]["content"] == "/clear @/etc/passwd"
    assert "root:" not in str(request.body)


def test_client_cannot_redirect_the_cli(client: Any, fake: FakeAnthropic) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="sonnet", messages=HI, extra_body={"api_base": "http://127.0.0.1:9"})
    assert "api_base" in str(caught.value)
    assert fake.message_requests() == []


@pytest.fixture(scope="module")
def configured_proxy(fake: FakeAnthropic, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    """A proxy from `serve --config`, built from the `config` command's YAML
    plus a deployment with its own timeout and credential."""
    tmp = tmp_path_factory.mktemp("configured")
    env = base_env(tmp, fake)
    env["LITELLM_CLAUDE_CODE_POOL"] = "0"
    env["LITELLM_MASTER_KEY"] = "sk-configured-test-key-0123456789"
    snippet = subprocess.run(
        [sys.executable, "-m", "litellm_claude_code", "config"], capture_output=True, text=True, check=True, env=env
    ).stdout
    config = snippet.replace(
        "model_list:\n",
        """model_list:
  - model_name: slow
    litellm_params:
      model: claude-code/sonnet
      timeout: 2
      api_key: sk-ant-api03-deployment-key-0123456789
""",
        1,
    )
    config_path = Path(tmp) / "config.yaml"
    config_path.write_text(config)
    running = start_proxy(tmp, env, ["--config", str(config_path)])
    running.key = env["LITELLM_MASTER_KEY"]
    try:
        yield running
    finally:
        stop_process(running.process)


def test_deployment_timeout_and_api_key(configured_proxy: Proxy, fake: FakeAnthropic) -> None:
    client = openai.OpenAI(base_url=f"{configured_proxy.url}/v1", api_key=configured_proxy.key, max_retries=0)
    response = client.chat.completions.create(model="slow", messages=HI)
    assert response.choices[0].message.content
    [request] = fake.message_requests()
    # sk-ant-api... is an API key: sent as x-api-key, not as an OAuth bearer.
    assert request.headers.get("x-api-key") == "sk-ant-api03-deployment-key-0123456789"
    assert "authorization" not in request.headers

    fake.default_reply = Reply(hang=True)
    started = time.monotonic()
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="slow", messages=HI)
    assert caught.value.status_code == 408
    assert time.monotonic() - started < 8
    assert wait_for(lambda: configured_proxy.cli_processes() == [], timeout=2)


def test_config_snippet_models_work(configured_proxy: Proxy) -> None:
    client = openai.OpenAI(base_url=f"{configured_proxy.url}/v1", api_key=configured_proxy.key, max_retries=0)
    assert client.chat.completions.create(model="haiku", messages=HI).choices[0].message.content


def test_proxy_stop_leaves_no_cli_process(fake: FakeAnthropic, tmp_path_factory: pytest.TempPathFactory) -> None:
    tmp = tmp_path_factory.mktemp("stopping")
    env = base_env(tmp, fake)
    env["LITELLM_MASTER_KEY"] = "sk-stopping-test-key-0123456789"
    env["LITELLM_CLAUDE_CODE_SHUTDOWN_GRACE"] = "2"
    running = start_proxy(tmp, env)
    fake.script(Reply(text=[f" t{i}" for i in range(60)], delta_delay=0.5))
    client = openai.OpenAI(base_url=f"{running.url}/v1", api_key=env["LITELLM_MASTER_KEY"], max_retries=0)
    stream = client.chat.completions.create(model="sonnet", messages=HI, stream=True)
    next(iter(stream))
    children = running.cli_processes()
    assert children
    started = time.monotonic()
    running.process.terminate()
    try:
        running.process.wait(timeout=12)  # the stream alone would take 30 s
    finally:
        stop_process(running.process)
    assert time.monotonic() - started < 12
    _, alive = psutil.wait_procs(children, timeout=3)
    assert alive == []
