"""The sidecar deployment: an unmodified LiteLLM proxy, in a venv of its own
without this package, routes ``claude-*`` models to our proxy as an
OpenAI-compatible upstream, with the config the compose ``sidecar`` profile
ships (docker/sidecar-litellm.yaml).

The chain under test: openai client -> plain LiteLLM -> `litellm-claude-code
serve` -> SDK -> CLI -> fake Anthropic API.
"""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from fake_anthropic import FakeAnthropic, Recorded, Reply, ToolUse
from functions import WEATHER
from harness import free_port, stop_process, wait_healthy
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from test_chat import conversation_turns

from conftest import Proxy, running_proxy

pytestmark = pytest.mark.e2e

CONFIG = Path(__file__).parents[2] / "docker" / "sidecar-litellm.yaml"
OURS_KEY = "sk-sidecar-ours-0123456789"
FRONT_KEY = "sk-sidecar-front-0123456789"
MODEL = "claude-sonnet-4-5"
RUN_LITELLM = "import sys; from litellm.proxy.proxy_cli import run_server; sys.argv[0] = 'litellm'; run_server()"


def litellm_proxy_pins() -> list[str]:
    """``name==version`` of LiteLLM with the proxy's dependencies (the ones this
    package's ``[proxy]`` extra names, plus ``mcp`` from LiteLLM's own extra) and
    everything they need, as installed here (so from the hashed lock): neither
    this package nor the Claude Agent SDK."""
    proxy_extra = [
        Requirement(line)
        for line in importlib.metadata.requires("litellm-claude-code") or []
        if Requirement(line).marker is not None
        and Requirement(line).marker.evaluate({"extra": "proxy"})  # type: ignore[union-attr]
        and not Requirement(line).marker.evaluate({"extra": ""})  # type: ignore[union-attr]
    ]
    versions: dict[str, str] = {}
    seen: set[tuple[str, frozenset[str]]] = set()
    todo = [("litellm", frozenset[str]()), ("mcp", frozenset())]
    todo += [(req.name, frozenset(req.extras)) for req in proxy_extra]
    while todo:
        name, extras = todo.pop()
        if (canonicalize_name(name), extras) in seen:
            continue
        seen.add((canonicalize_name(name), extras))
        dist = importlib.metadata.distribution(name)
        versions[canonicalize_name(name)] = dist.version
        for line in dist.requires or []:
            req = Requirement(line)
            markers = [{"extra": extra} for extra in extras] or [{"extra": ""}]
            if req.marker is None or any(req.marker.evaluate(m) for m in markers):
                todo.append((req.name, frozenset(req.extras)))
    assert not {"litellm-claude-code", "claude-agent-sdk"} & versions.keys()
    return [f"{name}=={version}" for name, version in sorted(versions.items())]


def link_distributions(pins: list[str], site: Path) -> None:
    """Link each pinned distribution's files, as installed here (from the hashed lock), into
    ``site``: a venv holding exactly them, made offline (no index, no download)."""
    for pin in pins:
        dist = importlib.metadata.distribution(pin.split("==")[0])
        for top in sorted({file.parts[0] for file in dist.files or []} - {"..", "__pycache__"}):
            target = site / top
            if not target.exists():
                target.symlink_to(Path(str(dist.locate_file(top))))


@pytest.fixture(scope="module")
def plain_litellm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding only LiteLLM and its proxy's dependencies: its bin directory."""
    venv = tmp_path_factory.mktemp("plain-litellm") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    [site] = (venv / "lib").glob("python*/site-packages")
    link_distributions(litellm_proxy_pins(), site)
    return venv / "bin"


@pytest.fixture(scope="module")
def ours(fake: FakeAnthropic, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    """Our proxy with its default config, as the compose service runs it."""
    with running_proxy(tmp_path_factory.mktemp("sidecar-ours"), fake, key=OURS_KEY) as proxy:
        yield proxy


@pytest.fixture(scope="module")
def front(plain_litellm: Path, ours: Proxy, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The plain LiteLLM proxy started with the shipped sidecar config: its URL."""
    tmp = tmp_path_factory.mktemp("sidecar-front")
    port = free_port()
    env = {
        "PATH": f"{plain_litellm}:/usr/bin:/bin",
        "HOME": str(tmp),
        "TMPDIR": str(tmp),
        "LANG": "C.UTF-8",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_MASTER_KEY": FRONT_KEY,
        "CLAUDE_CODE_API_BASE": f"{ours.url}/v1",
        "CLAUDE_CODE_API_KEY": ours.key,
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    log = tmp / "front.log"
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [
                str(plain_litellm / "python"),
                "-c",
                RUN_LITELLM,
                "--config",
                str(CONFIG),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env=env,
            cwd=tmp,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process, log)
        yield url
    finally:
        stop_process(process)


@pytest.fixture()
def client(front: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{front}/v1", api_key=FRONT_KEY, max_retries=0, timeout=60)


def offered_tools(request: Recorded) -> set[str]:
    return {tool["name"] for tool in request.body.get("tools", []) if not tool.get("defer_loading")}


def tool_results(request: Recorded) -> list[tuple[str, str]]:
    """(tool_use_id, text) of every tool result the upstream received."""
    found = []
    for message in request.body["messages"]:
        for block in message["content"] if isinstance(message["content"], list) else []:
            if block.get("type") == "tool_result":
                content = block["content"]
                text = content if isinstance(content, str) else "".join(part.get("text", "") for part in content)
                found.append((block["tool_use_id"], text))
    return found


def test_the_front_venv_has_litellm_and_not_this_package(plain_litellm: Path) -> None:
    probe = (
        "import importlib.util, importlib.metadata, json;"
        "print(json.dumps({name: importlib.util.find_spec(name) is not None"
        " for name in ('litellm_claude_code', 'claude_agent_sdk', 'litellm')}"
        " | {'version': importlib.metadata.version('litellm')}))"
    )
    done = subprocess.run([str(plain_litellm / "python"), "-c", probe], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == {
        "litellm_claude_code": False,
        "claude_agent_sdk": False,
        "litellm": True,
        "version": importlib.metadata.version("litellm"),
    }


def test_chat_through_the_front_reaches_claude_code(client: openai.OpenAI, fake: FakeAnthropic) -> None:
    fake.script(Reply(text=["Hello", " through", " two proxies."], input_tokens=13, output_tokens=5))
    response = client.chat.completions.create(
        model=MODEL,
        messages=[
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Say hello."},
        ],
    )
    assert response.choices[0].message.content == "Hello through two proxies."
    assert response.choices[0].finish_reason == "stop"
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (13, 5)
    [request] = fake.message_requests()
    assert request.body["model"] == MODEL  # claude-* went through as the Claude model
    [(role, text)] = conversation_turns(request.body)
    assert (role, text.endswith("Say hello.")) == ("user", True)  # after the CLI's environment note
    assert any("You are terse." in block["text"] for block in request.body["system"])


def test_streaming_through_the_front_sends_deltas_and_done(front: str, fake: FakeAnthropic) -> None:
    fake.script(Reply(text=["One", " two", " three", " four."]))
    body = {"model": MODEL, "stream": True, "messages": [{"role": "user", "content": "Count."}]}
    headers = {"Authorization": f"Bearer {FRONT_KEY}"}
    with httpx.stream("POST", f"{front}/v1/chat/completions", json=body, headers=headers, timeout=60) as response:
        assert response.status_code == 200
        events = [line.removeprefix("data: ") for line in response.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(event) for event in events[:-1]]
    pieces = [c["choices"][0]["delta"].get("content") for c in chunks if c["choices"]]
    assert len([p for p in pieces if p]) >= 2  # token deltas, not one whole message
    assert "".join(p for p in pieces if p) == "One two three four."
    assert [c["choices"][0].get("finish_reason") for c in chunks if c["choices"]][-1] == "stop"
    [request] = fake.message_requests()
    assert request.body["model"] == MODEL
    [(role, text)] = conversation_turns(request.body)
    assert (role, text.endswith("Count.")) == ("user", True)


def test_openai_client_streams_through_the_front(client: openai.OpenAI, fake: FakeAnthropic) -> None:
    fake.script(Reply(text=["Streamed", " by", " the", " sidecar."]))
    stream = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Stream."}], stream=True)
    pieces = [c.choices[0].delta.content for c in stream if c.choices and c.choices[0].delta.content]
    assert len(pieces) >= 2
    assert "".join(pieces) == "Streamed by the sidecar."


def test_a_tool_loop_round_trips_through_the_front(client: openai.OpenAI, fake: FakeAnthropic) -> None:
    fake.script(
        Reply(
            text=["Checking."],
            tool_uses=[ToolUse("mcp__client__get_weather", {"city": "Paris"}, id="toolu_sidecar_paris")],
            stop_reason="tool_use",
        ),
        Reply(text=["Paris: 18 C."]),
    )
    messages: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
    first = client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER])
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    [call] = choice.message.tool_calls or []
    assert (call.id, call.function.name, json.loads(call.function.arguments)) == (
        "toolu_sidecar_paris",
        "get_weather",
        {"city": "Paris"},
    )
    messages += [
        choice.message.model_dump(include={"role", "content", "tool_calls"}),
        {"role": "tool", "tool_call_id": call.id, "content": "18 C, sunny"},
    ]
    second = client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER])
    assert second.choices[0].message.content == "Paris: 18 C."
    assert second.choices[0].finish_reason == "stop"

    step1, step2 = fake.message_requests()
    assert offered_tools(step1) == {"mcp__client__get_weather"}
    assert step2.body["model"] == MODEL
    [(call_id, result)] = tool_results(step2)
    assert (call_id, result.startswith("18 C, sunny")) == ("toolu_sidecar_paris", True)  # the CLI appends a note


def test_a_model_the_front_does_not_route_is_a_400_from_the_front(client: openai.OpenAI, fake: FakeAnthropic) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hi"}])
    assert "gpt-4o" in str(caught.value)
    assert fake.message_requests() == []


def test_an_upstream_error_does_not_take_the_route_down(client: openai.OpenAI, fake: FakeAnthropic) -> None:
    """A 429 from Claude reaches the client as 429, and the next request is answered
    (LiteLLM's default cooldown would answer it with 429 "no deployments available")."""
    fake.script(Reply(status=429, error_message="slow down"), Reply(text=["Back again."]))
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "One."}])
    response = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Two."}])
    assert response.choices[0].message.content == "Back again."
    assert len(fake.message_requests()) == 2
