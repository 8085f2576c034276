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

# A credential, found the way serve finds one (`doctor` reads credentials.py's order) for
# the config the command names, if it names one: a token, an API key, a deployment's
# own api_key, or a login kept in the volume.
config="" previous=""
for arg in "$@"; do
    [ "$previous" = "--config" ] && config="$arg"
    case "$arg" in --config=*) config="${arg#--config=}" ;; esac
    previous="$arg"
done
if ! litellm-claude-code doctor --only credentials ${config:+--config "$config"} >&2; then
    say ""
    say "  In this image: pass the token \`litellm-claude-code setup-token\` prints (Claude Pro/Max):"
    say "    -e CLAUDE_CODE_OAUTH_TOKEN=sk-ant-oat01-..."
    say "  or an Anthropic API key:  -e ANTHROPIC_API_KEY=sk-ant-api03-..."
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
