"""OpenAI request parameters that become CLI options: pure validation.

Each check names the parameter it refuses, so the proxy can answer 400.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema

from ..errors import TranslationError
from .tools import ToolPlan
from .tools import plan as plan_tools

logger = logging.getLogger(__name__)

# Legacy OpenAI function calling: refused with a pointer to its replacement.
LEGACY = {"functions": "tools", "function_call": "tool_choice"}
# Accepted, but Claude Code has no way to pass them on: said once in the log.
IGNORED = (
    "temperature",
    "top_p",
    "top_k",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "logit_bias",
    "logprobs",
    "top_logprobs",
    "parallel_tool_calls",
)
# The values a request may give them (OpenAI's ranges): ignored or not, a malformed one is
# the client's mistake, which it should hear of instead of an answer that looks fine.
Bounds = tuple[float | None, float | None]
CHAT_FIELDS: dict[str, tuple[str, Bounds]] = {
    "temperature": ("number", (0, 2)),
    "top_p": ("number", (0, 1)),
    "presence_penalty": ("number", (-2, 2)),
    "frequency_penalty": ("number", (-2, 2)),
    "seed": ("integer", (None, None)),
    "top_k": ("integer", (0, None)),
    "top_logprobs": ("integer", (0, 20)),
    "stream": ("boolean", (None, None)),
    "logprobs": ("boolean", (None, None)),
    "parallel_tool_calls": ("boolean", (None, None)),
    "store": ("boolean", (None, None)),
    "logit_bias": ("object", (None, None)),
    "stream_options": ("object", (None, None)),
    "user": ("string", (None, None)),
}
EFFORTS = {"minimal": "low", "low": "low", "medium": "medium", "high": "high", "xhigh": "xhigh", "max": "max"}
# Claude model ids as Claude Code takes them: sonnet, claude-sonnet-4-5, opus[1m],
# claude-opus-4-1@20250805 (Vertex), us.anthropic.claude-sonnet-4-5-20250929-v1:0 (Bedrock); a `/`
# only inside a Bedrock ARN (arn:aws:bedrock:...:inference-profile/...). Never a path: no `..`.
MODEL_NAME = re.compile(
    r"(?!.*\.\.)(?:[A-Za-z0-9][A-Za-z0-9._:@\[\]-]{0,127}|arn:aws[a-z-]*:bedrock:[A-Za-z0-9._:/-]{1,200})"
)


@dataclass(frozen=True)
class RequestOptions:
    """What a request's parameters ask of the CLI, checked."""

    tools: ToolPlan
    schema: dict[str, Any] | None  # structured output
    stop: tuple[str, ...]
    max_tokens: int | None
    effort: str | None
    thinking: tuple[str, int | None] | None


def read_options(optional_params: Mapping[str, Any] | None, reported: set[str] | None = None) -> RequestOptions:
    """Check a request's parameters, before any process starts.

    ``reported``: the ignored parameters its provider already logged (each is
    logged once, and added here); None logs nothing.

    Raises:
        TranslationError: a parameter Claude Code cannot honour (becomes HTTP 400).
    """
    params = dict(optional_params or {})
    check_fields(params, CHAT_FIELDS)
    for key, instead in LEGACY.items():
        if params.get(key):
            raise TranslationError(f"legacy `{key}` is not supported; use `{instead}`")
    if params.get("n") not in (None, 1):
        raise TranslationError("`n` must be 1: Claude Code returns one choice per request")
    for key in IGNORED:
        if params.get(key) is not None and reported is not None and key not in reported:
            reported.add(key)
            logger.warning("`%s` is not supported by Claude Code and is ignored (reported once)", key)
    tools = plan_tools(params.get("tools"), params.get("tool_choice"))
    schema = output_schema(params.get("response_format"))
    if schema is not None and tools.offered:
        raise TranslationError("`response_format` with a JSON schema cannot be combined with `tools` here")
    max_tokens = params.get("max_completion_tokens") or params.get("max_tokens")
    if max_tokens is not None and (not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1):
        raise TranslationError("`max_tokens` must be a positive integer")
    effort, thinking = reasoning(params.get("reasoning_effort"), params.get("thinking"))
    return RequestOptions(
        tools=tools,
        schema=schema,
        stop=stop_sequences(params.get("stop")),
        max_tokens=max_tokens,
        effort=effort,
        thinking=thinking,
    )


def check_fields(params: Mapping[str, Any], fields: Mapping[str, tuple[str, Bounds]]) -> None:
    """Each of ``fields`` that ``params`` sets has the type and range it names.

    Raises:
        TranslationError: naming the first field that does not.
    """
    for name, (kind, (low, high)) in fields.items():
        value = params.get(name)
        if value is None:
            continue
        if kind == "boolean" and not isinstance(value, bool):
            raise TranslationError(f"`{name}` must be true or false, got {value!r}")
        if kind == "object" and not isinstance(value, Mapping):
            raise TranslationError(f"`{name}` must be an object, got {value!r}")
        if kind == "string" and not isinstance(value, str):
            raise TranslationError(f"`{name}` must be a string, got {value!r}")
        if kind in ("number", "integer"):
            _check_number(name, value, kind, low, high)


def _check_number(name: str, value: Any, kind: str, low: float | None, high: float | None) -> None:
    wanted = int if kind == "integer" else (int, float)
    if isinstance(value, bool) or not isinstance(value, wanted) or not math.isfinite(value):
        raise TranslationError(f"`{name}` must be {'an integer' if kind == 'integer' else 'a number'}, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        span = f"from {low:g} to {high:g}" if low is not None and high is not None else f"at least {low:g}"
        raise TranslationError(f"`{name}` must be {span}, got {value!r}")


def output_schema(response_format: Any) -> dict[str, Any] | None:
    """The JSON schema the answer must match, or None for plain text.

    Raises:
        TranslationError: an unknown type or an invalid schema.
    """
    if response_format is None:
        return None
    kind = response_format.get("type") if isinstance(response_format, Mapping) else None
    if kind == "text":
        return None
    if kind == "json_object":
        return {"type": "object"}
    if kind == "json_schema":
        holder = response_format.get("json_schema")
        schema = holder.get("schema") if isinstance(holder, Mapping) else None
        if not isinstance(schema, Mapping):
            raise TranslationError("`response_format.json_schema.schema` must be a JSON schema object")
        try:
            jsonschema.Draft202012Validator.check_schema(dict(schema))
        except jsonschema.SchemaError as exc:
            raise TranslationError(
                f"`response_format.json_schema.schema` is not a valid JSON schema: {exc.message}"
            ) from exc
        if schema.get("type") != "object":
            raise TranslationError('`response_format.json_schema.schema` must describe an object ("type": "object")')
        return dict(schema)
    raise TranslationError("`response_format.type` must be 'text', 'json_object' or 'json_schema'")


def reasoning(effort: Any, thinking: Any) -> tuple[str | None, tuple[str, int | None] | None]:
    """OpenAI ``reasoning_effort`` and Anthropic ``thinking`` as CLI options.

    Raises:
        TranslationError: a value Claude Code has no equivalent for.
    """
    chosen_effort: str | None = None
    chosen_thinking: tuple[str, int | None] | None = None
    if effort is not None:
        if effort == "none":
            chosen_thinking = ("disabled", None)
        elif effort in EFFORTS:
            chosen_effort = EFFORTS[effort]
        else:
            raise TranslationError(f"`reasoning_effort` must be one of none, {', '.join(EFFORTS)}; got {effort!r}")
    if thinking is not None:
        kind = thinking.get("type") if isinstance(thinking, Mapping) else None
        if kind == "enabled":
            budget = thinking.get("budget_tokens")
            if not isinstance(budget, int) or isinstance(budget, bool) or budget < 1024:
                raise TranslationError("`thinking.budget_tokens` must be an integer of at least 1024")
            chosen_thinking = ("enabled", budget)
        elif kind in ("disabled", "adaptive"):
            chosen_thinking = (kind, None)
        else:
            raise TranslationError("`thinking.type` must be 'enabled', 'adaptive' or 'disabled'")
    return chosen_effort, chosen_thinking


def stop_sequences(stop: Any) -> tuple[str, ...]:
    if stop is None:
        return ()
    stops = [stop] if isinstance(stop, str) else stop
    if not isinstance(stops, list) or len(stops) > 4 or not all(isinstance(s, str) and s for s in stops):
        raise TranslationError("`stop` must be a non-empty string or a list of up to 4 non-empty strings")
    return tuple(stops)


def model_name(name: Any) -> str:
    """A Claude model id, matched whole: LiteLLM copies the requested model into
    a response header, where a trailing newline breaks the whole response.

    Raises:
        TranslationError: anything but a model id or alias (letters, digits and
            ``._:@[]-``) or a Bedrock ARN.
    """
    if not isinstance(name, str) or not MODEL_NAME.fullmatch(name):
        raise TranslationError(
            "`model` must name a Claude model (an id or alias of up to 128 letters, digits and ._:@[]-, "
            f"or a Bedrock ARN), got {name!r}"
        )
    return name


def client_timeout(param: str, value: Any, limit: float) -> float:
    """A timeout a client asked for, in seconds: positive and at most the
    server's own, so a client can shorten a request but never prolong it.
    ``param`` names where it came from, for the message.

    Raises:
        TranslationError: not a number, not positive, or above ``limit``.
    """
    seconds = value
    if isinstance(value, str):
        try:
            seconds = float(value)
        except ValueError:
            seconds = None
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not math.isfinite(seconds) or seconds <= 0:
        raise TranslationError(f"{param} must be a positive number of seconds, at most {limit:g}; got {value!r}")
    if seconds > limit:
        raise TranslationError(f"{param} may be at most {limit:g} seconds (the server's timeout); got {seconds:g}")
    return float(seconds)
