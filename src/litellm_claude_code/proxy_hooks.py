"""LiteLLM proxy hooks, listed under ``litellm_settings.callbacks``.

``request_validator`` checks every request for a claude-code model before
LiteLLM routes it (chat completions, ``/v1/messages``, ``/v1/responses``,
streamed or not) and answers 400 naming the problem:

- keys in :data:`SERVER_OWNED`: LiteLLM obeys them from a client's body or
  headers, so a client could multiply upstream calls (``num_retries``,
  ``fallbacks``), replace the server's credential (``api_key``) or send the
  request elsewhere (``custom_llm_provider``);
- a timeout above the server's own;
- values LiteLLM copies into response headers (the model name, guardrail
  names) that would break the response: a bare 500 or a dropped connection;
- messages that LiteLLM's own preprocessing or bridges crash on with a 500
  (checked with the same translation the provider uses, for chat).

Other providers' models are left alone.

``auth_errors``: without a database, LiteLLM 1.106 answers a request with no
key with a bare 500 (it tries to import prisma) and a wrong key with 400
"No connected db.". Clients expect 401 for both. A request LiteLLM refuses
for its body (``api_base`` from a client, say) also comes out as 500; it is
a 400. LiteLLM's own checks stay in charge; only the status is corrected.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

from fastapi import HTTPException
from litellm.integrations.custom_logger import CustomLogger

from . import access_log
from ._openai import params
from ._openai.messages import to_conversation
from .allowed_params import allow_reasoning_params, goes_to_provider
from .errors import PROVIDER, ConfigError, TranslationError
from .settings import DEFAULT_TIMEOUT, is_claude_code

logger = logging.getLogger(__name__)

CHAT_CALL_TYPES = frozenset({"completion", "acompletion"})
MESSAGES_CALL_TYPE = "anthropic_messages"
RESPONSES_CALL_TYPE = "aresponses"

_RETRIES = "retries and fallbacks of claude-code models are decided by the server"
_ROUTING = "the server decides which deployment serves a request"
_CREDENTIALS = "the server's credential and endpoint are used for every request"
_TESTING = "LiteLLM's testing knobs are not for clients"

SERVER_OWNED: Final[Mapping[str, str]] = MappingProxyType(
    {
        # Retries and fallbacks: each one is another Claude Code run.
        **dict.fromkeys(
            (
                "num_retries",
                "max_retries",
                "retry_policy",
                "model_group_retry_policy",
                "retry_strategy",
                "cooldown_time",
                "fallbacks",
                "context_window_fallbacks",
                "content_policy_fallbacks",
                "context_window_fallback_dict",
                "max_fallbacks",
                "disable_fallbacks",
            ),
            _RETRIES,
        ),
        # Deployment choice and queueing.
        **dict.fromkeys(
            (
                "specific_deployment",
                "priority",
                "routing_strategy",
                "routing_strategy_args",
                "enable_tag_filtering",
                "allowed_model_region",
                "model_list",
            ),
            _ROUTING,
        ),
        # LiteLLM lets these body keys override the deployment's own
        # (``{**deployment, **body}``): a client ``api_key`` became the CLI's
        # credential, ``custom_llm_provider`` sent the call to another provider.
        **dict.fromkeys(
            (
                "api_key",
                "api_base",
                "base_url",
                "custom_llm_provider",
                "use_litellm_proxy",
                "litellm_credential_name",
                "user_config",
            ),
            _CREDENTIALS,
        ),
    }
)
"""Request keys a client may not set for a claude-code model (one request is
one Claude Code run, on the server's credential): refused with a 400 naming
the key, never obeyed. Found in LiteLLM 1.106's router and ``completion()``,
which read them from the request. Besides these: every ``mock_*`` key
(:data:`SERVER_OWNED_PREFIXES`); ``timeout``, ``request_timeout`` and
``stream_timeout`` above the server's timeout (:data:`TIMEOUTS`).
``mock_response`` and ``mock_tool_calls`` never get this far: LiteLLM's proxy
drops them from client bodies itself."""

SERVER_OWNED_PREFIXES: Final = MappingProxyType({"mock_": _TESTING})
TIMEOUTS: Final = ("timeout", "request_timeout", "stream_timeout")
# LiteLLM also takes these from request headers, into the same keys.
HEADERS: Final = MappingProxyType(
    {
        "num_retries": "x-litellm-num-retries",
        "timeout": "x-litellm-timeout",
        "stream_timeout": "x-litellm-stream-timeout",
    }
)


def check_request(data: Mapping[str, Any], call_type: str, timeout_limit: float) -> None:
    """Everything the proxy must refuse in a claude-code request, before routing.

    Raises:
        TranslationError: naming the first problem found.
    """
    model = data.get("model")
    if isinstance(model, str) and model.startswith(f"{PROVIDER}/"):
        params.model_name(model[len(PROVIDER) + 1 :])
    check_server_owned(data)
    check_timeouts(data, timeout_limit)
    check_guardrails(data)
    if call_type in CHAT_CALL_TYPES:
        params.read_options(data)  # what the provider would refuse, refused before LiteLLM's layer
        to_conversation(data.get("messages"))
    elif call_type == MESSAGES_CALL_TYPE:
        params.check_fields(data, MESSAGES_FIELDS)
        check_anthropic_system(data.get("system"))
        check_list_of(data, "stop_sequences", str)
        check_list_of(data, "tools", Mapping)
        check_tool_types(data.get("tools"), MESSAGES_TOOL_TYPES)
        check_anthropic_messages(data.get("messages"))
    elif call_type == RESPONSES_CALL_TYPE:
        params.check_fields(data, RESPONSES_FIELDS)
        check_list_of(data, "tools", Mapping)
        check_tool_types(data.get("tools"), RESPONSES_TOOL_TYPES)
        check_responses_input(data.get("input"))


# The Anthropic API's ranges for /v1/messages, and OpenAI's for /v1/responses.
MESSAGES_FIELDS: Final = MappingProxyType(
    {
        "max_tokens": ("integer", (1, None)),
        "temperature": ("number", (0, 1)),
        "top_p": ("number", (0, 1)),
        "top_k": ("integer", (0, None)),
        "stream": ("boolean", (None, None)),
        "metadata": ("object", (None, None)),
    }
)
RESPONSES_FIELDS: Final = MappingProxyType(
    {
        "max_output_tokens": ("integer", (1, None)),
        "temperature": ("number", (0, 2)),
        "top_p": ("number", (0, 1)),
        "stream": ("boolean", (None, None)),
        "store": ("boolean", (None, None)),
        "parallel_tool_calls": ("boolean", (None, None)),
        "instructions": ("string", (None, None)),
        "metadata": ("object", (None, None)),
    }
)


# The tools a client runs itself, which reach the model as the client's own (a tool without
# a type on /v1/messages is one). Every other type is a tool the server would have to run
# (web search, file search, a shell, ...): LiteLLM's bridges dropped some of them silently.
RESPONSES_TOOL_TYPES: Final = frozenset({"function", "custom", "namespace"})
MESSAGES_TOOL_TYPES: Final = frozenset({None, "custom"})


def check_tool_types(tools: Any, allowed: frozenset[str | None]) -> None:
    for index, tool in enumerate(tools or []):
        kind = tool.get("type")
        if kind not in allowed:
            raise TranslationError(
                f"`tools[{index}]` is a `{kind}` tool, which Claude Code cannot run here: it runs no tools "
                "for a client; send tools the client runs itself (function or custom tools)"
            )


def check_list_of(data: Mapping[str, Any], key: str, kind: type) -> None:
    value = data.get(key)
    if value is not None and (not isinstance(value, list) or not all(isinstance(v, kind) for v in value)):
        what = "strings" if kind is str else "objects"
        raise TranslationError(f"`{key}` must be a list of {what}")


def check_anthropic_system(system: Any) -> None:
    """``system``: a string or a list of text blocks, as the Anthropic API takes it."""
    if system is None or isinstance(system, str):
        return
    if not isinstance(system, list) or not all(
        isinstance(b, Mapping) and b.get("type") == "text" and isinstance(b.get("text"), str) for b in system
    ):
        raise TranslationError("system: Input should be a string or a list of text blocks")


def check_server_owned(data: Mapping[str, Any]) -> None:
    for key in data:
        reason = SERVER_OWNED.get(key) or next(
            (why for prefix, why in SERVER_OWNED_PREFIXES.items() if key.startswith(prefix)), None
        )
        if reason:
            raise TranslationError(f"{_source(key)} cannot be set by a client: {reason}")


def check_timeouts(data: Mapping[str, Any], limit: float) -> None:
    for key in TIMEOUTS:
        if data.get(key) is not None:
            params.client_timeout(_source(key), data[key], limit)


def check_guardrails(data: Mapping[str, Any]) -> None:
    """LiteLLM moves a body's ``guardrails`` into the metadata and echoes the
    names in the ``x-litellm-applied-guardrails`` response header: a name that
    is not printable ASCII made the response fail with a bare 500."""
    for entries in _requested_guardrails(data):
        if not isinstance(entries, list):
            raise TranslationError("`guardrails` must be a list of guardrail names")
        for index, entry in enumerate(entries):
            for name in entry if isinstance(entry, Mapping) else [entry]:
                if not _header_safe(name):
                    raise TranslationError(
                        f"`guardrails[{index}]` must be a guardrail name in printable ASCII, got {name!r}"
                    )


def drop_unsafe_guardrails(data: dict[str, Any]) -> None:
    """Remove the requested guardrail names that cannot be a header value.

    LiteLLM copies the names into the headers of the error response too, so
    the 400 refusing them would itself fail with a 500 if they stayed.
    """
    for holder in (data, data.get("metadata"), data.get("litellm_metadata")):
        if isinstance(holder, dict) and holder.get("guardrails") is not None:
            entries = holder["guardrails"]
            kept = (
                [e for e in entries if isinstance(e, Mapping) or _header_safe(e)] if isinstance(entries, list) else []
            )
            holder["guardrails"] = kept


def _requested_guardrails(data: Mapping[str, Any]) -> list[Any]:
    holders = (data, data.get("metadata"), data.get("litellm_metadata"))
    return [h["guardrails"] for h in holders if isinstance(h, Mapping) and h.get("guardrails") is not None]


def _header_safe(name: Any) -> bool:
    return isinstance(name, str) and bool(name) and name.isascii() and name.isprintable()


def check_anthropic_messages(messages: Any) -> None:
    """``/v1/messages``: what LiteLLM's bridge to chat crashes on (500) or
    silently drops, with the Anthropic API's wording. A missing ``messages``
    is LiteLLM's own 400."""
    if messages is None:
        return
    if not isinstance(messages, list):
        raise TranslationError("messages: Input should be a valid list")
    if not messages:
        raise TranslationError("messages: at least one message is required")
    for index, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise TranslationError(f"messages.{index}: Input should be an object")
        if message.get("role") not in ("user", "assistant"):
            raise TranslationError(f"messages.{index}.role: Input should be 'user' or 'assistant'")
        if not isinstance(message.get("content"), (str, list)):
            raise TranslationError(f"messages.{index}.content: Input should be a string or a list of content blocks")


def check_responses_input(value: Any) -> None:
    """``/v1/responses``: an ``input`` of the wrong type crashed LiteLLM's
    bridge (500). A missing ``input`` is LiteLLM's own 400."""
    if value is None or isinstance(value, str):
        return
    if not isinstance(value, list):
        raise TranslationError("`input` must be a string or a list of input items")
    if not value:
        raise TranslationError("`input` must contain at least one item")
    for index, item in enumerate(value):
        if not isinstance(item, Mapping):
            raise TranslationError(f"`input[{index}]` must be an input item (an object), got {type(item).__name__}")
        content = item.get("content")
        if item.get("type", "message") == "message" and not isinstance(content, (str, list)):
            raise TranslationError(f"`input[{index}].content` must be a string or a list of content parts")


def _source(key: str) -> str:
    """How a client set ``key``, for the message."""
    header = HEADERS.get(key)
    return f"`{key}` (request body or {header} header)" if header else f"`{key}`"


def _deployments(model_group: str) -> list[Mapping[str, Any]]:
    try:
        from litellm.proxy.proxy_server import llm_router
    except ImportError:  # pragma: no cover - not inside the proxy
        return []
    if llm_router is None:
        return []
    deployments: list[Mapping[str, Any]] = list(llm_router.get_model_list(model_name=model_group) or [])
    return deployments


def _serves_claude_code(model_group: str) -> bool:
    """True when every deployment of the group (or the name itself) is claude-code."""
    if model_group.startswith(f"{PROVIDER}/"):
        return True
    deployments = _deployments(model_group)
    return bool(deployments) and all(is_claude_code(d) for d in deployments)


def timeout_limit(model_group: str, server_timeout: float) -> float:
    """The longest timeout a client may ask for: the deployment's own
    ``timeout`` when it sets one (it wins over the environment), else the
    server's (``LITELLM_CLAUDE_CODE_TIMEOUT``)."""
    configured = [
        float(value)
        for deployment in _deployments(model_group)
        if isinstance(value := (deployment.get("litellm_params") or {}).get("timeout"), (int, float))
        and not isinstance(value, bool)
        and value > 0
    ]
    return min(configured) if configured else server_timeout


def server_timeout() -> float:
    """The provider's own timeout: the settings ``serve`` handed it (read once per process)."""
    import litellm_claude_code

    try:
        return float(litellm_claude_code.handler.settings.timeout)
    except ConfigError:  # the provider reports it on the call itself
        return DEFAULT_TIMEOUT


def note_route(call: Mapping[str, Any]) -> None:
    """Where the router sent a call (its model group, and the deployment's short id), for
    the access log; the provider's turn notes its credential and process."""
    metadata = next((m for m in (call.get("litellm_metadata"), call.get("metadata")) if isinstance(m, Mapping)), {})
    model_info = call.get("model_info")
    deployment = model_info.get("id") if isinstance(model_info, Mapping) else None
    access_log.note(model=metadata.get("model_group"), deployment=str(deployment)[:12] if deployment else None)


class RequestValidator(CustomLogger):
    """Refuses what this provider cannot serve, before the router sees it;
    lets the reasoning parameters through to its deployments."""

    def __init__(self) -> None:
        super().__init__()
        self._server_timeout: float | None = None  # read on first use, not at import

    async def async_pre_call_deployment_hook(self, kwargs: dict[str, Any], call_type: Any) -> dict[str, Any]:
        if goes_to_provider(kwargs):
            note_route(kwargs)
        return allow_reasoning_params(kwargs)

    async def async_pre_call_hook(
        self, user_api_key_dict: Any, cache: Any, data: dict[str, Any], call_type: Any
    ) -> dict[str, Any]:
        model = data.get("model")
        if not isinstance(model, str) or not _serves_claude_code(model):
            return data
        try:
            if self._server_timeout is None:
                self._server_timeout = server_timeout()
            limit = timeout_limit(model, self._server_timeout)
            check_request(data, str(getattr(call_type, "value", call_type)), limit)
        except TranslationError as exc:
            drop_unsafe_guardrails(data)
            raise HTTPException(status_code=400, detail={"error": str(exc)}) from exc
        return data


class AuthErrors(CustomLogger):
    async def async_post_call_failure_hook(
        self,
        request_data: dict[str, Any],
        original_exception: Exception,
        user_api_key_dict: Any,
        traceback_str: str | None = None,
    ) -> HTTPException | None:
        # This hook sees every failure: match LiteLLM's exact auth messages only.
        message = str(getattr(original_exception, "message", original_exception))
        if message.startswith(("No api key passed in", "Malformed API Key")):
            return HTTPException(
                status_code=401, detail="Missing API key: send the proxy's master key as a Bearer token"
            )
        if message == "No connected db.":
            return HTTPException(status_code=401, detail="Invalid API key")
        if message.startswith("Rejected Request:"):  # e.g. api_base in the body
            return HTTPException(status_code=400, detail=message)
        return None


request_validator = RequestValidator()
auth_errors = AuthErrors()
