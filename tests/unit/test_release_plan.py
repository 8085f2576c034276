"""What becomes of a process after its turn, and the answer the turn leaves: pure code."""

from __future__ import annotations

import pytest

from litellm_claude_code._claude.process import Phase
from litellm_claude_code._claude.processes import Outcome, ReleasePlan, release_plan
from litellm_claude_code._openai.messages import FollowUp, to_conversation
from litellm_claude_code._shapes import (
    AnswerBuffer,
    ReasoningDelta,
    Restart,
    TextDelta,
    ToolCallDelta,
    TurnResult,
    Usage,
)

DONE = Outcome(result_seen=True, ended_by_result=True, phase=Phase.IDLE)


def test_a_failed_or_abandoned_turn_ends_its_process() -> None:
    assert release_plan(Outcome()) == ReleasePlan(reusable=False, park=False)
    assert not release_plan(Outcome()).holds_answer


def test_a_completed_turn_keeps_its_process_with_the_conversation() -> None:
    plan = release_plan(DONE)
    assert plan == ReleasePlan(reusable=True, park=False) and plan.holds_answer


@pytest.mark.parametrize(
    "outcome",
    [
        Outcome(result_seen=False, ended_by_result=True, phase=Phase.IDLE),  # no result from the CLI
        Outcome(result_seen=True, ended_by_result=False, phase=Phase.IDLE),  # cut at a stop the CLI acts on
        Outcome(result_seen=True, ended_by_result=True, structured=True, phase=Phase.IDLE),
    ],
    ids=["no-result", "ended-early", "structured"],
)
def test_a_turn_that_did_not_run_to_its_result_is_not_reused(outcome: Outcome) -> None:
    assert not release_plan(outcome).reusable


def test_an_answer_in_client_calls_parks_while_the_cli_is_in_them() -> None:
    waiting = Outcome(parks=True, waits_for_client=True, phase=Phase.BUSY)
    assert release_plan(waiting) == ReleasePlan(reusable=False, park=True)
    assert release_plan(waiting).holds_answer


@pytest.mark.parametrize(
    "outcome",
    [
        Outcome(parks=False, waits_for_client=True, phase=Phase.BUSY),  # the spec has no parking hook
        Outcome(parks=True, waits_for_client=False, phase=Phase.BUSY),  # the answer called nothing of the client's
        Outcome(parks=True, waits_for_client=True, phase=Phase.CLOSED),  # the CLI died in the calls
        Outcome(parks=True, waits_for_client=True, phase=Phase.IDLE),  # it left them (a denied call)
    ],
    ids=["no-hook", "no-client-call", "dead", "left-the-calls"],
)
def test_no_park_unless_the_cli_waits_in_the_client_calls(outcome: Outcome) -> None:
    assert not release_plan(outcome).park


def test_the_answer_buffer_merges_each_calls_deltas_and_a_restart_voids_what_came_before() -> None:
    answer = AnswerBuffer()
    for item in (
        TextDelta("lost "),
        ToolCallDelta(0, "{", id="call_lost", name="f"),
        Restart(),
        ReasoningDelta("think"),
        TextDelta("hel"),
        TextDelta("lo"),
        ToolCallDelta(0, '{"a"', id="call_1", name="f"),
        ToolCallDelta(1, "{}", id="call_2", name="g"),
        ToolCallDelta(0, ": 1}"),
    ):
        answer.add(item)
    assert (answer.text, answer.reasoning, answer.seen, answer.result) == ("hello", "think", True, None)
    assert answer.tool_calls == [
        ToolCallDelta(0, '{"a": 1}', id="call_1", name="f"),
        ToolCallDelta(1, "{}", id="call_2", name="g"),
    ]
    result = TurnResult("tool_calls", Usage())
    answer.add(result)
    assert answer.result is result
    assert not AnswerBuffer().seen


def test_the_follow_up_is_what_the_client_sends_after_the_answer() -> None:
    asked = to_conversation([{"role": "user", "content": "Weather in Oslo?"}])
    calls = [ToolCallDelta(index=0, id="call_1", name="weather", arguments='{"city": "Oslo"}')]
    history = FollowUp.of(asked).after("Let me look.", calls)
    assert [turn.role for turn in history] == ["user", "assistant"]
    assert history[0].content == [{"type": "text", "text": "Weather in Oslo?"}]
    assert history[1].content[0] == {"type": "text", "text": "Let me look."}
    assert history[1].content[1]["name"] == "mcp__client__weather" and history[1].content[1]["input"] == {
        "city": "Oslo"
    }
    # The client's results are all it adds: its history is the follow-up, our prompt is not in it.
    answered = [
        {"role": "user", "content": "Weather in Oslo?"},
        {"role": "assistant", "content": None, "tool_calls": [_call("call_1")]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ]
    turns = FollowUp.of(to_conversation(answered)).after("Sunny.", [])
    assert [turn.role for turn in turns] == ["user", "assistant", "user", "assistant"]


def _call(call_id: str) -> dict[str, object]:
    return {"id": call_id, "type": "function", "function": {"name": "weather", "arguments": '{"city": "Oslo"}'}}
