"""The environment a CLI process gets: an allowlist, never the proxy's secrets.

The CLI gets exactly this mapping (see ``_sdk_compat.LockedDownTransport``):
no other name of the proxy's environment reaches it, not even as a blank, so
``LITELLM_MASTER_KEY``, database URLs and other providers' keys stay out.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from pathlib import Path

from .types import Credentials

STREAM_HOLD = "CLAUDE_CODE_STREAM_EVENT_HOLD_MS"
MAX_OUTPUT_TOKENS = "CLAUDE_CODE_MAX_OUTPUT_TOKENS"
TMPDIR = "CLAUDE_CODE_TMPDIR"
# What a CLI process is always told, and why (each is a promise; sdk_compat checks the CLI knows them).
SWITCHES = {
    # A server has no use for telemetry, update checks or feature-flag
    # fetches; they also cost start-up time and leak nothing useful.
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "DISABLE_AUTOUPDATER": "1",
    # A stalled stream must fail, not be retried without streaming.
    "CLAUDE_CODE_DISABLE_NONSTREAMING_FALLBACK": "1",
    # After a refusal the CLI calls the upstream again by itself ("continuing once
    # with that noted") or may switch models; the answer ends at the refusal instead.
    "CLAUDE_CODE_DISABLE_REFUSAL_RETRY": "1",
    "CLAUDE_CODE_DISABLE_REFUSAL_FALLBACK": "1",
    # A parked client function call waits for the client (the pool ends it
    # after its tool wait); the CLI must not give up on it first.
    "MCP_TOOL_TIMEOUT": "86400000",
    # No tool search: the model gets the client's tools declared in full, and no tool of the
    # CLI's own (its `DeferredToolPlaceholder`, offered to keep deferred loading on).
    "ENABLE_TOOL_SEARCH": "false",
}
MAX_RETRIES = "CLAUDE_CODE_MAX_RETRIES"
IDLE_GC = "BUN_IDLE_GC_SECONDS"
CLI_SWITCHES = (*SWITCHES, MAX_RETRIES, MAX_OUTPUT_TOKENS, TMPDIR, IDLE_GC)

# Names passed through unchanged when the proxy has them.
PASSTHROUGH = frozenset(
    {
        "PATH",
        "LANG",
        "LANGUAGE",
        "LC_ALL",
        "LC_CTYPE",
        "LC_MESSAGES",
        "TZ",
        "USER",
        "LOGNAME",
        "SHELL",
        "TERM",
        "SYSTEMROOT",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "NO_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "no_proxy",
        "all_proxy",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "NODE_EXTRA_CA_CERTS",
        "NODE_USE_SYSTEM_CA",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
    }
)


def cli_environment(
    credentials: Credentials,
    *,
    home: Path,
    max_retries: int,
    stream_hold_ms: int = 0,
    max_output_tokens: int | None = None,
    base_url: str | None = None,
    pass_env: Collection[str] = (),
    environ: Mapping[str, str] = os.environ,
) -> dict[str, str]:
    """The whole environment of one CLI process (its temp dir is added per process).

    ``home``: the private HOME for token and API-key credentials; ``pass_env``:
    the operator's extra names to pass through. ``stream_hold_ms``: how long the
    CLI may hold a block's streamed deltas to print them joined, as one line.
    The first delta after a block starts and the line that ends it are printed
    at once, so time to first token and to the end are unchanged; what it saves
    is a line, an SDK message and a LiteLLM chunk per upstream delta (measured:
    a third of the proxy's CPU for a 20-delta answer). 0 prints each as it comes.
    """
    allowed = PASSTHROUGH | set(pass_env)
    env = {name: value for name, value in environ.items() if name in allowed}
    if credentials.kind == "login":
        # The CLI's own login lives under the user's HOME (or CLAUDE_CONFIG_DIR).
        if "HOME" in environ:
            env["HOME"] = environ["HOME"]
    else:
        env["HOME"] = str(home)
    env.update(credentials.env)
    if base_url:
        env["ANTHROPIC_BASE_URL"] = base_url
    if stream_hold_ms > 0:
        env[STREAM_HOLD] = str(stream_hold_ms)
    if max_output_tokens is not None:
        env[MAX_OUTPUT_TOKENS] = str(max_output_tokens)
    env[MAX_RETRIES] = str(max_retries)
    env.update(SWITCHES)
    # The CLI's runtime (Bun) runs full collections after 10, 75 and 140 s of quiet and
    # then drops compiled code, for an interactive user's memory. For a warm process that
    # waits for its next request (and is trimmed after its idle TTL anyway) they cost
    # ~0.35 s of CPU per quiet stretch and ~0.2 s more on the next turn, which recompiles,
    # to give back ~25 MiB (measured). The operator's own value, passed through, wins.
    env.setdefault(IDLE_GC, "0")
    return env
