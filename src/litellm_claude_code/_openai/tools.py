"""OpenAI ``tools`` and ``tool_choice``: checked, and planned as client
functions the model may call (see ``_claude.client_tools``).

Claude Code cannot send Anthropic's ``tool_choice``, so an enforced choice
becomes a system-prompt instruction and a check of the answer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import jsonschema

from .._claude.client_tools import ToolSpec, upstream_name
from ..errors import TranslationError

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

Choice = Literal["auto", "none", "required", "named"]


@dataclass(frozen=True)
class ToolPlan:
    """What the request's ``tools`` and ``tool_choice`` ask for."""

    tools: tuple[ToolSpec, ...] = ()
    choice: Choice = "auto"
    named: str | None = None  # the function ``tool_choice`` names

    @property
    def offered(self) -> tuple[ToolSpec, ...]:
        """The tools the model is shown: none when ``tool_choice`` is ``none``."""
        return () if self.choice == "none" else self.tools

    @property
    def freeform(self) -> frozenset[str]:
        """The names of the custom (freeform) tools: their calls go back as ``custom`` calls."""
        return frozenset(spec.name for spec in self.tools if spec.freeform)

    @property
    def enforced(self) -> bool:
        return self.choice in ("required", "named") and bool(self.tools)

    def instruction(self, insist: bool = False) -> str | None:
        """The system-prompt line that asks for a call (Claude Code cannot send
        Anthropic's ``tool_choice``). ``insist``: the wording for the retry."""
        if not self.enforced:
            return None
        target = f"the function `{upstream_name(self.named)}`" if self.named else "one of the provided functions"
        if insist:
            return (
                f"IMPORTANT: your previous answer did not call a function. Reply ONLY with a call to {target}; "
                "do not answer in text."
            )
        return f"In this turn you must call {target} instead of answering in text."

    def satisfied_by(self, names: list[str]) -> bool:
        if not self.enforced:
            return True
        if self.named:
            return self.named in names
        return bool(names)


def plan(tools: Any, tool_choice: Any) -> ToolPlan:
    """Validate OpenAI ``tools`` / ``tool_choice``.

    Raises:
        TranslationError: a malformed tool, a duplicate name, an unknown
            choice, or a named function that is not among the tools.
    """
    if tools is None:
        tools = []
    if not isinstance(tools, list):
        raise TranslationError("`tools` must be a list of function tools")
    specs: list[ToolSpec] = []
    for index, tool in enumerate(tools):
        specs.append(_spec(tool, f"tools[{index}]"))
    names = [spec.name for spec in specs]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise TranslationError(f"`tools` names must be unique; repeated: {', '.join(duplicates)}")
    choice, named = _choice(tool_choice, names)
    return ToolPlan(tools=tuple(specs), choice=choice, named=named)


#: A custom tool's one string, as the model fills it in (the call's ``input``).
FREEFORM_INPUT = "input"


def _spec(tool: Any, where: str) -> ToolSpec:
    if isinstance(tool, Mapping) and tool.get("type") == "custom":
        return _custom_spec(tool.get("custom"), f"{where}.custom")
    if not isinstance(tool, Mapping) or tool.get("type", "function") != "function":
        kind = tool.get("type") if isinstance(tool, Mapping) else type(tool).__name__
        raise TranslationError(f"{where}: only function and custom tools are supported, got {kind!r}")
    function, name, description = _named(tool.get("function"), f"{where}.function")
    parameters = function.get("parameters")
    if parameters is None:
        parameters = {"type": "object", "properties": {}}
    if not isinstance(parameters, Mapping) or parameters.get("type", "object") != "object":
        raise TranslationError(f"{where}.function.parameters must be a JSON schema of type object")
    problem = schema_problem(parameters)
    if problem:
        raise TranslationError(
            f"{where}.function.parameters of function {name!r} is not a valid JSON schema: {problem}"
        )
    return ToolSpec(name=name, description=description, parameters_json=json.dumps(parameters, sort_keys=True))


def _named(tool: Any, where: str) -> tuple[Mapping[str, Any], str, str]:
    """A function or custom tool's object at ``where``, checked, with its ``name`` and ``description``."""
    if not isinstance(tool, Mapping):
        raise TranslationError(f"{where} must be an object with a `name`")
    name = tool.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise TranslationError(f"{where}.name must be 1-64 letters, digits, '_' or '-', got {name!r}")
    description = tool.get("description") or ""
    if not isinstance(description, str):
        raise TranslationError(f"{where}.description must be a string")
    return tool, name, description


def _custom_spec(custom: Any, where: str) -> ToolSpec:
    """An OpenAI custom (freeform) tool as a client function of one string: its
    format (a grammar, or plain text) is told to the model in the description."""
    custom, name, description = _named(custom, where)
    format_ = custom.get("format") or {"type": "text"}
    if not isinstance(format_, Mapping) or format_.get("type") not in ("text", "grammar"):
        raise TranslationError(f"{where}.format must be {{'type': 'text'}} or {{'type': 'grammar', ...}}")
    told = "Its input is free text."
    if format_["type"] == "grammar":
        nested = format_.get("grammar")  # chat nests it; Responses has it flat
        grammar: Mapping[str, Any] = nested if isinstance(nested, Mapping) else format_
        definition, syntax = grammar.get("definition"), grammar.get("syntax", "lark")
        if not isinstance(definition, str) or not definition:
            raise TranslationError(f"{where}.format.grammar.definition must be a non-empty string")
        told = f"Its input must match this {syntax} grammar:\n{definition}"
    parameters = {
        "type": "object",
        "properties": {FREEFORM_INPUT: {"type": "string", "description": "the whole input, verbatim"}},
        "required": [FREEFORM_INPUT],
        "additionalProperties": False,
    }
    return ToolSpec(
        name=name,
        description=f"{description}\n\n{told}".strip(),
        parameters_json=json.dumps(parameters, sort_keys=True),
        freeform=True,
    )


def schema_problem(schema: Mapping[str, Any]) -> str | None:
    """What makes ``schema`` an invalid JSON Schema (draft 2020-12, the dialect
    the Anthropic API checks tool schemas against), or None.

    The CLI drops a tool whose schema fails this check, with only a note in its
    log (a bad ``required`` drops every tool), so it is refused here instead.
    Formats are not checked: ``pattern`` is an ECMA-262 regex, which Python's
    ``re`` cannot judge (``\\p{L}`` is valid there and not in ``re``).
    """
    meta = jsonschema.Draft202012Validator(jsonschema.Draft202012Validator.META_SCHEMA)
    try:
        error = jsonschema.exceptions.best_match(meta.iter_errors(dict(schema)))
    except RecursionError:
        return "it is nested too deeply"
    return None if error is None else f"{error.message} at {error.json_path}"


def _choice(tool_choice: Any, names: list[str]) -> tuple[Choice, str | None]:
    if tool_choice is None or tool_choice == "auto":
        return "auto", None
    if tool_choice in ("none", "required"):
        if tool_choice == "required" and not names:
            raise TranslationError("`tool_choice` is 'required' but `tools` is empty")
        return tool_choice, None
    if isinstance(tool_choice, Mapping) and tool_choice.get("type") == "function":
        function = tool_choice.get("function")
        name = function.get("name") if isinstance(function, Mapping) else None
        if name not in names:
            raise TranslationError(f"`tool_choice` names function {name!r}, which is not in `tools`")
        return "named", name
    raise TranslationError(
        "`tool_choice` must be 'auto', 'none', 'required' or {'type': 'function', 'function': {'name': ...}}"
    )
