"""Two real proxy replicas sharing LiteLLM's router state in a real Redis: a
conversation continued on the other replica stays on its credential, and a
cooldown one replica learns (a 429 with a reset 60 s ahead from credential A)
is honoured by the other, whose requests then all go to credential B."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fake_anthropic import FakeAnthropic, Reply
from harness import post_chat
from redis_server import RedisServer, running_redis

from conftest import Proxy, running_proxy, wait_for

pytestmark = pytest.mark.e2e

KEY = "sk-replicas-test-key-0123456789"
IDS = ("credential-a", "credential-b")
TOKENS = ("sk-ant-oat01-fake-replica-a-0123456789", "sk-ant-oat01-fake-replica-b-0123456789")


def limited(seconds: int = 60) -> Reply:
    """A 429 as the API sends it to a subscription: rejected until a reset ``seconds`` ahead."""
    headers = {
        "anthropic-ratelimit-unified-status": "rejected",
        "anthropic-ratelimit-unified-reset": str(int(time.time()) + seconds),
        "retry-after": str(seconds),
    }
    return Reply(status=429, error_message="rate limited", headers=headers)


def config(fakes: tuple[FakeAnthropic, FakeAnthropic], *, shared: bool) -> str:
    """Two credentials behind one model name, cooldowns on, router state in
    Redis (``REDIS_URL``) when ``shared``."""
    deployments = "".join(
        f"""
  - model_name: sonnet
    litellm_params: {{model: claude-code/sonnet, api_base: "{fake.base_url}", api_key: "{token}"}}
    model_info: {{id: {ident}}}"""
        for fake, token, ident in zip(fakes, TOKENS, IDS, strict=True)
    )
    redis = "\n  redis_url: os.environ/REDIS_URL" if shared else ""
    return f"""
model_list:{deployments}
litellm_settings:
  num_retries: 0
  custom_provider_map: [{{provider: claude-code, custom_handler: litellm_claude_code.handler}}]
  callbacks: [litellm_claude_code.proxy_hooks.request_validator, litellm_claude_code.routing.sticky_conversations]
router_settings:
  routing_strategy: simple-shuffle{redis}
general_settings: {{master_key: os.environ/LITELLM_MASTER_KEY}}
"""


@pytest.fixture(scope="module")
def fakes() -> Iterator[tuple[FakeAnthropic, FakeAnthropic]]:
    with FakeAnthropic() as first, FakeAnthropic() as second:
        yield first, second


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with running_redis(tmp_path_factory.mktemp("redis")) as server:
        yield server


def replica(
    tmp: Path, fakes: tuple[FakeAnthropic, FakeAnthropic], redis: RedisServer, *, shared: bool = True
) -> AbstractContextManager[Proxy]:
    env = {"REDIS_URL": redis.url} if shared else {}
    return running_proxy(tmp, fakes[0], key=KEY, env=env, config=config(fakes, shared=shared))


@pytest.fixture(scope="module")
def replicas(
    fakes: tuple[FakeAnthropic, FakeAnthropic], redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Proxy, Proxy]]:
    with (
        replica(tmp_path_factory.mktemp("replica1"), fakes, redis_server) as first,
        replica(tmp_path_factory.mktemp("replica2"), fakes, redis_server) as second,
    ):
        yield first, second


def ask(proxy: Proxy, text: str) -> httpx.Response:
    return post_chat(proxy, [{"role": "user", "content": text}])


def test_a_conversation_continued_on_the_other_replica_stays_on_its_credential(
    replicas: tuple[Proxy, Proxy], fakes: tuple[FakeAnthropic, FakeAnthropic], redis_server: RedisServer
) -> None:
    # Without the shared map each later turn picks a credential at random:
    # three conversations pass by luck once in 2**6 runs.
    for fake in fakes:
        fake.reset()
    for index in range(3):
        messages: list[dict[str, Any]] = [{"role": "user", "content": f"conversation {index}, turn 1"}]
        for turn, replica_serving in enumerate((0, 1, 0), start=1):
            if turn > 1:
                messages.append({"role": "user", "content": f"conversation {index}, turn {turn}"})
            for fake in fakes:
                fake.default_reply = Reply(text=[f"Answer {index}.{turn}"])
            answer = post_chat(replicas[replica_serving], messages)
            assert answer.status_code == 200, answer.text
            messages.append(answer.json()["choices"][0]["message"])
        opening = f"conversation {index}, turn 1"
        counts = [sum(opening in json.dumps(r.body["messages"]) for r in fake.message_requests()) for fake in fakes]
        assert sorted(counts) == [0, 3], f"conversation {index} was served by both credentials: {counts}"
    assert redis_server.client().keys("*litellm_claude_code:sticky:v1:*")


def test_a_cooldown_learned_by_one_replica_is_honoured_by_the_other(
    replicas: tuple[Proxy, Proxy], fakes: tuple[FakeAnthropic, FakeAnthropic], redis_server: RedisServer
) -> None:
    first, second = replicas
    credential_a, healthy = fakes
    credential_a.reset()
    healthy.reset()
    credential_a.default_reply = limited(60)
    healthy.default_reply = Reply(text=["From B."])

    # Replica 1 balances between the credentials until one request reaches A.
    for index in range(40):
        answer = ask(first, f"replica 1, request {index}")
        if credential_a.message_requests():
            break
        assert answer.status_code == 200, answer.text
    assert len(credential_a.message_requests()) == 1, "no request of replica 1 reached credential A"
    assert answer.status_code == 429, answer.text

    # The cooldown is in Redis, for the reset the upstream gave.
    store = redis_server.client()
    cooldown = f"deployment:{IDS[0]}:cooldown"
    assert wait_for(lambda: store.exists(cooldown), timeout=15), sorted(store.keys("deployment:*"))
    assert 30 < store.ttl(cooldown) <= 60

    # Replica 2 never saw that 429: everything goes to B, A receives nothing.
    served_by_b = len(healthy.message_requests())
    for index in range(10):
        answer = ask(second, f"replica 2, request {index}")
        assert answer.status_code == 200, answer.text
        assert answer.json()["choices"][0]["message"]["content"] == "From B."
    assert len(credential_a.message_requests()) == 1
    assert len(healthy.message_requests()) == served_by_b + 10


def value_of(store: Any, key: bytes) -> Any:
    """A Redis value whatever its type (DUMP would compress long strings)."""
    kind = store.type(key)
    if kind == b"string":
        return store.get(key)
    if kind == b"hash":
        return store.hgetall(key)
    if kind == b"list":
        return store.lrange(key, 0, -1)
    if kind == b"set":
        return store.smembers(key)
    if kind == b"zset":
        return store.zrange(key, 0, -1, withscores=True)
    return kind


def test_redis_holds_no_credential(
    replicas: tuple[Proxy, Proxy], fakes: tuple[FakeAnthropic, FakeAnthropic], redis_server: RedisServer
) -> None:
    """Issue 26.2: after the tests above (sticky entries, cooldowns, usage), no key or value in
    Redis holds a token, the master key, or a credential's hash-free name."""
    for proxy in replicas:
        assert post_chat(proxy, [{"role": "user", "content": "one more"}]).status_code == 200
    store = redis_server.client()
    keys = store.keys("*")
    assert keys  # the router's state is there
    dumped = [repr((key, value_of(store, key))) for key in keys]
    everything = "\n".join(dumped)
    for secret in (*TOKENS, KEY, "sk-ant-oat01", "sk-ant-api"):
        assert secret not in everything, secret
