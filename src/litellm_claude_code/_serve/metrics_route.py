"""``GET /metrics`` as ``serve`` answers it: the provider's metrics, plus LiteLLM's own when it serves any.

The provider's metrics need no key: Prometheus scrapers seldom send one, and
they hold no secret (counts, and credentials only as a short hash). They are
served on the proxy's own listener, so they reach whoever reaches the proxy.

LiteLLM mounts its own ``/metrics`` only when its ``prometheus`` callback is
configured, behind its own auth (the master key unless
``require_auth_for_metrics_endpoint: false``). Then a scrape is also passed to
LiteLLM's endpoint, and when that answers 200 its metrics follow ours in the
same (text) exposition; when it refuses (no key), ours alone are served.
LiteLLM's endpoint itself stays reachable at ``/metrics/`` (its mount's own path).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .._claude.metrics import Metrics

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

logger = logging.getLogger(__name__)

METRICS_PATH = "/metrics"
LITELLM_PATH = METRICS_PATH + "/"  # where LiteLLM's mounted endpoint answers, unshadowed
TEXT_FORMAT = "text/plain"  # two text expositions concatenate into one; OpenMetrics ones do not


def is_scrape(scope: Scope) -> bool:
    return scope.get("path") == METRICS_PATH and scope.get("method") in ("GET", "HEAD")


async def serve_metrics(metrics: Metrics, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    """Answer one scrape (see the module docstring)."""
    theirs = await _litellm_metrics(app, scope, receive) if _litellm_serves_metrics(app) else None
    if theirs is None:
        body, content_type = metrics.render(_header(scope, b"accept"))
    else:
        body, content_type = metrics.render(TEXT_FORMAT)
        body += theirs
    headers = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if scope.get("method") == "HEAD" else body})


def _litellm_serves_metrics(app: ASGIApp) -> bool:
    """Has LiteLLM mounted its Prometheus endpoint on the app (its ``prometheus`` callback)?"""
    return any(getattr(route, "path", None) == METRICS_PATH for route in getattr(app, "routes", ()))


async def _litellm_metrics(app: ASGIApp, scope: Scope, receive: Receive) -> bytes | None:
    """LiteLLM's own exposition in text format, or None if its endpoint refused (its auth) or failed."""
    keep = [(k, v) for k, v in scope.get("headers", []) if k.lower() not in (b"accept", b"accept-encoding")]
    inner = {
        **scope,
        "method": "GET",
        "path": LITELLM_PATH,  # its mount answers /metrics with a redirect here
        "raw_path": LITELLM_PATH.encode(),
        "headers": [*keep, (b"accept", TEXT_FORMAT.encode())],
    }
    status = 0
    chunks: list[bytes] = []

    async def capture(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])
        elif message["type"] == "http.response.body":
            chunks.append(bytes(message.get("body", b"")))

    try:
        await app(inner, receive, capture)
    except Exception:  # theirs failing must not take ours down
        logger.warning("LiteLLM's /metrics failed; serving the provider's metrics alone", exc_info=True)
        return None
    return b"".join(chunks) if status == 200 else None


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return ""
