"""Parked tool calls: a client function call that the client's next request answers.

When the model calls a client function, the CLI asks permission (with the
call's ``tool_use_id``), then calls the in-process MCP tool and waits for its
result. :class:`ToolBridge` allows the call and makes the tool wait until the
client's follow-up request brings the result for that id; the CLI then sends
the upstream ``assistant[tool_use] , user[tool_result]`` itself, with nothing
injected, and the same session goes on. Meanwhile the first request has
answered its client with ``tool_calls``.

The CLI runs one tool at a time: permission for a call, then its handler,
then the next call. So handlers are matched to ids in permission order
(per function and arguments), and results may arrive before or after the
handler that needs them.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict, deque
from collections.abc import Mapping
from typing import Any

from claude_agent_sdk.types import PermissionResultAllow, PermissionResultDeny, ToolPermissionContext

from .client_tools import PREFIX
from .options import STRUCTURED_OUTPUT_TOOL
from .types import ToolResult

logger = logging.getLogger(__name__)

# Claude Code keeps an MCP result inline up to the tool's maxResultSizeChars,
# capped near 500 000 characters (measured); beyond, it saves the result to a
# file and shows the model a preview. Larger results take the resume path.
MAX_INLINE_RESULT_CHARS = 400_000
NOT_HERE = "Client functions run on the client, not here."


def _args_key(name: str, arguments: Mapping[str, Any]) -> tuple[str, str]:
    return name, json.dumps(arguments, sort_keys=True)


class ToolBridge:
    """The permission callback and the tool handler of one CLI process's client functions."""

    def __init__(self) -> None:
        self._approved: defaultdict[tuple[str, str], deque[str]] = defaultdict(deque)
        self._results: dict[str, asyncio.Future[ToolResult]] = {}

    async def permission(
        self, name: str, tool_input: dict[str, Any], context: ToolPermissionContext
    ) -> PermissionResultAllow | PermissionResultDeny:
        """Allow the client's functions (they wait for the client) and the CLI's JSON answer tool."""
        if name == STRUCTURED_OUTPUT_TOOL:
            return PermissionResultAllow()
        if name.startswith(PREFIX) and context.tool_use_id:
            self._approved[_args_key(name.removeprefix(PREFIX), tool_input)].append(context.tool_use_id)
            return PermissionResultAllow()
        return PermissionResultDeny(message=NOT_HERE, interrupt=True)

    async def run(self, name: str, arguments: dict[str, Any]) -> tuple[str, bool]:
        """The tool handler: wait for the client's result of this call."""
        waiting = self._approved.get(_args_key(name, arguments))
        if not waiting:
            logger.warning("a client function call arrived without its permission request")
            return NOT_HERE, True
        result = await self._future(waiting.popleft())
        return result.text, result.is_error

    def deliver(self, results: Mapping[str, ToolResult]) -> None:
        """The client's results, by call id: each wakes (or pre-empts) its handler."""
        for call_id, result in results.items():
            future = self._future(call_id)
            if not future.done():
                future.set_result(result)

    def _future(self, call_id: str) -> asyncio.Future[ToolResult]:
        if call_id not in self._results:
            self._results[call_id] = asyncio.get_running_loop().create_future()
        return self._results[call_id]


def results_of(blocks: list[dict[str, Any]]) -> dict[str, ToolResult] | None:
    """A user turn made only of tool results, as ``{call id: result}``; None if it holds
    anything else, or more text than the CLI keeps inline."""
    results: dict[str, ToolResult] = {}
    for block in blocks:
        if block.get("type") != "tool_result" or not isinstance(block.get("tool_use_id"), str):
            return None
        content = block.get("content")
        if isinstance(content, list):
            if any(part.get("type") != "text" for part in content):
                return None
            text = "".join(str(part.get("text", "")) for part in content)
        else:
            text = str(content or "")
        results[block["tool_use_id"]] = ToolResult(text, bool(block.get("is_error")))
    if not results or sum(len(r.text) for r in results.values()) > MAX_INLINE_RESULT_CHARS:
        return None
    return results
