"""Request parameters to CLI options: tools, tool_choice, response_format,
reasoning, stop. Pure functions, no process."""

from __future__ import annotations

import pytest

from litellm_claude_code._claude.client_tools import client_name
from litellm_claude_code._openai.messages import tool_use_id
from litellm_claude_code._openai.params import output_schema, reasoning, stop_sequences
from litellm_claude_code._openai.stop import StopFilter
from litellm_claude_code._openai.tools import plan
from litellm_claude_code._shapes import TextDelta, TurnResult, Usage
from litellm_claude_code.errors import TranslationError

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def test_tool_plan_keeps_name_description_and_schema() -> None:
    tools = plan([WEATHER], None)
    [spec] = tools.offered
    assert (spec.name, spec.description) == ("get_weather", "Weather for a city")
    assert spec.parameters["required"] == ["city"]
    assert tools.choice == "auto" and not tools.enforced and tools.instruction() is None


def test_tool_choice_none_hides_the_tools() -> None:
    assert plan([WEATHER], "none").offered == ()


@pytest.mark.parametrize(
    ("choice", "called", "ok"),
    [
        ("required", [], False),
        ("required", ["other"], True),
        ({"type": "function", "function": {"name": "get_weather"}}, ["other"], False),
        ({"type": "function", "function": {"name": "get_weather"}}, ["get_weather"], True),
    ],
)
def test_enforced_choices(choice: object, called: list[str], ok: bool) -> None:
    tools = plan([WEATHER, {**WEATHER, "function": {**WEATHER["function"], "name": "other"}}], choice)
    assert tools.enforced
    assert tools.satisfied_by(called) is ok
    assert "must call" in (tools.instruction() or "")
    assert "IMPORTANT" in (tools.instruction(insist=True) or "")


@pytest.mark.parametrize(
    ("tools", "choice", "fragment"),
    [
        ("x", None, "`tools` must be a list"),
        ([{"type": "code_interpreter"}], None, "tools[0]: only function and custom tools"),
        ([{"type": "function", "function": {"name": "bad name"}}], None, "tools[0].function.name"),
        ([{"type": "function", "function": {"name": "f", "parameters": {"type": "array"}}}], None, "type object"),
        ([WEATHER, WEATHER], None, "repeated: get_weather"),
        ([WEATHER], "sometimes", "`tool_choice` must be"),
        ([WEATHER], {"type": "function", "function": {"name": "nope"}}, "'nope', which is not in `tools`"),
        ([], "required", "`tools` is empty"),
    ],
)
def test_bad_tools_name_the_problem(tools: object, choice: object, fragment: str) -> None:
    with pytest.raises(TranslationError) as caught:
        plan(tools, choice)
    assert fragment in str(caught.value)


def test_names_and_ids_map_both_ways() -> None:
    assert client_name("mcp__client__Bash") == "Bash"
    assert client_name("Bash") is None  # a built-in is never a client function
    assert tool_use_id("toolu_01AbC") == "toolu_01AbC"
    assert tool_use_id("call:1/2") == tool_use_id("call:1/2") == "call_1_2"


def test_response_formats() -> None:
    assert output_schema(None) is None
    assert output_schema({"type": "text"}) is None
    assert output_schema({"type": "json_object"}) == {"type": "object"}
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    assert output_schema({"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}) == schema
    for bad, fragment in [
        ({"type": "xml"}, "`response_format.type`"),
        ({"type": "json_schema", "json_schema": {"name": "x"}}, "must be a JSON schema object"),
        ({"type": "json_schema", "json_schema": {"schema": {"type": "nonsense"}}}, "not a valid JSON schema"),
        ({"type": "json_schema", "json_schema": {"schema": {"type": "array"}}}, "must describe an object"),
    ]:
        with pytest.raises(TranslationError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
            output_schema(bad)


def test_reasoning_mapping() -> None:
    assert reasoning("high", None) == ("high", None)
    assert reasoning("minimal", None) == ("low", None)
    assert reasoning("none", None) == (None, ("disabled", None))
    assert reasoning(None, {"type": "enabled", "budget_tokens": 2048}) == (None, ("enabled", 2048))
    assert reasoning(None, {"type": "adaptive"}) == (None, ("adaptive", None))
    with pytest.raises(TranslationError, match="reasoning_effort"):
        reasoning("extreme", None)
    with pytest.raises(TranslationError, match="budget_tokens"):
        reasoning(None, {"type": "enabled", "budget_tokens": 10})


def test_stop_sequences_validation() -> None:
    assert stop_sequences("END") == ("END",)
    assert stop_sequences(["a", "b"]) == ("a", "b")
    for bad in ("", ["a"] * 5, [1], {"x": 1}):
        with pytest.raises(TranslationError, match="`stop`"):
            stop_sequences(bad)


def _texts(items: list[object]) -> str:
    return "".join(item.text for item in items if isinstance(item, TextDelta))


def test_stop_filter_cuts_a_sequence_split_across_deltas() -> None:
    stop = StopFilter(("STOP",))
    items = [i for delta in ["one ST", "OP two", " three"] for i in stop.apply(TextDelta(delta))]
    result = TurnResult(finish_reason="length", usage=Usage())
    items += stop.apply(result)
    assert _texts(items) == "one "
    assert result.finish_reason == "stop"


def test_stop_filter_releases_held_text_at_the_end() -> None:
    stop = StopFilter(("<<END>>",))
    items = [i for delta in ["ab", "c<<E"] for i in stop.apply(TextDelta(delta))]
    result = TurnResult(finish_reason="stop", usage=Usage())
    items += stop.apply(result)
    assert _texts(items) == "abc<<E"
    assert items[-1] is result


def tool_with(parameters: object) -> dict[str, object]:
    return {"type": "function", "function": {"name": "lookup", "parameters": parameters}}


@pytest.mark.parametrize(
    ("parameters", "where"),
    [
        ({"type": "object", "properties": {"x": {"type": "nonsense"}}}, "$.properties.x.type"),
        ({"type": "object", "required": "x"}, "$.required"),
        ({"type": "object", "properties": []}, "$.properties"),
        ({"type": "object", "properties": {"n": {"exclusiveMinimum": True}}}, "$.properties.n.exclusiveMinimum"),
    ],
)
def test_tool_schemas_are_checked_against_json_schema_2020_12(parameters: object, where: str) -> None:
    with pytest.raises(TranslationError) as caught:
        plan([WEATHER, tool_with(parameters)], None)
    message = str(caught.value)
    assert "tools[1].function.parameters of function 'lookup'" in message and where in message


@pytest.mark.parametrize(
    "parameters",
    [
        None,
        {},
        {"properties": {"q": {"type": "string"}}},
        {"type": "object", "properties": {"w": {"type": "string", "pattern": "^\\p{L}+$"}}},  # ECMA-262 only
        {"type": "object", "properties": {"d": {"type": "string", "format": "not-a-known-format"}}},
    ],
)
def test_tool_schemas_the_api_accepts_pass(parameters: object) -> None:
    [spec] = plan([tool_with(parameters)], None).tools
    assert spec.name == "lookup"


def test_a_tool_schema_nested_too_deeply_is_refused_not_a_crash() -> None:
    schema: dict[str, object] = {"type": "object"}
    inner = schema
    for _ in range(5000):
        child: dict[str, object] = {"type": "object"}
        inner["properties"] = {"a": child}
        inner = child
    with pytest.raises(TranslationError, match="nested too deeply"):
        plan([tool_with(schema)], None)


def test_a_custom_tool_is_a_function_of_one_string_with_its_grammar_told() -> None:
    """Issue 22.2: chat nests the grammar; Responses (through LiteLLM) has it flat."""
    from litellm_claude_code._openai.tools import plan

    nested = {"type": "grammar", "grammar": {"syntax": "lark", "definition": "start: WORD"}}
    tools = plan([{"type": "custom", "custom": {"name": "patch", "description": "Edit.", "format": nested}}], None)
    [spec] = tools.tools
    assert spec.freeform and tools.freeform == frozenset({"patch"})
    assert spec.parameters["required"] == ["input"] and spec.parameters["additionalProperties"] is False
    assert spec.description == "Edit.\n\nIts input must match this lark grammar:\nstart: WORD"
    plain = plan([{"type": "custom", "custom": {"name": "note"}}], None).tools[0]
    assert plain.description == "Its input is free text."
    with pytest.raises(TranslationError, match=r"tools\[0\].custom.format.grammar.definition"):
        plan([{"type": "custom", "custom": {"name": "x", "format": {"type": "grammar", "grammar": {}}}}], None)
    with pytest.raises(TranslationError, match=r"tools\[0\].custom.name"):
        plan([{"type": "custom", "custom": {"name": "a b"}}], None)


def test_custom_calls_are_held_until_whole_and_sent_as_one() -> None:
    from litellm_claude_code._openai.response import CustomCalls, custom_call
    from litellm_claude_code._shapes import TextDelta, ToolCallDelta

    calls = CustomCalls(frozenset({"patch"}))
    start = ToolCallDelta(index=0, id="c1", name="patch")
    assert calls.hold(start)
    for part in ('{"in', 'put": "a\\tb"}'):  # more of the held call: it stays held
        more = ToolCallDelta(index=0, arguments=part)
        assert calls.done_before(more) == [] and calls.hold(more)
    assert not calls.hold(ToolCallDelta(index=1, id="c2", name="lookup"))  # a function call goes through
    [whole] = calls.done_before(ToolCallDelta(index=1, id="c2", name="lookup"))
    assert custom_call(whole, streamed=True) == {
        "id": "c1",
        "type": "custom",
        "custom": {"name": "patch", "input": "a\tb"},
        "index": 0,
    }
    assert calls.done_before(TextDelta("x")) == []
    calls.hold(ToolCallDelta(index=2, id="c3", name="patch"))
    calls.drop()
    assert calls.done_before(TextDelta("x")) == []


def test_a_custom_call_in_the_history_is_its_raw_input() -> None:
    from litellm_claude_code._openai.messages import to_conversation

    call = {"id": "c1", "type": "custom", "custom": {"name": "patch", "input": "*** Begin"}}
    history = [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": "ok"},
    ]
    conversation = to_conversation(history)
    uses = [b for turn in conversation.history for b in turn.content if b.get("type") == "tool_use"]
    assert uses == [{"type": "tool_use", "id": "c1", "name": "mcp__client__patch", "input": {"input": "*** Begin"}}]
    with pytest.raises(TranslationError, match=r"custom.input must be a string"):
        to_conversation([*history[:1], {"role": "assistant", "tool_calls": [{**call, "custom": {"name": "p"}}]}])
