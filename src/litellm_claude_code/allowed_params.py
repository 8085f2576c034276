"""Let LiteLLM pass ``reasoning_effort`` and ``thinking`` to this provider.

LiteLLM refuses both (HTTP 400) for custom providers unless a deployment
lists them in ``allowed_openai_params``. This callback adds them, per call,
for ``claude-code/`` deployments only, so neither the embedded config nor a
user's own one needs editing. It runs in LiteLLM's async call path (the
proxy, ``acompletion``); a sync ``litellm.completion`` call must pass
``allowed_openai_params`` itself.
"""

from __future__ import annotations

from typing import Any

import litellm
from litellm.integrations.custom_logger import CustomLogger

PARAMS = ("reasoning_effort", "thinking")


class AllowReasoningParams(CustomLogger):
    async def async_pre_call_deployment_hook(self, kwargs: dict[str, Any], call_type: Any) -> dict[str, Any]:
        model = str(kwargs.get("model") or "")
        if kwargs.get("custom_llm_provider") == "claude-code" or model.startswith("claude-code/"):
            allowed = list(kwargs.get("allowed_openai_params") or [])
            kwargs["allowed_openai_params"] = allowed + [p for p in PARAMS if p not in allowed]
        return kwargs


_installed = False


def install() -> None:
    """Add the callback to LiteLLM once per process."""
    global _installed
    if _installed:
        return
    _installed = True
    litellm.logging_callback_manager.add_litellm_callback(AllowReasoningParams())
