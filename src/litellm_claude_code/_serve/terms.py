"""Anthropic's terms, checked on a proxy config: who may use which credential.

A subscription (Pro, Max, Ultra, Team seats: an OAuth token or a `claude`
login) is for its owner's own use on their own machine; serving other people
goes through API keys, Bedrock, Vertex AI or Foundry (README, "Who may use
what", with its sources). These checks cannot see who the clients are, so they
warn at the two shapes that usually mean sharing: subscriptions pooled or
repeated behind one model name, and a subscription served beyond loopback.
``doctor`` and ``serve`` print them; nothing is refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .._claude.credentials import ENV_REFERENCE, resolve_credentials
from ..errors import PROVIDER, ConfigError
from ..settings import DeploymentTuning

LOOPBACK = ("127.0.0.1", "localhost", "::1")
SUBSCRIPTION_KINDS = ("oauth_token", "login")


def _credential(params: Mapping[str, Any], environ: Mapping[str, str]) -> tuple[str, str] | None:
    """(kind, id) of the credential a deployment uses; None for a cloud one or an unset reference."""
    key = params.get("api_key")
    if isinstance(key, str) and key.startswith(ENV_REFERENCE):
        key = environ.get(key.removeprefix(ENV_REFERENCE))
        if not key:
            return None
    credentials = resolve_credentials(key if isinstance(key, str) else None, environ)
    return credentials.kind, credentials.id


def _on_a_cloud(deployment: Mapping[str, Any]) -> bool:
    """Bedrock, Vertex AI or Foundry (``model_info.claude_code.env``): the cloud's terms, not a subscription."""
    try:
        return bool(DeploymentTuning.from_litellm_params({"model_info": deployment.get("model_info")}).env)
    except ConfigError:
        return False  # serve reports a bad one itself


def sharing_warnings(model_list: Sequence[Mapping[str, Any]], environ: Mapping[str, str], host: str) -> list[str]:
    """What in ``model_list`` (served on ``host``) looks like sharing a subscription."""
    groups: dict[str, list[str]] = {}
    subscriptions: set[str] = set()
    for deployment in model_list:
        params = deployment.get("litellm_params") or {}
        info = deployment.get("model_info") or {}
        cloud = (
            isinstance(info, Mapping)
            and isinstance(info.get("claude_code"), Mapping)
            and info["claude_code"].get("env")
        )
        if not str(params.get("model", "")).startswith(f"{PROVIDER}/") or cloud:
            continue
        found = _credential(params, environ)
        if found is None or found[0] not in SUBSCRIPTION_KINDS:
            continue
        subscriptions.add(found[1])
        groups.setdefault(str(deployment.get("model_name")), []).append(found[1])
    warnings = []
    for name, ids in sorted(groups.items()):
        if len(set(ids)) > 1:
            warnings.append(
                f"model `{name}` pools {len(set(ids))} subscriptions: a subscription is for its owner's own use; "
                "to serve several people, use API keys (`litellm-claude-code config --example team`)"
            )
        elif len(ids) > 1:
            warnings.append(
                f"model `{name}` repeats one subscription in {len(ids)} deployments: that adds no capacity "
                "(its limits are the account's) and reads like sharing it"
            )
    if subscriptions and host not in LOOPBACK:
        warnings.append(
            f"serve listens on {host} with a subscription credential: other machines can reach it, and a "
            "subscription is for its owner's own use; bind 127.0.0.1, or serve others with API keys"
        )
    return warnings
