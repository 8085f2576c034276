"""Use Claude through Claude Code from any OpenAI-compatible tool, via LiteLLM.

``handler`` is the provider instance a LiteLLM proxy config names
(``custom_handler: litellm_claude_code.handler``); ``register()`` adds it to
LiteLLM in-process so ``litellm.completion(model="claude-code/sonnet")`` works.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from .errors import PROVIDER as PROVIDER_NAME
from .errors import (
    ClaudeCodeError,
    CLINotFound,
    ConfigError,
    ExtraUsageRequired,
    OutputError,
    PoolClosed,
    PoolError,
    PoolFull,
    RequestTimeout,
    SchemaMismatch,
    SDKDrift,
    TranslationError,
    UpstreamError,
    WorkerError,
)
from .settings import Settings

if TYPE_CHECKING:
    from .provider import ClaudeCodeLLM

try:
    __version__ = version("litellm-claude-code")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

_handler: ClaudeCodeLLM | None = None


def __getattr__(name: str) -> Any:
    # Lazy, so that `import litellm_claude_code` (and the command line) does
    # not import LiteLLM, which fetches a cost map from the network at import.
    global _handler
    if name == "handler":
        if _handler is None:
            from .provider import ClaudeCodeLLM

            _handler = ClaudeCodeLLM()
        return _handler
    if name == "ClaudeCodeLLM":
        from .provider import ClaudeCodeLLM

        return ClaudeCodeLLM
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def register(provider: ClaudeCodeLLM | None = None) -> None:
    """Add the ``claude-code`` provider to ``litellm.custom_provider_map``, and
    the hook that lets ``reasoning_effort``/``thinking`` through to it.

    Idempotent: a second call replaces the first registration.
    """
    import litellm
    from litellm.types.llms.custom_llm import CustomLLMItem
    from litellm.utils import custom_llm_setup

    from .allowed_params import AllowReasoningParams

    entry = CustomLLMItem(provider=PROVIDER_NAME, custom_handler=provider or __getattr__("handler"))
    litellm.custom_provider_map = [
        item for item in litellm.custom_provider_map if item.get("provider") != PROVIDER_NAME
    ] + [entry]
    # LiteLLM reads the map into its provider registry only on this call.
    custom_llm_setup()  # type: ignore[no-untyped-call]
    if not any(isinstance(callback, AllowReasoningParams) for callback in litellm.callbacks):
        litellm.logging_callback_manager.add_litellm_callback(AllowReasoningParams())


__all__ = [
    "__version__",
    # The provider
    "handler",
    "register",
    "ClaudeCodeLLM",
    "Settings",
    "PROVIDER_NAME",
    # Errors (the tree is in errors.py)
    "ClaudeCodeError",
    "ConfigError",
    "TranslationError",
    "CLINotFound",
    "SDKDrift",
    "WorkerError",
    "OutputError",
    "SchemaMismatch",
    "RequestTimeout",
    "PoolError",
    "PoolFull",
    "PoolClosed",
    "UpstreamError",
    "ExtraUsageRequired",
]
