#!/usr/bin/env bash
# Build the sdist and the wheel, install the wheel as a user would (from the
# index, without the lock), and check both installs:
#   - `litellm-claude-code[proxy]`: `serve` starts and answers a chat completion
#     (upstream: the fake Anthropic API, the real SDK and CLI);
#   - `litellm-claude-code` alone: the provider registers in-process, and `serve`
#     fails with a message that names the extra.
# Prints the download size and the install times.
#
#   scripts/smoke_wheel.sh           # PYTHON: an interpreter with the dev dependencies (runs the fake)
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-$here/.venv/bin/python}"
base_python="${BASE_PYTHON:-python3}"
work="$(mktemp -d)"
pids=()

cleanup() {
    # Each server runs in its own session: end the group (the CLIs it started too).
    for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }
seconds_since() { echo $(( $(date +%s) - $1 )); }
free_port() { "$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# -- build -----------------------------------------------------------------------
"$base_python" -m venv "$work/build"
"$work/build/bin/pip" install --quiet --disable-pip-version-check build==1.6.1  # as the release workflow
"$work/build/bin/python" -m build --sdist --wheel --outdir "$work/dist" "$here" > "$work/build.log" 2>&1 \
    || { tail -30 "$work/build.log"; fail "python -m build"; }
wheel=$(echo "$work"/dist/*.whl)
sdist=$(echo "$work"/dist/*.tar.gz)
[ -f "$wheel" ] && [ -f "$sdist" ] || fail "no wheel or no sdist in $work/dist"
contents=$("$work/build/bin/python" -m zipfile -l "$wheel")
for name in litellm_claude_code/py.typed proxy_config.yaml; do
    grep -q "$name" <<<"$contents" || fail "$name missing from $(basename "$wheel")"
done
ok "built $(basename "$sdist") and $(basename "$wheel") (py.typed and the embedded config inside)"

# -- install with [proxy], from the index, no lock ---------------------------------
"$base_python" -m venv "$work/proxy"
start=$(date +%s)
"$work/proxy/bin/pip" download --quiet --no-cache-dir --disable-pip-version-check --dest "$work/downloads" \
    "${wheel}[proxy]" > "$work/download.log" 2>&1 || { tail -30 "$work/download.log"; fail "download"; }
downloaded=$(seconds_since "$start")
start=$(date +%s)
"$work/proxy/bin/pip" install --quiet --no-cache-dir --disable-pip-version-check --no-index \
    --find-links "$work/downloads" "${wheel}[proxy]" > "$work/install.log" 2>&1 \
    || { tail -30 "$work/install.log"; fail "install [proxy]"; }
installed=$(seconds_since "$start")
mb=$(( $(du -sb "$work/downloads" | cut -f1) / 1000000 ))
venv_mb=$(( $(du -sb "$work/proxy" | cut -f1) / 1000000 ))
ok "[proxy]: downloaded ${mb} MB in ${downloaded} s, installed in ${installed} s, venv ${venv_mb} MB"
echo "  $("$work/proxy/bin/pip" list --disable-pip-version-check 2>/dev/null | grep -c .) distributions;" \
    "$("$work/proxy/bin/pip" show litellm claude-agent-sdk 2>/dev/null | grep -E '^(Name|Version)' | paste -sd' ')"

# -- serve answers through the fake Anthropic API ----------------------------------
fake_port=$(free_port)
proxy_port=$(free_port)
setsid "$python" "$here/tests/support/fake_anthropic.py" --port "$fake_port" > "$work/fake.log" 2>&1 &
pids+=($!)
mkdir -p "$work/home"
key="sk-smoke-wheel-$(date +%s)-0123456789"
start=$(date +%s)
env -i PATH="$PATH" HOME="$work/home" LANG=C.UTF-8 \
    ANTHROPIC_BASE_URL="http://127.0.0.1:$fake_port" ANTHROPIC_API_KEY=sk-ant-test \
    LITELLM_MASTER_KEY="$key" LITELLM_CLAUDE_CODE_CLI_MAX_RETRIES=0 NO_PROXY=127.0.0.1,localhost \
    setsid "$work/proxy/bin/litellm-claude-code" serve --host 127.0.0.1 --port "$proxy_port" \
    > "$work/serve.log" 2>&1 &
pids+=($!)
"$work/proxy/bin/python" - "$proxy_port" "$key" <<'PY' || { tail -40 "$work/serve.log"; fail "a chat completion through serve"; }
import json, sys, time, urllib.error, urllib.request

port, key = sys.argv[1], sys.argv[2]
url = f"http://127.0.0.1:{port}"
deadline = time.monotonic() + 120
while True:
    try:
        urllib.request.urlopen(f"{url}/health/liveliness", timeout=2)
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit("liveliness never answered")
        time.sleep(0.5)
body = json.dumps({"model": "sonnet", "messages": [{"role": "user", "content": "hi"}]}).encode()
request = urllib.request.Request(
    f"{url}/v1/chat/completions", data=body,
    headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
)
try:
    answer = json.load(urllib.request.urlopen(request, timeout=60))
except urllib.error.HTTPError as exc:
    sys.exit(f"HTTP {exc.code}: {exc.read()[:500]!r}")
expected = "".join(f" tok{i}" for i in range(20))  # the standalone fake's default reply
assert answer["choices"][0]["message"]["content"] == expected, answer
PY
ok "[proxy]: serve answered a chat completion ($(seconds_since "$start") s from start)"

# -- the provider alone -------------------------------------------------------------
"$base_python" -m venv "$work/core"
start=$(date +%s)
"$work/core/bin/pip" install --quiet --no-cache-dir --disable-pip-version-check --no-index \
    --find-links "$work/downloads" "$wheel" > "$work/core-install.log" 2>&1 \
    || { tail -30 "$work/core-install.log"; fail "install without extras"; }
ok "core: installed in $(seconds_since "$start") s, venv $(( $(du -sb "$work/core" | cut -f1) / 1000000 )) MB"
for dist in fastapi apscheduler uvloop; do  # (uvicorn and starlette come with the SDK's mcp)
    if "$work/core/bin/pip" show --disable-pip-version-check "$dist" > /dev/null 2>&1; then
        fail "the core install pulled in $dist"
    fi
done
env -i PATH="$PATH" HOME="$work/home" LANG=C.UTF-8 LITELLM_LOCAL_MODEL_COST_MAP=True \
    ANTHROPIC_BASE_URL="http://127.0.0.1:$fake_port" ANTHROPIC_API_KEY=sk-ant-test \
    LITELLM_CLAUDE_CODE_CLI_MAX_RETRIES=0 NO_PROXY=127.0.0.1,localhost \
    "$work/core/bin/python" - <<'PY' || fail "litellm.completion in-process without the proxy extra"
import litellm
import litellm_claude_code

litellm_claude_code.register()
answer = litellm.completion(model="claude-code/sonnet", messages=[{"role": "user", "content": "hi"}])
assert answer.choices[0].message.content == "".join(f" tok{i}" for i in range(20)), answer
PY
ok "core: litellm.completion in-process answers through the provider"
if env -i PATH="$PATH" HOME="$work/home" LITELLM_MASTER_KEY="$key" \
    "$work/core/bin/litellm-claude-code" serve --port "$(free_port)" > "$work/core-serve.log" 2>&1; then
    fail "serve started without the proxy extra"
fi
grep -q "litellm-claude-code\[proxy\]" "$work/core-serve.log" \
    || { tail -5 "$work/core-serve.log"; fail "serve without the proxy extra does not name it"; }
! grep -q "Traceback" "$work/core-serve.log" || { tail -5 "$work/core-serve.log"; fail "a traceback instead of a message"; }
ok "core: serve refuses with: $(grep -m1 "proxy\]" "$work/core-serve.log")"
echo "wheel smoke test passed"
