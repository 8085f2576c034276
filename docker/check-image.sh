#!/usr/bin/env bash
# Build the image with buildah (no Docker engine needed) on a Debian base made
# with debootstrap, run its entrypoint against the fake Anthropic API, and check
# what the image promises. Prints size and build times. Run as root (CI).
#
#   docker/check-image.sh            # PYTHON: an interpreter with the dev dependencies
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-$here/.venv/bin/python}"
cache="${LCC_IMAGE_CACHE:-/var/tmp/litellm-claude-code-image-cache}"
base_tag="localhost/lcc-debian-python:bookworm-2"
image="localhost/litellm-claude-code:check"
ca="${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
export STORAGE_DRIVER=vfs BUILDAH_ISOLATION=chroot
work="$(mktemp -d)"
pids=()
container=""

cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    pkill -f "litellm-claude-code serve.*--port ${proxy_port:-none}" 2>/dev/null || true
    [ -n "$container" ] && buildah rm "$container" >/dev/null 2>&1 || true
    [ -n "${run_base:-}" ] && buildah rmi "$run_base" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

# -- tools -------------------------------------------------------------------
if ! command -v buildah >/dev/null || ! command -v podman >/dev/null || ! command -v debootstrap >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq buildah podman debootstrap >/dev/null
fi

# -- a Debian base with Python, made once and cached ---------------------------
mkdir -p "$cache"
if ! podman image exists "$base_tag"; then
    if [ ! -s "$cache/debian-python-2.tar" ]; then
        echo "making the Debian base with debootstrap (cached in $cache)..."
        debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
            bookworm "$work/rootfs" http://deb.debian.org/debian >/dev/null
        # What slim images leave out too: downloaded packages, indexes, docs, locales.
        rm -rf "$work"/rootfs/var/cache/apt/archives/*.deb "$work"/rootfs/var/lib/apt/lists/* \
            "$work"/rootfs/usr/share/doc/* "$work"/rootfs/usr/share/man/* "$work"/rootfs/usr/share/locale/*
        tar -C "$work/rootfs" -cf "$cache/debian-python-2.tar" .
        rm -rf "$work/rootfs"
    fi
    podman import "$cache/debian-python-2.tar" "$base_tag" >/dev/null
fi
ok "base image $base_tag"
# This run's own copy of the base (a label apart, so its own image id): the
# rebuild's cache lookup can then follow only this run's layers, not a chain of
# identical steps an earlier build left (which a container may still hold).
run_base="localhost/lcc-debian-python:check-$$"
base_container=$(buildah from "$base_tag")
buildah config --label "litellm-claude-code.check-run=$(date +%s)-$$" "$base_container"
buildah commit -q "$base_container" "$run_base" >/dev/null
buildah rm "$base_container" >/dev/null

# -- builds ----------------------------------------------------------------------
build() {  # context, extra args...
    local context="$1"; shift
    buildah bud --layers --format docker --build-arg "BASE_IMAGE=$run_base" \
        --secret "id=ca_bundle,src=$ca" -t "$image" "$@" "$context"
}
# Earlier runs leave chains of untagged layers with the same content; the
# rebuild's cache lookup may follow one of those instead of this run's. Drop
# them so the cache check below sees only this run's layers.
buildah rmi --prune >/dev/null 2>&1 || true
start=$(date +%s)
build "$here" --no-cache > "$work/build-cold.log" 2>&1 || { tail -40 "$work/build-cold.log"; fail "cold build"; }
cold=$(( $(date +%s) - start ))
ok "cold build in ${cold} s"

# A source-only change must reuse the dependency layers.
cp -r "$here/src" "$here/pyproject.toml" "$here/README.md" "$here/LICENSE" "$here/requirements-image.lock" \
    "$here/Dockerfile" "$here/.dockerignore" "$work/"
mkdir -p "$work/docker" && cp "$here/docker/entrypoint.sh" "$here/docker/bytecode.py" "$work/docker/"
echo "# touched by check-image.sh" >> "$work/src/litellm_claude_code/_serve/cli.py"
start=$(date +%s)
build "$work" > "$work/build-warm.log" 2>&1 || { tail -40 "$work/build-warm.log"; fail "rebuild"; }
warm=$(( $(date +%s) - start ))
# The dependency install step's result line must say it came from the cache
# (other output, such as warnings, may come between the step and its result).
if ! awk '/requirements-image.lock/ && /pip install/ {found=1; next} found && /^-->/ {print; exit}' "$work/build-warm.log" \
    | grep -q "Using cache"; then
    grep -n -A3 "pip install --no-compile" "$work/build-warm.log" | awk "NR <= 20"
    fail "the rebuild did not reuse the dependency layer"
fi
ok "rebuild after a source change in ${warm} s (dependency layers from cache)"

# -- size ----------------------------------------------------------------------
size=$(podman image inspect --format '{{.Size}}' "$image")
container=$(buildah from "$image")
root=$(buildah mount "$container")
venv_mb=$(du -s --apparent-size -B1000000 "$root/opt/venv" | cut -f1)
cli_mb=$(du -s --apparent-size -B1000000 "$root"/opt/venv/lib/python3*/site-packages/claude_agent_sdk/_bundled/claude | cut -f1)
litellm_mb=$(du -s --apparent-size -B1000000 "$root"/opt/venv/lib/python3*/site-packages/litellm | cut -f1)
total_mb=$(( size / 1000000 ))
echo "image size: ${total_mb} MB uncompressed"
echo "  Claude Code CLI (bundled in the SDK): ${cli_mb} MB"
echo "  litellm package: ${litellm_mb} MB"
echo "  rest of the virtualenv: $(( venv_mb - cli_mb - litellm_mb )) MB"
echo "  base image and user: $(( total_mb - venv_mb )) MB"
echo "  of the virtualenv: bytecode $(find "$root/opt/venv" -name '*.pyc' -printf '%s\n' | awk '{s+=$1} END {print int(s/1e6)}') MB; largest entries:"
du -s --apparent-size -B1000000 "$root"/opt/venv/lib/python3*/site-packages/* | sort -rn | awk "NR <= 12" \
    | while read -r mb path; do echo "    ${mb} MB $(basename "$path")"; done
for extra in polars granian gunicorn pyroscope azure; do
    [ -z "$(find "$root"/opt/venv/lib/python3*/site-packages -maxdepth 1 -name "${extra}*" -print -quit)" ] \
        || fail "$extra in the image: the lock should hold only what serve imports"
done
# What requirements-image.lock leaves out (scripts/lock.py's EXCLUDED) is not installed.
excluded=$("$python" -c 'import runpy, sys; print(" ".join(runpy.run_path(sys.argv[1])["EXCLUDED"]))' "$here/scripts/lock.py")
for name in $excluded; do
    [ -z "$(find "$root"/opt/venv/lib/python3*/site-packages -maxdepth 1 -iname "${name//-/_}-*.dist-info" -print -quit)" ] \
        || fail "$name in the image: requirements-image.lock excludes it"
done
ok "not installed: $excluded"
[ "$(find "$root" -name claude -type f -perm -u+x 2>/dev/null | grep -c .)" = 1 ] || fail "more than one Claude Code binary"
for tool in node npm gcc cc; do
    [ -z "$(find "$root/usr/bin" "$root/usr/local/bin" -maxdepth 1 -name "$tool" 2>/dev/null)" ] || fail "$tool in the runtime image"
done
ok "one Claude Code binary, no Node.js, npm or compiler"
# Every native extension still loads (the build strips their symbols).
run() { buildah run --isolation chroot "$@"; }
run --user 1000:1000 "$container" -- /opt/venv/bin/python -c '
import importlib, pathlib, sys
site = next(pathlib.Path(p) for p in sys.path if p.endswith("site-packages"))
names = sorted({".".join(f.relative_to(site).with_suffix("").with_suffix("").parts) for f in site.rglob("*.so")
                if f.name.endswith((".abi3.so", ".cpython-%d%d-x86_64-linux-gnu.so" % sys.version_info[:2],
                                    ".cpython-%d%d-aarch64-linux-gnu.so" % sys.version_info[:2]))})
for name in names:
    importlib.import_module(name)
print(f"ok: {len(names)} native extension modules import")' || fail "a native extension does not import"
# A record of what serve imports (for the run below): a sitecustomize in this
# check's container only, on the PYTHONPATH of that run alone.
mkdir -p "$root/tmp/lcc-check-hook"
cat > "$root/tmp/lcc-check-hook/sitecustomize.py" <<'PY'
"""Write the names and files of the imported modules every second (check-image.sh)."""
import json, os, sys, threading, time
def _record(path):
    while True:
        time.sleep(1)
        modules = list(sys.modules.items())
        data = {"names": sorted(n for n, _ in modules), "files": sorted({getattr(m, "__file__", None) or "" for _, m in modules} - {""})}
        with open(path + ".tmp", "w") as out:
            json.dump(data, out)
        os.replace(path + ".tmp", path)
if os.environ.get("LCC_CHECK_MODULES"):
    threading.Thread(target=_record, args=(os.environ["LCC_CHECK_MODULES"],), daemon=True).start()
PY
chmod -R a+rX "$root/tmp/lcc-check-hook"

# -- config and secrets --------------------------------------------------------
config=$(buildah inspect --type image "$image")
echo "$config" | grep -q '"User": "1000:1000"' || fail "image user is not 1000:1000"
echo "$config" | grep -q 'health/liveliness' || fail "no HEALTHCHECK"
echo "$config" | grep -q '/home/claude/.claude' || fail "no volume for /home/claude/.claude"
history=$(podman history --no-trunc "$image")
for secret in "BEGIN CERTIFICATE" "sk-ant-" "PIP_CERT=/run" "LITELLM_MASTER_KEY=sk"; do
    if printf '%s\n%s' "$config" "$history" | grep -q -- "$secret"; then fail "'$secret' in the image config or history"; fi
done
ok "user 1000, healthcheck, volume; no secret in config or history"

# -- run the entrypoint --------------------------------------------------------

if run --user 1000:1000 "$container" -- /usr/local/bin/litellm-claude-code-entrypoint true > "$work/nocred.log" 2>&1; then
    fail "the entrypoint started without a credential"
fi
grep -q "litellm-claude-code setup-token" "$work/nocred.log" || fail "no help text without a credential"
ok "no credential: exits non-zero with the setup-token help"

if run --user 1000:1000 "$container" -- litellm-claude-code setup-token < /dev/null > "$work/setup-token.log" 2>&1; then
    fail "setup-token ran without a terminal"
fi
grep -q "is interactive: run it in a terminal" "$work/setup-token.log" || fail "setup-token: no terminal, no advice"
ok "setup-token without a terminal says to use -it"

if run --user 0:0 --env CLAUDE_CODE_OAUTH_TOKEN=x "$container" -- /usr/local/bin/litellm-claude-code-entrypoint true \
    > "$work/root.log" 2>&1; then
    fail "the entrypoint ran as root"
fi
grep -q "refusing to run as root" "$work/root.log" || fail "no root refusal message"
ok "refuses to run as root"

fake_port=$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
proxy_port=$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$python" "$here/tests/support/fake_anthropic.py" --port "$fake_port" > "$work/fake.log" 2>&1 &
pids+=($!)
key="sk-container-check-$(date +%s)-0123456789"
run --user 1000:1000 \
    --env CLAUDE_CODE_OAUTH_TOKEN=sk-ant-oat01-container-check \
    --env "ANTHROPIC_BASE_URL=http://127.0.0.1:$fake_port" \
    --env "LITELLM_MASTER_KEY=$key" \
    --env LITELLM_CLAUDE_CODE_CLI_MAX_RETRIES=0 \
    --env PYTHONPATH=/tmp/lcc-check-hook --env LCC_CHECK_MODULES=/tmp/lcc-check-modules.json \
    "$container" -- /usr/local/bin/litellm-claude-code-entrypoint \
    litellm-claude-code serve --host 127.0.0.1 --port "$proxy_port" > "$work/serve.log" 2>&1 &
pids+=($!)

"$python" - "$proxy_port" "$key" "$root" "$excluded" <<'PY' || { tail -30 "$work/serve.log"; fail "requests through the container's proxy"; }
import importlib.util, json, os, sys, time
import httpx, openai, psutil

port, key, root, excluded = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split()
url = f"http://127.0.0.1:{port}"
deadline = time.monotonic() + 120
while True:
    try:
        if httpx.get(f"{url}/health/liveliness", timeout=2).status_code == 200:
            break
    except httpx.HTTPError:
        pass
    if time.monotonic() > deadline:
        sys.exit("liveliness never answered")
    time.sleep(0.5)
print("ok: liveliness answers")
client = openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=60)
expected = "".join(f" tok{i}" for i in range(20))  # the standalone fake's default reply
answer = client.chat.completions.create(model="sonnet", messages=[{"role": "user", "content": "hi"}])
assert answer.choices[0].message.content == expected, answer
print("ok: chat completion through the container")
text = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
    model="sonnet", messages=[{"role": "user", "content": "hi"}], stream=True) if c.choices)
assert text == expected, text
print("ok: streamed completion through the container")
headers = {"Authorization": f"Bearer {key}"}
body = {"model": "sonnet", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}
message = httpx.post(f"{url}/v1/messages", headers=headers, json=body, timeout=60).json()
assert "".join(b["text"] for b in message["content"] if b["type"] == "text") == expected, message
with httpx.stream("POST", f"{url}/v1/messages", headers=headers, json={**body, "stream": True}, timeout=60) as events:
    lines = [json.loads(l[5:]) for l in events.iter_lines() if l.startswith("data:")]
assert "".join(e["delta"].get("text", "") for e in lines if e["type"] == "content_block_delta") == expected, lines
print("ok: /v1/messages, plain and streamed, through the container")
assert client.responses.create(model="sonnet", input="hi").output_text == expected
deltas = [e.delta for e in client.responses.create(model="sonnet", input="hi", stream=True) if e.type == "response.output_text.delta"]
assert "".join(deltas) == expected, deltas
print("ok: /v1/responses, plain and streamed, through the container")
# What serve imported by now (the record is rewritten every second): nothing the
# image lock leaves out, and how much of it had no bytecode in the image.
record, done = f"{root}/tmp/lcc-check-modules.json", time.time()
deadline = time.monotonic() + 30
while not (os.path.exists(record) and os.path.getmtime(record) > done + 1):
    assert time.monotonic() < deadline, "no record of serve's modules"
    time.sleep(0.2)
modules = json.load(open(record))
imported = {n.split(".")[0] for n in modules["names"]}
leaked = sorted(imported & {n.replace("-", "_") for n in excluded})
assert not leaked, f"serve imported what the image leaves out: {leaked}"
venv = [f for f in modules["files"] if f.startswith("/opt/venv/") and f.endswith(".py")]
cold = [f for f in venv if not os.path.exists(root + importlib.util.cache_from_source(f))]
cold_kb = sum(os.path.getsize(root + f) for f in cold) // 1000
print(f"ok: serve and these requests imported {len(venv)} modules of the venv, none it leaves out;"
      f" {len(cold)} without bytecode ({cold_kb} kB of source, compiled in memory)")
assert len(cold) <= len(venv) // 10, f"{len(cold)} of {len(venv)} imported modules have no bytecode: {cold[:20]}"
def serves(cmdline):  # the proxy itself, not the buildah process that launched it
    line = " ".join(cmdline or [])
    return bool(cmdline) and "buildah" not in cmdline[0] and "litellm-claude-code serve" in line and f"--port {port}" in line
servers = [p for p in psutil.process_iter(["cmdline", "uids"]) if serves(p.info["cmdline"])]
assert servers, "proxy process not found"
assert all(p.info["uids"].real == 1000 for p in servers), [p.info["uids"] for p in servers]
clis = [c for p in servers for c in p.children(recursive=True) if c.name() == "claude"]
assert all(c.uids().real == 1000 for c in clis)
print(f"ok: the proxy and {len(clis)} CLI process(es) run as uid 1000")
PY

# The budget is for what this project puts in: the CLI binary is Anthropic's, and grows
# with its releases (381 MB in 2.1.330, 428 MB in 2.1.337).
ours_mb=$(( total_mb - cli_mb ))
[ "$ours_mb" -le 420 ] || fail "image without the Claude Code CLI is ${ours_mb} MB, over 420 MB"
echo "image check passed: ${total_mb} MB, cold build ${cold} s, rebuild ${warm} s"
