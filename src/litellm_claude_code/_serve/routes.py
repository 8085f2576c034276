"""The routes ``serve`` answers: an allowlist; every other path is a 404.

LiteLLM's proxy mounts about 730 routes: its admin API, its UI, SSO, spend
reports, pass-through endpoints, MCP, docs listing all of it. Without a
database most of them cannot work and some answered a keyless request with a
500 (``/langfuse/...``), a dummy OAuth client (``POST /register``) or a full
map of the surface (``/openapi.json``). A ``serve`` user needs the model
routes, the model list, health and metrics; the admin routes only where a
database holds keys and users (``DATABASE_URL`` set).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

# Model routes (OpenAI chat, Anthropic messages, the Responses API), with and without /v1.
MODEL_ROUTES = re.compile(r"^(?:/v1)?/(?:chat/completions|messages(?:/count_tokens)?|responses)/?$")
MODEL_LIST = re.compile(r"^(?:/v1)?/models(?:/[^/]+)?/?$")
HEALTH = frozenset({"/health", "/health/liveliness", "/health/liveness", "/health/readiness"})
METRICS = frozenset({"/metrics", "/metrics/"})
# With a database: LiteLLM's key, user and team management and the admin UI.
ADMIN = re.compile(
    r"^/(?:ui|sso|login|logout|key|user|team|organization|customer|budget|spend|global/spend|model|v2/key"
    r"|v2/user|v2/team|get/ui_settings|fallback/login|onboarding)(?:/.*)?$"
)


def allowed(path: str, environ: Mapping[str, str]) -> bool:
    """Whether ``serve`` answers ``path`` (any method: LiteLLM answers a wrong one with 405)."""
    if MODEL_ROUTES.match(path) or MODEL_LIST.match(path) or path in HEALTH or path in METRICS:
        return True
    return bool(environ.get("DATABASE_URL")) and bool(ADMIN.match(path))


NOT_FOUND = json.dumps(
    {
        "error": {
            "message": "Not found. This proxy serves /v1/chat/completions, /v1/messages, /v1/responses, "
            "/v1/models, /health and /metrics.",
            "type": "not_found_error",
            "param": None,
            "code": "404",
        }
    }
).encode()
