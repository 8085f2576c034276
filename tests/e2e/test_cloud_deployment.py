"""A deployment on Bedrock (or Vertex AI, Foundry): its variables reach its own CLI only.

The fake speaks the Anthropic API, not Bedrock's; the Bedrock endpoint is a
loopback socket that takes the request and never answers, so the CLI stays
up while its environment is read. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from fake_anthropic import FakeAnthropic
from harness import Proxy, running_proxy, wait_for

pytestmark = pytest.mark.e2e

KEY = "sk-cloud-deployment-test-0123456789abcdef"
BEDROCK_TOKEN = "bedrock-token-canary-5f1e"


@pytest.fixture()
def silent_endpoint() -> Iterator[str]:
    """A listening socket that never accepts: requests to it wait."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield f"http://127.0.0.1:{server.getsockname()[1]}"


@pytest.fixture()
def proxy(tmp_path: Path, fake: FakeAnthropic, silent_endpoint: str) -> Iterator[Proxy]:
    config = f"""
model_list:
  - model_name: on-bedrock
    litellm_params: {{model: claude-code/sonnet, timeout: 20}}
    model_info:
      claude_code:
        env:
          CLAUDE_CODE_USE_BEDROCK: 1
          AWS_REGION: us-east-1
          AWS_BEARER_TOKEN_BEDROCK: os.environ/BEDROCK_TOKEN
          ANTHROPIC_BEDROCK_BASE_URL: {silent_endpoint}
  - model_name: on-anthropic
    litellm_params: {{model: claude-code/sonnet}}
litellm_settings:
  num_retries: 0
  custom_provider_map:
    - {{provider: claude-code, custom_handler: litellm_claude_code.handler}}
  callbacks: [litellm_claude_code.proxy_hooks.request_validator]
router_settings: {{disable_cooldowns: true}}
general_settings: {{master_key: os.environ/LITELLM_MASTER_KEY}}
"""
    with running_proxy(tmp_path, fake, key=KEY, env={"BEDROCK_TOKEN": BEDROCK_TOKEN}, config=config) as running:
        yield running


def cli_environment_during(proxy: Proxy, model: str, started: Any) -> dict[str, str]:
    client = openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=KEY, max_retries=0, timeout=30)

    def ask() -> None:
        with contextlib.suppress(openai.APIError):  # its CLI is killed below: an error is expected
            client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])

    worker = threading.Thread(target=ask, daemon=True)
    worker.start()
    try:
        assert wait_for(started, timeout=30)
        (process,) = proxy.cli_processes()
        return dict(process.environ())
    finally:
        for process in proxy.cli_processes():
            process.kill()  # the silent endpoint would hold it to the timeout
        worker.join(timeout=60)


def test_the_bedrock_deployment_gets_its_variables(proxy: Proxy, fake: FakeAnthropic) -> None:
    environ = cli_environment_during(proxy, "on-bedrock", lambda: len(proxy.cli_processes()) == 1)
    assert environ["CLAUDE_CODE_USE_BEDROCK"] == "1" and environ["AWS_REGION"] == "us-east-1"
    assert environ["AWS_BEARER_TOKEN_BEDROCK"] == BEDROCK_TOKEN  # resolved from the proxy's environment
    assert "CLAUDE_CODE_OAUTH_TOKEN" not in environ and "ANTHROPIC_API_KEY" not in environ
    assert fake.message_requests() == []  # it went to "Bedrock", not to the Anthropic API


def test_the_other_deployment_gets_none_of_them(proxy: Proxy, fake: FakeAnthropic) -> None:
    fake.default_reply = fake.default_reply.__class__(ttfb=5.0)
    environ = cli_environment_during(proxy, "on-anthropic", lambda: len(fake.message_requests()) == 1)
    assert not {"CLAUDE_CODE_USE_BEDROCK", "AWS_REGION", "AWS_BEARER_TOKEN_BEDROCK"} & environ.keys()
    assert BEDROCK_TOKEN not in environ.values()
    assert "CLAUDE_CODE_OAUTH_TOKEN" in environ
