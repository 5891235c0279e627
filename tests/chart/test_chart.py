"""The Helm chart, checked on `helm lint` and `helm template` output."""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path

import pytest
import yaml

from labelpilot.api import crd
from labelpilot.cli import build_parser
from labelpilot.controller.profiles import Catalog
from tests.chart.helm import CHART, REPO, helm, kinds, one, render, template_text

RULES = {
    ("labelpilot.dev", "labelingjobs"): {"get", "list", "watch", "patch"},
    ("labelpilot.dev", "labelingjobs/status"): {"get", "patch"},
    ("batch", "jobs"): {"create", "delete", "get", "list", "watch"},
    ("", "pods"): {"get", "list", "watch"},
    ("", "events"): {"create", "patch"},
}


CLUSTER_SCOPED = (
    "Namespace",
    "CustomResourceDefinition",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
)


def container(docs):
    (result,) = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    return result


def operator_args(docs):
    command = container(docs)["command"]
    assert command[:2] == ["labelpilot", "operator"]
    return build_parser().parse_args(command[1:])


def rules_of(role):
    result: dict[tuple[str, str], set[str]] = {}
    for rule in role["rules"]:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                result.setdefault((group, resource), set()).update(rule["verbs"])
    return result


def test_lint_strict_is_clean():
    result = helm("lint", "--strict", str(CHART))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


def test_chart_crds_are_byte_identical_to_the_top_level_ones():
    top = sorted(p.name for p in (REPO / "crds").glob("*.yaml"))
    chart = sorted(p.name for p in (CHART / "crds").glob("*.yaml"))
    assert top == chart and top
    for name in top:
        assert (CHART / "crds" / name).read_bytes() == (REPO / "crds" / name).read_bytes(), (
            f"charts/labelpilot/crds/{name} drifted from crds/{name}: run `make crd`"
        )
    assert (REPO / "crds" / top[0]).read_text() == crd.render()


def test_install_manifest_matches_the_chart():
    rendered = subprocess.run(
        ["bash", str(REPO / "hack" / "render-manifests.sh"), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    committed = (REPO / "deploy" / "install.yaml").read_text()
    assert committed == rendered, "deploy/install.yaml drifted from the chart: `make manifests`"
    docs = [d for d in yaml.safe_load_all(committed) if d]
    assert docs[0] == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": "labelpilot-system",
            "labels": {
                "app.kubernetes.io/part-of": "labelpilot",
                "pod-security.kubernetes.io/enforce": "restricted",
            },
        },
    }
    assert "CustomResourceDefinition" in kinds(docs)
    assert "ValidatingAdmissionPolicy" in kinds(docs)
    namespaced = [d for d in docs if d["kind"] not in CLUSTER_SCOPED]
    assert {d["metadata"]["namespace"] for d in namespaced} == {"labelpilot-system"}


def test_default_objects():
    assert kinds(render()) == [
        "ConfigMap",
        "ConfigMap",
        "Deployment",
        "Role",
        "RoleBinding",
        "Service",
        "ServiceAccount",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    ]


def test_deployment_is_one_recreated_restricted_replica():
    docs = render()
    deployment = one(docs, "Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] > 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    main = container(docs)
    assert main["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert main["resources"]["requests"] and main["resources"]["limits"]
    mounts = {m["mountPath"]: m["name"] for m in main["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    assert pod["serviceAccountName"] == one(docs, "ServiceAccount")["metadata"]["name"]


def test_liveness_probe_hits_the_operators_liveness_endpoint():
    docs = render("--set", "livenessProbe.port=9901")
    args = operator_args(docs)
    assert args.liveness == "http://0.0.0.0:9901/healthz"
    probe = container(docs)["livenessProbe"]["httpGet"]
    ports = {p["name"]: p["containerPort"] for p in container(docs)["ports"]}
    assert probe["path"] == "/healthz" and ports[probe["port"]] == 9901


def test_command_is_a_valid_operator_invocation():
    args = operator_args(render())
    assert args.namespace == ["labelpilot-system"] and not args.all_namespaces
    assert args.image == "ghcr.io/labelpilot/worker-gpu:0.1.0"
    assert args.profiles == "/etc/labelpilot/profiles.yaml"
    assert args.metrics_port == 8080
    mounts = {m["mountPath"] for m in container(render())["volumeMounts"]}
    assert str(Path(args.profiles).parent) in mounts


def test_worker_image_and_digest():
    digest = "sha256:" + "ab" * 32
    args = operator_args(
        render(
            "--set",
            "worker.image.repository=registry.example/lp/worker",
            "--set",
            "worker.image.tag=1.2.3",
            "--set",
            f"worker.image.digest={digest}",
        )
    )
    assert args.image == f"registry.example/lp/worker:1.2.3@{digest}"


def test_namespaced_rbac_has_one_role_per_watched_namespace():
    docs = render("--set", "watchNamespaces={team-a,team-b}")
    roles = [d for d in docs if d["kind"] == "Role"]
    bindings = [d for d in docs if d["kind"] == "RoleBinding"]
    assert sorted(r["metadata"]["namespace"] for r in roles) == ["team-a", "team-b"]
    assert sorted(b["metadata"]["namespace"] for b in bindings) == ["team-a", "team-b"]
    for role in roles:
        assert rules_of(role) == RULES
    for binding in bindings:
        (subject,) = binding["subjects"]
        assert subject["namespace"] == "labelpilot-system"
        assert binding["roleRef"]["name"] == roles[0]["metadata"]["name"]
    assert operator_args(docs).namespace == ["team-a", "team-b"]
    assert not [d for d in docs if d["kind"].startswith("Cluster")]


def test_cluster_wide_rbac_option():
    docs = render("--set", "rbac.clusterWide=true")
    assert not [d for d in docs if d["kind"] in ("Role", "RoleBinding")]
    role = one(docs, "ClusterRole")
    expected = dict(RULES)
    expected[("apiextensions.k8s.io", "customresourcedefinitions")] = {"list", "watch"}
    assert rules_of(role) == expected
    binding = one(docs, "ClusterRoleBinding")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": role["metadata"]["name"],
    }
    args = operator_args(docs)
    assert args.all_namespaces and not args.namespace


def test_no_wildcards_or_secrets_in_rbac():
    for docs in (render(), render("--set", "rbac.clusterWide=true")):
        for role in (d for d in docs if d["kind"] in ("Role", "ClusterRole")):
            for rule in role["rules"]:
                assert "*" not in rule["verbs"] + rule["resources"] + rule["apiGroups"]
                assert "secrets" not in rule["resources"]


def test_default_profiles_are_the_seed_table():
    config = one(render(), "ConfigMap", "labelpilot-profiles")
    catalog = Catalog.from_yaml(config["data"]["profiles.yaml"])
    assert catalog == Catalog()


def test_every_profile_field_can_be_overridden(tmp_path):
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    profiles = copy.deepcopy(values["profiles"])
    profiles["profiles"]["a100"] = {
        "requests": {"cpu": "8", "memory": "60Gi", "nvidia.com/gpu": "1"},
        "limits": {"cpu": "16", "memory": "120Gi", "nvidia.com/gpu": "1"},
        "nodeSelector": {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-40GB"},
        "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
    }
    profiles["profiles"]["c5.xlarge"]["limits"]["memory"] = "12Gi"
    profiles["defaults"]["ImageClassification"]["training"] = "a100"
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump({"profiles": profiles}))
    docs = render("-f", str(path))
    config = one(docs, "ConfigMap", "labelpilot-profiles")
    catalog = Catalog.from_yaml(config["data"]["profiles.yaml"])
    assert catalog.profile("a100").node_selector == {
        "nvidia.com/gpu.product": "NVIDIA-A100-SXM4-40GB"
    }
    assert catalog.profile("c5.xlarge").limits["memory"] == "12Gi"
    assert catalog.defaults["ImageClassification"]["training"] == "a100"
    annotation = "checksum/profiles"
    before = one(render(), "Deployment")["spec"]["template"]["metadata"]["annotations"]
    after = one(docs, "Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert before[annotation] != after[annotation], "a profile change must roll the operator"


def test_metrics_service_and_optional_service_monitor():
    docs = render("--set", "metrics.serviceMonitor.enabled=true", "--set", "metrics.port=9100")
    service = one(docs, "Service")
    assert service["spec"]["ports"][0]["targetPort"] == "metrics"
    ports = {p["name"]: p["containerPort"] for p in container(docs)["ports"]}
    assert ports["metrics"] == 9100 == operator_args(docs).metrics_port
    monitor = one(docs, "ServiceMonitor")
    assert monitor["spec"]["selector"]["matchLabels"] == service["spec"]["selector"]
    # the metrics' namespace label (a LabelingJob's) wins over the target's
    assert monitor["spec"]["endpoints"][0]["honorLabels"] is True
    assert "ServiceMonitor" not in kinds(render())
    assert "Service" not in kinds(render("--set", "metrics.service.enabled=false"))


def test_optional_storage_claim_is_kept_on_uninstall():
    assert "PersistentVolumeClaim" not in kinds(render())
    claim = one(
        render("--set", "storage.pvc.create=true", "--set", "storage.pvc.size=5Gi"),
        "PersistentVolumeClaim",
    )
    assert claim["spec"]["resources"]["requests"]["storage"] == "5Gi"
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"


def test_argocd_health_check_configmap_carries_the_shipped_lua():
    config = one(
        render("--set", "argocd.healthCheck.enabled=true"), "ConfigMap", "labelpilot-argocd-health"
    )
    key = "resource.customizations.health.labelpilot.dev_LabelingJob"
    shipped = (REPO / "deploy" / "argocd" / "labelingjob-health.lua").read_text()
    assert config["data"][key] == shipped
    assert (CHART / "files" / "labelingjob-health.lua").read_text() == shipped


@pytest.mark.parametrize(
    "setting, message",
    [
        ("metrics.port=0", "at '/metrics/port': minimum: got 0, want 1"),
        ("metrics.port=http", "at '/metrics/port': got string, want integer"),
        ("rbac.clusterwide=true", "additional properties 'clusterwide' not allowed"),
        ("image.pullPolicy=Sometimes", "at '/image/pullPolicy'"),
        ("worker.image.digest=abc", "at '/worker/image/digest'"),
        ("watchNamespaces={Team_A}", "at '/watchNamespaces/0'"),
        ("operator.resyncSeconds=0", "at '/operator/resyncSeconds'"),
        (
            "profiles.defaults.ImageClassification.training=7",
            "at '/profiles/defaults/ImageClassification/training': got number, want string",
        ),
        ("profiles.profiles.small.limits.cpu=two", "at '/profiles/profiles/small/limits/cpu'"),
        ("podSecurityContext.runAsNonRoot=false", "at '/podSecurityContext/runAsNonRoot'"),
        ("storage.pvc.accessModes={ReadWriteSometimes}", "at '/storage/pvc/accessModes/0'"),
    ],
)
def test_schema_refuses_wrong_values_naming_the_field(setting, message):
    result = helm("template", "labelpilot", str(CHART), "--set", setting)
    assert result.returncode != 0
    assert "values don't meet the specifications of the schema" in result.stderr
    assert message in result.stderr, result.stderr


def test_release_namespace_is_watched_by_default():
    text = template_text(namespace="team-x", release="lp")
    docs = [d for d in yaml.safe_load_all(text) if d]
    assert operator_args(docs).namespace == ["team-x"]
    assert one(docs, "Role")["metadata"]["namespace"] == "team-x"
