"""Expected errors as one log line, not a traceback.

LiteLLM logs every provider error with its traceback (it counts a provider's
4xx as an upstream problem). For this provider most errors are expected: the
client sent a bad key, the upstream said no, the request timed out. Those
already carry a message written for the client, so a traceback of the proxy's
internals only buries them. This filter turns a record whose exception is one
of this provider's mapped errors into one line with LiteLLM's call id (the
``x-litellm-call-id`` the client got); anything else (a bug) keeps its
traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextvars import ContextVar

from ..errors import PROVIDER, UNEXPECTED

LITELLM_LOGGERS = ("LiteLLM Proxy", "LiteLLM Router", "LiteLLM")
# LiteLLM's own line for a request its key check refused (no key, a malformed one, a
# parameter the proxy forbids): the client got a 4xx saying so.
AUTH_REFUSAL = "litellm.proxy.proxy_server.user_api_key_auth(): Exception occured"
CALL_ID_HEADER = b"x-litellm-call-id"

# The call id of the HTTP request being served, for records LiteLLM logs
# without it (a stream that fails after its headers went out).
_call_id: ContextVar[list[str] | None] = ContextVar("litellm_claude_code_call_id", default=None)


def track_call_id() -> list[str]:
    """Start a request's holder of its call id (in the request's context)."""
    holder: list[str] = []
    _call_id.set(holder)
    return holder


def note_call_id(holder: list[str], headers: Iterable[tuple[bytes, bytes]]) -> None:
    """Keep the call id LiteLLM put on the response's headers."""
    for name, value in headers:
        if name.lower() == CALL_ID_HEADER:
            holder[:] = [value.decode("latin-1")]


def _current_call_id() -> str | None:
    holder = _call_id.get()
    return holder[0] if holder else None


def expected(exc: BaseException | None) -> BaseException | None:
    """The provider's mapped error in ``exc``'s chain, if it is an expected one."""
    for link in _chain(exc):
        if getattr(link, "llm_provider", None) == PROVIDER:
            message = str(getattr(link, "message", link))
            return None if UNEXPECTED in message else link
    return None


def _chain(exc: BaseException | None) -> Iterator[BaseException]:
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


class OneLineForExpectedErrors(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and record.msg.startswith(AUTH_REFUSAL):
            _one_line(record, "request refused before routing: %s", (_argument_error(record),))
            return True
        exc = record.exc_info[1] if record.exc_info else _argument_error(record)
        error = expected(exc)
        if error is None:
            return True
        call_id = getattr(record, "litellm_call_id", None) or _current_call_id() or "-"
        status = getattr(error, "status_code", "?")
        summary = str(getattr(error, "message", error)).strip().splitlines()[0]
        _one_line(record, "claude-code request %s failed (%s): %s", (call_id, status, summary))
        return True


def _one_line(record: logging.LogRecord, message: str, args: tuple[object, ...]) -> None:
    """``record`` as a one-line warning: no traceback, no continuation lines."""
    record.msg, record.args = message, tuple(str(a).strip().splitlines()[0] if a else "-" for a in args)
    record.exc_info, record.exc_text, record.stack_info = None, None, None
    record.levelno, record.levelname = logging.WARNING, "WARNING"


def _argument_error(record: logging.LogRecord) -> BaseException | None:
    """An exception passed as a message argument (LiteLLM's ``"... - %s", e``)."""
    args = record.args if isinstance(record.args, tuple) else ()
    return next((arg for arg in args if isinstance(arg, BaseException)), None)


def install() -> None:
    """Add the filter to LiteLLM's loggers (for ``serve``; idempotent)."""
    for name in LITELLM_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, OneLineForExpectedErrors) for f in logger.filters):
            logger.addFilter(OneLineForExpectedErrors())
