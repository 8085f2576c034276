"""Proxy hooks: validate chat requests for claude-code models before LiteLLM does.

Some malformed messages (content of the wrong type, say) make LiteLLM's own
preprocessing crash with a 500 before a provider sees them. Checking them
here, with the same translation the provider uses, turns each into a 400
that names the problem. Models served by other providers are left alone.
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


request_validator = RequestValidator()
