"""The conversation keys of sticky routing: an answer's key is exactly the key
the client's next request looks up, and nothing else matches it."""

from __future__ import annotations

from typing import Any

from litellm_claude_code.routing import answered_key, lookup_keys

SCOPE = ["sonnet", "caller-hash"]
SYSTEM = {"role": "system", "content": "Be brief."}
CALL = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}


def test_the_next_turn_looks_up_the_key_the_answer_left() -> None:
    first: list[dict[str, Any]] = [SYSTEM, {"role": "user", "content": "Hi"}]
    answer = {"role": "assistant", "content": "Hello."}
    key = answered_key(SCOPE, first, answer)
    assert key is not None
    assert key in lookup_keys(SCOPE, [*first, answer, {"role": "user", "content": "How are you?"}])
    # The client may send the text as content parts: the same conversation.
    parts = {"role": "assistant", "content": [{"type": "text", "text": "Hello."}]}
    assert key in lookup_keys(SCOPE, [*first, parts, {"role": "user", "content": "And then?"}])


def test_function_results_look_up_the_answer_that_asked_for_them() -> None:
    first: list[dict[str, Any]] = [SYSTEM, {"role": "user", "content": "Weather in Oslo?"}]
    answer = {"role": "assistant", "content": None, "tool_calls": [CALL]}
    key = answered_key(SCOPE, first, answer)
    results = [*first, answer, {"role": "tool", "tool_call_id": "call_1", "content": "Sunny"}]
    assert key is not None and key in lookup_keys(SCOPE, results)


def test_another_answer_system_prompt_or_caller_does_not_match() -> None:
    first: list[dict[str, Any]] = [SYSTEM, {"role": "user", "content": "Hi"}]
    key = answered_key(SCOPE, first, {"role": "assistant", "content": "Hello."})
    edited = [*first, {"role": "assistant", "content": "EDITED"}, {"role": "user", "content": "next"}]
    assert key not in lookup_keys(SCOPE, edited)
    same = [*first, {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "next"}]
    assert key not in lookup_keys(["sonnet", "another-caller"], same)
    assert key not in lookup_keys(["opus", "caller-hash"], same)
    assert key not in lookup_keys(SCOPE, [{"role": "system", "content": "Other."}, *same[1:]])


def test_a_first_turn_or_bad_input_looks_up_nothing() -> None:
    assert lookup_keys(SCOPE, [{"role": "user", "content": "Hi"}]) == []
    assert lookup_keys(SCOPE, "not a list") == []
    assert lookup_keys(SCOPE, [{"role": "wizard", "content": "x"}]) == []
    assert answered_key(SCOPE, [{"role": "user", "content": "Hi"}], {"role": "assistant", "content": ""}) is None


def test_keys_hold_no_message_text() -> None:
    key = answered_key(SCOPE, [{"role": "user", "content": "secret-123"}], {"role": "assistant", "content": "ok"})
    assert key is not None and "secret" not in key and "caller-hash" not in key
