"""A deployment's Bedrock / Vertex AI / Foundry variables (``model_info.claude_code.env``):
an allowlist, secrets by reference, and only that deployment's CLI sees them."""

from __future__ import annotations

from pathlib import Path

import pytest

from litellm_claude_code._claude.credentials import cloud_credentials, credential_home, resolve_credentials
from litellm_claude_code._claude.environment import cli_environment
from litellm_claude_code.errors import ConfigError

PROXY_ENV = {"PATH": "/usr/bin", "AWS_SECRET_FOR_A": "aws-secret-a", "CLAUDE_CODE_OAUTH_TOKEN": "sk-ant-oat01-server"}
BEDROCK = {
    "CLAUDE_CODE_USE_BEDROCK": True,
    "AWS_REGION": "eu-west-1",
    "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "os.environ/AWS_SECRET_FOR_A",
}


def test_bedrock_variables_reach_only_the_deployment_that_names_them(tmp_path: Path) -> None:
    cloud = cloud_credentials(BEDROCK, PROXY_ENV)
    assert cloud is not None and cloud.kind == "cloud"
    bedrock = resolve_credentials("sk-ant-oat01-ignored", PROXY_ENV, cloud=cloud)
    env = cli_environment(
        bedrock, home=credential_home(tmp_path, bedrock) or tmp_path, max_retries=0, environ=PROXY_ENV
    )
    assert env["CLAUDE_CODE_USE_BEDROCK"] == "1"
    assert env["AWS_SECRET_ACCESS_KEY"] == "aws-secret-a"  # resolved from the proxy's environment
    assert "CLAUDE_CODE_OAUTH_TOKEN" not in env and "AWS_SECRET_FOR_A" not in env
    plain = resolve_credentials(None, PROXY_ENV)
    other = cli_environment(plain, home=tmp_path / "other", max_retries=0, environ=PROXY_ENV)
    assert not {name for name in other if name.startswith(("AWS_", "CLAUDE_CODE_USE_"))}
    assert credential_home(tmp_path, bedrock) != credential_home(tmp_path, plain)
    assert "aws-secret-a" not in bedrock.id and "AKIAEXAMPLE" not in bedrock.id


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ({"CLAUDE_CODE_USE_BEDROCK": "1", "LD_PRELOAD": "/x.so"}, "env.LD_PRELOAD: not a variable"),
        ({"AWS_REGION": "eu-west-1"}, "must set one of CLAUDE_CODE_USE_BEDROCK"),
        ({"CLAUDE_CODE_USE_VERTEX": "1", "GOOGLE_APPLICATION_CREDENTIALS": "os.environ/NOPE"}, "names NOPE"),
        ({"CLAUDE_CODE_USE_FOUNDRY": ["1"]}, "must be a string"),
    ],
)
def test_a_bad_entry_is_named(raw: dict[str, object], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        cloud_credentials(raw, PROXY_ENV)


def test_no_env_means_the_usual_credentials() -> None:
    assert cloud_credentials(None) is None and cloud_credentials({}) is None
    assert cloud_credentials({"CLAUDE_CODE_USE_VERTEX": "1", "VERTEX_REGION_CLAUDE_5_OPUS": "us-east5"}) is not None
