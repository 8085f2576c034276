"""SDK messages to deltas and a final result: the answer, as it arrives.

The answer is the first model turn the CLI streams. Text and thinking come
from the partial-message events, usage from ``message_start`` and
``message_delta`` (exactly what the upstream sent), the cost from the CLI's
``ResultMessage``. When the turn stops for a reason the CLI would act on by
itself (``max_tokens``: it auto-continues; ``tool_use``), the answer ends at
``message_stop`` and the caller stops the CLI.
"""

from __future__ import annotations

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
)

from .errors import UpstreamError, WorkerError
from .types import FinishReason, ReasoningDelta, StreamItem, TextDelta, TurnResult, Usage

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

    def __init__(self, clock: Any = time.time) -> None:
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
        if kind == "content_block_delta":
            delta = event.get("delta") or {}
            if delta.get("type") == "text_delta" and delta.get("text"):
                self._saw_delta = True
                return [TextDelta(delta["text"])]
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
            if self.stop_reason in ENDS_EARLY:
                return [self._complete()]
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
            elif isinstance(block, TextBlock) and block.text:
                items.append(TextDelta(block.text))
        self._saw_delta = bool(items)
        self.model = message.model or self.model
        self.stop_reason = message.stop_reason or self.stop_reason
        if message.usage and not self._turn_started:
            self.usage.update(message.usage)
        return items

    def _on_result(self, message: ResultMessage) -> list[StreamItem]:
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
        return [self._complete(cost=message.total_cost_usd, session_id=message.session_id)]

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
