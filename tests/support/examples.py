"""The shipped example configs (`litellm-claude-code config --example NAME`), each
credential's deployment pointed at its own fake upstream."""

from __future__ import annotations

from importlib.resources import files

import yaml
from fake_anthropic import FakeAnthropic


def example_config(name: str, upstreams: dict[str, FakeAnthropic]) -> str:
    """The example ``name`` with each ``api_key: os.environ/VAR`` deployment's ``api_base``
    set to ``upstreams[VAR]``."""
    example = files("litellm_claude_code._serve").joinpath("examples").joinpath(f"{name}.yaml")
    config = yaml.safe_load(example.read_text())
    for deployment in config["model_list"]:
        params = deployment["litellm_params"]
        params["api_base"] = upstreams[params["api_key"].removeprefix("os.environ/")].base_url
    return str(yaml.safe_dump(config))


def credentials_seen(upstream: FakeAnthropic) -> set[str]:
    """The credential each request carried: a bearer token or an API key."""
    return {
        r.headers.get("authorization") or f"x-api-key {r.headers.get('x-api-key')}" for r in upstream.message_requests()
    }
