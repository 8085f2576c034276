# litellm-claude-code: the LiteLLM proxy with the claude-code provider.
#
#   docker build -t litellm-claude-code .
#   docker build --secret id=ca_bundle,src=/path/to/corporate-ca.pem -t litellm-claude-code .
#
# BASE_IMAGE: any Debian-based image with python3 (>= 3.10) and its venv module.
ARG BASE_IMAGE=python:3.11.14-slim-bookworm

FROM ${BASE_IMAGE} AS builder
ARG HATCHLING_VERSION=1.33.0
# true: add LiteLLM's database client (prisma) for virtual keys and spend tracking.
ARG WITH_DATABASE=false
ARG PRISMA_VERSION=0.15.0
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
# binutils' strip, for the wheels' native libraries below (the builder only; this
# step and the next install step are the ones that need the network).
# hadolint ignore=DL3008
RUN apt-get update && apt-get install -y --no-install-recommends binutils && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /opt/venv && python3 -m venv /opt/build
# Dependencies first, from the lock file alone: a source change reuses this layer.
# requirements-image.lock is requirements.lock (the package's `proxy` extra, what
# `serve` imports, not all of litellm[proxy]) without a few packages LiteLLM
# depends on for features `serve` never imports (boto3, hf-xet; scripts/lock.py
# says which and why). --no-deps: exactly the lock, nothing installed to be removed.
COPY requirements-image.lock /tmp/requirements-image.lock
# A custom CA (TLS-intercepting proxies) is a build secret: mounted for this
# step only, never written to a layer.
# strip: the symbols native extensions carry for debuggers (about 35 MB), as
# Debian strips its own packages' libraries. Not the libraries auditwheel put in
# *.libs/ (strip breaks what patchelf rewrote: numpy's OpenBLAS no longer loads)
# nor the Claude Code CLI. Then what nothing in the image can use (about 10 MB):
# the packages' own test suites (no pytest here), type stubs (no type checker),
# C sources and headers (no compiler).
RUN --mount=type=secret,id=ca_bundle,required=false \
    if [ -s /run/secrets/ca_bundle ]; then export PIP_CERT=/run/secrets/ca_bundle; fi \
    && /opt/venv/bin/pip install --no-compile --no-deps --require-hashes -r /tmp/requirements-image.lock \
    && /opt/build/bin/pip install "hatchling==${HATCHLING_VERSION}" \
    && if [ "$WITH_DATABASE" = true ]; then /opt/venv/bin/pip install "prisma==${PRISMA_VERSION}"; fi \
    && find /opt/venv/lib -name "*.so*" -type f ! -path "*.libs/*" ! -path "*/claude_agent_sdk/_bundled/*" \
        -exec strip --strip-unneeded {} + \
    && find /opt/venv/lib -depth \( -type d -name tests -o -type f \( -name "*.pyi" -o -name "*.pyx" \
        -o -name "*.pxd" -o -name "*.h" -o -name "*.c" \) \) -exec rm -rf {} +
COPY pyproject.toml README.md LICENSE /src/
COPY src /src/src
COPY docker/bytecode.py /tmp/bytecode.py
# Bytecode only for what `serve` imports (docker/bytecode.py says why), listed by
# importing it as an unprivileged user (nothing it runs can write to the venv).
RUN /opt/build/bin/pip wheel --no-deps --no-build-isolation --wheel-dir /tmp/wheels /src \
    && /opt/venv/bin/pip install --no-compile --no-deps /tmp/wheels/*.whl \
    && setpriv --reuid=65534 --regid=65534 --clear-groups env HOME=/tmp LITELLM_LOCAL_MODEL_COST_MAP=True \
        /opt/venv/bin/python /tmp/bytecode.py list /tmp/imported \
    && /opt/venv/bin/python /tmp/bytecode.py compile /tmp/imported \
    && /opt/venv/bin/python -m pip uninstall -y pip setuptools

FROM ${BASE_IMAGE}
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# uid 1000 named `claude`, whatever the base already calls it.
RUN existing="$(getent passwd 1000 | cut -d: -f1)"; \
    if [ -n "$existing" ] && [ "$existing" != claude ]; then \
        usermod --login claude --home /home/claude --move-home "$existing"; \
        groupmod --new-name claude "$(id -gn claude)" 2>/dev/null || true; \
    elif [ -z "$existing" ]; then \
        groupadd --gid 1000 claude && useradd --uid 1000 --gid 1000 --create-home --home-dir /home/claude claude; \
    fi \
    && mkdir -p /home/claude/.claude \
    && chown -R 1000:1000 /home/claude
COPY --from=builder /opt/venv /opt/venv
COPY docker/entrypoint.sh /usr/local/bin/litellm-claude-code-entrypoint
ARG WITH_DATABASE=false
# prisma generates its client (and fetches its query engine) for the runtime user.
RUN --mount=type=secret,id=ca_bundle,required=false \
    if [ "$WITH_DATABASE" = true ]; then \
        if [ -s /run/secrets/ca_bundle ]; then export SSL_CERT_FILE=/run/secrets/ca_bundle; fi; \
        chown -R 1000:1000 /opt/venv/lib/python3*/site-packages/prisma \
        && su claude -s /bin/sh -c "HOME=/home/claude /opt/venv/bin/prisma generate \
            --schema $(echo /opt/venv/lib/python3*/site-packages/litellm/proxy/schema.prisma)"; \
    fi
ENV PATH=/opt/venv/bin:$PATH \
    HOME=/home/claude \
    CLAUDE_CONFIG_DIR=/home/claude/.claude \
    XDG_CONFIG_HOME=/home/claude/.claude \
    LITELLM_CLAUDE_CODE_STATE_DIR=/tmp/litellm-claude-code \
    LITELLM_LOCAL_MODEL_COST_MAP=True \
    PYTHONUNBUFFERED=1
VOLUME ["/home/claude/.claude"]
USER 1000:1000
WORKDIR /home/claude
EXPOSE 4000
# The liveliness endpoint: no model call, no key, no curl.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:4000/health/liveliness', timeout=4)"]
ENTRYPOINT ["/usr/local/bin/litellm-claude-code-entrypoint"]
CMD ["litellm-claude-code", "serve", "--host", "0.0.0.0", "--port", "4000"]
