"""GET /metrics on the real proxy: it moves as requests run, needs no key, holds no secret,
and carries LiteLLM's own metrics too when its prometheus callback is on."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import httpx
import openai
import pytest
from fake_anthropic import FakeAnthropic, Reply
from harness import OAUTH_TOKEN, post_chat
from prometheus_client.parser import text_string_to_metric_families

from conftest import Proxy, running_proxy, wait_for

pytestmark = pytest.mark.e2e

KEY = "sk-metrics-test-key-0123456789"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="module")
def pooled(fake: FakeAnthropic, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    """The pool on, one process at most, no queue and no spares: every number is predictable."""
    pool = {"POOL": "1", "MAX_PROCESSES": "1", "MAX_QUEUE": "0", "SPARES": "0"}
    env = {f"LITELLM_CLAUDE_CODE_{name}": value for name, value in pool.items()}
    with running_proxy(tmp_path_factory.mktemp("metrics"), fake, key=KEY, env=env) as proxy:
        yield proxy


def scrape(proxy: Proxy, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.get(f"{proxy.url}/metrics", headers=headers or {}, timeout=10)


def samples(proxy: Proxy) -> Samples:
    response = scrape(proxy)
    assert response.status_code == 200, response.text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def get(found: Samples, name: str, **labels: str) -> float:
    return found.get((f"litellm_claude_code_{name}", frozenset(labels.items())), 0.0)


def test_metrics_move_as_requests_run(pooled: Proxy, fake: FakeAnthropic) -> None:
    before = samples(pooled)
    client = openai.OpenAI(base_url=f"{pooled.url}/v1", api_key=pooled.key, max_retries=0, timeout=60)
    first = [{"role": "system", "content": f"Metrics {uuid.uuid4().hex}"}, {"role": "user", "content": "Hi."}]
    fake.script(Reply(text=["Hello."]), Reply(text=["Again."]))
    reply = client.chat.completions.create(model="sonnet", messages=first).choices[0].message.content  # type: ignore[arg-type]
    followup = [*first, {"role": "assistant", "content": reply}, {"role": "user", "content": "More."}]
    assert client.chat.completions.create(model="sonnet", messages=followup).choices[0].message.content == "Again."  # type: ignore[arg-type]
    assert len(fake.message_requests()) == 2
    # The process goes back to warm once its turn is booked, just after the answer.
    assert wait_for(lambda: get(samples(pooled), "processes", state="warm") == 1, timeout=10)
    after = samples(pooled)

    def moved(name: str, **labels: str) -> float:
        return get(after, name, **labels) - get(before, name, **labels)

    assert moved("process_starts_total", reason="request") == 1
    assert moved("process_starts_total", reason="spare") == 0
    assert moved("warm_misses_total") == 1
    assert moved("warm_hits_total", mode="continue") == 1
    assert moved("warm_hits_total", mode="reset") == 0
    assert get(after, "processes", state="busy") == 0
    assert get(after, "queue_depth") == 0
    assert get(after, "process_limit") == 1


def test_a_full_pool_counts_the_429_it_gives(pooled: Proxy, fake: FakeAnthropic) -> None:
    fake.default_reply = Reply(ttfb=3.0)
    before = get(samples(pooled), "requests_rejected_total", reason="queue_full")
    prompt = {"role": "system", "content": f"Busy {uuid.uuid4().hex}"}
    results: list[httpx.Response] = []
    worker = threading.Thread(
        target=lambda: results.append(post_chat(pooled, [prompt, {"role": "user", "content": "slow"}]))
    )
    worker.start()
    try:
        assert wait_for(lambda: len(fake.message_requests()) == 1, timeout=15)
        refused = post_chat(pooled, [prompt, {"role": "user", "content": "one too many"}])
        assert refused.status_code == 429
        during = samples(pooled)
        assert get(during, "requests_rejected_total", reason="queue_full") - before == 1
        assert get(during, "processes", state="busy") == 1
        assert get(during, "requests_running") == 1
    finally:
        worker.join(timeout=60)
    assert [r.status_code for r in results] == [200]


def test_metrics_need_no_key_and_show_no_secret(pooled: Proxy) -> None:
    for headers in ({}, {"Authorization": "Bearer sk-wrong-key"}, {"Authorization": f"Bearer {pooled.key}"}):
        response = scrape(pooled, headers)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        assert "litellm_claude_code_process_starts_total" in response.text
        for secret in (pooled.key, OAUTH_TOKEN, OAUTH_TOKEN[-16:]):
            assert secret not in response.text


def test_with_litellms_prometheus_callback_both_sets_are_served(
    fake: FakeAnthropic, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from litellm_claude_code._serve.cli import embedded_config_path

    config = embedded_config_path().read_text().replace("  callbacks:\n", "  callbacks:\n    - prometheus\n", 1)
    assert "- prometheus" in config
    tmp = tmp_path_factory.mktemp("litellm-prometheus")
    with running_proxy(tmp, fake, key=KEY, config=config) as proxy:
        fake.script(Reply(text=["Counted."]))
        assert post_chat(proxy, [{"role": "user", "content": "Count me."}]).status_code == 200
        anonymous = scrape(proxy)
        assert anonymous.status_code == 200
        assert "litellm_claude_code_process_starts_total" in anonymous.text
        assert "litellm_proxy_total_requests_metric" not in anonymous.text  # LiteLLM's own need its key

        def both() -> bool:
            text = scrape(proxy, {"Authorization": f"Bearer {proxy.key}"}).text
            return "litellm_claude_code_warm_misses_total 1.0" in text and "litellm_proxy_total_requests_metric" in text

        assert wait_for(both, timeout=15)


def test_the_credentials_rate_limits_are_gauges(pooled: Proxy, fake: FakeAnthropic) -> None:
    from litellm_claude_code._claude.types import Credentials

    reset = int(time.time()) + 3600  # the CLI reports a window's figures only for a reset inside it
    fake.script(
        Reply(
            text=["Limited soon."],
            headers={
                "anthropic-ratelimit-unified-status": "allowed_warning",
                "anthropic-ratelimit-unified-reset": str(reset),
                "anthropic-ratelimit-unified-representative-claim": "five_hour",
                "anthropic-ratelimit-unified-5h-status": "allowed_warning",
                "anthropic-ratelimit-unified-5h-utilization": "0.91",
                "anthropic-ratelimit-unified-5h-reset": str(reset),
                "anthropic-ratelimit-unified-5h-surpassed-threshold": "0.9",
                "anthropic-ratelimit-unified-7d-status": "allowed",
                "anthropic-ratelimit-unified-7d-utilization": "0.42",
                "anthropic-ratelimit-unified-7d-reset": str(reset + 2 * 86400),
            },
        )
    )
    response = post_chat(
        pooled, [{"role": "system", "content": f"Limits {uuid.uuid4().hex}"}, {"role": "user", "content": "Hi."}]
    )
    assert response.status_code == 200, response.text
    credential = Credentials("oauth_token", {"CLAUDE_CODE_OAUTH_TOKEN": OAUTH_TOKEN}).id
    assert wait_for(
        lambda: get(samples(pooled), "rate_limit_utilization", credential=credential, window="five_hour") == 0.91,
        timeout=10,
    )
    found = samples(pooled)
    assert get(found, "rate_limit_resets_at_seconds", credential=credential, window="five_hour") == reset
    assert get(found, "rate_limit_status", credential=credential, status="allowed_warning") == 1
    assert get(found, "rate_limit_utilization", credential=credential, window="seven_day") == 0.42
    assert OAUTH_TOKEN not in scrape(pooled).text
