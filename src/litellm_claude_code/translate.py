"""OpenAI chat messages to the parts Claude Code takes: pure functions.

System and developer messages become the system prompt, earlier turns the
history that is resumed as a transcript, and the trailing user message(s) the
prompt. Anything that cannot be expressed raises :class:`TranslationError`
naming the offending message and part, which the proxy turns into HTTP 400.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from typing import Any

from .errors import TranslationError
from .types import ContentBlock, Conversation, Role, Turn

SYSTEM_ROLES = frozenset({"system", "developer"})
SUPPORTED_ROLES = frozenset({"system", "developer", "user", "assistant"})
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
        if message.get("tool_calls") or message.get("function_call"):
            raise TranslationError(f"{where}: assistant tool calls are not supported yet")
        content = message.get("content")
        if role in SYSTEM_ROLES:
            text = _plain_text(content, where)
            if text:
                system_parts.append(text)
            continue
        blocks = _blocks(content, where, role)
        if not blocks:
            if role == "user":
                raise TranslationError(f"{where}: user message content is empty")
            continue  # an empty assistant turn carries nothing
        _append_turn(turns, Turn(role=role, content=blocks))

    if not turns or turns[-1].role != "user":
        raise TranslationError("the last non-system message must be a user message")
    prompt = turns.pop()
    return Conversation(
        system_prompt="\n\n".join(system_parts) if system_parts else None,
        history=tuple(turns),
        prompt=tuple(prompt.content),
    )


def _role_problem(where: str, role: object) -> str:
    if role in ("tool", "function"):
        return f"{where}: role {role!r} (tool results) is not supported yet"
    allowed = ", ".join(sorted(SUPPORTED_ROLES))
    return f"{where}: unknown role {role!r}; expected one of {allowed}"


def _append_turn(turns: list[Turn], turn: Turn) -> None:
    """Merge consecutive turns of one role: the transcript must alternate."""
    if turns and turns[-1].role == turn.role:
        turns[-1] = Turn(role=turn.role, content=[*turns[-1].content, *turn.content])
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

    Only base64 data URLs are taken here; remote URLs are refused rather than
    fetched, so the proxy never makes requests on a client's behalf.
    """
    url = image_url.get("url") if isinstance(image_url, Mapping) else image_url
    if not isinstance(url, str) or not url:
        raise TranslationError(f"{where}.image_url.url must be a non-empty string")
    match = _DATA_URL.match(url)
    if match is None:
        if url.startswith(("http://", "https://")):
            raise TranslationError(
                f"{where}: remote image URLs are not supported yet; send the image as a base64 data URL"
            )
        raise TranslationError(f"{where}.image_url.url must be a data:image/...;base64, URL")
    media = match["media"].lower()
    if media == "image/jpg":
        media = "image/jpeg"
    if media not in IMAGE_MEDIA_TYPES:
        supported = ", ".join(sorted(IMAGE_MEDIA_TYPES))
        raise TranslationError(f"{where}: image type {media!r} is not supported ({supported})")
    data = "".join(match["data"].split())
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise TranslationError(f"{where}: the image data is not valid base64") from exc
    return {"type": "image", "source": {"type": "base64", "media_type": media, "data": data}}
