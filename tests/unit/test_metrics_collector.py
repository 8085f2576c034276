"""The provider's Prometheus metrics: what the pool records, what a scrape reads, and how
``serve`` answers ``GET /metrics`` (fake sessions, fake inner apps: no processes)."""

from __future__ import annotations

import asyncio
from typing import Any

import prometheus_client
import pytest
from prometheus_client.parser import text_string_to_metric_families
from test_pool_state import HELD, Factory, convo, far, limits_of, spec

from litellm_claude_code._claude.metrics import Metrics
from litellm_claude_code._claude.pool import OneShot, Pool
from litellm_claude_code._claude.process import Phase
from litellm_claude_code._claude.types import Credentials
from litellm_claude_code._serve.asgi import ServingApp
from litellm_claude_code._shapes import RateLimit
from litellm_claude_code.errors import PoolFull

TOKEN = "sk-ant-oat01-secret-token-for-metrics-0123456789"


def value(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(f"litellm_claude_code_{name}", labels)


def pool_with(metrics: Metrics, **limits: Any) -> Pool:
    return Pool(limits_of(**{"spares": 0, **limits}), factory=Factory(), metrics=metrics)


# -- what the pool records ---------------------------------------------------
async def test_a_start_then_a_continuation_is_one_start_one_miss_one_warm_hit() -> None:
    metrics = Metrics()
    pool = pool_with(metrics)
    lease = await pool.acquire(spec(), convo(), deadline=far())
    assert value(metrics, "processes", state="busy") == 1
    await pool.release(lease, reusable=True, holds=HELD)
    assert value(metrics, "processes", state="warm") == 1
    assert value(metrics, "processes", state="busy") == 0
    follow = await pool.acquire(spec(), convo(*HELD, prompt="next"), deadline=far())
    assert follow.mode == "continue"
    assert value(metrics, "process_starts_total", reason="request") == 1
    assert value(metrics, "process_starts_total", reason="spare") == 0
    assert value(metrics, "warm_misses_total") == 1
    assert value(metrics, "warm_hits_total", mode="continue") == 1
    assert value(metrics, "warm_hits_total", mode="reset") == 0
    await pool.release(follow, reusable=False, holds=None)
    await pool.close()


async def test_a_reset_is_a_warm_hit_and_spares_count_as_starts_of_their_own() -> None:
    metrics = Metrics()
    pool = Pool(limits_of(spares=1), factory=Factory(), metrics=metrics)
    lease = await pool.acquire(spec(), convo(), deadline=far())
    await pool.release(lease, reusable=True, holds=HELD)  # keeps its conversation; a spare is started
    await pool.settled()
    assert value(metrics, "process_starts_total", reason="spare") == 1
    assert value(metrics, "processes", state="warm") == 2
    fresh = await pool.acquire(spec(), convo(prompt="other"), deadline=far())
    assert fresh.mode == "fresh"
    assert value(metrics, "warm_hits_total", mode="fresh") == 1
    await pool.close()


async def test_resets_count_by_how_they_ended() -> None:
    metrics = Metrics()
    pool = pool_with(metrics)
    assert value(metrics, "conversation_resets_total", outcome="rewound") == 0  # present from the start
    lease = await pool.acquire(spec(), convo(), deadline=far())
    await pool.release(lease, reusable=True, holds=HELD)
    again = await pool.acquire(spec(), convo(prompt="other"), deadline=far())
    assert again.mode == "reset"
    await pool.release(again, reusable=True, holds=HELD)
    again.session.reset_ok = False
    replaced = await pool.acquire(spec(), convo(prompt="third"), deadline=far())
    assert replaced.mode == "start"
    assert value(metrics, "conversation_resets_total", outcome="rewound") == 1
    assert value(metrics, "conversation_resets_total", outcome="failed") == 1
    assert value(metrics, "conversation_resets_total", outcome="cleared") == 0
    await pool.close()


async def test_a_full_queue_counts_a_429_and_the_queue_depth_is_read_live() -> None:
    metrics = Metrics()
    pool = pool_with(metrics, max_processes=1, max_queue=1)
    lease = await pool.acquire(spec(), convo(), deadline=far())
    waiting = asyncio.ensure_future(pool.acquire(spec(), convo(prompt="2"), deadline=far()))
    await asyncio.sleep(0)
    assert value(metrics, "queue_depth") == 1
    assert value(metrics, "requests_running") == 1
    assert value(metrics, "queue_limit") == 1 and value(metrics, "process_limit") == 1
    with pytest.raises(PoolFull):
        await pool.acquire(spec(), convo(prompt="3"), deadline=far())
    assert value(metrics, "requests_rejected_total", reason="queue_full") == 1
    await pool.release(lease, reusable=True, holds=HELD)
    second = await waiting
    assert value(metrics, "queue_depth") == 0
    await pool.release(second, reusable=False, holds=None)
    await pool.close()


async def test_a_parked_process_shows_as_parked() -> None:
    metrics = Metrics()
    pool = pool_with(metrics)
    lease = await pool.acquire(spec(), convo(), deadline=far())
    lease.session.phase = Phase.PARKED
    await pool.release(lease, reusable=True, holds=HELD, parked=frozenset({"call_1"}))
    assert value(metrics, "processes", state="parked") == 1
    await pool.close()


async def test_one_shot_counts_every_request_as_a_start_and_a_miss() -> None:
    metrics = Metrics()
    processes = OneShot(Factory(), metrics=metrics)
    lease = await processes.acquire(spec(), convo(), deadline=far())
    await lease.session.close()
    assert value(metrics, "process_starts_total", reason="request") == 1
    assert value(metrics, "warm_misses_total") == 1
    assert value(metrics, "processes", state="warm") is None  # no pool: no process gauges


def test_each_metrics_object_has_its_own_registry_and_the_global_one_is_untouched() -> None:
    first, second = Metrics(), Metrics()
    first.record_start("request")
    assert value(first, "process_starts_total", reason="request") == 1
    assert value(second, "process_starts_total", reason="request") == 0
    global_names = {m.name for m in prometheus_client.REGISTRY.collect()}
    assert not any(name.startswith("litellm_claude_code") for name in global_names)


def test_rate_limit_utilization_is_labelled_by_credential_id_and_window() -> None:
    metrics = Metrics()
    credential = Credentials("oauth_token", {"CLAUDE_CODE_OAUTH_TOKEN": TOKEN}).id
    metrics.record_rate_limit(credential, "five_hour", 0.42, 1_900_000_000)
    metrics.record_rate_limit(credential, "seven_day", None, None)  # nothing known: no series made up
    assert value(metrics, "rate_limit_utilization", credential=credential, window="five_hour") == 0.42
    assert value(metrics, "rate_limit_resets_at_seconds", credential=credential, window="five_hour") == 1.9e9
    assert value(metrics, "rate_limit_utilization", credential=credential, window="seven_day") is None
    body, content_type = metrics.render()
    assert content_type.startswith("text/plain")
    assert TOKEN.encode() not in body and TOKEN[-12:].encode() not in body


def test_a_turns_rate_limit_report_sets_each_window_and_the_status() -> None:
    metrics = Metrics()
    report = RateLimit("allowed_warning", 1_900_000_000, "seven_day_opus", 0.81, 0.35, 1_800_000_000, 1_850_000_000)
    metrics.record_rate_limits("oauth-token-0123456789ab", report)
    labels = {"credential": "oauth-token-0123456789ab"}
    assert value(metrics, "rate_limit_utilization", **labels, window="five_hour") == 0.81
    assert value(metrics, "rate_limit_utilization", **labels, window="seven_day") == 0.35
    assert value(metrics, "rate_limit_resets_at_seconds", **labels, window="five_hour") == 1.8e9
    assert value(metrics, "rate_limit_resets_at_seconds", **labels, window="seven_day_opus") == 1.9e9
    assert value(metrics, "rate_limit_utilization", **labels, window="seven_day_opus") is None
    assert value(metrics, "rate_limit_status", **labels, status="allowed_warning") == 1
    assert value(metrics, "rate_limit_status", **labels, status="allowed") == 0
    metrics.record_rate_limits("oauth-token-0123456789ab", RateLimit("rejected", 1_900_000_000, "five_hour"))
    assert value(metrics, "rate_limit_status", **labels, status="rejected") == 1
    assert value(metrics, "rate_limit_status", **labels, status="allowed_warning") == 0
    assert value(metrics, "rate_limit_utilization", **labels, window="five_hour") == 0.81  # last known
    assert value(metrics, "rate_limit_resets_at_seconds", **labels, window="five_hour") == 1.9e9


def test_the_exposition_follows_the_accept_header() -> None:
    _, content_type = Metrics().render("application/openmetrics-text; version=1.0.0")
    assert content_type.startswith("application/openmetrics-text")


# -- GET /metrics in serve's app -----------------------------------------------
class Inner:
    """LiteLLM's app stand-in: records what reached it, and may have mounted its own /metrics."""

    def __init__(self, mounted: int | None = None) -> None:
        self.seen: list[dict[str, Any]] = []
        self.routes = [type("Mount", (), {"path": "/metrics"})()] if mounted is not None else []
        self.status = mounted or 404
        self.mounted: list[str] = []

    def mount(self, path: str, app: Any) -> None:
        self.mounted.append(path)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.seen.append(dict(scope))
        body = b"# TYPE litellm_requests_total counter\nlitellm_requests_total 3.0\n"
        await send({"type": "http.response.start", "status": self.status, "headers": []})
        await send({"type": "http.response.body", "body": body if self.status == 200 else b"no"})


async def no_drain() -> None:
    return None


async def scrape(app: ServingApp, method: str = "GET", path: str = "/metrics", accept: str = "") -> tuple[int, bytes]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    headers = [(b"accept", accept.encode())] if accept else []
    await app({"type": "http", "method": method, "path": path, "headers": headers}, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def families(body: bytes) -> dict[str, Any]:
    return {family.name: family for family in text_string_to_metric_families(body.decode())}


async def test_serve_answers_metrics_itself_without_a_key() -> None:
    inner, metrics = Inner(), Metrics()
    metrics.record_start("request")
    app = ServingApp(inner, no_drain, metrics=metrics)
    status, body = await scrape(app)
    assert status == 200 and not inner.seen
    assert families(body)["litellm_claude_code_process_starts"].samples[0].value == 1
    status, body = await scrape(app, "HEAD")
    assert status == 200 and body == b""
    status, _ = await scrape(app, "POST")
    assert status == 404 and len(inner.seen) == 1  # not a scrape: LiteLLM's to answer
    status, _ = await scrape(app, path="/metrics/extra")
    assert status == 404 and len(inner.seen) == 1  # outside the routes serve answers: never LiteLLM's


async def test_without_metrics_the_route_stays_litellms() -> None:
    inner = Inner()
    status, _ = await scrape(ServingApp(inner, no_drain))
    assert status == 404 and len(inner.seen) == 1


async def test_litellms_own_metrics_follow_ours_when_its_endpoint_lets_the_scrape_in() -> None:
    inner, metrics = Inner(mounted=200), Metrics()
    status, body = await scrape(ServingApp(inner, no_drain, metrics=metrics), accept="application/openmetrics-text")
    assert status == 200
    found = families(body)
    assert "litellm_claude_code_warm_misses" in found and "litellm_requests" in found
    (passed,) = inner.seen
    assert dict(passed["headers"])[b"accept"] == b"text/plain"  # two text expositions concatenate
    assert passed["path"] == "/metrics/"  # where LiteLLM's mount answers (/metrics: a redirect)


async def test_ours_alone_when_litellms_endpoint_refuses_the_scrape() -> None:
    inner = Inner(mounted=401)
    status, body = await scrape(ServingApp(inner, no_drain, metrics=Metrics()))
    assert status == 200 and len(inner.seen) == 1
    assert b"litellm_requests_total" not in body and b"litellm_claude_code_warm_misses_total" in body


def test_litellm_mounting_on_the_wrapper_lands_on_the_app_it_wraps() -> None:
    inner = Inner()
    ServingApp(inner, no_drain).mount("/metrics", object())  # what LiteLLM's prometheus callback does
    assert inner.mounted == ["/metrics"]
