"""Hostile request bodies through the real proxy.

A client must not change how a claude-code request is retried, routed or
authenticated (LiteLLM obeys such keys in the body), and input that used to
break LiteLLM's own layer (a bare 500, a dropped connection) is a 400 that
names the field. In every refused case nothing reaches the upstream.
"""

from __future__ import annotations

from typing import Any

import anthropic
import httpx
import openai
import pytest
from fake_anthropic import FakeAnthropic, Reply

from conftest import Proxy

pytestmark = pytest.mark.e2e

HI = [{"role": "user", "content": "hi"}]
PATHS = {"chat": "/v1/chat/completions", "messages": "/v1/messages", "responses": "/v1/responses"}


def body_for(endpoint: str, **extra: Any) -> dict[str, Any]:
    """A minimal valid body for one of LiteLLM's three chat-like endpoints."""
    if endpoint == "messages":
        return {"model": "sonnet", "max_tokens": 50, "messages": HI, **extra}
    if endpoint == "responses":
        return {"model": "sonnet", "input": "hi", **extra}
    return {"model": "sonnet", "messages": HI, **extra}


def post(proxy: Proxy, endpoint: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(
        f"{proxy.url}{PATHS[endpoint]}",
        json=body,
        headers={"Authorization": f"Bearer {proxy.key}", **(headers or {})},
        timeout=60,
    )


def error_message(response: httpx.Response) -> str:
    """The error text, in the OpenAI or the Anthropic error shape."""
    message: str = response.json()["error"]["message"]
    return message


def assert_refused(response: httpx.Response, fake: FakeAnthropic, *fragments: str) -> None:
    assert response.status_code == 400, response.text
    for fragment in fragments:
        assert fragment in error_message(response)
    assert fake.message_requests() == []


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("num_retries", 5),
        ("max_retries", 3),
        ("retry_policy", {"InternalServerErrorRetries": 2}),
        ("model_group_retry_policy", {"sonnet": {"InternalServerErrorRetries": 2}}),
        ("fallbacks", ["opus", "haiku"]),
        ("context_window_fallbacks", [{"sonnet": ["opus"]}]),
        ("content_policy_fallbacks", [{"sonnet": ["opus"]}]),
        ("api_key", "sk-ant-oat01-a-client-token"),
        ("use_litellm_proxy", True),
        ("custom_llm_provider", "openai"),
        ("litellm_credential_name", "someone-elses"),
        ("specific_deployment", True),
        ("priority", 0),
        ("cooldown_time", 100),
    ],
)
def test_server_owned_parameters_are_refused(proxy: Proxy, fake: FakeAnthropic, param: str, value: Any) -> None:
    assert_refused(post(proxy, "chat", body_for("chat", **{param: value})), fake, f"`{param}`")


def test_num_retries_is_refused_before_any_upstream_call(proxy: Proxy, fake: FakeAnthropic) -> None:
    # It used to turn one request into six upstream calls against a failing upstream.
    fake.default_reply = Reply(status=500, error_message="down")
    assert_refused(post(proxy, "chat", body_for("chat", num_retries=5)), fake, "`num_retries`", "server")


def test_num_retries_header_is_refused(proxy: Proxy, fake: FakeAnthropic) -> None:
    response = post(proxy, "chat", body_for("chat"), headers={"x-litellm-num-retries": "2"})
    assert_refused(response, fake, "`num_retries`", "x-litellm-num-retries")


def test_client_api_key_never_replaces_the_servers_credential(client: Any, fake: FakeAnthropic) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="sonnet", messages=HI, extra_body={"api_key": "sk-ant-oat01-client"})
    assert "`api_key`" in str(caught.value)
    assert fake.message_requests() == []


def test_refused_when_streaming_too(client: Any, fake: FakeAnthropic) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        for _ in client.chat.completions.create(
            model="sonnet", messages=HI, stream=True, extra_body={"fallbacks": ["opus"]}
        ):
            pass
    assert "`fallbacks`" in str(caught.value)
    assert fake.message_requests() == []


def test_refused_on_the_messages_endpoint(proxy: Proxy, fake: FakeAnthropic) -> None:
    claude = anthropic.Anthropic(base_url=proxy.url, api_key=proxy.key, max_retries=0, timeout=60)
    fake.default_reply = Reply(status=500)
    with pytest.raises(anthropic.BadRequestError) as caught:
        claude.messages.create(model="sonnet", max_tokens=50, messages=HI, extra_body={"fallbacks": ["opus"]})  # type: ignore[arg-type]
    assert "`fallbacks`" in str(caught.value)
    assert fake.message_requests() == []


def test_refused_on_the_responses_endpoint(proxy: Proxy, fake: FakeAnthropic) -> None:
    client: Any = openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=proxy.key, max_retries=0, timeout=60)
    fake.default_reply = Reply(status=500)
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="sonnet", input="hi", extra_body={"num_retries": 2})
    assert "`num_retries`" in str(caught.value)
    assert fake.message_requests() == []


@pytest.mark.parametrize(
    ("extra", "headers", "param"),
    [
        ({"timeout": 601}, {}, "`timeout`"),
        ({"request_timeout": 10_000}, {}, "`request_timeout`"),
        ({"stream_timeout": 10_000, "stream": True}, {}, "`stream_timeout`"),
        ({}, {"x-litellm-timeout": "10000"}, "x-litellm-timeout"),
        ({"timeout": "abc"}, {}, "`timeout`"),  # used to be a 500 (float("abc"))
        ({"timeout": 0}, {}, "`timeout`"),
    ],
)
def test_timeout_above_the_servers_or_not_a_number_is_refused(
    proxy: Proxy, fake: FakeAnthropic, extra: dict[str, Any], headers: dict[str, str], param: str
) -> None:
    response = post(proxy, "chat", body_for("chat", **extra), headers=headers)
    assert_refused(response, fake, param, "600")


def test_timeout_within_the_servers_is_accepted(client: Any, fake: FakeAnthropic) -> None:
    fake.script(Reply(text=["in time"]))
    response = client.chat.completions.create(model="sonnet", messages=HI, extra_body={"timeout": 30})
    assert response.choices[0].message.content == "in time"
    assert len(fake.message_requests()) == 1


@pytest.mark.parametrize("endpoint", ["chat", "messages"])
def test_guardrail_name_that_cannot_be_a_header_is_400(proxy: Proxy, fake: FakeAnthropic, endpoint: str) -> None:
    # LiteLLM echoes requested guardrail names in a response header: a bare 500 before.
    response = post(proxy, endpoint, body_for(endpoint, guardrails=["\uc917"]))
    assert_refused(response, fake, "`guardrails[0]`", "printable ASCII")


@pytest.mark.parametrize("model", ["claude-code/sonnet\n", "claude-code/sonnet\r\nx-evil: 1", "claude-code/"])
@pytest.mark.parametrize("endpoint", ["chat", "messages", "responses"])
def test_model_name_that_cannot_be_a_header_is_400(
    proxy: Proxy, fake: FakeAnthropic, endpoint: str, model: str
) -> None:
    # A newline used to reach a response header: the connection closed with no response.
    response = post(proxy, endpoint, {**body_for(endpoint), "model": model})
    assert_refused(response, fake, "`model`")


@pytest.mark.parametrize("stream", [False, True])
def test_messages_endpoint_with_no_messages_is_400_like_anthropics(
    proxy: Proxy, fake: FakeAnthropic, stream: bool
) -> None:
    claude = anthropic.Anthropic(base_url=proxy.url, api_key=proxy.key, max_retries=0, timeout=60)
    with pytest.raises(anthropic.BadRequestError) as caught:
        claude.messages.create(model="sonnet", max_tokens=50, messages=[], stream=stream)
    assert "messages: at least one message is required" in str(caught.value)
    assert fake.message_requests() == []


@pytest.mark.parametrize(
    ("messages", "fragment"),
    [
        ("hello", "messages: "),
        ([{"role": "wizard", "content": "x"}], "messages.0.role"),
        ([{"role": "user", "content": 5}], "messages.0.content"),
    ],
)
def test_messages_endpoint_bad_messages_are_400(
    proxy: Proxy, fake: FakeAnthropic, messages: Any, fragment: str
) -> None:
    response = post(proxy, "messages", {"model": "sonnet", "max_tokens": 50, "messages": messages})
    assert_refused(response, fake, fragment)


@pytest.mark.parametrize(("value", "fragment"), [(5, "`input`"), ([], "`input`"), ([5], "`input[0]`")])
def test_responses_endpoint_bad_input_is_400(proxy: Proxy, fake: FakeAnthropic, value: Any, fragment: str) -> None:
    assert_refused(post(proxy, "responses", {"model": "sonnet", "input": value}), fake, fragment)


def test_ordinary_litellm_fields_still_work(proxy: Proxy, fake: FakeAnthropic) -> None:
    fake.script(Reply(text=["fine"]))
    body = body_for(
        "chat",
        user="user-1",
        metadata={"tags": ["team-a"], "trace_id": "t-1"},
        guardrails=["not-configured"],
    )
    # The Vercel AI SDK sends x-litellm-timeout; Azure-style clients send ?api-version=, which does nothing here.
    response = httpx.post(
        f"{proxy.url}/v1/chat/completions",
        params={"api-version": "2024-06-01"},
        json=body,
        headers={"Authorization": f"Bearer {proxy.key}", "x-litellm-timeout": "90"},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == "fine"
    assert len(fake.message_requests()) == 1


# -- issue 23.2: bodies and values LiteLLM answered with a 500, a wrong 400, or a 200 --------
def post_raw(proxy: Proxy, endpoint: str, content: bytes) -> httpx.Response:
    headers = {"Authorization": f"Bearer {proxy.key}", "Content-Type": "application/json"}
    return httpx.post(f"{proxy.url}{PATHS[endpoint]}", content=content, headers=headers, timeout=60)


DEEP = b'{"model":"sonnet","messages":' + b"[" * 50_000 + b"]" * 50_000 + b"}"
RAW_BODIES = {
    "an array": (b"[1,2,3]", "must be a JSON object, got an array"),
    "a string": (b'"x"', "must be a JSON object, got a string"),
    "invalid UTF-8": (b'{"model":"sonnet","messages":[{"role":"user","content":"\xff\xfe"}]}', "not valid UTF-8"),
    "nested 50,000 deep": (DEEP, "nested more than 100 levels deep"),
    "NaN": (b'{"model":"sonnet","messages":[{"role":"user","content":"hi"}],"temperature":NaN}', "NaN is not"),
    "Infinity": (b'{"model":"sonnet","messages":[],"temperature":Infinity}', "Infinity is not"),
    "not JSON": (b'{"model": "sonnet", "messages": [', "not valid JSON"),
}


@pytest.mark.parametrize("endpoint", ["chat", "messages", "responses"])
@pytest.mark.parametrize(("content", "fragment"), RAW_BODIES.values(), ids=RAW_BODIES.keys())
def test_a_body_that_is_not_a_json_object_is_a_400_that_says_so(
    proxy: Proxy, fake: FakeAnthropic, endpoint: str, content: bytes, fragment: str
) -> None:
    response = post_raw(proxy, endpoint, content)
    assert response.headers["content-type"] == "application/json"
    assert_refused(response, fake, fragment)
    if endpoint == "messages":
        assert response.json()["type"] == "error"  # the Anthropic error shape


def test_a_deep_body_leaves_no_traceback_in_the_log(proxy: Proxy, fake: FakeAnthropic) -> None:
    assert_refused(post_raw(proxy, "chat", DEEP), fake, "nested")
    assert "RecursionError" not in proxy.log_text()


CHAT_VALUES = {
    "response_format a string": ({"response_format": "json"}, "`response_format.type`"),
    "tools a string": ({"tools": "Bash"}, "`tools` must be a list"),
    "temperature a word": ({"temperature": "hot"}, "`temperature` must be a number"),
    "temperature 99": ({"temperature": 99}, "`temperature` must be from 0 to 2"),
    "top_p a string": ({"top_p": "x"}, "`top_p` must be a number"),
    "seed a string": ({"seed": "x"}, "`seed` must be an integer"),
    "stream a word": ({"stream": "yes"}, "`stream` must be true or false"),
    "five stop strings": ({"stop": ["a", "b", "c", "d", "e"]}, "`stop` must be"),
    "a path as model": ({"model": "claude-code/a/../../etc/passwd"}, "`model` must name a Claude model"),
}


@pytest.mark.parametrize(("extra", "fragment"), CHAT_VALUES.values(), ids=CHAT_VALUES.keys())
def test_a_malformed_chat_value_is_a_400_naming_the_field(
    proxy: Proxy, fake: FakeAnthropic, extra: dict[str, Any], fragment: str
) -> None:
    assert_refused(post(proxy, "chat", body_for("chat", **extra)), fake, fragment)


@pytest.mark.parametrize(
    ("endpoint", "extra", "fragment"),
    [
        ("messages", {"system": 5}, "system: Input should be a string or a list of text blocks"),
        ("messages", {"temperature": 1.5}, "`temperature` must be from 0 to 1"),
        ("messages", {"max_tokens": "many"}, "`max_tokens` must be an integer"),
        ("messages", {"stop_sequences": "END"}, "`stop_sequences` must be a list of strings"),
        ("responses", {"input": [{"role": "user", "content": 5}]}, "`input[0].content`"),
        ("responses", {"temperature": "warm"}, "`temperature` must be a number"),
        ("responses", {"instructions": 7}, "`instructions` must be a string"),
        ("messages", {"model": "claude-code/a/../../etc/passwd"}, "`model` must name a Claude model"),
        ("responses", {"model": "claude-code/a/../../etc/passwd"}, "`model` must name a Claude model"),
    ],
)
def test_a_malformed_value_on_the_other_endpoints_is_a_400_naming_the_field(
    proxy: Proxy, fake: FakeAnthropic, endpoint: str, extra: dict[str, Any], fragment: str
) -> None:
    assert_refused(post(proxy, endpoint, body_for(endpoint, **extra)), fake, fragment)


def test_valid_sampling_values_still_work_and_a_bedrock_arn_is_a_model_name(proxy: Proxy, fake: FakeAnthropic) -> None:
    fake.script(Reply(text=["fine"]))
    body = body_for("chat", temperature=0.2, top_p=1, seed=7, stream=False, stop=["END"], logprobs=False)
    assert post(proxy, "chat", body).status_code == 200
    arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-4-5-v1:0"
    fake.script(Reply(text=["fine"]))
    assert post(proxy, "chat", body_for("chat", model=f"claude-code/{arn}")).status_code == 200
    assert [r.body["model"] for r in fake.message_requests()][-1] == arn
