"""Package results to LiteLLM response objects (non-streamed and streamed)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncGenerator
from dataclasses import replace
from typing import Any

from litellm.types.utils import (
    ChatCompletionDeltaToolCall,
    ChatCompletionMessageToolCall,
    Delta,
    Function,
    GenericStreamingChunk,
    Message,
    ModelResponse,
    ModelResponseStream,
    PromptTokensDetailsWrapper,
    StreamingChoices,
)
from litellm.types.utils import Usage as LiteLLMUsage

from .._shapes import RateLimit, ReasoningDelta, Restart, TextDelta, ToolCallDelta, TurnResult, Usage
from ..errors import lost_mid_answer
from .tools import FREEFORM_INPUT

# LiteLLM sends a provider's response headers to the client as `llm_provider-<name>`.
RATE_LIMIT_HEADER = "llm_provider-anthropic-ratelimit-unified"


def litellm_usage(usage: Usage) -> LiteLLMUsage:
    """OpenAI usage: prompt = input + cache read + cache write, cached = cache read."""
    return LiteLLMUsage(
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.output_tokens,
        total_tokens=usage.prompt_tokens + usage.output_tokens,
        prompt_tokens_details=PromptTokensDetailsWrapper(
            cached_tokens=usage.cache_read_input_tokens,
            cache_creation_tokens=usage.cache_creation_input_tokens,
        ),
        cache_read_input_tokens=usage.cache_read_input_tokens,
        cache_creation_input_tokens=usage.cache_creation_input_tokens,
    )


def rate_limit_headers(limit: RateLimit | None) -> dict[str, str]:
    """The subscription limits the CLI reported, as the response headers
    LiteLLM's own Anthropic provider forwards: the upstream's
    ``anthropic-ratelimit-unified-*`` names and formats, ``llm_provider-``
    prefixed: ``-status`` (allowed, allowed_warning, rejected),
    ``-representative-claim`` (five_hour, seven_day, ...), ``-reset`` (unix
    seconds), ``-5h-utilization``/``-7d-utilization`` (0..1), ``-5h-reset``/
    ``-7d-reset``; only those the CLI reported."""
    if limit is None:
        return {}
    values = {
        "status": limit.status,
        "representative-claim": limit.window,
        "reset": limit.resets_at,
        "5h-utilization": limit.utilization_5h,
        "5h-reset": limit.reset_5h,
        "7d-utilization": limit.utilization_7d,
        "7d-reset": limit.reset_7d,
    }
    return {f"{RATE_LIMIT_HEADER}-{name}": str(value) for name, value in values.items() if value is not None}


def provider_fields(result: TurnResult) -> dict[str, Any]:
    """What only Claude Code knows: its cost and the upstream's own stop reason."""
    fields: dict[str, Any] = {"stop_reason": result.stop_reason}
    if result.cost_usd is not None:
        fields["claude_code_cost_usd"] = result.cost_usd
    if result.model:
        fields["upstream_model"] = result.model
    if result.rate_limit is not None:
        fields["rate_limit"] = rate_limit_headers(result.rate_limit)
    return fields


def fill_response(
    response: ModelResponse,
    *,
    model: str,
    text: str,
    reasoning: str,
    result: TurnResult,
    tool_calls: list[ToolCallDelta] | None = None,
    freeform: frozenset[str] = frozenset(),
) -> ModelResponse:
    """Complete the ModelResponse LiteLLM handed to the provider. ``freeform``: the
    custom tools, whose calls are ``custom`` calls with their raw input."""
    calls: list[Any] = [
        custom_call(call)
        if call.name in freeform
        else ChatCompletionMessageToolCall(
            id=call.id, type="function", function=Function(name=call.name, arguments=call.arguments or "{}")
        )
        for call in tool_calls or []
    ]
    message = Message(content=text or (None if calls else ""), role="assistant", tool_calls=calls or None)
    if reasoning:
        message.reasoning_content = reasoning
    choice = response.choices[0]
    choice.message = message
    choice.finish_reason = result.finish_reason
    response.model = model
    response.created = int(time.time())
    response.usage = litellm_usage(result.usage)  # type: ignore[attr-defined]
    response._hidden_params["provider_specific_fields"] = provider_fields(result)
    # The proxy sends these as response headers.
    headers = response._hidden_params.get("additional_headers") or {}
    response._hidden_params["additional_headers"] = {**headers, **rate_limit_headers(result.rate_limit)}
    response.provider_specific_fields = provider_fields(result)  # type: ignore[attr-defined]
    return response


def custom_call(call: ToolCallDelta, *, streamed: bool = False) -> dict[str, Any]:
    """A whole call of a custom tool, in the chat shape: its input is the one string
    the model wrote (a dict: LiteLLM's tool-call types know only ``function``)."""
    try:
        arguments = json.loads(call.arguments or "{}")
    except json.JSONDecodeError:
        arguments = {}
    raw = arguments.get(FREEFORM_INPUT) if isinstance(arguments, dict) else None
    shaped: dict[str, Any] = {
        "id": call.id,
        "type": "custom",
        "custom": {"name": call.name, "input": raw if isinstance(raw, str) else ""},
    }
    if streamed:
        shaped["index"] = call.index
    return shaped


class CustomCalls:
    """Holds a streamed custom tool's call until it is whole: the model writes it as JSON
    deltas of ``{"input": ...}``, the client gets the raw string in one chunk."""

    def __init__(self, freeform: frozenset[str]) -> None:
        self._freeform = freeform
        self._held: dict[int, ToolCallDelta] = {}

    def hold(self, item: ToolCallDelta) -> bool:
        """Keep ``item`` if it is part of a custom tool's call (True), else let it through."""
        held = self._held.get(item.index)
        if held is not None:
            self._held[item.index] = replace(held, arguments=held.arguments + item.arguments)
            return True
        if item.name in self._freeform:
            self._held[item.index] = item
            return True
        return False

    def done_before(self, item: object) -> list[ToolCallDelta]:
        """The held calls that ``item`` shows to be whole: anything but more of their own deltas."""
        index = item.index if isinstance(item, ToolCallDelta) and not item.name else None
        whole = [call for i, call in sorted(self._held.items()) if i != index]
        self._held = {i: call for i, call in self._held.items() if i == index}
        return whole

    def drop(self) -> None:
        """The attempt was lost (a restart): what it held goes with it."""
        self._held = {}


class ChunkFactory:
    """Streamed chunks of one response: one id, one created time."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())

    def _chunk(self, delta: Delta, finish_reason: str | None = None, **extra: Any) -> ModelResponseStream:
        return ModelResponseStream(
            id=self.id,
            created=self.created,
            model=self.model,
            choices=[StreamingChoices(index=0, delta=delta, finish_reason=finish_reason)],
            **extra,
        )

    def text(self, text: str) -> ModelResponseStream:
        return self._chunk(Delta(content=text, role="assistant"))

    def reasoning(self, text: str) -> ModelResponseStream:
        return self._chunk(Delta(content=None, reasoning_content=text, role="assistant"))

    def tool_call(self, call: ToolCallDelta) -> ModelResponseStream:
        delta_call = ChatCompletionDeltaToolCall(
            id=call.id,
            type="function" if call.id else None,
            function=Function(name=call.name, arguments=call.arguments),
            index=call.index,
        )
        return self._chunk(Delta(content=None, role="assistant", tool_calls=[delta_call]))

    def custom_tool_call(self, call: ToolCallDelta) -> ModelResponseStream:
        """A custom tool's call, whole, in one chunk (its input is not JSON to stream)."""
        return self._chunk(Delta(content=None, role="assistant", tool_calls=[custom_call(call, streamed=True)]))

    def final(self, result: TurnResult) -> GenericStreamingChunk:
        """The finish_reason with the exact usage, so ``include_usage`` works.

        A dict, not a ModelResponseStream: LiteLLM drops a custom provider's
        content-less ModelResponseStream after the finish_reason, usage and
        all, but keeps a usage-carrying generic chunk.
        """
        usage = litellm_usage(result.usage)
        return GenericStreamingChunk(
            text="",
            tool_use=None,
            is_finished=True,
            finish_reason=result.finish_reason,
            usage=usage.model_dump(exclude_none=True),  # type: ignore[typeddict-item]
            index=0,
            provider_specific_fields=provider_fields(result),
        )


async def stream_chunks(
    items: AsyncGenerator[Any, None], model: str, freeform: frozenset[str]
) -> AsyncGenerator[ModelResponseStream | GenericStreamingChunk, None]:
    """The answer's stream items as OpenAI chunks; a restart after any was
    sent is an error, never a spliced answer."""
    factory, custom = ChunkFactory(model), CustomCalls(freeform)
    try:
        shown = False  # has the client been sent any part of the answer?
        async for item in items:
            if isinstance(item, Restart):
                if shown:  # what it got was cut off
                    raise lost_mid_answer()
                custom.drop()
                continue  # nothing of the lost attempt reached the client: just go on
            for whole in custom.done_before(item):
                yield factory.custom_tool_call(whole)
            if isinstance(item, TextDelta):
                yield factory.text(item.text)
            elif isinstance(item, ReasoningDelta):
                yield factory.reasoning(item.text)
            elif isinstance(item, ToolCallDelta):
                if custom.hold(item):
                    continue
                yield factory.tool_call(item)
            else:
                yield factory.final(item)
            shown = True
    finally:
        await items.aclose()
