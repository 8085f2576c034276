"""The Helm chart in deploy/helm: linted, rendered and schema-checked offline.

helm-python-sdk runs Helm's own Go code in-process (``helm lint`` and
``helm template`` without a helm binary or a cluster); kubernetes-validate
checks every rendered object against the Kubernetes API's JSON schemas, in
strict mode (an unknown or misplaced field is an error). The value sets are
the chart's own ``ci/*-values.yaml``, the files chart-testing would use.
"""

from __future__ import annotations

import base64
import json
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

from litellm_claude_code._claude.capacity import MiB, processes_for

CHART = Path(__file__).resolve().parents[2] / "deploy" / "helm" / "litellm-claude-code"
RELEASE = "claude"
NAMESPACE = "ai"
FULLNAME = f"{RELEASE}-litellm-claude-code"
#: The chart's kubeVersion floor and the newest schemas kubernetes-validate ships.
KUBE_VERSIONS = ("1.28.0", "1.37.0")
VALUE_SETS = ("token", "redis")

Doc = dict[str, Any]


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML keeps the last of two equal keys; strict field validation in Kubernetes refuses them."""


def _unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    keys = [loader.construct_object(key) for key, _ in node.value]
    duplicates = sorted({str(key) for key in keys if keys.count(key) > 1})
    if duplicates:
        raise yaml.constructor.ConstructorError(None, None, f"duplicate keys {duplicates}", node.start_mark)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def ci_values(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((CHART / "ci" / f"{name}-values.yaml").read_text())
    return loaded


def with_token(**extra: Any) -> dict[str, Any]:
    """The smallest valid values, plus ``extra`` (top-level keys)."""
    return {**ci_values("token"), **extra}


def render_files(values: dict[str, Any]) -> dict[str, str]:
    """What ``helm install`` would send, file by file: the schema is checked first, as Helm does."""
    with helm.Chart.load(CHART) as chart:
        chart.validate_schema(values)
        return chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)


def render(values: dict[str, Any]) -> list[Doc]:
    """The rendered Kubernetes objects (NOTES.txt left out)."""
    docs: list[Doc] = []
    for path, text in render_files(values).items():
        if path.endswith(".yaml"):
            docs.extend(doc for doc in yaml.load_all(text, Loader=_UniqueKeyLoader) if doc)
    return docs


def notes(values: dict[str, Any]) -> str:
    return render_files(values)["litellm-claude-code/templates/NOTES.txt"]


def objects(docs: list[Doc], kind: str) -> list[Doc]:
    return [doc for doc in docs if doc["kind"] == kind]


def one(docs: list[Doc], kind: str, name: str = FULLNAME) -> Doc:
    found = [doc for doc in objects(docs, kind) if doc["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {[d['metadata']['name'] for d in objects(docs, kind)]}"
    return found[0]


def proxy_container(docs: list[Doc]) -> Doc:
    containers: list[Doc] = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["proxy"]
    return containers[0]


def env_of(container: Doc) -> dict[str, Doc]:
    return {entry["name"]: entry for entry in container["env"]}


def secret_ref(entry: Doc) -> Doc:
    ref: Doc = entry["valueFrom"]["secretKeyRef"]
    return ref


def secret_data(docs: list[Doc], name: str) -> dict[str, str]:
    data = one(docs, "Secret", name)["data"]
    return {key: base64.b64decode(value).decode() for key, value in data.items()}


def quantity(text: str) -> int:
    """A Kubernetes memory quantity in bytes (the binary suffixes the chart uses)."""
    number, suffix = re.fullmatch(r"(\d+)(Ki|Mi|Gi|Ti)?", text).groups()  # type: ignore[union-attr]
    return int(number) * {None: 1, "Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40}[suffix]


def schema_problem(doc: Doc, kube_version: str) -> str | None:
    """Why ``doc`` is not a valid object of that Kubernetes version (strict: no unknown fields), or None."""
    try:
        kubernetes_validate.validate(doc, kube_version, strict=True)
    except kubernetes_validate.ValidationError as error:
        return f"{doc['kind']}/{doc['metadata']['name']} at {list(error.path)}: {error.message[:300]}"
    return None


# --- helm lint, and the Kubernetes schemas -----------------------------------------------------


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_helm_lint_is_clean(value_set: str) -> None:
    report = helm.lint(CHART, ci_values(value_set), strict=True, kube_version=f"v{KUBE_VERSIONS[0]}")
    problems = [m for m in report["messages"] if m["severity"] >= 2]  # 2: warning, 3: error
    assert report["total_charts_linted"] == 1
    assert not problems and not report["errors"], report


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_every_object_matches_the_kubernetes_schema(value_set: str, kube_version: str) -> None:
    docs = render(ci_values(value_set))
    assert docs
    problems = [problem for doc in docs if (problem := schema_problem(doc, kube_version))]
    assert not problems, "\n".join(problems)
    assert all(doc["metadata"]["labels"]["app.kubernetes.io/instance"] == RELEASE for doc in docs)


def test_default_objects() -> None:
    docs = render(ci_values("token"))
    kinds = sorted(f"{d['kind']}/{d['metadata']['name']}" for d in docs)
    assert kinds == [f"{kind}/{FULLNAME}" for kind in ("Deployment", "Secret", "Service", "ServiceAccount")]
    assert one(docs, "Deployment")["spec"]["replicas"] == 1


# --- the proxy container -----------------------------------------------------------------------


def test_probes_and_port() -> None:
    docs = render(ci_values("token"))
    container = proxy_container(docs)
    assert container["ports"] == [{"name": "http", "containerPort": 4000, "protocol": "TCP"}]
    assert container["args"] == ["litellm-claude-code", "serve", "--host", "0.0.0.0", "--port", "4000"]
    for probe, path in (
        ("startupProbe", "/health/liveliness"),
        ("livenessProbe", "/health/liveliness"),
        ("readinessProbe", "/health/readiness"),
    ):
        assert container[probe]["httpGet"] == {"path": path, "port": "http"}, probe
    # A slow start (13-15 s measured, more on a busy node) must not trip the liveness probe.
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 120
    service = one(docs, "Service")["spec"]
    assert service["ports"] == [{"name": "http", "port": 4000, "targetPort": "http", "protocol": "TCP"}]
    pod_labels = one(docs, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert service["selector"].items() <= pod_labels.items()


def test_runs_unprivileged_on_a_read_only_root() -> None:
    docs = render(ci_values("token"))
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    container = proxy_container(docs)
    security = container["securityContext"]
    assert security["runAsNonRoot"] is True and security["runAsUser"] == 1000
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False and security["privileged"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    assert one(docs, "ServiceAccount")["automountServiceAccountToken"] is False
    # No Service variables (LITELLM_CLAUDE_CODE_PORT=tcp://...) among the proxy's settings.
    assert pod["enableServiceLinks"] is False
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert mounts == {"/tmp": "tmp", "/home/claude/.claude": "claude-state"}
    volumes = {v["name"]: v for v in pod["volumes"]}
    # On disk: a memory-backed /tmp would count against the limit the process cap comes from.
    assert "medium" not in volumes["tmp"]["emptyDir"] and volumes["tmp"]["emptyDir"]["sizeLimit"]
    assert "emptyDir" in volumes["claude-state"]


def test_memory_limit_decides_the_process_cap() -> None:
    docs = render(ci_values("token"))
    container = proxy_container(docs)
    resources = container["resources"]
    limit = quantity(resources["limits"]["memory"])
    request = quantity(resources["requests"]["memory"])
    assert "cpu" not in resources["limits"]  # throttling a CLI start-up delays the first token
    assert request <= limit
    # The documented relation: the proxy derives the cap from the cgroup limit.
    assert processes_for(limit) == (limit - 512 * MiB) // (256 * MiB) == 14
    assert "LITELLM_CLAUDE_CODE_MAX_PROCESSES" not in env_of(container)
    assert "memory limit 4Gi: (limit - 512 MiB) / 256 MiB" in notes(ci_values("token"))
    # The request holds the proxy (~400 MiB) and a few busy CLIs (200-280 MiB each).
    assert request >= 400 * MiB + 4 * 280 * MiB


def test_chart_readme_table_matches_the_proxy_formula() -> None:
    rows = re.findall(r"^\| (\d+Gi)(?: \(default\))? \| (\d+) \|$", (CHART / "README.md").read_text(), re.MULTILINE)
    assert len(rows) >= 3
    for limit, processes in rows:
        assert processes_for(quantity(limit)) == int(processes), limit
    assert ("4Gi", "14") in rows and ci_values("token").get("resources") is None


def test_max_processes_overrides_the_derived_cap() -> None:
    values = with_token(maxProcesses=6, resources={"limits": {"memory": None}})
    container = proxy_container(render(values))
    assert env_of(container)["LITELLM_CLAUDE_CODE_MAX_PROCESSES"] == {
        "name": "LITELLM_CLAUDE_CODE_MAX_PROCESSES",
        "value": "6",
    }
    assert "memory" not in container["resources"].get("limits", {})


def test_rolling_update_outlasts_the_drain() -> None:
    deployment = one(render(ci_values("token")), "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert deployment["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }
    grace = float(env_of(container)["LITELLM_CLAUDE_CODE_SHUTDOWN_GRACE"]["value"])
    delay = int(container["lifecycle"]["preStop"]["exec"]["command"][1])
    assert container["lifecycle"]["preStop"]["exec"]["command"][0] == "sleep"
    assert pod["terminationGracePeriodSeconds"] > delay + grace + 5
    # The pause process is PID 1 and reaps exited CLI helpers.
    assert pod["shareProcessNamespace"] is True


def test_no_prestop_when_disabled() -> None:
    container = proxy_container(render(with_token(preStopDelaySeconds=0)))
    assert "lifecycle" not in container


# --- secrets -------------------------------------------------------------------------------------


def test_credentials_reach_the_pod_only_through_the_secret() -> None:
    values = ci_values("redis")
    docs = render(values)
    api_key, master_key = values["auth"]["apiKey"], values["auth"]["masterKey"]
    assert secret_data(docs, FULLNAME) == {"ANTHROPIC_API_KEY": api_key, "LITELLM_MASTER_KEY": master_key}
    password = secret_data(docs, f"{FULLNAME}-redis")["redis-password"]
    for doc in docs:
        if doc["kind"] == "Secret":
            continue
        text = json.dumps(doc)
        for secret in (api_key, master_key, password):
            assert secret not in text and base64.b64encode(secret.encode()).decode() not in text, doc["kind"]
    for container in (c for d in objects(docs, "Deployment") for c in d["spec"]["template"]["spec"]["containers"]):
        for entry in container["env"]:
            if re.search(r"TOKEN|KEY|PASSWORD", entry["name"]):
                assert "value" not in entry and secret_ref(entry)["name"].startswith(FULLNAME), entry


def test_secret_refs() -> None:
    env = env_of(proxy_container(render(ci_values("token"))))
    assert secret_ref(env["CLAUDE_CODE_OAUTH_TOKEN"]) == {
        "name": FULLNAME,
        "key": "CLAUDE_CODE_OAUTH_TOKEN",
        "optional": True,
    }
    assert secret_ref(env["ANTHROPIC_API_KEY"])["optional"] is True
    # Every replica must accept the same key: a missing one stops the pod, never a per-pod key.
    assert secret_ref(env["LITELLM_MASTER_KEY"]) == {"name": FULLNAME, "key": "LITELLM_MASTER_KEY"}


def test_master_key_is_generated_when_not_given() -> None:
    first = secret_data(render(ci_values("token")), FULLNAME)
    assert first["CLAUDE_CODE_OAUTH_TOKEN"] == ci_values("token")["auth"]["oauthToken"]
    key = first["LITELLM_MASTER_KEY"]
    assert re.fullmatch(r"sk-[A-Za-z0-9]{40}", key)
    # Offline there is no Secret to look up, so each render draws a new one (an install keeps it).
    assert secret_data(render(ci_values("token")), FULLNAME)["LITELLM_MASTER_KEY"] != key


def test_existing_secret_is_referenced_not_created() -> None:
    values = {
        "auth": {"existingSecret": "my-claude", "keys": {"oauthToken": "token", "apiKey": "key", "masterKey": "master"}}
    }
    docs = render(values)
    assert objects(docs, "Secret") == []
    env = env_of(proxy_container(docs))
    assert secret_ref(env["CLAUDE_CODE_OAUTH_TOKEN"]) == {"name": "my-claude", "key": "token", "optional": True}
    assert secret_ref(env["ANTHROPIC_API_KEY"]) == {"name": "my-claude", "key": "key", "optional": True}
    assert secret_ref(env["LITELLM_MASTER_KEY"]) == {"name": "my-claude", "key": "master"}


def test_proxy_config_goes_into_a_config_map() -> None:
    config = {
        "model_list": [{"model_name": "sonnet", "litellm_params": {"model": "claude-code/sonnet"}}],
        "router_settings": {"redis_host": "os.environ/REDIS_HOST", "redis_password": "os.environ/REDIS_PASSWORD"},
    }
    docs = render(with_token(proxyConfig=config))
    config_map = one(docs, "ConfigMap", f"{FULLNAME}-config")
    assert yaml.safe_load(config_map["data"]["config.yaml"]) == config
    container = proxy_container(docs)
    assert container["args"][-2:] == ["--config", "/etc/litellm-claude-code/config.yaml"]
    assert {"name": "config", "mountPath": "/etc/litellm-claude-code", "readOnly": True} in container["volumeMounts"]
    token = ci_values("token")["auth"]["oauthToken"]
    assert token not in json.dumps(config_map)


# --- Redis and replicas --------------------------------------------------------------------------


def test_redis_in_the_release_with_three_replicas() -> None:
    docs = render(ci_values("redis"))
    redis_name = f"{FULLNAME}-redis"
    assert one(docs, "Deployment")["spec"]["replicas"] == 3
    redis = one(docs, "Deployment", redis_name)
    redis_service = one(docs, "Service", redis_name)
    env = env_of(proxy_container(docs))
    assert env["REDIS_HOST"]["value"] == redis_name
    assert env["REDIS_PORT"]["value"] == str(redis_service["spec"]["ports"][0]["port"]) == "6379"
    assert secret_ref(env["REDIS_PASSWORD"]) == {"name": redis_name, "key": "redis-password"}
    # Redis gets the same password from the same Secret, never on its command line.
    container = redis["spec"]["template"]["spec"]["containers"][0]
    assert secret_ref(env_of(container)["REDIS_PASSWORD"]) == {"name": redis_name, "key": "redis-password"}
    assert "requirepass" in container["args"][0] and "$REDIS_PASSWORD" in container["args"][0]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert redis["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    # Each Service selects its own pods only; the disruption budget covers the proxy.
    proxy_pods = one(docs, "Deployment")["spec"]["template"]["metadata"]["labels"]
    redis_pods = redis["spec"]["template"]["metadata"]["labels"]
    assert redis_service["spec"]["selector"].items() <= redis_pods.items()
    assert not one(docs, "Service")["spec"]["selector"].items() <= redis_pods.items()
    budget = one(docs, "PodDisruptionBudget")["spec"]
    assert budget["maxUnavailable"] == 1 and budget["selector"]["matchLabels"].items() <= proxy_pods.items()
    assert "Redis: " + redis_name + ":6379" in notes(ci_values("redis"))


def test_proxy_starts_once_redis_answers(tmp_path: Path) -> None:
    """LiteLLM gives a REDIS_* Redis one 2 s ping at start-up: the init container waits for it."""
    docs = render(ci_values("redis"))
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    [init] = pod["initContainers"]
    assert init["image"] == proxy_container(docs)["image"]
    assert init["securityContext"] == proxy_container(docs)["securityContext"]
    assert env_of(init)["REDIS_HOST"]["value"] == f"{FULLNAME}-redis"
    assert init["command"][:2] == ["python3", "-c"]
    with socket.socket() as listener:  # the script, run for real against a listening port
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        env = {"REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(listener.getsockname()[1])}
        done = subprocess.run([sys.executable, "-c", init["command"][2]], env=env, capture_output=True, timeout=30)
    assert done.returncode == 0, done.stderr


def test_external_redis() -> None:
    values = with_token(redis={"host": "redis.infra.svc", "port": 6380, "existingSecret": "redis-auth"})
    docs = render(values)
    assert [d["metadata"]["name"] for d in objects(docs, "Deployment")] == [FULLNAME]
    assert objects(docs, "PodDisruptionBudget") == []  # one replica
    env = env_of(proxy_container(docs))
    assert env["REDIS_HOST"]["value"] == "redis.infra.svc" and env["REDIS_PORT"]["value"] == "6380"
    assert secret_ref(env["REDIS_PASSWORD"]) == {"name": "redis-auth", "key": "redis-password"}


def test_external_redis_without_password() -> None:
    env = env_of(proxy_container(render(with_token(redis={"host": "redis.infra.svc"}))))
    assert env["REDIS_HOST"]["value"] == "redis.infra.svc" and "REDIS_PASSWORD" not in env


def test_no_redis_by_default() -> None:
    docs = render(ci_values("token"))
    env = env_of(proxy_container(docs))
    assert not any(name.startswith("REDIS_") for name in env)
    assert "initContainers" not in one(docs, "Deployment")["spec"]["template"]["spec"]


def test_persistent_state_volume() -> None:
    docs = render(with_token(persistence={"enabled": True, "size": "2Gi"}))
    claim = one(docs, "PersistentVolumeClaim")
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "2Gi"
    deployment = one(docs, "Deployment")
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["claude-state"]["persistentVolumeClaim"] == {"claimName": FULLNAME}
    # The old and the new pod cannot both mount a ReadWriteOnce volume.
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}


# --- values that cannot work are refused, naming the value -----------------------------------


@pytest.mark.parametrize(
    ("values", "error", "message"),
    [
        ({}, helm.HelmRenderError, "no Claude credential: set auth.oauthToken"),
        (with_token(replicaCount=0), helm.HelmValuesError, "/replicaCount"),
        (with_token(replicas=3), helm.HelmValuesError, "'replicas' not allowed"),
        (with_token(maxProcesses="lots"), helm.HelmValuesError, "/maxProcesses"),
        (with_token(terminationGracePeriodSeconds=15), helm.HelmRenderError, "terminationGracePeriodSeconds (15)"),
        (with_token(resources={"limits": {"memory": None}}), helm.HelmRenderError, "set resources.limits.memory"),
        (with_token(redis={"enabled": True, "host": "r"}), helm.HelmRenderError, "either redis.enabled"),
        (
            with_token(replicaCount=3, persistence={"enabled": True}),
            helm.HelmRenderError,
            "not replicaCount 3",
        ),
        ({"auth": {"apiKey": "k", "masterKey": "letmein"}}, helm.HelmRenderError, "auth.masterKey must start with sk-"),
        ({"auth": {"apiKey": "k", "masterKey": "sk-1234"}}, helm.HelmRenderError, "sk-1234"),
    ],
)
def test_unusable_values_are_refused(values: dict[str, Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error) as raised:
        render(values)
    assert message in str(raised.value)
