#!/bin/sh
# Prepare Claude Code's headless state, then exec the command.
set -eu

say() { printf '%s\n' "$*" >&2; }

if [ "$(id -u)" = 0 ]; then
    say "litellm-claude-code: refusing to run as root; run as uid 1000 (the image's user)."
    exit 1
fi

config_dir="${CLAUDE_CONFIG_DIR:-$HOME/.claude}"
mkdir -p "$config_dir"

# A credential: a subscription token, an API key, or a login kept in the volume.
if [ -z "${CLAUDE_CODE_OAUTH_TOKEN:-}" ] && [ -z "${ANTHROPIC_API_KEY:-}" ] \
    && [ ! -s "$config_dir/.credentials.json" ]; then
    say "litellm-claude-code: no Claude credential found."
    say ""
    say "  Either run \`litellm-claude-code setup-token\` (a browser on any machine will do; Claude Pro/Max),"
    say "  and pass the token it prints:  -e CLAUDE_CODE_OAUTH_TOKEN=sk-ant-oat01-..."
    say "  or pass an Anthropic API key:  -e ANTHROPIC_API_KEY=sk-ant-api03-..."
    say "  or log in once inside the volume:"
    say "    docker compose run --rm -it --entrypoint litellm-claude-code litellm-claude-code login"
    exit 64
fi

# First-run state the CLI needs to start headless; no credentials, no account data.
if [ ! -s "$config_dir/.claude.json" ]; then
    umask 077
    printf '{"hasCompletedOnboarding": true}\n' > "$config_dir/.claude.json"
fi

# The key clients must send: LITELLM_MASTER_KEY, else the one `serve` generates once
# (and says where) in the volume, next to the CLI's state.
export XDG_CONFIG_HOME="${XDG_CONFIG_HOME:-$config_dir}"

exec "$@"
