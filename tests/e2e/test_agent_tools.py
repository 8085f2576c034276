"""Every tool an agent sends reaches the model or gets a 400 naming it (issue 22.1, 22.2),
through the real proxy: Codex's request shapes on `/v1/responses` with the official
`openai` client, Anthropic server tools on `/v1/messages`, and three-step loops on the parked
path in the shapes Claude Code (`/v1/messages`) and opencode/Continue (streamed chat) send.

Before: `web_search_preview`, `file_search`, `image_generation` and `local_shell` on
`/v1/responses`, and `web_search_20250305` on `/v1/messages`, were dropped silently (200).
"""

from __future__ import annotations

import json
import uuid
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


# Claude Code as a client of /v1/messages: its tools by name (a shape each), its system blocks with
# cache_control, thinking and metadata, as Claude Code itself sends them.
CLAUDE_CODE_TOOLS = [
    {
        "name": name,
        "description": f"Claude Code's {name} tool.",
        "input_schema": {
            "type": "object",
            "properties": {"path": {"type": "string"}, "text": {"type": "string"}},
            "required": ["path"],
            "additionalProperties": False,
        },
    }
    for name in (
        "Task",
        "Bash",
        "Glob",
        "Grep",
        "LS",
        "ExitPlanMode",
        "Read",
        "Edit",
        "MultiEdit",
        "Write",
        "NotebookEdit",
        "WebFetch",
        "TodoWrite",
        "WebSearch",
        "BashOutput",
        "KillShell",
        "SlashCommand",
        "AskUserQuestion",
        "Skill",
        "ListMcpResources",
    )
]


def test_claude_code_as_a_client_runs_a_three_step_loop_on_one_parked_process(
    proxy: Proxy, fake: FakeAnthropic
) -> None:
    """Issue 22: what Claude Code sends on /v1/messages; every step after the first continues the
    same CLI session (one session id upstream), the tool list is exactly the client's."""
    import anthropic

    claude = anthropic.Anthropic(base_url=proxy.url, api_key=proxy.key, max_retries=0, timeout=60)
    fake.reset()
    fake.script(
        Reply(
            text=[], tool_uses=[ToolUse("mcp__client__Read", {"path": "a.py"}, id="toolu_r")], stop_reason="tool_use"
        ),
        Reply(
            text=[],
            tool_uses=[ToolUse("mcp__client__Edit", {"path": "a.py", "text": "x = 2"}, id="toolu_e")],
            stop_reason="tool_use",
        ),
        Reply(text=["Done: a.py now sets x to 2."]),
    )
    system = [
        {"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude."},
        {"type": "text", "text": "Work in /home/me/repo.", "cache_control": {"type": "ephemeral"}},
    ]
    shape: dict[str, Any] = {
        "model": "sonnet",
        "max_tokens": 4096,
        "system": system,
        "tools": CLAUDE_CODE_TOOLS,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "metadata": {"user_id": "user_0123_account__session_4567"},
    }
    messages: list[dict[str, Any]] = [
        {
            "role": "user",
            "content": [{"type": "text", "text": "Set x to 2 in a.py", "cache_control": {"type": "ephemeral"}}],
        }
    ]
    results = {"toolu_r": "x = 1", "toolu_e": "edited"}
    answers = []
    for _ in range(3):
        answer = claude.messages.create(messages=messages, **shape)
        answers.append(answer)
        calls = [block for block in answer.content if block.type == "tool_use"]
        if not calls:
            break
        messages.append({"role": "assistant", "content": [block.model_dump() for block in answer.content]})
        messages.append(
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": c.id, "content": results[c.id]} for c in calls],
            }
        )
    assert [a.stop_reason for a in answers] == ["tool_use", "tool_use", "end_turn"]
    assert [b.text for b in answers[2].content if b.type == "text"] == ["Done: a.py now sets x to 2."]
    edit = next(b for b in answers[1].content if b.type == "tool_use")
    assert (edit.name, edit.input) == ("Edit", {"path": "a.py", "text": "x = 2"})

    requests = fake.message_requests()
    assert len(requests) == 3
    assert len({r.headers["x-claude-code-session-id"] for r in requests}) == 1  # parked: one session, three steps
    offered = {f"mcp__client__{t['name']}" for t in CLAUDE_CODE_TOOLS}
    for request in requests:
        assert {t["name"] for t in request.body["tools"]} == offered  # exactly the client's, nothing else
    by_name = {t["name"]: t for t in requests[0].body["tools"]}
    assert by_name["mcp__client__Read"]["input_schema"]["required"] == ["path"]
    system_text = " ".join(block["text"] for block in requests[0].body["system"])
    assert "You are Claude Code, Anthropic's official CLI for Claude." in system_text
    assert "Work in /home/me/repo." in system_text
    last = [b for m in requests[2].body["messages"] for b in (m["content"] if isinstance(m["content"], list) else [])]
    assert any(b.get("type") == "tool_result" and b["tool_use_id"] == "toolu_e" for b in last)
    assert {"type": "tool_use", "id": "toolu_r", "name": "mcp__client__Read", "input": {"path": "a.py"}} in last


# opencode / Continue on /v1/chat/completions: streamed, usage asked for, their own function tools.
CHAT_AGENT_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": name,
            "description": f"The agent's {name} tool.",
            "parameters": {"type": "object", "properties": {"filePath": {"type": "string"}}, "required": ["filePath"]},
        },
    }
    for name in ("read", "edit", "write", "bash", "glob", "grep", "list", "todowrite", "webfetch", "task")
]


def streamed_step(client: openai.OpenAI, messages: list[dict[str, Any]]) -> dict[str, Any]:
    """One streamed step, merged as an agent merges it: text, tool calls by index, finish reason."""
    stream = client.chat.completions.create(
        model="sonnet",
        messages=messages,  # type: ignore[arg-type]
        tools=CHAT_AGENT_TOOLS,  # type: ignore[arg-type]
        stream=True,
        stream_options={"include_usage": True},
    )
    text, calls, finish, usage = "", {}, None, None
    for chunk in stream:
        usage = chunk.usage or usage
        for choice in chunk.choices:
            text += choice.delta.content or ""
            finish = choice.finish_reason or finish
            for call in choice.delta.tool_calls or []:
                merged = calls.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
                merged["id"] += call.id or ""
                merged["name"] += (call.function and call.function.name) or ""
                merged["arguments"] += (call.function and call.function.arguments) or ""
    return {"text": text, "calls": list(calls.values()), "finish": finish, "usage": usage}


def test_a_streaming_chat_agent_runs_a_three_step_loop_on_one_parked_process(
    client: openai.OpenAI, fake: FakeAnthropic
) -> None:
    """Issue 22: opencode's and Continue's shape; the follow-ups continue the parked session."""
    fake.reset()
    fake.script(
        Reply(
            text=["Reading."], tool_uses=[ToolUse("mcp__client__read", {"filePath": "a.py"})], stop_reason="tool_use"
        ),
        Reply(text=[], tool_uses=[ToolUse("mcp__client__edit", {"filePath": "a.py"})], stop_reason="tool_use"),
        Reply(text=["Edited a.py."]),
    )
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "You are opencode, an interactive CLI tool."},
        {"role": "user", "content": "Fix a.py"},
    ]
    steps = []
    for _ in range(3):
        step = streamed_step(client, messages)
        steps.append(step)
        if not step["calls"]:
            break
        messages.append(
            {
                "role": "assistant",
                "content": step["text"] or None,
                "tool_calls": [
                    {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
                    for c in step["calls"]
                ],
            }
        )
        messages += [{"role": "tool", "tool_call_id": c["id"], "content": "ok"} for c in step["calls"]]
    assert [s["finish"] for s in steps] == ["tool_calls", "tool_calls", "stop"]
    assert (steps[0]["text"], steps[2]["text"]) == ("Reading.", "Edited a.py.")
    assert [(c["name"], json.loads(c["arguments"])) for c in steps[1]["calls"]] == [("edit", {"filePath": "a.py"})]
    assert all(s["usage"] is not None and s["usage"].completion_tokens > 0 for s in steps)

    requests = fake.message_requests()
    assert len(requests) == 3
    assert len({r.headers["x-claude-code-session-id"] for r in requests}) == 1
    offered = {f"mcp__client__{t['function']['name']}" for t in CHAT_AGENT_TOOLS}
    assert all({t["name"] for t in r.body["tools"]} == offered for r in requests)


# The same tool as a chat custom tool: the grammar nests under `grammar` there.
CHAT_APPLY_PATCH = {
    "type": "custom",
    "custom": {
        "name": "apply_patch",
        "description": "Use the `apply_patch` tool to edit files.",
        "format": {"type": "grammar", "grammar": {"syntax": "lark", "definition": GRAMMAR}},
    },
}


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_a_chat_custom_tool_round_trips_byte_for_byte_on_the_parked_path(
    client: openai.OpenAI, fake: FakeAnthropic, stream: bool
) -> None:
    """Issue 22.2 on /v1/chat/completions: the call comes back as a `custom` call with the raw
    string the model wrote; the follow-up's custom call and its result continue the parked process."""
    fake.reset()
    call_id = f"toolu_{uuid.uuid4().hex}"  # unique: a byte-identical repeat can cost an extra upstream call
    fake.script(
        Reply(
            text=["Patching."],
            tool_uses=[ToolUse("mcp__client__apply_patch", {"input": PATCH}, call_id)],
            stop_reason="tool_use",
        ),
        Reply(text=["Patched."]),
    )
    messages: list[dict[str, Any]] = [{"role": "user", "content": f"add the notes file ({call_id})"}]
    if stream:
        call: dict[str, Any] = {}
        for chunk in client.chat.completions.create(
            model="sonnet",
            messages=messages,
            tools=[CHAT_APPLY_PATCH],
            stream=True,  # type: ignore[list-item]
        ):
            for delta_call in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
                call = delta_call.model_dump()
        assert call["type"] == "custom" and call["id"] == call_id
        shaped = {"id": call["id"], "type": "custom", "custom": call["custom"]}
    else:
        first = client.chat.completions.create(model="sonnet", messages=messages, tools=[CHAT_APPLY_PATCH])  # type: ignore[list-item]
        assert first.choices[0].finish_reason == "tool_calls"
        [made] = first.choices[0].message.tool_calls or []
        assert made.type == "custom"
        shaped = made.model_dump()
    assert shaped["custom"] == {"name": "apply_patch", "input": PATCH}  # byte for byte
    [request] = fake.message_requests()
    [offered] = request.body["tools"]
    assert offered["name"] == "mcp__client__apply_patch"
    assert offered["input_schema"]["required"] == ["input"]
    assert GRAMMAR.splitlines()[0] in offered["description"]
    session = request.headers.get("x-claude-code-session-id")

    messages += [
        {"role": "assistant", "content": "Patching.", "tool_calls": [shaped]},
        {"role": "tool", "tool_call_id": shaped["id"], "content": "Done: 1 file added"},
    ]
    follow = client.chat.completions.create(model="sonnet", messages=messages, tools=[CHAT_APPLY_PATCH])  # type: ignore[arg-type]
    assert follow.choices[0].message.content == "Patched."
    step = fake.message_requests()[-1]
    assert step.headers.get("x-claude-code-session-id") == session  # parked: the same process went on
    blocks = [b for m in step.body["messages"] if isinstance(m["content"], list) for b in m["content"]]
    assert [b["tool_use_id"] for b in blocks if b.get("type") == "tool_result"] == [call_id]
    assert [b["input"] for b in blocks if b.get("type") == "tool_use"][-1] == {"input": PATCH}


def test_codexs_three_step_loop_with_parallel_calls_and_reasoning_items_stays_parked(
    client: openai.OpenAI, fake: FakeAnthropic
) -> None:
    """Issue 22, Codex's shape on /v1/responses: `store: false`, the whole input sent back each
    step (reasoning items, parallel function calls and their outputs, a custom call and its
    output); every step continues one parked CLI session, and only the client's tools are offered."""
    fake.reset()
    run = uuid.uuid4().hex[:8]
    ls, cat, patch = f"toolu_ls_{run}", f"toolu_cat_{run}", f"toolu_patch_{run}"
    fake.script(
        Reply(
            thinking=["I should look around first."],
            text=[],
            tool_uses=[
                ToolUse("mcp__client__exec_command", {"cmd": "ls"}, ls),
                ToolUse("mcp__client__exec_command", {"cmd": "cat notes.txt"}, cat),
            ],
            stop_reason="tool_use",
        ),
        Reply(
            text=[], tool_uses=[ToolUse("mcp__client__apply_patch", {"content": PATCH}, patch)], stop_reason="tool_use"
        ),
        Reply(text=["Added the notes file."]),
    )
    tools = [APPLY_PATCH, EXEC_COMMAND]
    sent: list[Any] = [{"role": "user", "content": f"add the notes file ({run})"}]
    outputs = {ls: "notes.txt", cat: "old notes", patch: "Done: 1 file added"}
    answers = []
    for _ in range(3):
        answer = client.responses.create(
            model="sonnet",
            input=sent,
            tools=tools,  # type: ignore[arg-type]
            store=False,
            reasoning={"effort": "medium", "summary": "auto"},
            parallel_tool_calls=True,
        )
        answers.append(answer)
        calls = [item for item in answer.output if item.type in ("function_call", "custom_tool_call")]
        if not calls:
            break
        sent += [item.model_dump(exclude_none=True) for item in answer.output]  # reasoning items included
        for call in calls:
            kind = "function_call_output" if call.type == "function_call" else "custom_tool_call_output"
            sent.append({"type": kind, "call_id": call.call_id, "output": outputs[call.call_id]})
    first_calls = [(i.name, json.loads(i.arguments)) for i in answers[0].output if i.type == "function_call"]
    assert first_calls == [("exec_command", {"cmd": "ls"}), ("exec_command", {"cmd": "cat notes.txt"})]
    assert any(item.type == "reasoning" for item in answers[0].output)
    [custom] = [i for i in answers[1].output if i.type == "custom_tool_call"]
    assert (custom.name, custom.input) == ("apply_patch", PATCH)
    assert answers[2].output_text == "Added the notes file."

    requests = fake.message_requests()
    assert len(requests) == 3
    assert len({r.headers["x-claude-code-session-id"] for r in requests}) == 1  # one parked session, three steps
    for request in requests:
        assert {t["name"] for t in request.body["tools"]} == {"mcp__client__apply_patch", "mcp__client__exec_command"}
    results = [
        b["tool_use_id"]
        for m in requests[1].body["messages"]
        if isinstance(m["content"], list)
        for b in m["content"]
        if b.get("type") == "tool_result"
    ]
    assert results[-2:] == [ls, cat]  # both parallel results, in the calls' order
