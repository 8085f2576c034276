"""A warm process reused for another conversation sends what a fresh process sends.

Before a process serves a new conversation, the one it held is rewound away
(the CLI's own ``rewind_conversation``): whatever its shape (one turn, several,
a tool loop, a history resumed at start), nothing of it reaches the upstream
again, not even a trace of the reset. Where the CLI refuses the rewind, the
process is cleared with ``/clear`` instead (its record then stays).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from fake_anthropic import FakeAnthropic, Recorded, Reply
from harness import openai_client
from test_metrics import get, samples
from test_tool_loop import WEATHER, calls, echo, non_system, results

from conftest import Proxy, running_proxy
from litellm_claude_code._claude.environment import cli_environment
from litellm_claude_code._claude.options import LaunchSpec
from litellm_claude_code._claude.process import Deadline
from litellm_claude_code._claude.session import CLISession
from litellm_claude_code._claude.types import Credentials
from litellm_claude_code._shapes import Conversation

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def reusing(fake: FakeAnthropic, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    """Pool on, one process at most and no spares: every request after the first reuses it."""
    pool = {"POOL": "1", "MAX_PROCESSES": "1", "SPARES": "0"}
    env = {f"LITELLM_CLAUDE_CODE_{name}": value for name, value in pool.items()}
    with running_proxy(tmp_path_factory.mktemp("reuse"), fake, key="sk-reuse-test-key-0123456789", env=env) as proxy:
        yield proxy


@pytest.fixture()
def client(reusing: Proxy) -> openai.OpenAI:
    return openai_client(reusing)


def system() -> dict[str, str]:
    return {"role": "system", "content": f"Reuse {uuid.uuid4().hex}"}


def resets(proxy: Proxy) -> dict[str, float]:
    found = samples(proxy)
    return {outcome: get(found, "conversation_resets_total", outcome=outcome) for outcome in ("rewound", "cleared")}


def assert_fresh(request: Recorded, text: str) -> None:
    """The request a fresh process sends for one user message: nothing before it."""
    assert non_system(request) == [{"role": "user", "content": text}]
    assert "local-command" not in json.dumps(request.body["messages"])


def new_conversation_on_the_same_process(
    client: Any, proxy: Proxy, fake: FakeAnthropic, prompt: dict[str, str], **request: Any
) -> None:
    """Another conversation, same key: the process that held the last one serves it, rewound."""
    [serving] = proxy.cli_processes()
    before = resets(proxy)
    fake.script(Reply(text=["Fresh."]))
    messages = [prompt, {"role": "user", "content": "New topic."}]
    answer = client.chat.completions.create(model="sonnet", messages=messages, **request)
    assert answer.choices[0].message.content == "Fresh."
    assert [p.pid for p in proxy.cli_processes()] == [serving.pid]
    assert_fresh(fake.message_requests()[-1], "New topic.")
    after = resets(proxy)
    assert (after["rewound"] - before["rewound"], after["cleared"] - before["cleared"]) == (1, 0)


def test_after_a_conversation_of_several_turns(client: Any, reusing: Proxy, fake: FakeAnthropic) -> None:
    prompt = system()
    messages: list[dict[str, Any]] = [prompt, {"role": "user", "content": "My name is Ada."}]
    for turn in range(3):
        fake.script(Reply(text=[f"Noted {turn}."]))
        reply = client.chat.completions.create(model="sonnet", messages=messages).choices[0].message.content
        messages += [{"role": "assistant", "content": reply}, {"role": "user", "content": f"And {turn}?"}]
    assert len({r.headers["x-claude-code-session-id"] for r in fake.message_requests()}) == 1  # one process throughout
    new_conversation_on_the_same_process(client, reusing, fake, prompt)


def test_after_a_tool_loop(client: Any, reusing: Proxy, fake: FakeAnthropic) -> None:
    prompt = system()
    messages: list[dict[str, Any]] = [prompt, {"role": "user", "content": "Weather in Oslo?"}]
    fake.script(calls("Oslo"), Reply(text=["Oslo: 3 C."]))
    first = client.chat.completions.create(model="sonnet", messages=messages, tools=[WEATHER])
    messages += [echo(first.choices[0].message), *results(first.choices[0].message, Oslo="3 C")]
    final = client.chat.completions.create(model="sonnet", messages=messages, tools=[WEATHER])
    assert final.choices[0].message.content == "Oslo: 3 C."
    new_conversation_on_the_same_process(client, reusing, fake, prompt, tools=[WEATHER])


def test_after_a_history_resumed_at_start(client: Any, reusing: Proxy, fake: FakeAnthropic) -> None:
    prompt = system()
    history = [
        prompt,
        {"role": "user", "content": "Earlier question."},
        {"role": "assistant", "content": "Earlier answer."},
        {"role": "user", "content": "Now this."},
    ]
    fake.script(Reply(text=["Resumed."]))
    assert client.chat.completions.create(model="sonnet", messages=history).choices[0].message.content == "Resumed."
    new_conversation_on_the_same_process(client, reusing, fake, prompt)


async def test_where_the_cli_refuses_the_rewind_the_process_is_cleared(fake: FakeAnthropic, tmp_path: Path) -> None:
    """A real CLI asked to rewind to a message it never had refuses; ``/clear`` then starts a new
    session, and its record is all that reaches the upstream of the old conversation."""
    home, cwd = tmp_path / "home", tmp_path / "cwd"
    home.mkdir()
    cwd.mkdir()
    env = cli_environment(
        Credentials(kind="api_key", env={"ANTHROPIC_API_KEY": "sk-ant-fake-reuse"}),
        home=home,
        max_retries=0,
        base_url=fake.base_url,
    )
    spec = LaunchSpec(model="claude-sonnet-4-5", system_prompt="Reuse.", env=env, cwd=str(cwd))
    session = CLISession(spec, Conversation("Reuse.", (), ()), scratch_root=tmp_path)
    await session.start(timeout=60)
    try:

        async def ask(text: str) -> None:
            async for _ in session.turn([{"type": "text", "text": text}], Deadline.after(60)):
                pass

        await ask("Old secret.")
        session._opened = str(uuid.uuid4())  # the fault: a target the CLI does not know
        assert await session.reset(Deadline.after(30)) == "cleared"
        await ask("New topic.")
        old, new = fake.message_requests()
        assert new.headers["x-claude-code-session-id"] != old.headers["x-claude-code-session-id"]
        text = json.dumps(new.body["messages"])
        assert "Old secret" not in text and "<command-name>/clear</command-name>" in text
        assert await session.reset(Deadline.after(30)) == "rewound"  # the next reset rewinds again
    finally:
        await session.close()
