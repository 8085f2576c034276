"""Sticky conversations: a continuing chat goes back to the deployment that
holds it, with no help from the client.

An OpenAI client sends the whole history every turn and no session id. When
a model name has several deployments (one per credential), the router would
pick any of them for turn 2, and a deployment other than the one that answered
turn 1 has no warm process holding the conversation: it starts a CLI and
resumes the history from a transcript (~0.6 s more, and the upstream's prompt
cache of that credential is lost).

So after a chat turn succeeds, the conversation *as the client will send it
back* (its messages plus the answer) is hashed and mapped to the deployment
that answered. The next request's history (everything before its new turn) is
hashed the same way and, when it is found and that deployment is healthy (not
cooled down), the router is given only that deployment. A request whose
history matches nothing, or whose deployment is cooling down, is routed as
usual. The hash covers the model group, the caller's key, the system prompt
and every turn as the provider translates it, so only an exact continuation
sticks. List ``litellm_claude_code.routing.sticky_conversations`` under
``litellm_settings.callbacks``.

The map lives as long as a warm process may: the deployment's idle TTL (or
its tool wait, for an answer that asked for the client's function results).
It is kept in Redis when ``router_settings`` names one (``redis_url`` or
``redis_host``/``redis_port``), so every replica sees it; else in memory,
bounded. A client may still pin a conversation itself with LiteLLM's own
session affinity (``x-litellm-session-id``; ``router_settings.
optional_pre_call_checks: [session_affinity]``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import Any, Final

from litellm.caching.in_memory_cache import InMemoryCache
from litellm.integrations.custom_logger import CustomLogger

from ._openai.messages import to_conversation
from ._shapes import AnswerBuffer, TextDelta, ToolCallDelta, Turn
from .errors import ClaudeCodeError
from .settings import DeploymentTuning, is_claude_code

logger = logging.getLogger(__name__)

KEY_PREFIX: Final = "litellm_claude_code:sticky:v1:"
MEMORY_ENTRIES: Final = 10_000  # conversations remembered per proxy without Redis
# Stands in for the client's next turn: the history it ends is what is hashed.
_NEXT_TURN: Final = {"role": "user", "content": "next"}


def conversation_key(scope: Sequence[str], system_prompt: str | None, turns: Sequence[Turn]) -> str:
    """The cache key of a conversation prefix: a hash, so no message text is stored."""
    payload = json.dumps(
        [list(scope), system_prompt, [[turn.role, turn.content] for turn in turns]],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return KEY_PREFIX + hashlib.sha256(payload.encode()).hexdigest()


def lookup_keys(scope: Sequence[str], messages: Any) -> list[str]:
    """Keys under which an earlier answer may have left this request's history:
    the whole history (the client sent a new message), and the history without
    its last user turn when that turn is the client's function results (the
    answer asked for them)."""
    try:
        conversation = to_conversation(messages)
    except ClaudeCodeError:
        return []
    history = list(conversation.history)
    keys = [conversation_key(scope, conversation.system_prompt, history)] if history else []
    if len(history) >= 2 and history[-1].role == "user" and _has_tool_results(history[-1]):
        keys.append(conversation_key(scope, conversation.system_prompt, history[:-1]))
    return keys


def answered_key(scope: Sequence[str], messages: Any, answer: Mapping[str, Any]) -> str | None:
    """The key the client's next request will look up after ``answer``: the
    request's messages and the answer, translated as that request will be."""
    if not answer.get("content") and not answer.get("tool_calls"):
        return None
    try:
        conversation = to_conversation([*messages, answer, _NEXT_TURN])
    except ClaudeCodeError:
        return None
    return conversation_key(scope, conversation.system_prompt, conversation.history)


def _has_tool_results(turn: Turn) -> bool:
    return any(block.get("type") == "tool_result" for block in turn.content)


def _scope(model_group: str, data: Mapping[str, Any]) -> list[str]:
    """The model group and the caller: one caller's history never steers another's."""
    for name in ("litellm_metadata", "metadata"):
        metadata = data.get(name)
        if isinstance(metadata, Mapping):
            caller = metadata.get("user_api_key_hash") or metadata.get("user_api_key_user_id")
            if caller:
                return [model_group, str(caller)]
    return [model_group, ""]


def _model_id(deployment: Mapping[str, Any]) -> str | None:
    model_info = deployment.get("model_info")
    value = model_info.get("id") if isinstance(model_info, Mapping) else None
    return None if value is None else str(value)


def _router() -> Any:
    """The proxy's router, looked up once per hook call (the proxy may replace it on a reload)."""
    try:
        from litellm.proxy.proxy_server import llm_router
    except ImportError:  # pragma: no cover - not inside the proxy
        return None
    return llm_router


class StickyConversations(CustomLogger):
    """Routes a continuing chat to the deployment that answered its last turn."""

    def __init__(self) -> None:
        super().__init__()
        self._memory: InMemoryCache | None = None

    # -- the store: Redis when the router has one (every replica sees it), else memory
    def _store(self, router: Any) -> Any:
        redis = getattr(getattr(router, "cache", None), "redis_cache", None)
        if redis is not None:
            return redis
        if self._memory is None:
            self._memory = InMemoryCache(max_size_in_memory=MEMORY_ENTRIES)
        return self._memory

    # -- routing -----------------------------------------------------------
    async def async_filter_deployments(
        self,
        model: str,
        healthy_deployments: list[Any],
        messages: Any,
        request_kwargs: dict[str, Any] | None = None,
        parent_otel_span: Any = None,
    ) -> list[Any]:
        if len(healthy_deployments) < 2 or not messages or not all(is_claude_code(d) for d in healthy_deployments):
            return healthy_deployments
        try:
            by_id = {_model_id(d): d for d in healthy_deployments}
            store = self._store(_router())
            for key in lookup_keys(_scope(model, request_kwargs or {}), messages):
                found = await store.async_get_cache(key)
                model_id = None if found is None else str(found)
                if model_id is not None and model_id in by_id:
                    logger.debug("sticky conversations: continuing on deployment %s", model_id)
                    return [by_id[model_id]]
        except Exception:  # a routing preference: never fail a request for it
            logger.warning("sticky conversations: lookup failed; routing as usual", exc_info=True)
        return healthy_deployments

    # -- recording (before the client has the answer, so its next turn finds it)
    async def async_post_call_success_hook(self, data: dict[str, Any], user_api_key_dict: Any, response: Any) -> Any:
        choices = getattr(response, "choices", None)
        message = getattr(choices[0], "message", None) if choices else None
        if message is not None:
            answer = {
                "role": "assistant",
                "content": getattr(message, "content", None),
                "tool_calls": _calls(getattr(message, "tool_calls", None)),
            }
            await self._record(data, answer, getattr(response, "_hidden_params", None))
        return response

    async def async_post_call_streaming_iterator_hook(
        self, user_api_key_dict: Any, response: Any, request_data: dict[str, Any]
    ) -> AsyncGenerator[Any, None]:
        streamed = AnswerBuffer()
        hidden: Mapping[str, Any] | None = None
        async for chunk in response:
            hidden = getattr(chunk, "_hidden_params", None) or hidden
            for choice in getattr(chunk, "choices", None) or []:
                delta = getattr(choice, "delta", None)
                if delta is not None:
                    _add_delta(streamed, delta)
            yield chunk
        answer = {"role": "assistant", "content": streamed.text, "tool_calls": _merged(streamed.tool_calls)}
        await self._record(request_data, answer, hidden)

    async def _record(self, data: Mapping[str, Any], answer: dict[str, Any], hidden: Mapping[str, Any] | None) -> None:
        try:
            router = _router()
            model_group, deployments = _group(router, data)
            if len(deployments) < 2:
                return  # nothing to choose between
            model_id = str((hidden or {}).get("model_id") or "")
            deployment = next((d for d in deployments if _model_id(d) == model_id), None)
            if deployment is None or not is_claude_code(deployment):
                return
            if not answer["tool_calls"]:
                del answer["tool_calls"]
            key = answered_key(_scope(model_group, data), data.get("messages") or [], answer)
            if key is not None:
                lifetime = self._lifetime(deployment, "tool_calls" in answer)
                await self._store(router).async_set_cache(key, model_id, ttl=lifetime)
        except Exception:  # the answer is the client's either way
            logger.warning("sticky conversations: could not record the answer's deployment", exc_info=True)

    def _lifetime(self, deployment: Mapping[str, Any], asks_for_results: bool) -> int:
        """Seconds the answering deployment keeps a process for the conversation:
        its idle TTL, or its tool wait when the answer waits for function results."""
        import litellm_claude_code  # the provider's settings: read once per process, or handed by `serve`

        own = DeploymentTuning.from_litellm_params({"model_info": deployment.get("model_info")})
        tuning = own.resolved(litellm_claude_code.handler.settings)
        lasts = max(tuning.idle_ttl, tuning.tool_wait) if asks_for_results else tuning.idle_ttl
        return max(1, math.ceil(lasts))


def _group(router: Any, data: Mapping[str, Any]) -> tuple[str, list[Mapping[str, Any]]]:
    """The model group the router served the request from, and its deployments."""
    model = data.get("model")
    if router is None or not isinstance(model, str):
        return "", []
    for name in ("litellm_metadata", "metadata"):
        metadata = data.get(name)
        if isinstance(metadata, Mapping) and isinstance(metadata.get("model_group"), str):
            model = metadata["model_group"]
            break
    return model, list(router.get_model_list(model_name=model) or [])


def _calls(tool_calls: Any) -> list[dict[str, Any]]:
    """A whole answer's calls (LiteLLM's objects) in OpenAI's message form."""
    return _merged([_delta(call, index) for index, call in enumerate(tool_calls or [])])


def _merged(calls: Sequence[ToolCallDelta]) -> list[dict[str, Any]]:
    return [
        {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}
        for call in calls
    ]


def _delta(call: Any, index: int) -> ToolCallDelta:
    """A LiteLLM tool call, whole or one streamed part of it."""
    function = getattr(call, "function", None)
    return ToolCallDelta(
        index=index,
        arguments=getattr(function, "arguments", None) or "",
        id=getattr(call, "id", None),
        name=getattr(function, "name", None),
    )


def _add_delta(answer: AnswerBuffer, delta: Any) -> None:
    """One streamed OpenAI delta into the answer: its text, and its parts of tool calls."""
    answer.add(TextDelta(getattr(delta, "content", None) or ""))
    for call in getattr(delta, "tool_calls", None) or []:
        answer.add(_delta(call, getattr(call, "index", None) or 0))


sticky_conversations = StickyConversations()


def groups_with_several(model_list: Sequence[Mapping[str, Any]]) -> list[str]:
    """The model groups that have more than one claude-code deployment to choose between."""
    counts: dict[str, int] = {}
    for deployment in model_list:
        if is_claude_code(deployment) and isinstance(name := deployment.get("model_name"), str):
            counts[name] = counts.get(name, 0) + 1
    return sorted(name for name, count in counts.items() if count > 1)


def stick_where_needed() -> list[str]:
    """Add :data:`sticky_conversations` to LiteLLM's callbacks when some model group has
    several claude-code deployments (and it is not listed already); returns those groups.
    Nothing is added for single-deployment groups: the hook would only cost every stream."""
    import litellm

    router = _router()
    groups = groups_with_several(list(getattr(router, "model_list", None) or []))
    if groups and not any(callback is sticky_conversations for callback in litellm.callbacks):
        litellm.logging_callback_manager.add_litellm_callback(sticky_conversations)
    return groups
