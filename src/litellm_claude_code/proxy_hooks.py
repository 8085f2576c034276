"""LiteLLM proxy hooks, listed under ``litellm_settings.callbacks``.

``request_validator``: some malformed messages (content of the wrong type,
say) make LiteLLM's own preprocessing crash with a 500 before a provider
sees them. Checking them first, with the same translation the provider uses,
turns each into a 400 that names the problem. Other providers' models are
left alone.

``auth_errors``: without a database, LiteLLM 1.106 answers a request with no
key with a bare 500 (it tries to import prisma) and a wrong key with 400
"No connected db.". Clients expect 401 for both. A request LiteLLM refuses
for its body (``api_base`` from a client, say) also comes out as 500; it is
a 400. LiteLLM's own checks stay in charge; only the status is corrected.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import HTTPException
from litellm.integrations.custom_logger import CustomLogger

from .errors import PROVIDER, TranslationError
from .translate import to_conversation

logger = logging.getLogger(__name__)

CHAT_CALL_TYPES = frozenset({"completion", "acompletion"})


def _serves_claude_code(model_group: str) -> bool:
    """True when every deployment of the group (or the name itself) is claude-code."""
    if model_group.startswith(f"{PROVIDER}/"):
        return True
    try:
        from litellm.proxy.proxy_server import llm_router
    except ImportError:  # pragma: no cover - not inside the proxy
        return False
    if llm_router is None:
        return False
    deployments = llm_router.get_model_list(model_name=model_group) or []
    models = [str((d.get("litellm_params") or {}).get("model", "")) for d in deployments]
    return bool(models) and all(model.startswith(f"{PROVIDER}/") for model in models)


class RequestValidator(CustomLogger):
    async def async_pre_call_hook(
        self, user_api_key_dict: Any, cache: Any, data: dict[str, Any], call_type: Any
    ) -> dict[str, Any]:
        if call_type not in CHAT_CALL_TYPES:
            return data
        model = data.get("model")
        if not isinstance(model, str) or not _serves_claude_code(model):
            return data
        try:
            to_conversation(data.get("messages"))
        except TranslationError as exc:
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
