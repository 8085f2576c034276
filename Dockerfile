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
RUN python3 -m venv /opt/venv && python3 -m venv /opt/build
# Dependencies first, from the lock file alone: a source change reuses this layer.
# The lock holds the package's `proxy` extra (what `serve` imports), not all of
# litellm[proxy]: nothing is installed only to be removed.
COPY requirements.lock /tmp/requirements.lock
# A custom CA (TLS-intercepting proxies) is a build secret: mounted for this
# step only, never written to a layer. The network is needed in this step only.
RUN --mount=type=secret,id=ca_bundle,required=false \
    if [ -s /run/secrets/ca_bundle ]; then export PIP_CERT=/run/secrets/ca_bundle; fi \
    && /opt/venv/bin/pip install --no-compile --require-hashes -r /tmp/requirements.lock \
    && /opt/build/bin/pip install "hatchling==${HATCHLING_VERSION}" \
    && if [ "$WITH_DATABASE" = true ]; then /opt/venv/bin/pip install "prisma==${PRISMA_VERSION}"; fi
COPY pyproject.toml README.md LICENSE /src/
COPY src /src/src
RUN /opt/build/bin/pip wheel --no-deps --no-build-isolation --wheel-dir /tmp/wheels /src \
    && /opt/venv/bin/pip install --no-compile --no-deps /tmp/wheels/*.whl \
    && /opt/venv/bin/python -m compileall -q /opt/venv/lib \
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
