"""Every tool an agent sends reaches the model or gets a 400 naming it (issue 22.1, 22.2),
through the real proxy: Codex's request shapes on `/v1/responses` with the official
`openai` client, and Anthropic server tools on `/v1/messages`.

Before: `web_search_preview`, `file_search`, `image_generation` and `local_shell` on
`/v1/responses`, and `web_search_20250305` on `/v1/messages`, were dropped silently (200).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from fake_anthropic import FakeAnthropic, Reply, ToolUse
from harness import openai_client

from conftest import Proxy, running_proxy

pytestmark = pytest.mark.e2e

# Codex's file-editing tool: a custom (freeform) tool with a lark grammar.
GRAMMAR = (
    'start: begin_patch hunk+ end_patch\nbegin_patch: "*** Begin Patch" LF\nend_patch: "*** End Patch" LF?\n'
    'hunk: add_hunk\nadd_hunk: "*** Add File: " filename LF add_line+\nfilename: /(.+)/\nadd_line: "+" /(.*)/ LF\n'
)
APPLY_PATCH = {
    "type": "custom",
    "name": "apply_patch",
    "description": "Use the `apply_patch` tool to edit files.",
    "format": {"type": "grammar", "syntax": "lark", "definition": GRAMMAR},
}
EXEC_COMMAND = {
    "type": "function",
    "name": "exec_command",
    "description": "Runs a command in a PTY, returning output.",
    "strict": False,
    "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"]},
}
# Byte for byte what the model wrote: quotes, backslashes, tabs, a unicode line.
PATCH = '*** Begin Patch\n*** Add File: notes/a "b".txt\n+tab\there \\n not a newline\n+naïve ✓\n*** End Patch\n'


@pytest.fixture(scope="module")
def proxy(fake: FakeAnthropic, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    with running_proxy(tmp_path_factory.mktemp("agent-tools"), fake, key="sk-agent-tools-0123456789") as running:
        yield running


@pytest.fixture()
def client(proxy: Proxy) -> openai.OpenAI:
    return openai_client(proxy)


def test_codexs_custom_tool_round_trips_byte_for_byte_on_the_parked_path(
    client: openai.OpenAI, proxy: Proxy, fake: FakeAnthropic
) -> None:
    fake.script(
        Reply(
            text=[],
            tool_uses=[ToolUse("mcp__client__apply_patch", {"content": PATCH}, "toolu_patch")],
            stop_reason="tool_use",
        ),
        Reply(text=["Patched."]),
    )
    first = client.responses.create(
        model="sonnet",
        input="add the notes file",
        tools=[APPLY_PATCH, EXEC_COMMAND],
        store=False,  # type: ignore[list-item]
    )
    [request] = fake.message_requests()
    offered = {tool["name"]: tool for tool in request.body["tools"]}
    assert set(offered) == {"mcp__client__apply_patch", "mcp__client__exec_command"}  # nothing else, nothing lost
    assert GRAMMAR.splitlines()[0] in offered["mcp__client__apply_patch"]["description"]
    assert offered["mcp__client__exec_command"]["input_schema"] == EXEC_COMMAND["parameters"]
    [call] = [item for item in first.output if item.type == "custom_tool_call"]
    assert (call.name, call.call_id, call.input) == ("apply_patch", "toolu_patch", PATCH)
    session = request.headers.get("x-claude-code-session-id")

    follow = client.responses.create(
        model="sonnet",
        input=[
            {"role": "user", "content": "add the notes file"},
            {"type": "custom_tool_call", "call_id": call.call_id, "name": "apply_patch", "input": call.input},
            {"type": "custom_tool_call_output", "call_id": call.call_id, "output": "Done: 1 file added"},
        ],
        tools=[APPLY_PATCH, EXEC_COMMAND],  # type: ignore[list-item]
        store=False,
    )
    assert follow.output_text == "Patched."
    step = fake.message_requests()[-1]
    assert step.headers.get("x-claude-code-session-id") == session  # the same CLI process went on: parked
    results = [
        b
        for m in step.body["messages"]
        if isinstance(m["content"], list)
        for b in m["content"]
        if b.get("type") == "tool_result"
    ]
    assert [r["tool_use_id"] for r in results] == ["toolu_patch"]
    assert "Done: 1 file added" in json.dumps(results[0]["content"])
    uses = [
        b
        for m in step.body["messages"]
        if isinstance(m["content"], list)
        for b in m["content"]
        if b.get("type") == "tool_use"
    ]
    assert uses[-1]["input"] == {"content": PATCH}  # what the model wrote is what it sees it wrote


SERVER_TOOLS = {
    "responses": [
        {"type": "web_search_preview"},
        {"type": "file_search", "vector_store_ids": ["vs_1"]},
        {"type": "image_generation"},
        {"type": "local_shell"},
        {"type": "code_interpreter", "container": {"type": "auto"}},
        {"type": "mcp", "server_label": "docs", "server_url": "http://127.0.0.1:9"},
    ],
    "messages": [
        {"type": "web_search_20250305", "name": "web_search"},
        {"type": "bash_20250124", "name": "bash"},
        {"type": "text_editor_20250728", "name": "str_replace_based_edit_tool"},
    ],
}
CASES = [(endpoint, tool) for endpoint, tools in SERVER_TOOLS.items() for tool in tools]


@pytest.mark.parametrize(("endpoint", "tool"), CASES, ids=[f"{e}-{t['type']}" for e, t in CASES])
def test_a_tool_the_server_would_have_to_run_is_a_400_naming_it(
    proxy: Proxy, fake: FakeAnthropic, endpoint: str, tool: dict[str, Any]
) -> None:
    body: dict[str, Any] = {
        "model": "sonnet",
        "tools": [EXEC_COMMAND if endpoint == "responses" else {"name": "x", "input_schema": {"type": "object"}}, tool],
    }
    body.update(
        {"input": "x"}
        if endpoint == "responses"
        else {"max_tokens": 20, "messages": [{"role": "user", "content": "x"}]}
    )
    response = httpx.post(
        f"{proxy.url}/v1/{endpoint}", json=body, headers={"Authorization": f"Bearer {proxy.key}"}, timeout=60
    )
    assert response.status_code == 400, response.text
    assert f"`tools[1]` is a `{tool['type']}` tool" in response.json()["error"]["message"]
    assert fake.message_requests() == []
