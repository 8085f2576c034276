"""The directory the CLI runs in, and names to the model (issue 22.4).

The CLI's environment note tells the model its "Primary working directory".
By default that is this proxy's own empty workspace; an operator can set the
directory an agent really works in, server-wide (``LITELLM_CLAUDE_CODE_WORKDIR``)
or per deployment (``model_info.claude_code.workdir``). The tests read the
note where the model reads it: in what the fake upstream received.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from fake_anthropic import FakeAnthropic, Recorded, Reply
from harness import Proxy, base_env, running_proxy

pytestmark = pytest.mark.e2e

KEY = "sk-workdir-test-key-0123456789"
NOTE = re.compile(r"Primary working directory: ([^\n\\]+)")


def named_directory(request: Recorded) -> str:
    """The working directory the CLI's environment note names in one upstream request."""
    found = NOTE.findall(json.dumps(request.body, ensure_ascii=False))
    assert len(found) == 1, found
    return str(found[0])


def config(project: Path, missing: Path) -> str:
    return f"""
model_list:
  - model_name: sonnet
    litellm_params: {{model: claude-code/sonnet}}
  - model_name: in-project
    litellm_params: {{model: claude-code/sonnet}}
    model_info: {{claude_code: {{workdir: "{project}"}}}}
  - model_name: misconfigured
    litellm_params: {{model: claude-code/sonnet}}
    model_info: {{claude_code: {{workdir: "{missing}"}}}}
litellm_settings:
  num_retries: 0
  custom_provider_map: [{{provider: claude-code, custom_handler: litellm_claude_code.handler}}]
  callbacks: [litellm_claude_code.proxy_hooks.request_validator]
router_settings: {{disable_cooldowns: true}}
general_settings: {{master_key: os.environ/LITELLM_MASTER_KEY}}
"""


@pytest.fixture(scope="module")
def dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("workdir")
    found = {"tmp": root / "proxy", "project": root / "agent-project", "shared": root / "team-checkout"}
    for path in found.values():
        path.mkdir()
    return found


@pytest.fixture(scope="module")
def proxy(dirs: dict[str, Path], fake: FakeAnthropic) -> Iterator[Proxy]:
    env = {"LITELLM_CLAUDE_CODE_WORKDIR": str(dirs["shared"])}
    text = config(dirs["project"], dirs["tmp"] / "not-there")
    with running_proxy(dirs["tmp"], fake, key=KEY, env=env, config=text) as running:
        yield running


def client(proxy: Proxy) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=KEY, max_retries=0, timeout=60)


def test_a_deployments_workdir_is_what_the_model_is_told(
    proxy: Proxy, fake: FakeAnthropic, dirs: dict[str, Path]
) -> None:
    fake.reset()
    fake.script(Reply(text="in the project"), Reply(text="on the team checkout"))
    own = client(proxy).chat.completions.create(model="in-project", messages=[{"role": "user", "content": "where?"}])
    shared = client(proxy).chat.completions.create(model="sonnet", messages=[{"role": "user", "content": "where?"}])
    assert (own.choices[0].message.content, shared.choices[0].message.content) == (
        "in the project",
        "on the team checkout",
    )
    first, second = fake.message_requests()
    assert named_directory(first) == str(dirs["project"])
    assert named_directory(second) == str(dirs["shared"])  # the server-wide setting, under the deployment's
    assert "litellm-claude-code" not in json.dumps([first.body, second.body])  # no path of the proxy's own


def test_a_resumed_history_runs_in_the_deployments_workdir(
    proxy: Proxy, fake: FakeAnthropic, dirs: dict[str, Path]
) -> None:
    """The CLI finds the history it resumes under its working directory's project key."""
    fake.reset()
    fake.script(Reply(text="third answer"))
    history = [
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "first answer"},
        {"role": "user", "content": "second question"},
    ]
    answer = client(proxy).chat.completions.create(model="in-project", messages=history)
    assert answer.choices[0].message.content == "third answer"
    (request,) = fake.message_requests()
    assert named_directory(request) == str(dirs["project"])
    sent = json.dumps(request.body["messages"])
    assert all(text in sent for text in ("first question", "first answer", "second question"))
    assert list(dirs["project"].iterdir()) == []  # nothing written in the agent's directory


def test_a_missing_workdir_is_a_400_naming_the_setting(proxy: Proxy, fake: FakeAnthropic) -> None:
    fake.reset()
    with pytest.raises(openai.BadRequestError) as caught:
        client(proxy).chat.completions.create(model="misconfigured", messages=[{"role": "user", "content": "hi"}])
    assert "model_info.claude_code.workdir must be an existing directory" in str(caught.value)
    assert fake.message_requests() == []


def test_serve_refuses_a_server_wide_workdir_that_is_not_there(tmp_path: Path, fake: FakeAnthropic) -> None:
    env = base_env(tmp_path, fake) | {"LITELLM_CLAUDE_CODE_WORKDIR": "relative/dir"}
    done = subprocess.run(
        [sys.executable, "-m", "litellm_claude_code", "serve", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "LITELLM_CLAUDE_CODE_WORKDIR must be an absolute path, got 'relative/dir'" in done.stderr
