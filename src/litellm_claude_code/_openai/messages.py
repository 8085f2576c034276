"""OpenAI chat messages to the parts Claude Code takes: pure functions.

System and developer messages become the system prompt, earlier turns the
history that is resumed as a transcript, and the trailing user message(s) the
prompt. Assistant ``tool_calls`` become ``tool_use`` blocks and ``tool``
messages ``tool_result`` blocks of the next user turn. Anything that cannot be
expressed raises :class:`TranslationError` naming the offending message and
part, which the proxy turns into HTTP 400.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .._claude.client_tools import upstream_name
from .._shapes import ContentBlock, Conversation, Role, ToolCallDelta, Turn
from ..errors import TranslationError
from .tools import FREEFORM_INPUT

SYSTEM_ROLES = frozenset({"system", "developer"})
SUPPORTED_ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
# Claude Code resumes a transcript only before a new user message, so tool
# results that end the conversation are written into the transcript and this,
# the CLI's own wording for resuming a turn, is sent after them.
CONTINUE_PROMPT = "Continue from where you left off."
_MAX_IMAGE_URL = 8192
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")  # what the Anthropic API refuses in a tool_use id
_SIGNATURES = {
    "image/png": lambda raw: raw.startswith(b"\x89PNG\r\n\x1a\n"),
    "image/jpeg": lambda raw: raw.startswith(b"\xff\xd8\xff"),
    "image/gif": lambda raw: raw.startswith((b"GIF87a", b"GIF89a")),
    "image/webp": lambda raw: raw[:4] == b"RIFF" and raw[8:12] == b"WEBP",
}
IMAGE_MEDIA_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
_DATA_URL = re.compile(r"^data:(?P<media>[\w/+.-]+);base64,(?P<data>.*)$", re.DOTALL)


def to_conversation(messages: Any) -> Conversation:
    """Split an OpenAI ``messages`` list into system prompt, history and prompt.

    Raises:
        TranslationError: the list is empty, a role is unknown, a content part
            is malformed, or the conversation does not end with a user turn.
    """
    if not isinstance(messages, Sequence) or isinstance(messages, (str, bytes)):
        raise TranslationError("`messages` must be a list of message objects")
    if not messages:
        raise TranslationError("`messages` must contain at least one message")

    system_parts: list[str] = []
    turns: list[Turn] = []
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, Mapping):
            raise TranslationError(f"{where} must be an object with `role` and `content`")
        role = message.get("role")
        if role not in SUPPORTED_ROLES:
            raise TranslationError(_role_problem(where, role))
        if message.get("function_call"):
            raise TranslationError(f"{where}: legacy `function_call` is not supported; use `tool_calls`")
        content = message.get("content")
        if role == "tool":
            _append_turn(turns, Turn(role="user", content=[_tool_result(message, where)]))
            continue
        if role in SYSTEM_ROLES:
            text = _plain_text(content, where)
            if text:
                system_parts.append(text)
            continue
        blocks = _blocks(content, where, role)
        if role == "assistant" and message.get("tool_calls") is not None:
            blocks.extend(_tool_uses(message.get("tool_calls"), where))
        if not blocks:
            if role == "user":
                raise TranslationError(f"{where}: user message content is empty")
            continue  # an empty assistant turn carries nothing
        _append_turn(turns, Turn(role=role, content=blocks))

    if not turns or turns[-1].role != "user":
        raise TranslationError("the last non-system message must be a user message")
    prompt = turns.pop()
    if any(block.get("type") == "tool_result" for block in prompt.content):
        turns.append(prompt)
        prompt = Turn(role="user", content=[{"type": "text", "text": CONTINUE_PROMPT}])
    return Conversation(
        system_prompt="\n\n".join(system_parts) if system_parts else None,
        history=tuple(turns),
        prompt=tuple(prompt.content),
    )


def answers_tool_results(conversation: Conversation) -> bool:
    """True when the request's last turn is the client's tool results (its prompt is ours)."""
    return conversation.prompt == ({"type": "text", "text": CONTINUE_PROMPT},) and bool(conversation.history)


@dataclass(frozen=True)
class FollowUp:
    """The conversation as the client will send it next: what it sent (its history
    and its own last turn), then the answer as it echoes it back, as translated here."""

    client_turns: tuple[Turn, ...]

    @classmethod
    def of(cls, conversation: Conversation) -> FollowUp:
        if answers_tool_results(conversation):
            return cls(tuple(conversation.history))
        return cls((*conversation.history, Turn("user", list(conversation.prompt))))

    def after(self, text: str, calls: Sequence[ToolCallDelta]) -> list[Turn]:
        """The history after an answer with this text and these (merged) calls."""
        tool_calls = [
            {"id": c.id or "", "type": "function", "function": {"name": c.name or "", "arguments": c.arguments or "{}"}}
            for c in calls
        ]
        blocks = _blocks(text or None, "the answer", "assistant")
        if tool_calls:
            blocks.extend(_tool_uses(tool_calls, "the answer"))
        return [*self.client_turns, Turn("assistant", blocks)]


def _role_problem(where: str, role: object) -> str:
    if role == "function":
        return f"{where}: legacy role 'function' is not supported; use `tool` messages"
    allowed = ", ".join(sorted(SUPPORTED_ROLES))
    return f"{where}: unknown role {role!r}; expected one of {allowed}"


def _tool_uses(calls: Any, where: str) -> list[ContentBlock]:
    if not isinstance(calls, list):
        raise TranslationError(f"{where}.tool_calls must be a list")
    blocks: list[ContentBlock] = []
    for position, call in enumerate(calls):
        call_where = f"{where}.tool_calls[{position}]"
        if isinstance(call, Mapping) and call.get("type") == "custom":
            blocks.append(_custom_use(call, call_where))
            continue
        function = call.get("function") if isinstance(call, Mapping) else None
        if not isinstance(function, Mapping) or not isinstance(call.get("id"), str):
            raise TranslationError(f"{call_where} must have an `id` and a `function` with `name` and `arguments`")
        name = function.get("name")
        if not isinstance(name, str) or not name:
            raise TranslationError(f"{call_where}.function.name must be a non-empty string")
        arguments = function.get("arguments") or "{}"
        try:
            parsed = json.loads(arguments) if isinstance(arguments, str) else arguments
        except json.JSONDecodeError as exc:
            raise TranslationError(f"{call_where}.function.arguments is not valid JSON: {exc.msg}") from exc
        if not isinstance(parsed, Mapping):
            raise TranslationError(f"{call_where}.function.arguments must be a JSON object")
        blocks.append(
            {"type": "tool_use", "id": tool_use_id(call["id"]), "name": upstream_name(name), "input": dict(parsed)}
        )
    return blocks


def _custom_use(call: Mapping[str, Any], where: str) -> ContentBlock:
    """A custom (freeform) tool call: its raw string is the one field the model filled in."""
    custom = call.get("custom")
    if not isinstance(custom, Mapping) or not isinstance(call.get("id"), str):
        raise TranslationError(f"{where} must have an `id` and a `custom` with `name` and `input`")
    name, raw = custom.get("name"), custom.get("input")
    if not isinstance(name, str) or not name:
        raise TranslationError(f"{where}.custom.name must be a non-empty string")
    if not isinstance(raw, str):
        raise TranslationError(f"{where}.custom.input must be a string")
    return {
        "type": "tool_use",
        "id": tool_use_id(call["id"]),
        "name": upstream_name(name),
        "input": {FREEFORM_INPUT: raw},
    }


def _tool_result(message: Mapping[str, Any], where: str) -> ContentBlock:
    call_id = message.get("tool_call_id")
    if not isinstance(call_id, str) or not call_id:
        raise TranslationError(f"{where}.tool_call_id must be a non-empty string")
    content = message.get("content")
    if isinstance(content, list):
        parts: list[ContentBlock] = [
            {"type": "text", "text": _text_of(part, f"{where}.content[{i}]")} for i, part in enumerate(content)
        ]
        result: Any = [part for part in parts if part["text"]]
    elif isinstance(content, str) or content is None:
        result = content or ""
    else:
        raise TranslationError(f"{where}.content must be a string or a list of text parts")
    return {"type": "tool_result", "tool_use_id": tool_use_id(call_id), "content": result}


def _append_turn(turns: list[Turn], turn: Turn) -> None:
    """Merge consecutive turns of one role: the transcript must alternate."""
    if turns and turns[-1].role == turn.role:
        merged = [*turns[-1].content, *turn.content]
        # The API wants a user turn's tool results before anything else in it.
        merged.sort(key=lambda block: block.get("type") != "tool_result")
        turns[-1] = Turn(role=turn.role, content=merged)
    else:
        turns.append(turn)


def _plain_text(content: Any, where: str) -> str:
    """System content: a string or a list of text parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for position, part in enumerate(content):
            texts.append(_text_of(part, f"{where}.content[{position}]"))
        return "\n".join(texts)
    raise TranslationError(f"{where}.content must be a string or a list of content parts")


def _blocks(content: Any, where: str, role: Role) -> list[ContentBlock]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if not isinstance(content, list):
        raise TranslationError(f"{where}.content must be a string or a list of content parts")
    blocks: list[ContentBlock] = []
    for position, part in enumerate(content):
        part_where = f"{where}.content[{position}]"
        if not isinstance(part, Mapping):
            raise TranslationError(f"{part_where} must be an object with a `type`")
        kind = part.get("type")
        if kind in ("text", "refusal") or (kind is None and "text" in part):
            text = _text_of(part, part_where)
            if text:
                blocks.append({"type": "text", "text": text})
        elif kind == "image_url" and role == "user":
            blocks.append(image_block(part.get("image_url"), part_where))
        else:
            raise TranslationError(f"{part_where}: unsupported content part type {kind!r} in a {role} message")
    return blocks


def _text_of(part: Any, where: str) -> str:
    if not isinstance(part, Mapping):
        raise TranslationError(f"{where} must be an object with a `type`")
    kind = part.get("type", "text")
    key = "refusal" if kind == "refusal" else "text"
    if kind not in ("text", "refusal"):
        raise TranslationError(f"{where}: expected a text part, got type {kind!r}")
    text = part.get(key)
    if not isinstance(text, str):
        raise TranslationError(f"{where}.{key} must be a string")
    return text


def image_block(image_url: Any, where: str) -> ContentBlock:
    """An OpenAI ``image_url`` value as an Anthropic image block.

    Base64 data URLs become base64 blocks. http(s) URLs become URL blocks that
    the Anthropic API fetches itself: the proxy never makes a request on a
    client's behalf, so it cannot be used to reach its own network.
    """
    url = image_url.get("url") if isinstance(image_url, Mapping) else image_url
    if not isinstance(url, str) or not url:
        raise TranslationError(f"{where}.image_url.url must be a non-empty string")
    match = _DATA_URL.match(url)
    if match is None:
        if url.startswith(("http://", "https://")):
            if len(url) > _MAX_IMAGE_URL or any(ch.isspace() for ch in url):
                raise TranslationError(f"{where}.image_url.url is not a valid http(s) URL")
            return {"type": "image", "source": {"type": "url", "url": url}}
        raise TranslationError(f"{where}.image_url.url must be an http(s) URL or a data:image/...;base64, URL")
    media = match["media"].lower()
    if media == "image/jpg":
        media = "image/jpeg"
    if media not in IMAGE_MEDIA_TYPES:
        supported = ", ".join(sorted(IMAGE_MEDIA_TYPES))
        raise TranslationError(f"{where}: image type {media!r} is not supported ({supported})")
    data = "".join(match["data"].split())
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise TranslationError(f"{where}: the image data is not valid base64") from exc
    if not _SIGNATURES[media](raw):
        # The CLI would swap an undecodable image for a note to the model.
        raise TranslationError(f"{where}: the image data is not a {media} image")
    return {"type": "image", "source": {"type": "base64", "media_type": media, "data": data}}


def tool_use_id(call_id: str) -> str:
    """A client's tool-call id in the form the Anthropic API accepts.

    Ids this provider returned pass unchanged; other clients' ids are mapped
    the same way every time, so a call and its result still pair up.
    """
    safe = _ID_UNSAFE.sub("_", call_id)[:64]
    return safe or "call"
