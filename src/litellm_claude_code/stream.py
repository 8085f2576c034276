"""SDK messages to deltas and a final result: the answer, as it arrives.

The answer is the first model turn the CLI streams. Text and thinking come
from the partial-message events, usage from ``message_start`` and
``message_delta`` (exactly what the upstream sent), the cost from the CLI's
``ResultMessage``. When the turn stops for a reason the CLI would act on by
itself (``max_tokens``: it auto-continues; ``tool_use``), the answer ends at
``message_stop`` and the caller stops the CLI.

Calls of client functions become :class:`ToolCallDelta` items. With
structured output the answer is the input of the CLI's ``StructuredOutput``
tool, streamed as text; any prose around it is not part of the answer.
"""

from __future__ import annotations

import json
import time
from typing import Any

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

from .errors import SchemaMismatch, UpstreamError, WorkerError
from .session import STRUCTURED_OUTPUT_TOOL
from .tools import client_name
from .types import FinishReason, ReasoningDelta, StreamItem, TextDelta, ToolCallDelta, TurnResult, Usage

FINISH_REASONS: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}

# Stop reasons after which the CLI would not simply report a result.
ENDS_EARLY = frozenset({"max_tokens", "model_context_window_exceeded", "tool_use", "pause_turn"})


def finish_reason(stop_reason: str | None) -> FinishReason:
    return FINISH_REASONS.get(stop_reason or "end_turn", "stop")


class TurnAssembler:
    """Feed it every SDK message; it returns what the client should get.

    ``feed`` returns deltas, then a :class:`TurnResult` once the answer is
    complete (after which ``done`` is true), or raises :class:`UpstreamError`.
    """

    def __init__(self, clock: Any = time.time, structured: bool = False) -> None:
        self.structured = structured
        self.tool_calls = 0
        self.usage = Usage()
        self.model: str | None = None
        self.stop_reason: str | None = None
        self.done = False
        self.ended_by_result = False  # the CLI closed the turn itself (it can be reused)
        self._clock = clock
        self._turn_started = False
        self._turn_stopped = False
        self._saw_delta = False
        self._error: UpstreamError | None = None
        self._last_status: int | None = None
        self._retry_after: int | None = None
        self._calls: dict[int, int] = {}  # content block index -> tool call index
        self._silent_calls: set[int] = set()  # call blocks with no argument text yet
        self._structured_block: int | None = None
        self._schema_problem: str | None = None

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
            return []
        if isinstance(message, RateLimitEvent):
            info = message.rate_limit_info
            if info.status == "rejected" and info.resets_at:
                self._retry_after = max(0, int(info.resets_at - self._clock()))
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
            raise self._error
        if self._turn_stopped:
            return self._complete()
        raise WorkerError("Claude Code CLI ended before it finished the answer")

    # -- internals -------------------------------------------------------
    def _on_event(self, message: StreamEvent) -> list[StreamItem]:
        if message.parent_tool_use_id is not None:
            return []
        event = message.event
        kind = event.get("type")
        if kind == "message_start":
            if self._turn_stopped:
                return []  # a continuation turn the CLI started on its own
            self._turn_started = True
            body = event.get("message") or {}
            self.model = body.get("model") or self.model
            self.usage.update(body.get("usage"))
            return []
        if not self._turn_started or self._turn_stopped:
            return []
        if kind == "content_block_start":
            return self._on_block_start(event.get("index"), event.get("content_block") or {})
        if kind == "content_block_stop" and event.get("index") in self._silent_calls:
            self._silent_calls.discard(event["index"])
            return [ToolCallDelta(index=self._calls[event["index"]], arguments="{}")]  # a call without input
        if kind == "content_block_delta":
            delta = event.get("delta") or {}
            if delta.get("type") == "input_json_delta":
                return self._on_json(event.get("index"), delta.get("partial_json") or "")
            if delta.get("type") == "text_delta" and delta.get("text"):
                self._saw_delta = True
                return [] if self.structured else [TextDelta(delta["text"])]
            if delta.get("type") == "thinking_delta" and delta.get("thinking"):
                self._saw_delta = True
                return [ReasoningDelta(delta["thinking"])]
            return []
        if kind == "message_delta":
            self.stop_reason = (event.get("delta") or {}).get("stop_reason") or self.stop_reason
            self.usage.update(event.get("usage"))
            return []
        if kind == "message_stop":
            self._turn_stopped = True
            if self.stop_reason in ENDS_EARLY and not (self.structured and self.stop_reason == "tool_use"):
                return [self._complete()]
        return []

    def _on_block_start(self, index: Any, block: dict[str, Any]) -> list[StreamItem]:
        if block.get("type") != "tool_use" or not isinstance(index, int):
            return []
        name = str(block.get("name") or "")
        if self.structured and name == STRUCTURED_OUTPUT_TOOL:
            self._structured_block = index
            return []
        function = client_name(name)
        if function is None:
            return []  # not a client function: nothing of it reaches the client
        self._saw_delta = True
        self._calls[index] = self.tool_calls
        self._silent_calls.add(index)
        self.tool_calls += 1
        return [ToolCallDelta(index=self._calls[index], id=block.get("id"), name=function)]

    def _on_json(self, index: Any, partial: str) -> list[StreamItem]:
        if not partial:
            return []
        if index == self._structured_block:
            return [TextDelta(partial)]
        if index in self._calls:
            self._silent_calls.discard(index)
            return [ToolCallDelta(index=self._calls[index], arguments=partial)]
        return []

    def _on_assistant(self, message: AssistantMessage) -> list[StreamItem]:
        if message.parent_tool_use_id is not None:
            return []
        if message.error is not None:
            text = "".join(b.text for b in message.content if isinstance(b, TextBlock)).strip()
            self._error = UpstreamError(message=text or message.error, kind=message.error, status=self._last_status)
            return []
        if self._saw_delta or self._turn_stopped:
            return []
        # No partial events arrived (older CLI): take the whole message.
        items: list[StreamItem] = []
        for block in message.content:
            if isinstance(block, ThinkingBlock) and block.thinking:
                items.append(ReasoningDelta(block.thinking))
            elif isinstance(block, TextBlock) and block.text and not self.structured:
                items.append(TextDelta(block.text))
            elif isinstance(block, ToolUseBlock) and (function := client_name(block.name)) is not None:
                index, self.tool_calls = self.tool_calls, self.tool_calls + 1
                arguments = json.dumps(block.input)
                items.append(ToolCallDelta(index=index, id=block.id, name=function, arguments=arguments))
        self._saw_delta = bool(items)
        self.model = message.model or self.model
        self.stop_reason = message.stop_reason or self.stop_reason
        if message.usage and not self._turn_started:
            self.usage.update(message.usage)
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
            raise error
        if not self._turn_started and message.usage:
            self.usage.update(message.usage)
        self.stop_reason = self.stop_reason or message.stop_reason
        self.ended_by_result = True
        result = self._complete(cost=message.total_cost_usd, session_id=message.session_id)
        if self.structured:
            result.structured_output = message.structured_output
            result.finish_reason = "stop"
        return [result]

    def _complete(self, cost: float | None = None, session_id: str | None = None) -> TurnResult:
        self.done = True
        return TurnResult(
            finish_reason=finish_reason(self.stop_reason),
            usage=self.usage,
            model=self.model,
            cost_usd=cost,
            session_id=session_id,
            stop_reason=self.stop_reason,
        )


class StopFilter:
    """Cuts the text at the first stop sequence, holding back just enough to
    see a sequence that arrives split across deltas."""

    def __init__(self, stops: tuple[str, ...]) -> None:
        self.stops = stops
        self.hit = False
        self._pending = ""
        self._hold = max((len(stop) for stop in stops), default=1) - 1

    def feed(self, text: str) -> str:
        if self.hit:
            return ""
        if not self.stops:
            return text
        self._pending += text
        cuts = [i for i in (self._pending.find(stop) for stop in self.stops) if i >= 0]
        if cuts:
            self.hit = True
            out, self._pending = self._pending[: min(cuts)], ""
            return out
        keep = len(self._pending) - self._hold
        out, self._pending = self._pending[:keep], self._pending[keep:]
        return out

    def flush(self) -> str:
        out, self._pending = ("" if self.hit else self._pending), ""
        return out

    def apply(self, item: StreamItem) -> list[StreamItem]:
        """What of ``item`` the client gets: text up to a stop, nothing after
        it, and the held-back tail before the result."""
        if isinstance(item, TextDelta):
            text = self.feed(item.text)
            return [TextDelta(text)] if text else []
        if isinstance(item, TurnResult):
            tail = self.flush()
            if self.hit:
                item.finish_reason = "stop"
            return [TextDelta(tail), item] if tail else [item]
        if isinstance(item, ToolCallDelta) and self.hit:
            return []
        return [item]
