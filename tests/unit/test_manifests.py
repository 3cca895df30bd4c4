"""The deployment documents read the way a user applying them needs: they parse, name real API versions, grant
exactly what the adapters call, and agree with each other (cluster, node groups, roles, queues, DNS addresses).

No cluster and no Docker engine here: each check reads the files as ``kubectl`` / ``eksctl`` / IAM / compose
would, and cross-checks the values that must match between them.
"""

from __future__ import annotations

import ast
import functools
import ipaddress
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml

from sentinel import config
from sentinel.workers.app import QUEUES

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "manifests"
YAML_FILES = sorted(p for p in MANIFESTS.rglob("*") if p.suffix in {".yaml", ".yml"})
KUBE_FILES = [p for p in YAML_FILES if p.parts[-2] != "eksctl"]
REAL_API_VERSIONS = {"v1", "apps/v1", "rbac.authorization.k8s.io/v1", "ray.io/v1", "eksctl.io/v1alpha5"}
EXPECTED_RULES = {  # (apiGroup, resource) -> verbs: the calls in sentinel/ops/adapters/kube.py, no more
    ("apps", "deployments/scale"): {"get", "patch"},
    ("apps", "deployments"): {"get", "list", "watch"},
    ("apps", "deployments/status"): {"get"},
    ("", "nodes"): {"list", "watch"},
    ("ray.io", "rayclusters"): {"get", "list", "patch"},
    ("ray.io", "rayservices"): {"get", "list", "patch"},
    ("ray.io", "rayjobs"): {"get", "list", "patch"},
}


def load_all(path: Path) -> list[dict[str, Any]]:
    return [d for d in _parsed(path) if d is not None]


@functools.cache
def _parsed(path: Path) -> tuple[Any, ...]:
    return tuple(yaml.safe_load_all(path.read_text()))


def kube_docs() -> list[dict[str, Any]]:
    return [d for p in KUBE_FILES for d in load_all(p)]


def one(kind: str, name: str) -> dict[str, Any]:
    found = [d for d in kube_docs() if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def of_kind(kind: str) -> list[dict[str, Any]]:
    return [d for d in kube_docs() if d["kind"] == kind]


def eksctl() -> dict[str, Any]:
    (doc,) = load_all(MANIFESTS / "eksctl" / "cluster.yaml")
    return doc


def sentinel_yaml() -> config.Config:
    text = one("ConfigMap", "sentinel-config")["data"]["sentinel.yaml"]
    return config.from_mapping(yaml.safe_load(text), source="20-configmap.yaml", env={})


def policy(name: str) -> dict[str, Any]:
    return json.loads((MANIFESTS / "iam" / name).read_text())


def statements(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in doc["Statement"] if s["Effect"] == "Allow"]


def as_list(v: str | list[str]) -> list[str]:
    return [v] if isinstance(v, str) else list(v)


def sentinel_pods() -> list[tuple[str, dict[str, Any]]]:
    return [(d["metadata"]["name"], d["spec"]["template"]["spec"]) for d in of_kind("Deployment")
            if d["metadata"]["namespace"] == "sentinel"]


def env_of(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in container.get("env", [])}


# --- every document --------------------------------------------------------------------------------------------


def test_there_is_something_to_apply() -> None:
    names = {p.relative_to(MANIFESTS).as_posix() for p in YAML_FILES}
    assert {"eksctl/cluster.yaml", "ray/10-raycluster.yaml", "ray/20-rayservice.yaml"} <= names
    assert len(KUBE_FILES) >= 8


@pytest.mark.parametrize("path", [*YAML_FILES, ROOT / "compose.yaml"], ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_yaml_file_parses_to_mappings(path: Path) -> None:
    docs = load_all(path)
    assert docs and all(isinstance(d, dict) for d in docs)


def test_every_kubernetes_doc_has_a_real_api_version_a_kind_and_a_name() -> None:
    for path in YAML_FILES:
        for doc in load_all(path):
            where = f"{path.relative_to(MANIFESTS)}: {doc.get('kind')}"
            assert doc.get("apiVersion") in REAL_API_VERSIONS, where
            assert doc.get("kind"), where
            assert (doc.get("metadata") or {}).get("name"), where
            if doc["kind"] not in {"Namespace", "ClusterRole", "ClusterRoleBinding", "ClusterConfig"}:
                assert doc["metadata"].get("namespace") in {"sentinel", "sentinel-prod"}, where


def test_names_are_unique_per_kind_and_namespace() -> None:
    keys = [(d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]) for d in kube_docs()]
    assert len(keys) == len(set(keys))


def test_the_secret_template_is_not_in_the_applied_directory() -> None:
    applied = [d for p in (MANIFESTS / "kubernetes").glob("*.yaml") for d in load_all(p)]
    assert not [d for d in applied if d["kind"] == "Secret"], "placeholder secrets must not be applied by -f dir"
    secret = one("Secret", "sentinel-secrets")
    assert set(secret["stringData"]) == {"SENTINEL_SLACK_SIGNING_SECRET", "SENTINEL_API_TOKEN"}
    for _, pod in sentinel_pods():
        refs = [e["secretRef"]["name"] for c in pod["containers"] for e in c.get("envFrom", []) if "secretRef" in e]
        assert refs == ["sentinel-secrets"]


# --- RBAC --------------------------------------------------------------------------------------------------------


def test_clusterrole_grants_exactly_the_adapters_calls_and_no_wildcards() -> None:
    role = one("ClusterRole", "sentinel")
    granted: dict[tuple[str, str], set[str]] = {}
    for rule in role["rules"]:
        for field in ("apiGroups", "resources", "verbs", "resourceNames"):
            assert not any("*" in v for v in rule.get(field, [])), f"wildcard in {rule}"
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                granted.setdefault((group, resource), set()).update(rule["verbs"])
    assert granted == EXPECTED_RULES
    assert "patch" in granted[("apps", "deployments/scale")]
    assert {"list", "watch"} <= granted[("", "nodes")]


def test_scaling_is_limited_to_the_configured_system_deployments() -> None:
    (rule,) = [r for r in one("ClusterRole", "sentinel")["rules"] if "deployments/scale" in r["resources"]]
    wanted = {ref.split("/")[1] for c in sentinel_yaml().clusters.values() for ref in c.system_deployments}
    assert set(rule["resourceNames"]) == wanted == {"cluster-autoscaler", "metrics-server", "coredns"}


def test_the_binding_gives_the_role_to_the_account_the_pods_run_as() -> None:
    binding = one("ClusterRoleBinding", "sentinel")
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "sentinel"}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "sentinel", "namespace": "sentinel"}]
    one("ServiceAccount", "sentinel")
    for name, pod in sentinel_pods():
        assert pod["serviceAccountName"] == "sentinel", name


@pytest.mark.parametrize(("namespace", "name"), [("sentinel", "sentinel"), ("sentinel-prod", "ray-service-account")])
def test_irsa_annotation_names_the_role_eksctl_creates(namespace: str, name: str) -> None:
    sa = one("ServiceAccount", name)
    assert sa["metadata"]["namespace"] == namespace
    arn = sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
    m = re.fullmatch(r"arn:aws:iam::(\d{12}):role/([\w+=,.@-]+)", arn)
    assert m, arn
    made = {(s["metadata"]["namespace"], s["metadata"]["name"]): s for s in eksctl()["iam"]["serviceAccounts"]}
    assert made[(namespace, name)]["roleName"] == m.group(2)
    assert made[(namespace, name)]["roleOnly"] is True  # the ServiceAccount itself comes from these manifests


# --- IAM ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["sentinel-policy.json", "s3-training-policy.json"])
def test_iam_policies_parse_and_grant_no_wildcard_action(name: str) -> None:
    doc = policy(name)
    assert doc["Version"] == "2012-10-17"
    for s in doc["Statement"]:
        assert s["Effect"] == "Allow" and "NotAction" not in s and "NotResource" not in s
        for action in as_list(s["Action"]):
            assert "*" not in action, f"{name}: {action}"
            assert re.fullmatch(r"[a-z0-9]+:[A-Za-z]+", action), action
        assert "*" not in as_list(s["Resource"]), f"{name}: a statement on every resource"


def test_sentinel_policy_resizes_only_the_configured_node_groups() -> None:
    cfg, cluster = sentinel_yaml(), eksctl()["metadata"]
    actions = {a for s in statements(policy("sentinel-policy.json")) for a in as_list(s["Action"])}
    assert {"eks:DescribeNodegroup", "eks:UpdateNodegroupConfig"} <= actions
    (eks,) = [s for s in statements(policy("sentinel-policy.json")) if "eks:UpdateNodegroupConfig" in s["Action"]]
    groups = set()
    for arn in as_list(eks["Resource"]):
        m = re.fullmatch(r"arn:aws:eks:([a-z0-9-]+):\d{12}:nodegroup/([^/]+)/([^/*]+)/\*", arn)
        assert m, arn
        assert (m.group(1), m.group(2)) == (cluster["region"], cluster["name"])
        groups.add(m.group(3))
    training = cfg.cluster("training")
    assert groups == set(training.nodegroups)
    assert "system-ng" not in groups  # the node group Sentinel runs on must be out of its own reach


def test_sentinel_policy_reads_the_trigger_queue_and_bucket() -> None:
    (trigger,) = sentinel_yaml().triggers
    by_action = {a: s for s in statements(policy("sentinel-policy.json")) for a in as_list(s["Action"])}
    assert {"sqs:ReceiveMessage", "sqs:DeleteMessage"} <= set(by_action)
    assert by_action["sqs:ReceiveMessage"]["Resource"].endswith(f":{trigger.queue}")
    assert by_action["s3:GetObject"]["Resource"] == f"arn:aws:s3:::{trigger.bucket}/{trigger.prefix}*"
    assert not [a for a in by_action if a.startswith("s3:Put") or a.startswith("s3:Delete")]


def test_training_policy_covers_the_model_registry_of_the_config() -> None:
    storage = urlparse(sentinel_yaml().ml.storage)
    assert storage.scheme == "s3"
    resources = {r for s in statements(policy("s3-training-policy.json")) if "s3:PutObject" in s["Action"]
                 for r in as_list(s["Resource"])}
    assert resources == {f"arn:aws:s3:::{storage.netloc}{storage.path}/*"}


# --- sentinel.yaml and the cluster it names ------------------------------------------------------------------------


def test_configmap_sentinel_yaml_validates() -> None:
    cfg = sentinel_yaml()
    assert set(cfg.clusters) == {"training"}
    assert {s.action for s in cfg.schedules} == {"sleep", "wake"}


def test_config_and_eksctl_agree_on_cluster_and_node_group_sizes() -> None:
    doc, c = eksctl(), sentinel_yaml().cluster("training")
    assert (c.eks_cluster, c.region) == (doc["metadata"]["name"], doc["metadata"]["region"])
    assert doc["iam"]["withOIDC"] is True
    groups = {g["name"]: g for g in doc["managedNodeGroups"]}
    for name, ng in c.nodegroups.items():
        g = groups[name]
        assert (g["minSize"], g["desiredCapacity"], g["maxSize"]) == (ng.awake.min, ng.awake.desired, ng.awake.max)
        assert bool(g.get("spot")) == ng.spot
    assert groups["worker-group-spot-1"]["spot"] is True
    assert "system-ng" in groups and "system-ng" not in c.nodegroups


def test_sentinel_and_redis_run_on_the_node_group_that_never_sleeps() -> None:
    (system,) = [g for g in eksctl()["managedNodeGroups"] if g["name"] == "system-ng"]
    label = system["labels"]
    pods = [*sentinel_pods(), ("redis", one("StatefulSet", "redis")["spec"]["template"]["spec"])]
    for name, pod in pods:
        assert pod["nodeSelector"] == label, name


def test_ray_objects_are_the_ones_the_config_points_at() -> None:
    ray = sentinel_yaml().cluster("training").ray
    rc, rs = one("RayCluster", "sentinel-training-cluster"), one("RayService", "sentinel-service")
    assert (rc["metadata"]["namespace"], rc["metadata"]["name"]) == (ray.namespace, ray.raycluster)
    assert (rs["metadata"]["namespace"], rs["metadata"]["name"]) == (ray.namespace, ray.rayservice)
    # KubeRay names the head service <raycluster>-head-svc; the serve service is set in the RayService
    assert urlparse(ray.dashboard).hostname == f"{ray.raycluster}-head-svc.{ray.namespace}.svc.cluster.local"
    assert urlparse(ray.serve).hostname.startswith(f"{rs['spec']['serveService']['metadata']['name']}.{ray.namespace}.")
    for spec in (rc["spec"], rs["spec"]["rayClusterConfig"]):
        assert re.fullmatch(r"\d+\.\d+\.\d+", spec["rayVersion"])
        pods = [spec["headGroupSpec"]["template"]["spec"], *(g["template"]["spec"] for g in spec["workerGroupSpecs"])]
        for pod in pods:
            assert pod["serviceAccountName"] == "ray-service-account"
        spot = spec["workerGroupSpecs"][0]["template"]["spec"]
        assert spot["tolerations"][0]["key"] == "sentinel.io/spot"


def test_rayservice_serves_the_sentinel_app_with_a_model_version() -> None:
    serve_cfg = yaml.safe_load(one("RayService", "sentinel-service")["spec"]["serveConfigV2"])
    (app,) = serve_cfg["applications"]
    assert app["import_path"] == "sentinel.ml.serve:app"
    assert app["args"]["version"]
    assert app["args"]["registry"] == sentinel_yaml().ml.storage


def app_args_fields() -> set[str]:
    """The fields of ``sentinel.ml.serve.AppArgs`` (``extra="forbid"``), read from the source: importing it
    would import Ray Serve, which takes longer than this whole module."""
    tree = ast.parse((ROOT / "sentinel" / "ml" / "serve.py").read_text())
    (cls,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "AppArgs"]
    return {n.target.id for n in cls.body if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)}


def test_rayservice_args_are_what_the_app_builder_accepts() -> None:
    (app,) = yaml.safe_load(one("RayService", "sentinel-service")["spec"]["serveConfigV2"])["applications"]
    fields = app_args_fields()
    assert {"registry", "version", "model_path"} <= fields
    assert set(app["args"]) <= fields, f"AppArgs forbids {set(app['args']) - fields}"
    assert ("registry" in app["args"]) != ("model_path" in app["args"])  # exactly one source


# --- the Sentinel pods -------------------------------------------------------------------------------------------


def test_one_worker_deployment_per_queue_running_sentinel_worker() -> None:
    consumed = {}
    for d in of_kind("Deployment"):
        (c,) = d["spec"]["template"]["spec"]["containers"]
        if c["args"][0] == "worker":
            (q,) = [a.split("=", 1)[1] for a in c["args"] if a.startswith("--queues=")]
            consumed[q] = d["metadata"]["name"]
            assert any(a == f"--hostname={q}@%h" for a in c["args"])  # the liveness ping addresses this name
            assert f"['{q}@' + socket.gethostname()]" in " ".join(c["livenessProbe"]["exec"]["command"])
    assert set(consumed) == set(QUEUES)


def test_workers_grace_period_covers_the_task_time_limit() -> None:
    limit = sentinel_yaml().task_time_limit
    for name, pod in sentinel_pods():
        if pod["containers"][0]["args"][0] == "worker":
            assert pod["terminationGracePeriodSeconds"] > limit, name


def test_scheduler_is_one_replica_of_sentinel_scheduler() -> None:
    d = one("Deployment", "sentinel-scheduler")
    assert d["spec"]["replicas"] == 1
    assert d["spec"]["template"]["spec"]["containers"][0]["args"] == ["scheduler"]


def test_every_pod_has_probes_resources_and_runs_as_non_root() -> None:
    pods = [*sentinel_pods(), ("redis", one("StatefulSet", "redis")["spec"]["template"]["spec"])]
    for name, pod in pods:
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] > 0, name
        for c in pod["containers"]:
            assert c["securityContext"]["allowPrivilegeEscalation"] is False, name
            assert c["securityContext"]["capabilities"]["drop"] == ["ALL"], name
            assert {"cpu", "memory"} <= set(c["resources"]["requests"]) and "memory" in c["resources"]["limits"], name
            assert "readinessProbe" in c and "livenessProbe" in c, name
    for d in of_kind("Deployment") + of_kind("StatefulSet"):
        selector = d["spec"]["selector"]["matchLabels"]
        labels = d["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items(), d["metadata"]["name"]
        assert labels["app.kubernetes.io/part-of"] == "sentinel"


def test_pods_reach_redis_and_dns_without_coredns() -> None:
    svc = one("Service", "redis")
    assert svc["spec"].get("clusterIP") != "None"  # only ClusterIP services get REDIS_SERVICE_HOST injected
    doc = eksctl()
    kube_dns = str(ipaddress.ip_network(doc["kubernetesNetworkConfig"]["serviceIPv4CIDR"])[10])
    vpc_dns = str(ipaddress.ip_network(doc["vpc"]["cidr"])[2])
    for name, pod in sentinel_pods():
        env = env_of(pod["containers"][0])
        assert env["SENTINEL_REDIS_URL"] == "redis://$(REDIS_SERVICE_HOST):$(REDIS_SERVICE_PORT)/0", name
        assert env["SENTINEL_CONFIG"] == "/etc/sentinel/sentinel.yaml", name
        assert pod["dnsPolicy"] == "None", name
        assert pod["dnsConfig"]["nameservers"] == [kube_dns, vpc_dns], name


def test_redis_keeps_an_append_only_file_on_a_volume() -> None:
    sts = one("StatefulSet", "redis")
    args = sts["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--appendonly") + 1] == "yes"
    assert args[args.index("--maxmemory-policy") + 1] == "noeviction"
    assert sts["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "data"
    addons = {a["name"] for a in eksctl()["addons"]}
    assert "aws-ebs-csi-driver" in addons  # else the volume never binds


# --- compose and Dockerfile --------------------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def test_compose_services_are_built_or_pulled_and_wait_for_healthy_redis() -> None:
    services = compose()["services"]
    assert {"redis", "worker", "scheduler", "sandbox"} <= set(services)
    for name, svc in services.items():
        assert "image" in svc or "build" in svc, name
    for name in ("worker", "scheduler"):
        svc = services[name]
        assert svc["build"]["dockerfile"] == "Dockerfile"
        assert svc["depends_on"]["redis"] == {"condition": "service_healthy"}
        assert svc["depends_on"]["sandbox"] == {"condition": "service_healthy"}
        assert svc["network_mode"] == "service:sandbox"  # the sandbox listens on its own 127.0.0.1
        assert svc["environment"]["SENTINEL_ENV_FILE"] in services["sandbox"]["command"]
        assert svc["environment"]["SENTINEL_REDIS_URL"].startswith("redis://redis:")
    assert services["worker"]["command"][0] == "worker"
    assert services["scheduler"]["command"] == ["scheduler"]
    assert services["sandbox"]["command"][:2] == ["sandbox", "up"]
    redis = services["redis"]
    assert "healthcheck" in redis and redis["command"][redis["command"].index("--appendonly") + 1] == "yes"


def test_dockerfile_installs_cpu_torch_before_the_project_and_runs_sentinel_as_non_root() -> None:
    lines = [ln.strip() for ln in (ROOT / "Dockerfile").read_text().splitlines()]
    text = "\n".join(lines)
    assert lines[0].startswith("#") or lines[0].startswith("FROM")
    assert re.search(r"^FROM python:3\.11-slim\b", text, re.M)
    torch = next(i for i, ln in enumerate(lines) if "torch==2.13.0" in ln)
    assert "--index-url https://download.pytorch.org/whl/cpu" in lines[torch]
    project = next(i for i, ln in enumerate(lines) if re.search(r"pip install \.(\s|$)", ln))
    assert torch < project
    user = next(ln for ln in lines if ln.startswith("USER "))
    assert user.split()[1].split(":")[0] not in {"root", "0"}
    assert lines.index(user) > project
    assert 'ENTRYPOINT ["sentinel"]' in lines


def test_dockerignore_keeps_what_the_build_copies() -> None:
    ignored = {ln.strip() for ln in (ROOT / ".dockerignore").read_text().splitlines() if ln and not ln.startswith("#")}
    copied = {w for ln in (ROOT / "Dockerfile").read_text().splitlines() if ln.startswith("COPY ")
              for w in ln.split()[1:-1]}
    assert copied == {"pyproject.toml", "README.md", "sentinel"}
    assert not copied & ignored
    assert {".git", ".venv", ".sandbox"} <= ignored
