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

from .._claude.credentials import configured_credentials
from ..errors import ConfigError
from ..settings import is_claude_code

LOOPBACK = ("127.0.0.1", "localhost", "::1")
SUBSCRIPTION_KINDS = ("oauth_token", "login")


def sharing_warnings(model_list: Sequence[Mapping[str, Any]], environ: Mapping[str, str], host: str) -> list[str]:
    """What in ``model_list`` (served on ``host``) looks like sharing a subscription."""
    groups: dict[str, list[str]] = {}
    subscriptions: set[str] = set()
    for deployment in model_list:
        if not is_claude_code(deployment):
            continue
        try:
            credentials = configured_credentials(deployment, environ)
        except ConfigError:
            continue  # serve reports a bad cloud env itself
        if credentials.kind not in SUBSCRIPTION_KINDS:
            continue
        subscriptions.add(credentials.id)
        groups.setdefault(str(deployment.get("model_name")), []).append(credentials.id)
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
