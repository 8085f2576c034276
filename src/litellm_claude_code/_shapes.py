"""What a request and its answer look like between the two wings.

The OpenAI side (``_openai``) makes a :class:`Conversation` and reads the
stream items; the Claude Code side (``_claude``) takes the conversation and
makes the items. Standard library only: nothing here imports LiteLLM, the
SDK or the rest of the package, so every module can depend on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

Role = Literal["user", "assistant"]
FinishReason = Literal["stop", "length", "tool_calls", "content_filter"]

# An Anthropic content block (``{"type": "text", "text": ...}``, ``image``...).
ContentBlock = dict[str, Any]


@dataclass(frozen=True)
class Turn:
    """One prior message of the conversation, already in Anthropic block form."""

    role: Role
    content: list[ContentBlock]


@dataclass(frozen=True)
class Conversation:
    """An OpenAI message list, split the way the CLI needs it.

    ``system_prompt`` is fixed when the CLI starts, ``history`` is written as a
    session transcript and resumed, and ``prompt`` is sent as the new user turn.
    """

    system_prompt: str | None
    history: tuple[Turn, ...]
    prompt: tuple[ContentBlock, ...]


@dataclass
class Usage:
    """Token counts exactly as the upstream reported them."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0

    @property
    def prompt_tokens(self) -> int:
        return self.input_tokens + self.cache_read_input_tokens + self.cache_creation_input_tokens

    def update(self, raw: dict[str, Any] | None) -> None:
        """Take the fields present in an Anthropic usage object."""
        if not raw:
            return
        for name in (
            "input_tokens",
            "output_tokens",
            "cache_read_input_tokens",
            "cache_creation_input_tokens",
        ):
            value = raw.get(name)
            if isinstance(value, int):
                setattr(self, name, value)


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class ReasoningDelta:
    text: str


@dataclass(frozen=True)
class ToolCallDelta:
    """Part of a client function call: the first part of each call carries
    ``id`` and ``name``, later ones more of the JSON ``arguments``."""

    index: int  # position among this answer's calls, as OpenAI numbers them
    arguments: str = ""
    id: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class RateLimit:
    """The subscription limits the CLI last reported (its ``rate_limit_event``,
    made from the upstream's ``anthropic-ratelimit-unified-*`` headers)."""

    status: str  # allowed, allowed_warning, rejected
    resets_at: int | None = None  # unix seconds, of the window that decides ``status``
    window: str | None = None  # five_hour, seven_day, ..., overage
    utilization_5h: float | None = None  # 0..1 (can pass 1)
    utilization_7d: float | None = None
    reset_5h: int | None = None
    reset_7d: int | None = None


@dataclass
class TurnResult:
    """How the answer ended, once it has."""

    finish_reason: FinishReason
    usage: Usage
    model: str | None = None
    cost_usd: float | None = None
    stop_reason: str | None = None  # the upstream's own word
    structured_output: Any = None  # the parsed JSON, when the request asked for it
    rate_limit: RateLimit | None = None  # what the CLI reported for this turn, if anything


@dataclass(frozen=True)
class Restart:
    """The upstream attempt streamed so far was lost (a dropped connection or a
    cut-off SSE stream) and the CLI is retrying: every delta before this one
    belongs to an answer that will never be finished, so drop it."""


StreamItem = TextDelta | ReasoningDelta | ToolCallDelta | TurnResult | Restart


@dataclass
class AnswerBuffer:
    """An answer gathered from its stream items, one merged entry per call.

    A :class:`Restart` voids what came before it: the lost attempt is not
    part of the answer, nor of the conversation.
    """

    _text: list[str] = field(default_factory=list)
    _reasoning: list[str] = field(default_factory=list)
    _calls: dict[int, ToolCallDelta] = field(default_factory=dict)
    result: TurnResult | None = None
    seen: bool = False  # any item at all, even a voided one

    def add(self, item: StreamItem) -> None:
        self.seen = True
        if isinstance(item, TextDelta):
            self._text.append(item.text)
        elif isinstance(item, ReasoningDelta):
            self._reasoning.append(item.text)
        elif isinstance(item, ToolCallDelta):
            first = self._calls.get(item.index)
            self._calls[item.index] = (
                item if first is None else replace(first, arguments=first.arguments + item.arguments)
            )
        elif isinstance(item, TurnResult):
            self.result = item
        else:  # a Restart
            self._text, self._reasoning, self._calls = [], [], {}

    @property
    def text(self) -> str:
        return "".join(self._text)

    @property
    def reasoning(self) -> str:
        return "".join(self._reasoning)

    @property
    def tool_calls(self) -> list[ToolCallDelta]:
        return [self._calls[index] for index in sorted(self._calls)]
