"""Let LiteLLM pass ``reasoning_effort`` and ``thinking`` to this provider.

LiteLLM refuses both (HTTP 400) for custom providers unless a deployment
lists them in ``allowed_openai_params``. The hook adds them, per call, for
``claude-code/`` deployments only, so no deployment needs editing. It runs
in LiteLLM's async call path (the proxy, ``acompletion``): in a proxy through
``proxy_hooks.request_validator``, which the config names; in-process through
``register()``. A sync ``litellm.completion`` call must pass
``allowed_openai_params`` itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from litellm.integrations.custom_logger import CustomLogger

from .errors import PROVIDER

PARAMS = ("reasoning_effort", "thinking")


def goes_to_provider(kwargs: Mapping[str, Any]) -> bool:
    """A LiteLLM call (its kwargs) that this provider answers."""
    return kwargs.get("custom_llm_provider") == PROVIDER or str(kwargs.get("model") or "").startswith(f"{PROVIDER}/")


def allow_reasoning_params(kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` of a LiteLLM call, with the reasoning parameters allowed
    when the call goes to this provider."""
    if goes_to_provider(kwargs):
        allowed = list(kwargs.get("allowed_openai_params") or [])
        kwargs["allowed_openai_params"] = allowed + [p for p in PARAMS if p not in allowed]
    return kwargs


class AllowReasoningParams(CustomLogger):
    async def async_pre_call_deployment_hook(self, kwargs: dict[str, Any], call_type: Any) -> dict[str, Any]:
        return allow_reasoning_params(kwargs)
