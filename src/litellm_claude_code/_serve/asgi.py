"""The LiteLLM proxy app as ``serve`` runs it: two behaviours LiteLLM lacks.

**A client that leaves cancels its request.** Neither uvicorn nor LiteLLM
cancels a non-streamed request whose client has disconnected: the provider
would run its CLI to the end (or to the timeout) for nobody, holding a
process slot. This wrapper watches the connection once the request body is
read and cancels the request the moment the client is gone, so the CLI ends
within a second, as it does for streamed requests. Streamed requests
(``"stream": true``) are left to LiteLLM, which already cancels them, from a
task of its own that an outside cancel would orphan.

**SIGTERM drains.** uvicorn's graceful shutdown waits for every open
response, with no limit. On SIGTERM or SIGINT the wrapper first asks the
provider to drain (refuse new work, fail queued requests with 503, give
running ones a grace period, then end every CLI), then lets uvicorn's own
handler run. The handler is installed when the app starts (inside uvicorn's
own signal capture, which it chains to), never at import.

**GET /metrics** is answered here, from the provider's own registry (see
:mod:`metrics_route`), before LiteLLM sees the request.

**Only the routes users need answer** (see :mod:`routes`): every other
path is a 404 before LiteLLM sees the request.

**GET /health** carries no traceback (see :mod:`health`).

**One access-log line per model request** (see :mod:`..access_log`), written
when its response is done or its client has left.

**Model routes get only JSON objects:** a body that is not one is refused
here with a 400 that says why (see :mod:`json_body`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

from .. import access_log
from .health import health_without_tracebacks
from .json_body import MODEL_ROUTES, checked_json_bodies
from .metrics_route import is_scrape, serve_metrics
from .routes import NOT_FOUND, allowed

if TYPE_CHECKING:
    from .._claude.metrics import Metrics

from .quiet_logs import note_call_id, track_call_id

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class ServingApp:
    """Wraps an ASGI app; ``drain`` is awaited once, on the first stop signal;
    ``on_started`` is called once the app has started (after LiteLLM's banner)."""

    def __init__(
        self,
        app: ASGIApp,
        drain: Callable[[], Awaitable[None]],
        on_started: Callable[[], None] | None = None,
        metrics: Metrics | None = None,
        environ: Mapping[str, str] | None = None,
        body_seconds: float = 30.0,
        access: bool = True,
    ) -> None:
        self.app = app
        self._environ = dict(environ or {})  # DATABASE_URL opens the admin routes
        self._checked = checked_json_bodies(health_without_tracebacks(app), body_seconds)
        self._access = access
        self._drain = drain
        self._on_started = on_started
        self._metrics = metrics  # served at GET /metrics, before LiteLLM sees the request
        self._draining: asyncio.Task[None] | None = None

    def __getattr__(self, name: str) -> Any:
        # LiteLLM reaches for `proxy_server.app` (this wrapper, once `serve` runs) to mount
        # routes, its own /metrics among them: they belong to the app it wraps.
        if name == "app":
            raise AttributeError(name)
        return getattr(self.app, name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            self._install_signal_handlers(asyncio.get_running_loop())
            await self.app(scope, self._drained_before_shutdown(receive), self._told_when_started(send))
        elif scope["type"] == "http" and not allowed(scope.get("path", ""), self._environ):
            await _not_found(send)
        elif scope["type"] == "http" and self._metrics is not None and is_scrape(scope):
            await serve_metrics(self._metrics, self.app, scope, receive, send)
        elif scope["type"] == "http" and self._access and MODEL_ROUTES.match(scope.get("path", "")):
            await _logged(self._checked, scope, receive, send)
        elif scope["type"] == "http":
            await _cancel_on_disconnect(self._checked, scope, receive, send)
        elif scope["type"] == "websocket" and not allowed(scope.get("path", ""), self._environ):
            await send({"type": "websocket.close", "code": 1008})  # before the handshake: HTTP 403
        else:
            await self.app(scope, receive, send)

    # -- stop signals --------------------------------------------------------
    def _install_signal_handlers(self, loop: asyncio.AbstractEventLoop) -> None:
        for signum in STOP_SIGNALS:
            previous = signal.getsignal(signum)
            try:
                signal.signal(signum, self._handler(loop, previous))
            except ValueError:  # not the main thread: uvicorn handles signals alone
                return

    def _handler(self, loop: asyncio.AbstractEventLoop, previous: Any) -> Callable[[int, Any], None]:
        def handle(signum: int, frame: Any) -> None:
            if self._draining is None:
                logger.warning("stopping: draining Claude Code processes")
                loop.call_soon_threadsafe(self._start_draining)
            if callable(previous):
                previous(signum, frame)
            elif previous == signal.SIG_DFL:
                signal.signal(signum, signal.SIG_DFL)
                signal.raise_signal(signum)

        return handle

    def _start_draining(self) -> None:
        if self._draining is None:
            self._draining = asyncio.ensure_future(self._drain())

    def _told_when_started(self, send: Send) -> Send:
        async def wrapped(message: Message) -> None:
            await send(message)
            if message.get("type") == "lifespan.startup.complete" and self._on_started is not None:
                self._on_started()

        return wrapped

    def _drained_before_shutdown(self, receive: Receive) -> Receive:
        """The app hears of the shutdown only once every CLI has ended (however the stop began)."""

        async def wrapped() -> Message:
            message = await receive()
            if message.get("type") == "lifespan.shutdown":
                self._start_draining()
                assert self._draining is not None
                await asyncio.shield(self._draining)
            return message

        return wrapped


async def _logged(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    """One request, with its access-log line written when it is over (499: the client left first)."""
    record = access_log.open_record(str(scope.get("method")), str(scope.get("path")))
    complete = False

    async def noted(message: Message) -> None:
        nonlocal complete
        if message["type"] == "http.response.start":
            record.status = int(message["status"])
            headers = dict(message.get("headers") or [])
            call_id = headers.get(b"x-litellm-call-id")
            record.request_id = call_id.decode("latin-1") if call_id else None
        elif message["type"] == "http.response.body" and not message.get("more_body"):
            complete = True
        await send(message)

    try:
        await _cancel_on_disconnect(app, scope, receive, noted)
    finally:
        if not complete:
            record.status = 499 if record.status is None else record.status
            record.error = record.error or "client_left"
        access_log.write(record)


async def _not_found(send: Send) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(NOT_FOUND)).encode())]
    await send({"type": "http.response.start", "status": 404, "headers": headers})
    await send({"type": "http.response.body", "body": NOT_FOUND})


async def _cancel_on_disconnect(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    """Run one HTTP request; cancel it if the client disconnects before the response is complete.

    After the body, ``receive`` yields only ``http.disconnect`` (when the
    client leaves or the response is complete), so a watcher takes it and
    shares it with any later ``receive`` of the app.
    """
    loop = asyncio.get_running_loop()
    gone: asyncio.Future[Message] = loop.create_future()
    state = {"body_read": False, "complete": False, "streamed": False}
    body: list[bytes] = []
    watcher: asyncio.Task[None] | None = None
    request: asyncio.Task[None] | None = None

    async def watch() -> None:
        message = await receive()
        if not gone.done():
            gone.set_result(message)
        if not (state["complete"] or state["streamed"]) and request is not None and not request.done():
            logger.debug("client disconnected: cancelling %s %s", scope.get("method"), scope.get("path"))
            request.cancel()

    async def wrapped_receive() -> Message:
        nonlocal watcher
        if state["body_read"]:
            return await asyncio.shield(gone)
        message = await receive()
        if message["type"] == "http.request":
            body.append(message.get("body", b""))
            if not message.get("more_body"):
                state["body_read"] = True
                state["streamed"] = _asks_for_a_stream(b"".join(body))
                body.clear()
                watcher = asyncio.ensure_future(watch())
        return message

    async def wrapped_send(message: Message) -> None:
        if message["type"] == "http.response.start":
            note_call_id(call_id, message.get("headers") or [])
        if message["type"] == "http.response.body" and not message.get("more_body"):
            state["complete"] = True
        await send(message)

    call_id = track_call_id()  # before the task: it runs in a copy of this context
    request = asyncio.ensure_future(app(scope, wrapped_receive, wrapped_send))
    try:
        await asyncio.shield(request)
    except asyncio.CancelledError:
        if not request.done():  # we were cancelled ourselves (server shutdown): pass it on
            request.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await request
            raise
        if not gone.done():
            raise
        # The request was cancelled because its client left: nobody to answer.
    finally:
        if watcher is not None and not watcher.done():
            watcher.cancel()


def _asks_for_a_stream(body: bytes) -> bool:
    if b'"stream"' not in body:
        return False
    try:
        parsed = json.loads(body)
    except ValueError:
        return False
    return isinstance(parsed, dict) and bool(parsed.get("stream"))
