"""SDK messages to deltas and a final result: the answer, as it arrives.

The answer is the first model turn the CLI streams. Text and thinking come
from the partial-message events, usage from ``message_start`` and
``message_delta`` (exactly what the upstream sent), the cost from the CLI's
``ResultMessage``. When the turn stops for a reason the CLI would act on by
itself (``max_tokens``: it auto-continues; ``tool_use``; ``refusal``: it
retries once with a note), the answer ends at ``message_stop`` and the caller
stops the CLI.

When the upstream connection drops or its SSE stream is cut short, the CLI
closes the stream itself (``content_block_stop`` and ``message_stop`` with no
``message_delta`` before them), reports ``api_retry`` and streams the retry
as a new message. The cut-off attempt is not an answer: a :class:`Restart`
item tells the consumer to drop what it got of it.

Calls of client functions the request offered become :class:`ToolCallDelta`
items; any other tool the model calls (a built-in one, or a function nobody
offered) never reaches the client. With structured output the answer is the
input of the CLI's ``StructuredOutput`` tool, streamed as text; any prose
around it is not part of the answer.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import AsyncGenerator, AsyncIterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jsonschema
from claude_agent_sdk import (
    AssistantMessage,
    RateLimitEvent,
    ResultMessage,
    StreamEvent,
    SystemMessage,
    TextBlock,
    ThinkingBlock,
    ToolResultBlock,
    ToolUseBlock,
    UserMessage,
)

from .._shapes import (
    FinishReason,
    RateLimit,
    ReasoningDelta,
    Restart,
    StreamItem,
    TextDelta,
    ToolCallDelta,
    TurnResult,
    Usage,
)
from ..errors import ExtraUsageRequired, SchemaMismatch, UpstreamError, WorkerError
from .client_tools import client_name
from .options import STRUCTURED_OUTPUT_TOOL

FINISH_REASONS: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}

# A limited credential's wait the CLI may sit out itself; beyond it the request fails at once (a 429).
LIMIT_WAIT_MS = 5000

# Stop reasons after which the CLI would not simply report a result: it would
# continue (max_tokens, pause_turn), run or refuse a tool, or retry a refusal.
ENDS_EARLY = frozenset({"max_tokens", "model_context_window_exceeded", "tool_use", "pause_turn", "refusal"})


def finish_reason(stop_reason: str | None) -> FinishReason:
    return FINISH_REASONS.get(stop_reason or "end_turn", "stop")


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _seconds(value: Any) -> int | None:
    number = _number(value)
    return int(number) if number is not None else None


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def rate_limit_of(info: Any) -> RateLimit:
    """The SDK's ``RateLimitInfo`` as a :class:`RateLimit`; the per-window
    figures come from its raw ``unifiedWindows`` (measured, CLI 2.1.330)."""
    windows = _mapping(_mapping(getattr(info, "raw", None)).get("unifiedWindows"))
    five, seven = _mapping(windows.get("five_hour")), _mapping(windows.get("seven_day"))
    return RateLimit(
        status=str(info.status),
        resets_at=_seconds(info.resets_at),
        window=info.rate_limit_type,
        utilization_5h=_number(five.get("utilization")),
        utilization_7d=_number(seven.get("utilization")),
        reset_5h=_seconds(five.get("resetsAt")),
        reset_7d=_seconds(seven.get("resetsAt")),
    )


def _classified(error: UpstreamError) -> UpstreamError:
    """The typed error for a rejection that has its own meaning (usage credits, formerly extra usage)."""
    return ExtraUsageRequired.of(error) if ExtraUsageRequired.matches(error) else error


def _plus(a: Usage, b: Usage) -> Usage:
    return Usage(
        input_tokens=a.input_tokens + b.input_tokens,
        output_tokens=a.output_tokens + b.output_tokens,
        cache_read_input_tokens=a.cache_read_input_tokens + b.cache_read_input_tokens,
        cache_creation_input_tokens=a.cache_creation_input_tokens + b.cache_creation_input_tokens,
    )


@dataclass
class _Attempt:
    """One upstream request as the CLI streamed it; a CLI retry starts a new one."""

    usage: Usage = field(default_factory=Usage)
    stop_reason: str | None = None
    started: bool = False  # message_start seen
    stopped: bool = False  # message_stop after a stop reason: the answer is whole
    saw_delta: bool = False
    tool_calls: int = 0  # client calls surfaced so far
    dropped_calls: int = 0  # calls of tools the request did not offer
    calls: dict[int, int] = field(default_factory=dict)  # content block index -> tool call index
    silent_calls: set[int] = field(default_factory=set)  # call blocks with no argument text yet
    structured_block: int | None = None


class TurnAssembler:
    """Feed it every SDK message; it returns what the client should get.

    ``feed`` returns deltas, then a :class:`TurnResult` once the answer is
    complete (after which ``done`` is true), or raises :class:`UpstreamError`.
    A :class:`Restart` among the deltas voids every delta before it.

    ``offered`` names the client functions the request offered; a call of any
    other name is dropped (a model can call a name it saw in the history, or
    invent one). ``None`` (not told) accepts any ``mcp__client__`` name.

    Usage counts every upstream attempt of the turn, the lost ones too: the
    API bills a request whose stream later dropped for the prompt it read and
    the tokens it reported up to the drop. That is also what the CLI adds up
    for its ``ResultMessage`` usage and ``total_cost_usd``, so usage and cost
    agree.
    """

    def __init__(
        self,
        clock: Any = time.time,
        structured: bool = False,
        offered: frozenset[str] | None = None,
        known_limit: RateLimit | None = None,
        schema: Mapping[str, Any] | None = None,
    ) -> None:
        self.structured = structured or schema is not None
        self._schema = schema  # the client's JSON schema: checked here too, whatever the CLI did
        self.offered = offered
        self.model: str | None = None
        self.done = False
        self.ended_by_result = False  # the CLI closed the turn itself (it can be reused)
        self._clock = clock
        self._attempt = _Attempt()
        self._billed = Usage()  # the attempts that were lost
        self._error: UpstreamError | None = None
        self._last_status: int | None = None
        self._retry_after: int | None = None
        self.rate_limit: RateLimit | None = None  # the CLI's latest report for this turn
        self._known_limit = known_limit  # the credential's latest before it: a CLI reports only changes
        self._schema_problem: str | None = None

    @property
    def usage(self) -> Usage:
        return _plus(self._billed, self._attempt.usage)

    @property
    def tool_calls(self) -> int:
        return self._attempt.tool_calls

    @property
    def waits_for_client(self) -> bool:
        """The answer ended in calls of offered client functions, and only those:
        a CLI that can wait for their results (``park_tools``) now does."""
        attempt = self._attempt
        return (
            self.done
            and not self.ended_by_result
            and not self.structured
            and attempt.stop_reason == "tool_use"
            and attempt.tool_calls > 0
            and attempt.dropped_calls == 0
        )

    async def items(self, messages: AsyncIterable[Any]) -> AsyncGenerator[StreamItem, None]:
        """The turn's stream items from the CLI's messages, its TurnResult last."""
        async for message in messages:
            for item in self.feed(message):
                yield self._checked(item)
            if self.done:
                return
        yield self._checked(self.finish_without_result())

    def _checked(self, item: StreamItem) -> StreamItem:
        """A result that breaks the client's schema fails, even if the CLI let it by.

        Raises:
            SchemaMismatch: naming what does not match.
        """
        if self._schema is not None and isinstance(item, TurnResult):
            try:
                jsonschema.validate(item.structured_output, self._schema)
            except jsonschema.ValidationError as exc:
                raise SchemaMismatch(exc.message) from exc
        return item

    def feed(self, message: Any) -> list[StreamItem]:
        if self.done:
            return []
        if isinstance(message, StreamEvent):
            return self._on_event(message)
        if isinstance(message, AssistantMessage):
            return self._on_assistant(message)
        if isinstance(message, SystemMessage):
            if message.subtype == "api_retry":
                status = message.data.get("error_status")
                self._last_status = status if isinstance(status, int) else self._last_status
                self._give_up_on_a_long_limit(message.data)
                return self._restart()
            return []
        if isinstance(message, RateLimitEvent):
            self.rate_limit = rate_limit_of(message.rate_limit_info)
            if self.rate_limit.status == "rejected" and self.rate_limit.resets_at:
                self._retry_after = max(0, int(self.rate_limit.resets_at - self._clock()))
            return []
        if isinstance(message, ResultMessage):
            return self._on_result(message)
        if isinstance(message, UserMessage) and self.structured and isinstance(message.content, list):
            for block in message.content:  # the CLI's verdict on the JSON it was given
                if isinstance(block, ToolResultBlock) and block.is_error:
                    self._schema_problem = str(block.content)
        return []

    def finish_without_result(self) -> TurnResult:
        """The CLI's messages ended with no result: say what is known, or fail."""
        if self._error is not None:
            raise _classified(self._error)
        if self._attempt.stopped:
            return self._complete()
        raise WorkerError("Claude Code CLI ended before it finished the answer")

    # -- internals -------------------------------------------------------
    def _give_up_on_a_long_limit(self, retry: dict[str, Any]) -> None:
        """The credential is limited and the CLI would wait out the upstream's
        Retry-After (a minute, say) before it asks again: the request fails now,
        as a 429 carrying that wait, so the router rests this deployment and
        another one answers instead.

        Raises:
            UpstreamError: a 429 whose wait is over :data:`LIMIT_WAIT_MS`.
        """
        delay = _number(retry.get("retry_delay_ms"))
        limited = retry.get("error_status") == 429 or retry.get("error") == "rate_limit"
        if not limited or delay is None or delay <= LIMIT_WAIT_MS:
            return
        self.done = True
        seconds = math.ceil(delay / 1000)
        raise UpstreamError(
            message=f"this credential is rate limited: the Anthropic API asks to wait {seconds} s before asking again",
            status=429,
            kind="rate_limit",
            retry_after=self._retry_after or seconds,
        )

    def _restart(self) -> list[StreamItem]:
        """A new upstream attempt while the last one never stopped: that one was lost."""
        lost = self._attempt
        if not lost.started or lost.stopped:
            return []
        self._billed = _plus(self._billed, lost.usage)
        self._attempt = _Attempt()
        return [Restart()]

    def _on_event(self, message: StreamEvent) -> list[StreamItem]:
        if message.parent_tool_use_id is not None:
            return []
        event = message.event
        kind = event.get("type")
        attempt = self._attempt
        if kind == "message_start":
            if attempt.stopped:
                return []  # a continuation turn the CLI started on its own
            items = self._restart()
            attempt = self._attempt
            attempt.started = True
            body = event.get("message") or {}
            self.model = body.get("model") or self.model
            attempt.usage.update(body.get("usage"))
            return items
        if not attempt.started or attempt.stopped:
            return []
        if kind == "content_block_start":
            return self._on_block_start(event.get("index"), event.get("content_block") or {})
        if kind == "content_block_stop" and event.get("index") in attempt.silent_calls:
            attempt.silent_calls.discard(event["index"])
            return [ToolCallDelta(index=attempt.calls[event["index"]], arguments="{}")]  # a call without input
        if kind == "content_block_delta":
            return self._on_delta(event.get("index"), event.get("delta") or {})
        if kind == "message_delta":
            attempt.stop_reason = (event.get("delta") or {}).get("stop_reason") or attempt.stop_reason
            attempt.usage.update(event.get("usage"))
            return []
        if kind == "message_stop":
            if attempt.stop_reason is None:
                return []  # the CLI closing a cut-off stream: a retry or an error follows
            attempt.stopped = True
            if attempt.stop_reason in ENDS_EARLY and not (self.structured and attempt.stop_reason == "tool_use"):
                return [self._complete()]
        return []

    def _on_delta(self, index: Any, delta: dict[str, Any]) -> list[StreamItem]:
        if delta.get("type") == "input_json_delta":
            return self._on_json(index, delta.get("partial_json") or "")
        if delta.get("type") == "text_delta" and delta.get("text"):
            self._attempt.saw_delta = True
            return [] if self.structured else [TextDelta(delta["text"])]
        if delta.get("type") == "thinking_delta" and delta.get("thinking"):
            self._attempt.saw_delta = True
            return [ReasoningDelta(delta["thinking"])]
        return []

    def _client_function(self, tool: str) -> str | None:
        """The client's name for a call it can receive: an offered function."""
        function = client_name(tool)
        if function is None or (self.offered is not None and function not in self.offered):
            return None
        return function

    def _on_block_start(self, index: Any, block: dict[str, Any]) -> list[StreamItem]:
        if block.get("type") != "tool_use" or not isinstance(index, int):
            return []
        attempt = self._attempt
        name = str(block.get("name") or "")
        if self.structured and name == STRUCTURED_OUTPUT_TOOL:
            attempt.structured_block = index
            return []
        function = self._client_function(name)
        if function is None:
            attempt.dropped_calls += 1
            return []  # not a client function: nothing of it reaches the client
        attempt.saw_delta = True
        attempt.calls[index] = attempt.tool_calls
        attempt.silent_calls.add(index)
        attempt.tool_calls += 1
        return [ToolCallDelta(index=attempt.calls[index], id=block.get("id"), name=function)]

    def _on_json(self, index: Any, partial: str) -> list[StreamItem]:
        attempt = self._attempt
        if not partial:
            return []
        if index == attempt.structured_block:
            return [TextDelta(partial)]
        if index in attempt.calls:
            attempt.silent_calls.discard(index)
            return [ToolCallDelta(index=attempt.calls[index], arguments=partial)]
        return []

    def _on_assistant(self, message: AssistantMessage) -> list[StreamItem]:
        if message.parent_tool_use_id is not None:
            return []
        if message.error is not None:
            text = "".join(b.text for b in message.content if isinstance(b, TextBlock)).strip()
            self._error = UpstreamError(message=text or message.error, kind=message.error, status=self._last_status)
            return []
        attempt = self._attempt
        if attempt.saw_delta or attempt.stopped:
            return []
        # No partial events arrived (older CLI): take the whole message.
        items: list[StreamItem] = []
        for block in message.content:
            if isinstance(block, ThinkingBlock) and block.thinking:
                items.append(ReasoningDelta(block.thinking))
            elif isinstance(block, TextBlock) and block.text and not self.structured:
                items.append(TextDelta(block.text))
            elif isinstance(block, ToolUseBlock) and (function := self._client_function(block.name)) is not None:
                index, attempt.tool_calls = attempt.tool_calls, attempt.tool_calls + 1
                arguments = json.dumps(block.input)
                items.append(ToolCallDelta(index=index, id=block.id, name=function, arguments=arguments))
        attempt.saw_delta = bool(items)
        self.model = message.model or self.model
        attempt.stop_reason = message.stop_reason or attempt.stop_reason
        if message.usage and not attempt.started:
            attempt.usage.update(message.usage)
        return items

    def _on_result(self, message: ResultMessage) -> list[StreamItem]:
        upstream_failed = self._error is not None or message.api_error_status is not None
        if self.structured and not upstream_failed and (message.is_error or message.structured_output is None):
            self.done = True
            raise SchemaMismatch(self._schema_problem or "the model did not return structured output")
        if message.is_error or self._error is not None:
            error = self._error or UpstreamError(
                message="; ".join(message.errors or []) or message.result or message.subtype,
                kind="unknown",
            )
            if message.api_error_status:
                error.status = message.api_error_status
            if error.retry_after is None:
                error.retry_after = self._retry_after
            self.done = True
            raise _classified(error)
        attempt = self._attempt
        if not attempt.started and message.usage:
            attempt.usage.update(message.usage)
        attempt.stop_reason = attempt.stop_reason or message.stop_reason
        self.ended_by_result = True
        result = self._complete(cost=message.total_cost_usd)
        if self.structured:
            result.structured_output = message.structured_output
            result.finish_reason = "stop"
        return [result]

    def _complete(self, cost: float | None = None) -> TurnResult:
        """The result; "tool_calls" only when a client call reached the client."""
        self.done = True
        stop_reason = self._attempt.stop_reason
        reason = finish_reason(stop_reason)
        if reason == "tool_calls" and not self._attempt.tool_calls:
            reason = "stop"  # only calls nobody offered (a built-in tool): the client has nothing to run
        return TurnResult(
            finish_reason=reason,
            usage=self.usage,
            model=self.model,
            cost_usd=cost,
            stop_reason=stop_reason,
            rate_limit=self.rate_limit or self._known_limit,
        )
