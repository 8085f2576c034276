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
    ToolResultBlock,
    ToolUseBlock,
    UserMessage,
)
from claude_agent_sdk.types import RateLimitInfo

from litellm_claude_code._claude.stream import TurnAssembler
from litellm_claude_code._openai.stop import StopFilter
from litellm_claude_code._shapes import RateLimit, ReasoningDelta, Restart, TextDelta, ToolCallDelta, TurnResult, Usage
from litellm_claude_code.errors import OutputError, SchemaMismatch, UpstreamError, WorkerError


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


@pytest.mark.parametrize(
    ("stop", "reason"), [("max_tokens", "length"), ("tool_use", "stop"), ("refusal", "content_filter")]
)
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


# -- an upstream attempt lost mid-answer --------------------------------------
# The sequences below are what the real CLI (2.1.330) emitted against the fake
# upstream with CLAUDE_CODE_MAX_RETRIES=1, for a dropped connection and for a
# truncated SSE stream alike: it closes the cut stream itself (content_block_stop
# and message_stop, no message_delta), reports api_retry, streams the retry.


def lost_attempt(texts: list[str], input_tokens: int = 11) -> list[StreamEvent]:
    start = {"input_tokens": input_tokens, "output_tokens": 1, "cache_read_input_tokens": 0}
    return [
        event({"type": "message_start", "message": {"model": "claude-x", "usage": start}}),
        event({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        *(
            event({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}})
            for piece in texts
        ),
        event({"type": "content_block_stop", "index": 0}),
        event({"type": "message_stop"}),
    ]


def api_retry() -> SystemMessage:
    data = {"type": "system", "subtype": "api_retry", "attempt": 1, "max_retries": 1, "error_status": None}
    return SystemMessage(subtype="api_retry", data={**data, "error": "unknown"})


def retried_answer(texts: list[str]) -> list[Any]:
    usage = {"input_tokens": 13, "output_tokens": 5, "cache_read_input_tokens": 0}
    start = {**usage, "output_tokens": 1}
    return [
        event({"type": "message_start", "message": {"model": "claude-x", "usage": start}}),
        *(
            event({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}})
            for piece in texts
        ),
        AssistantMessage(content=[TextBlock("".join(texts))], model="claude-x"),
        event({"type": "content_block_stop", "index": 0}),
        event({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": usage}),
        event({"type": "message_stop"}),
        result(usage={"input_tokens": 24, "output_tokens": 6}),
    ]


def connection_lost_error() -> list[Any]:
    """How the CLI ends a turn whose last allowed attempt was lost too."""
    text = "API Error: Connection to the API was lost (ECONNRESET). This is usually temporary — try again."
    return [
        AssistantMessage(content=[TextBlock(text)], model="<synthetic>", error="server_error"),
        event({"type": "content_block_stop", "index": 0}),
        event({"type": "message_delta", "delta": {"stop_reason": None}, "usage": {"input_tokens": 11}}),
        event({"type": "message_stop"}),
        result(is_error=True, stop_reason="stop_sequence"),
    ]


def test_a_retried_attempt_replaces_the_lost_one_and_usage_counts_both() -> None:
    assembler = TurnAssembler()
    items = feed_all(assembler, [*lost_attempt(["one ", "two "]), api_retry(), *retried_answer(["full ", "answer"])])
    assert items[:5] == [TextDelta("one "), TextDelta("two "), Restart(), TextDelta("full "), TextDelta("answer")]
    final = items[5]
    assert isinstance(final, TurnResult) and final.finish_reason == "stop"
    # Both attempts reached the upstream: 11 + 13 prompt tokens, 1 + 5 output tokens.
    assert (final.usage.input_tokens, final.usage.output_tokens) == (24, 6)
    assert assembler.ended_by_result


def test_a_lost_attempt_is_not_an_answer_even_without_a_retry() -> None:
    assembler = TurnAssembler()
    feed_all(assembler, lost_attempt(["one "]))
    assert not assembler.done
    with pytest.raises(WorkerError):
        assembler.finish_without_result()


def test_a_lost_attempt_whose_retry_fails_too_is_an_upstream_error() -> None:
    assembler = TurnAssembler()
    messages = [*lost_attempt(["one "]), api_retry(), *lost_attempt(["again "])[:3], *connection_lost_error()]
    with pytest.raises(UpstreamError) as caught:
        feed_all(assembler, messages)
    assert caught.value.kind == "server_error"
    assert "Connection to the API was lost" in str(caught.value)


def test_a_retry_before_anything_streamed_needs_no_restart() -> None:
    items = feed_all(TurnAssembler(), [api_retry(), *retried_answer(["full"])])
    assert items[0] == TextDelta("full") and not any(isinstance(i, Restart) for i in items)


def test_a_retry_after_a_whole_answer_leaves_it_alone() -> None:
    assembler = TurnAssembler(structured=True)  # waits past message_stop for the CLI's verdict
    start, *_middle, delta, stop = turn_events([], stop_reason="tool_use")
    blocks = tool_block(0, "StructuredOutput", "t", ['{"a": 1}'])
    items = feed_all(assembler, [start, *blocks, delta, stop, api_retry(), *lost_attempt(["x"])])
    assert items == [TextDelta('{"a": 1}')]


def test_stop_filter_starts_over_after_a_restart() -> None:
    stop = StopFilter(("STOP",))
    assert stop.apply(TextDelta("ab STOP cd")) == [TextDelta("ab ")]
    assert stop.apply(TextDelta("ST")) == []  # after the hit
    assert stop.apply(Restart()) == [Restart()]
    assert stop.apply(TextDelta("fresh ST")) == [TextDelta("fresh")]  # " ST" held: it may begin a stop
    [tail, final] = stop.apply(TurnResult(finish_reason="stop", usage=Usage()))
    assert tail == TextDelta(" ST") and isinstance(final, TurnResult)


# -- tool calls nobody can receive --------------------------------------------


def test_a_builtin_tool_call_alone_is_not_surfaced_and_ends_with_stop() -> None:
    start, *middle, delta, stop = turn_events(["Let me run it."], stop_reason="tool_use")
    assembler = TurnAssembler(offered=frozenset())
    items = feed_all(assembler, [start, *middle, *tool_block(1, "Bash", "t", ['{"c": 1}']), delta, stop])
    assert not any(isinstance(i, ToolCallDelta) for i in items)
    assert isinstance(items[-1], TurnResult) and items[-1].finish_reason == "stop"
    assert items[-1].stop_reason == "tool_use" and assembler.done  # the turn ends here: no second call


@pytest.mark.parametrize("offered", [frozenset(), frozenset({"get_weather"})])
def test_a_client_function_the_request_did_not_offer_is_never_surfaced(offered: frozenset[str]) -> None:
    start, *_middle, delta, stop = turn_events([], stop_reason="tool_use")
    blocks = tool_block(0, "mcp__client__x", "toolu_x", ['{"a": 1}'])
    items = feed_all(TurnAssembler(offered=offered), [start, *blocks, delta, stop])
    assert not any(isinstance(i, ToolCallDelta) for i in items)
    assert isinstance(items[-1], TurnResult) and items[-1].finish_reason == "stop"


def test_offered_and_unoffered_calls_together_surface_only_the_offered_one() -> None:
    start, *_middle, delta, stop = turn_events([], stop_reason="tool_use")
    blocks = [*tool_block(0, "mcp__client__x", "toolu_x", ["{}"]), *tool_block(1, "mcp__client__f", "toolu_f", ["{}"])]
    items = feed_all(TurnAssembler(offered=frozenset({"f"})), [start, *blocks, delta, stop])
    assert [i for i in items if isinstance(i, ToolCallDelta)] == [
        ToolCallDelta(index=0, id="toolu_f", name="f"),
        ToolCallDelta(index=0, arguments="{}"),
    ]
    assert items[-1].finish_reason == "tool_calls"


def test_a_whole_message_with_an_unoffered_call_surfaces_nothing_of_it() -> None:
    message = AssistantMessage(
        content=[TextBlock("hm"), ToolUseBlock(id="t", name="mcp__client__x", input={})],
        model="claude-x",
        stop_reason="tool_use",
    )
    items = feed_all(TurnAssembler(offered=frozenset()), [message, result(stop_reason="tool_use")])
    assert items[0] == TextDelta("hm") and items[-1].finish_reason == "stop"


def test_refusal_with_a_tool_call_ends_at_message_stop_as_content_filter() -> None:
    """Observed: after `refusal` the CLI notes it and calls the upstream again
    ("continuing once with that noted"); the answer ends before that."""
    start, *middle, delta, stop = turn_events(["No."], stop_reason="refusal")
    assembler = TurnAssembler(offered=frozenset({"x"}))
    items = feed_all(assembler, [start, *middle, *tool_block(2, "mcp__client__x", "toolu_x", ['{"a"']), delta, stop])
    assert isinstance(items[-1], TurnResult) and items[-1].finish_reason == "content_filter"
    assert assembler.done
    tool_result = ToolResultBlock(tool_use_id="toolu_x", content="<tool_use_error>No such tool</tool_use_error>")
    later = [
        UserMessage(content=[tool_result]),
        SystemMessage("informational", {"content": "safeguards stopped the response above"}),
        *turn_events(["second call"]),
        result(num_turns=3),
    ]
    assert feed_all(assembler, later) == []


def limited_retry(delay_ms: int, status: int = 429) -> SystemMessage:
    """The CLI's api_retry for a limit, as 2.1.337 emits it before it waits out the Retry-After."""
    data = {"type": "system", "subtype": "api_retry", "attempt": 1, "max_retries": 1}
    return SystemMessage(
        subtype="api_retry",
        data={**data, "retry_delay_ms": delay_ms, "error_status": status, "error": "rate_limit"},
    )


def test_a_limit_the_cli_would_wait_out_is_a_429_at_once() -> None:
    """Issue 24.1: the request fails now, with the wait, instead of after it."""
    assembler = TurnAssembler()
    with pytest.raises(UpstreamError) as limited:
        assembler.feed(limited_retry(69_634))
    assert (limited.value.status, limited.value.kind, limited.value.retry_after) == (429, "rate_limit", 70)
    assert assembler.done


def test_a_short_wait_or_another_error_is_left_to_the_cli() -> None:
    assert TurnAssembler().feed(limited_retry(2_000)) == []
    overloaded = SystemMessage(
        subtype="api_retry", data={"retry_delay_ms": 60_000, "error_status": 529, "error": "server_error"}
    )
    assert TurnAssembler().feed(overloaded) == []


async def _all(assembler: TurnAssembler, messages: list[Any]) -> list[Any]:
    async def source() -> Any:
        for message in messages:
            yield message

    return [item async for item in assembler.items(source())]


async def test_items_end_with_the_result_and_carry_the_credentials_latest_limit() -> None:
    known = RateLimit("allowed_warning", 1_900_000_000, "five_hour", utilization_5h=0.9)
    items = await _all(TurnAssembler(known_limit=known), [*turn_events(["hi"]), result()])
    assert items[0] == TextDelta("hi") and items[-1].rate_limit == known  # no report came in this turn
    fresh = RateLimitEvent(
        rate_limit_info=RateLimitInfo(status="allowed", resets_at=1_900_000_100), uuid="u", session_id="s"
    )
    assembler = TurnAssembler(known_limit=known)
    items = await _all(assembler, [fresh, *turn_events(["hi"]), result()])
    assert items[-1].rate_limit == assembler.rate_limit and assembler.rate_limit.status == "allowed"


async def test_items_check_the_clients_schema_whatever_the_cli_let_by() -> None:
    schema = {"type": "object", "required": ["city"]}
    assembler = TurnAssembler(schema=schema)
    assert assembler.structured
    with pytest.raises(SchemaMismatch, match="'city' is a required property"):
        await _all(assembler, [result(structured_output={"town": "Oslo"})])
    items = await _all(TurnAssembler(schema=schema), [result(structured_output={"city": "Oslo"})])
    assert items[-1].structured_output == {"city": "Oslo"}


async def test_items_of_messages_that_end_without_a_result_fail_or_finish() -> None:
    with pytest.raises(WorkerError, match="ended before it finished"):
        await _all(TurnAssembler(), turn_events(["a"])[:2])
    items = await _all(TurnAssembler(), turn_events(["a"]))  # stopped, then the stream ended
    assert isinstance(items[-1], TurnResult) and items[-1].finish_reason == "stop"
