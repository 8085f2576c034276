"""Package results to LiteLLM response objects (non-streamed and streamed)."""

from __future__ import annotations

import time
import uuid
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

from .._claude.types import ToolCallDelta, TurnResult, Usage


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


def provider_fields(result: TurnResult) -> dict[str, Any]:
    """What only Claude Code knows: its cost and the upstream's own stop reason."""
    fields: dict[str, Any] = {"stop_reason": result.stop_reason}
    if result.cost_usd is not None:
        fields["claude_code_cost_usd"] = result.cost_usd
    if result.model:
        fields["upstream_model"] = result.model
    return fields


def fill_response(
    response: ModelResponse,
    *,
    model: str,
    text: str,
    reasoning: str,
    result: TurnResult,
    tool_calls: list[ToolCallDelta] | None = None,
) -> ModelResponse:
    """Complete the ModelResponse LiteLLM handed to the provider."""
    calls = [
        ChatCompletionMessageToolCall(
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
    response.provider_specific_fields = provider_fields(result)  # type: ignore[attr-defined]
    return response


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
