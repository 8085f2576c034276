#!/bin/sh
# Prepare Claude Code's headless state and the proxy's key, then exec the command.
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
    say "  Either run \`claude setup-token\` on any machine with a browser (Claude Pro/Max),"
    say "  and pass the token it prints:  -e CLAUDE_CODE_OAUTH_TOKEN=sk-ant-oat01-..."
    say "  or pass an Anthropic API key:  -e ANTHROPIC_API_KEY=sk-ant-api03-..."
    say "  or log in once inside the volume:"
    say "    docker compose run --rm -it --entrypoint claude litellm-claude-code"
    exit 64
fi

# First-run state the CLI needs to start headless; no credentials, no account data.
if [ ! -s "$config_dir/.claude.json" ]; then
    umask 077
    printf '{"hasCompletedOnboarding": true}\n' > "$config_dir/.claude.json"
fi

# The key clients must send: the given one, or one generated once into the volume.
if [ -z "${LITELLM_MASTER_KEY:-}" ]; then
    key_file="$config_dir/litellm-claude-code/master_key"
    if [ ! -s "$key_file" ]; then
        mkdir -p "$(dirname "$key_file")"
        chmod 700 "$(dirname "$key_file")"
        umask 077
        python3 -c 'import secrets; print("sk-" + secrets.token_urlsafe(32))' > "$key_file"
        say "litellm-claude-code: generated a master key in $key_file (mode 0600);"
        say "  read it with: docker compose exec litellm-claude-code cat $key_file"
    else
        say "litellm-claude-code: using the master key in $key_file"
    fi
    LITELLM_MASTER_KEY="$(cat "$key_file")"
    export LITELLM_MASTER_KEY
fi

exec "$@"
