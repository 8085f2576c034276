"""Bounds on what one connection can hold: the time to send a request's head,
and how many connections ``serve`` keeps open at once.

uvicorn bounds neither: a client that opens a connection and sends nothing,
or half a request head, holds it (and a file descriptor) for as long as it
likes. :func:`header_bounded` is uvicorn's own HTTP protocol with a timer that
closes a connection whose next request head has not arrived in time (a new
connection, and each keep-alive wait after a response). The body's time is
bounded where the body is read (:mod:`json_body`). The number of connections
is uvicorn's ``limit_concurrency``: past it, a request gets 503 at once.

LiteLLM's proxy command starts uvicorn itself (``uvicorn.run``) and has no
option for the protocol, so :func:`bounded_connections` hands it over for the
length of that call.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any


def header_bounded(base: type[asyncio.Protocol], seconds: float) -> type[asyncio.Protocol]:
    """``base`` (uvicorn's HTTP protocol) closing a connection whose request head takes over ``seconds``."""

    class HeaderBounded(base):  # type: ignore[valid-type, misc]  # uvicorn's protocol class, chosen at run time
        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm()  # the next request's head is bounded too

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._disarm()
            self._head_timer = self.loop.call_later(seconds, self._head_late, self.cycle)

        def _disarm(self) -> None:
            timer = getattr(self, "_head_timer", None)
            if timer is not None:
                timer.cancel()

        def _head_late(self, waited_after: Any) -> None:
            """No new request began since the timer was armed: nobody is sending one in time."""
            no_new_request = self.cycle is waited_after
            idle = waited_after is None or waited_after.response_complete
            if no_new_request and idle and not self.transport.is_closing():
                self.transport.close()

    HeaderBounded.__name__ = f"HeaderBounded{base.__name__}"
    return HeaderBounded


@contextlib.contextmanager
def bounded_connections(header_seconds: float) -> Iterator[None]:
    """While inside, ``uvicorn.run`` serves with :func:`header_bounded` connections."""
    import uvicorn
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    real = uvicorn.run
    protocol = header_bounded(AutoHTTPProtocol, header_seconds)

    def run(*args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("http", protocol)
        return real(*args, **kwargs)

    uvicorn.run = run
    try:
        yield
    finally:
        uvicorn.run = real
