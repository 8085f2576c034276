"""TurnAssembler on SDK message objects shaped like the ones the CLI emits."""

from __future__ import annotations

from typing import Any

import pytest
from claude_agent_sdk import (
    AssistantMessage,
    RateLimitEvent,
    ResultMessage,
    StreamEvent,
    SystemMessage,
    TextBlock,
)
from claude_agent_sdk.types import RateLimitInfo

from litellm_claude_code.errors import OutputError, UpstreamError, WorkerError
from litellm_claude_code.stream import TurnAssembler
from litellm_claude_code.types import ReasoningDelta, TextDelta, ToolCallDelta, TurnResult


def event(payload: dict[str, Any], parent: str | None = None) -> StreamEvent:
    return StreamEvent(uuid="u", session_id="s", event=payload, parent_tool_use_id=parent)


def turn_events(
    texts: list[str], stop_reason: str = "end_turn", thinking: list[str] | None = None
) -> list[StreamEvent]:
    events = [
        event(
            {
                "type": "message_start",
                "message": {
                    "model": "claude-x",
                    "usage": {
                        "input_tokens": 10,
                        "output_tokens": 1,
                        "cache_read_input_tokens": 100,
                        "cache_creation_input_tokens": 5,
                    },
                },
            }
        )
    ]
    for piece in thinking or []:
        events.append(
            event({"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": piece}})
        )
    for piece in texts:
        events.append(
            event({"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": piece}})
        )
    events.append(
        event({"type": "message_delta", "delta": {"stop_reason": stop_reason}, "usage": {"output_tokens": 8}})
    )
    events.append(event({"type": "message_stop"}))
    return events


def result(**overrides: Any) -> ResultMessage:
    fields: dict[str, Any] = {
        "subtype": "success",
        "duration_ms": 1,
        "duration_api_ms": 1,
        "is_error": False,
        "num_turns": 1,
        "session_id": "s",
        "total_cost_usd": 0.01,
        "stop_reason": "end_turn",
    }
    fields.update(overrides)
    return ResultMessage(**fields)


def feed_all(assembler: TurnAssembler, messages: list[Any]) -> list[Any]:
    items: list[Any] = []
    for message in messages:
        items.extend(assembler.feed(message))
    return items


def test_text_deltas_then_result_with_exact_usage_and_cost() -> None:
    assembler = TurnAssembler()
    items = feed_all(assembler, [*turn_events(["a", "b"], thinking=["hmm"]), result()])
    assert items[:3] == [ReasoningDelta("hmm"), TextDelta("a"), TextDelta("b")]
    final = items[3]
    assert isinstance(final, TurnResult)
    assert final.finish_reason == "stop"
    assert final.cost_usd == 0.01
    assert final.model == "claude-x"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (10, 8)
    assert final.usage.prompt_tokens == 115
    assert assembler.done


@pytest.mark.parametrize(("stop", "reason"), [("max_tokens", "length"), ("tool_use", "tool_calls")])
def test_turns_the_cli_would_continue_end_at_message_stop(stop: str, reason: str) -> None:
    assembler = TurnAssembler()
    items = feed_all(assembler, turn_events(["x"], stop_reason=stop))
    assert isinstance(items[-1], TurnResult)
    assert items[-1].finish_reason == reason
    assert assembler.done
    # The CLI's own continuation turn is ignored.
    assert feed_all(assembler, turn_events(["more"])) == []


def test_refusal_is_content_filter() -> None:
    items = feed_all(TurnAssembler(), [*turn_events(["no"], stop_reason="refusal"), result(stop_reason="refusal")])
    assert items[-1].finish_reason == "content_filter"


def test_subagent_events_are_ignored() -> None:
    assembler = TurnAssembler()
    start, *_ = turn_events(["x"])
    delta = event({"type": "content_block_delta", "delta": {"type": "text_delta", "text": "sub"}}, parent="toolu_1")
    assert feed_all(assembler, [start, delta]) == []


def error_sequence(kind: str, status: int | None, text: str) -> list[Any]:
    return [
        SystemMessage(subtype="api_retry", data={"error_status": status}) if status else SystemMessage("status", {}),
        AssistantMessage(content=[TextBlock(text)], model="<synthetic>", error=kind),  # type: ignore[arg-type]
        result(is_error=True, total_cost_usd=0),
    ]


def test_authentication_error_carries_status_and_text() -> None:
    with pytest.raises(UpstreamError) as caught:
        feed_all(TurnAssembler(), error_sequence("authentication_failed", 401, "Invalid API key"))
    assert caught.value.status == 401
    assert caught.value.kind == "authentication_failed"
    assert "Invalid API key" in str(caught.value)


def test_rate_limit_error_carries_retry_after_from_reset_time() -> None:
    assembler = TurnAssembler(clock=lambda: 1000.0)
    limit = RateLimitEvent(rate_limit_info=RateLimitInfo(status="rejected", resets_at=1090), uuid="u", session_id="s")
    with pytest.raises(UpstreamError) as caught:
        feed_all(assembler, [limit, *error_sequence("rate_limit", None, "limited")])
    assert caught.value.retry_after == 90
    assert caught.value.kind == "rate_limit"


def test_result_status_wins_when_present() -> None:
    with pytest.raises(UpstreamError) as caught:
        feed_all(
            TurnAssembler(),
            [
                AssistantMessage(content=[TextBlock("overloaded")], model="<synthetic>", error="server_error"),
                result(is_error=True, api_error_status=529),
            ],
        )
    assert caught.value.status == 529


def test_whole_message_is_used_when_no_partial_events_arrive() -> None:
    items = feed_all(
        TurnAssembler(),
        [
            AssistantMessage(
                content=[TextBlock("whole")],
                model="claude-x",
                stop_reason="end_turn",
                usage={"input_tokens": 3, "output_tokens": 2},
            ),
            result(usage={"input_tokens": 3, "output_tokens": 2}),
        ],
    )
    assert items[0] == TextDelta("whole")
    assert items[1].usage.input_tokens == 3


def test_ending_without_result_or_stop_is_a_worker_error() -> None:
    assembler = TurnAssembler()
    feed_all(assembler, turn_events(["x"])[:2])
    with pytest.raises(WorkerError):
        assembler.finish_without_result()


def test_ending_after_message_stop_without_result_still_answers() -> None:
    assembler = TurnAssembler()
    feed_all(assembler, turn_events(["x"]))
    assert assembler.finish_without_result().finish_reason == "stop"


def tool_block(index: int, name: str, tool_id: str, pieces: list[str]) -> list[StreamEvent]:
    events = [
        event(
            {
                "type": "content_block_start",
                "index": index,
                "content_block": {"type": "tool_use", "id": tool_id, "name": name, "input": {}},
            }
        )
    ]
    for piece in pieces:
        events.append(
            event(
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": "input_json_delta", "partial_json": piece},
                }
            )
        )
    return events


def test_client_tool_calls_become_indexed_deltas_and_others_are_dropped() -> None:
    start, *middle, delta, stop = turn_events(["Checking."], stop_reason="tool_use")
    blocks = [
        *tool_block(2, "mcp__client__get_weather", "toolu_a", ['{"city":', ' "Paris"}']),
        *tool_block(3, "Bash", "toolu_builtin", ['{"command": "id"}']),
        *tool_block(4, "mcp__client__get_weather", "toolu_b", ['{"city": "Rome"}']),
    ]
    items = feed_all(TurnAssembler(), [start, *middle, *blocks, delta, stop])
    calls = [i for i in items if isinstance(i, ToolCallDelta)]
    assert calls == [
        ToolCallDelta(index=0, id="toolu_a", name="get_weather"),
        ToolCallDelta(index=0, arguments='{"city":'),
        ToolCallDelta(index=0, arguments=' "Paris"}'),
        ToolCallDelta(index=1, id="toolu_b", name="get_weather"),
        ToolCallDelta(index=1, arguments='{"city": "Rome"}'),
    ]
    assert isinstance(items[-1], TurnResult) and items[-1].finish_reason == "tool_calls"


def test_structured_output_streams_the_json_and_drops_prose() -> None:
    start, *middle, delta, stop = turn_events(["Sure, here:"], stop_reason="tool_use")
    assembler = TurnAssembler(structured=True)
    items = feed_all(
        assembler, [start, *middle, *tool_block(2, "StructuredOutput", "t", ['{"a":', " 1}"]), delta, stop]
    )
    assert [i.text for i in items if isinstance(i, TextDelta)] == ['{"a":', " 1}"]
    assert not assembler.done  # waits for the CLI's verdict
    [final] = assembler.feed(result(structured_output={"a": 1}))
    assert isinstance(final, TurnResult)
    assert (final.structured_output, final.finish_reason) == ({"a": 1}, "stop")


def test_structured_output_the_cli_refused_is_an_output_error() -> None:
    assembler = TurnAssembler(structured=True)
    feed_all(assembler, turn_events([], stop_reason="tool_use"))
    with pytest.raises(OutputError, match="did not match the requested JSON schema"):
        assembler.feed(result(subtype="error_max_turns", is_error=True))


def test_a_call_without_input_still_gets_json_arguments() -> None:
    start, *_, delta, stop = turn_events([], stop_reason="tool_use")
    blocks = [*tool_block(0, "mcp__client__now", "toolu_n", []), event({"type": "content_block_stop", "index": 0})]
    calls = [i for i in feed_all(TurnAssembler(), [start, *blocks, delta, stop]) if isinstance(i, ToolCallDelta)]
    assert calls == [ToolCallDelta(index=0, id="toolu_n", name="now"), ToolCallDelta(index=0, arguments="{}")]


def test_an_upstream_failure_in_structured_mode_stays_an_upstream_error() -> None:
    assembler = TurnAssembler(structured=True)
    with pytest.raises(UpstreamError) as caught:
        assembler.feed(result(subtype="error_during_execution", is_error=True, api_error_status=529))
    assert caught.value.status == 529
