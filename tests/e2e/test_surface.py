"""What `serve` exposes (issue 23.1, 23.4): every route in LiteLLM's own route table,
swept with no key, a wrong key and the right key, through the real proxy.

Only the allowlisted routes answer (model routes, the model list, health,
metrics); everything else is a 404 from our layer, before LiteLLM. Nothing
answers with a 5xx, and nothing but the documented public routes answers
without a key.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fake_anthropic import FakeAnthropic

from conftest import Proxy

pytestmark = pytest.mark.e2e

# Answer 2xx without a key, on purpose: probes and scrapers send none.
PUBLIC = {"/health/liveliness", "/health/liveness", "/health/readiness", "/metrics", "/metrics/"}
SERVED = re.compile(r"^(?:/v1)?/(?:chat/completions|messages|messages/count_tokens|responses|models(?:/[^/]+)?)/?$")
EXTRA = [("GET", "/"), ("GET", "/ui/"), ("GET", "/metrics"), ("GET", "/openapi.json"), ("GET", "/routes")]


def litellm_route_table() -> list[tuple[str, str]]:
    """(method, path) of every route LiteLLM's proxy app declares, parameters filled in."""
    from litellm.proxy.proxy_server import app

    found = set(EXTRA)
    for path, operations in app.openapi()["paths"].items():
        for method in operations:
            found.add((method.upper(), re.sub(r"\{[^}]+\}", "x1", path)))
    return sorted(found, key=lambda route: (route[1], route[0]))


ROUTES = litellm_route_table()


async def sweep(proxy: Proxy, key: str | None) -> list[tuple[str, str, int, str]]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    limits = httpx.Limits(max_connections=8)
    async with httpx.AsyncClient(base_url=proxy.url, headers=headers, timeout=120, limits=limits) as client:
        gate = asyncio.Semaphore(8)

        async def one(method: str, path: str) -> tuple[str, str, int, str]:
            body = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
            async with gate:
                response = await client.request(method, path, **body)  # type: ignore[arg-type]
            return method, path, response.status_code, response.text[:300]

        return await asyncio.gather(*(one(m, p) for m, p in ROUTES))


@pytest.fixture(scope="module")
def swept(proxy: Proxy) -> Iterator[dict[str, list[tuple[str, str, int, str]]]]:
    keys = {"no key": None, "wrong key": "sk-wrong-0123456789", "right key": proxy.key}
    yield {label: asyncio.run(sweep(proxy, key)) for label, key in keys.items()}


def test_the_route_table_is_litellms_whole_surface() -> None:
    assert len(ROUTES) > 700  # about 730 in LiteLLM 1.106-1.110


@pytest.mark.parametrize("auth", ["no key", "wrong key", "right key"])
def test_no_route_answers_with_a_5xx(swept: dict[str, Any], auth: str) -> None:
    failed = [(m, p, s, t) for m, p, s, t in swept[auth] if s >= 500]
    assert failed == []


@pytest.mark.parametrize("auth", ["no key", "wrong key", "right key"])
def test_only_the_allowlisted_routes_answer_and_the_rest_are_404(swept: dict[str, Any], auth: str) -> None:
    for method, path, status, text in swept[auth]:
        if not (SERVED.match(path) or path in PUBLIC or path.startswith("/health")):
            ours = method == "HEAD" or "This proxy serves" in text  # a HEAD answer has no body
            assert (status, ours) == (404, True), (method, path)


def test_without_a_key_only_the_public_routes_answer_2xx(swept: dict[str, Any]) -> None:
    for label in ("no key", "wrong key"):
        open_ = sorted({p for _, p, s, _ in swept[label] if 200 <= s < 300})
        assert set(open_) <= PUBLIC, label


def test_the_docs_and_the_route_list_are_gone(swept: dict[str, Any]) -> None:
    statuses = {(m, p): s for m, p, s, _ in swept["right key"]}
    for path in ("/openapi.json", "/routes", "/redoc", "/docs", "/", "/ui/", "/sso/key/generate", "/test"):
        assert statuses.get(("GET", path), 404) == 404, path
    for path in ("/register", "/api/event_logging/batch", "/global/spend/reset", "/langfuse/x1"):
        assert statuses.get(("POST", path), 404) == 404, path


def test_the_model_routes_with_the_key_answer_400_for_an_empty_body(swept: dict[str, Any], fake: FakeAnthropic) -> None:
    statuses = {(m, p): s for m, p, s, _ in swept["right key"]}
    for path in ("/v1/chat/completions", "/chat/completions", "/v1/messages", "/v1/responses"):
        assert statuses[("POST", path)] == 400, path
    assert statuses[("GET", "/v1/models")] == 200


def test_health_with_the_key_checks_the_named_models_and_shows_no_traceback(proxy: Proxy, fake: FakeAnthropic) -> None:
    response = httpx.get(f"{proxy.url}/health", headers={"Authorization": f"Bearer {proxy.key}"}, timeout=120)
    assert response.status_code == 200
    report = response.json()
    assert sorted(e["model"] for e in report["healthy_endpoints"]) == [
        "claude-code/haiku",
        "claude-code/opus",
        "claude-code/sonnet",
    ]
    assert report["unhealthy_endpoints"] == []  # the wildcard is not asked: it names no model
    assert "Traceback" not in response.text and "stack trace" not in response.text
    assert len(fake.message_requests()) == 3


def test_a_failing_health_check_names_its_error_without_a_traceback(proxy: Proxy, fake: FakeAnthropic) -> None:
    from fake_anthropic import Reply

    fake.script(*(Reply(status=401) for _ in range(6)))  # with a token the CLI retries a 401 once
    response = httpx.get(f"{proxy.url}/health", headers={"Authorization": f"Bearer {proxy.key}"}, timeout=120)
    report = response.json()
    assert len(report["unhealthy_endpoints"]) == 3
    assert all("authenticate" in e["error"] or "401" in e["error"] for e in report["unhealthy_endpoints"])
    assert "Traceback" not in response.text and "stack trace" not in response.text


def test_a_websocket_to_a_route_outside_the_list_is_refused(proxy: Proxy) -> None:
    import websockets

    async def connect() -> None:
        uri = proxy.url.replace("http://", "ws://") + "/v1/realtime?model=sonnet"
        async with websockets.connect(uri, additional_headers={"Authorization": f"Bearer {proxy.key}"}):
            pass

    with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
        asyncio.run(connect())
    assert refused.value.response.status_code == 403
