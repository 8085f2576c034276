"""A LiteLLM custom provider that does nothing: it streams a fixed answer at once.

``bench/run.py`` serves it from LiteLLM's own proxy (``litellm --config``, none of
this package's code in the path) to measure the floor under every request we
serve: the CPU LiteLLM's proxy spends on one streamed chat completion. It sends
the chunk shapes ``claude-code/`` sends (``ModelResponseStream`` text deltas,
then a generic chunk with the finish reason and usage), as many text chunks as
``BENCH_FLOOR_CHUNKS`` says (the bench passes what the pool-on proxy sent).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from litellm.llms.custom_llm import CustomLLM
from litellm.types.utils import Delta, GenericStreamingChunk, ModelResponseStream, StreamingChoices

ANSWER_TOKENS = 20


class FloorLLM(CustomLLM):
    async def astreaming(  # type: ignore[override]  # LiteLLM passes keywords; it yields, not returns
        self, model: str, *args: Any, **kwargs: Any
    ) -> AsyncIterator[ModelResponseStream | GenericStreamingChunk]:
        chunks = max(1, int(os.environ.get("BENCH_FLOOR_CHUNKS", "3")))
        words = [f" tok{i}" for i in range(ANSWER_TOKENS)]
        size = -(-len(words) // chunks)
        response_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        for start in range(0, len(words), size):
            delta = Delta(content="".join(words[start : start + size]), role="assistant")
            yield ModelResponseStream(
                id=response_id, created=created, model=model, choices=[StreamingChoices(index=0, delta=delta)]
            )
        yield GenericStreamingChunk(
            text="",
            tool_use=None,
            is_finished=True,
            finish_reason="stop",
            usage={"prompt_tokens": 10, "completion_tokens": ANSWER_TOKENS, "total_tokens": 10 + ANSWER_TOKENS},
            index=0,
        )


handler = FloorLLM()
