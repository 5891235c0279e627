"""The chart on the dev cluster: the operator runs as a pod with its own ServiceAccount
token and only the chart's RBAC (`helm install`, `helm upgrade`, `helm uninstall`, and
`kubectl apply --server-side -f deploy/install.yaml`).

The in-cluster operators watch only their own namespaces. This module sorts before
test_operator.py, whose admin operator (all namespaces) would otherwise act on these jobs
too; the audit log check below fails if anyone but the chart's ServiceAccount made the
step Jobs. With LABELPILOT_CAPTURE_STATUS=DIR the statuses seen here are written to DIR
(that is how tests/data/labelingjob-status/ was made).
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from devcluster.logs import pod_log
from tests import kstatus
from tests.chart.helm import CHART, REPO, binary_dir
from tests.cluster.kubeutil import free_port, wait_for
from tests.cluster.operator_fixtures import (
    GROUP,
    PLURAL,
    VERSION,
    DataVolume,
    bind_host_folder,
    labeling_job,
    wait_phase,
)

LABELS = [str(d) for d in range(10)]
CAPTURE = os.environ.get("LABELPILOT_CAPTURE_STATUS")
INSTALL_NAMESPACE = "labelpilot-system"


def run(tool: str, *args: str, kubeconfig: Path, check: bool = True) -> str:
    result = subprocess.run(
        [str(binary_dir() / tool), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, KUBECONFIG=str(kubeconfig)),
    )
    if check:
        assert result.returncode == 0, f"{tool} {' '.join(args)}:\n{result.stderr}"
    return result.stdout + result.stderr


def capture(name: str, obj: dict[str, Any]) -> None:
    if CAPTURE:
        keep = {
            "apiVersion": obj["apiVersion"],
            "kind": obj["kind"],
            "metadata": {k: obj["metadata"][k] for k in ("name", "generation")},
            "spec": {"suspend": obj["spec"].get("suspend", False)},
            "status": obj.get("status"),
        }
        Path(CAPTURE).mkdir(parents=True, exist_ok=True)
        (Path(CAPTURE) / f"{name}.json").write_text(json.dumps(keep, indent=2) + "\n")


def operator_pod(core: client.CoreV1Api, namespace: str) -> client.V1Pod | None:
    pods = core.list_namespaced_pod(
        namespace, label_selector="app.kubernetes.io/name=labelpilot"
    ).items
    running = [p for p in pods if p.status.phase == "Running" and not p.metadata.deletion_timestamp]
    return running[0] if len(running) == 1 else None


def operator_log(layout: Any, core: client.CoreV1Api, namespace: str) -> str:
    logs = []
    for pod in core.list_namespaced_pod(namespace).items:
        try:
            logs.append(pod_log(layout, namespace, pod.metadata.name, None)[-3000:])
        except FileNotFoundError as error:
            logs.append(str(error))
    return "\n".join(logs)


def wait_operator(cluster: dict[str, Any], namespace: str) -> client.V1Pod:
    core = cluster["core"]
    try:
        return wait_for(
            lambda: operator_pod(core, namespace),
            timeout=120,
            what=f"the operator pod in {namespace}",
        )
    except AssertionError as error:
        pods = core.list_namespaced_pod(namespace).items
        states = [(p.metadata.name, p.status.phase, p.status.container_statuses) for p in pods]
        raise AssertionError(
            f"{error}\n{states}\n{operator_log(cluster['layout'], core, namespace)}"
        ) from None


def creators_of_jobs(layout: Any, namespace: str) -> set[str]:
    users = set()
    for line in layout.log("audit").read_text().splitlines():
        entry = json.loads(line)
        ref = entry.get("objectRef") or {}
        if (
            entry.get("verb") == "create"
            and ref.get("resource") == "jobs"
            and ref.get("namespace") == namespace
            and (entry.get("responseStatus") or {}).get("code") == 201
        ):
            users.add(entry["user"]["username"])
    return users


def condition(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(c for c in obj["status"]["conditions"] if c["type"] == kind)


@pytest.fixture(scope="module")
def cluster(dev_cluster: Any, kube_api: client.ApiClient) -> dict[str, Any]:
    return {
        "layout": dev_cluster,
        "kubeconfig": dev_cluster.admin_kubeconfig,
        "core": client.CoreV1Api(kube_api),
        "batch": client.BatchV1Api(kube_api),
        "custom": client.CustomObjectsApi(kube_api),
        "rbac": client.RbacAuthorizationV1Api(kube_api),
        "extensions": client.ApiextensionsV1Api(kube_api),
    }


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from labelpilot.datasets.prepare import prepare

    root = tmp_path_factory.mktemp("deploy-data")
    prepare("digits", root / "digits", limit=300, seed=1)
    return root


@pytest.fixture()
def namespaces(cluster: dict[str, Any]) -> Iterator[tuple[str, str]]:
    suffix = uuid.uuid4().hex[:6]
    system, team = f"lp-system-{suffix}", f"lp-team-{suffix}"
    for name in (system, team):
        cluster["core"].create_namespace({"metadata": {"name": name}})
    yield system, team
    for name in (system, team):
        cluster["core"].delete_namespace(name)


def test_helm_install_runs_a_job_to_completion_with_the_charts_rbac(
    cluster: dict[str, Any], namespaces: tuple[str, str], digits: Path
) -> None:
    system, team = namespaces
    kubeconfig, core = cluster["kubeconfig"], cluster["core"]
    volume = bind_host_folder(core, team, digits)
    run(
        "helm",
        "install",
        "lp",
        str(CHART),
        "--namespace",
        system,
        "--set",
        f"watchNamespaces={{{team}}}",
        "--set",
        "operator.resyncSeconds=5",
        "--set",
        f"metrics.port={free_port()}",
        "--set",
        f"livenessProbe.port={free_port()}",
        "--set",
        f"policy.allow.volumeClaims={{{volume.claim}}}",
        kubeconfig=kubeconfig,
    )
    first = wait_operator(cluster, system)
    assert first.spec.service_account_name == "lp-labelpilot"
    assert any(v.projected for v in first.spec.volumes), "a projected service-account token"

    body = labeling_job("digits", digits / "digits", volume, LABELS)
    cluster["custom"].create_namespaced_custom_object(GROUP, VERSION, team, PLURAL, body)

    def in_progress() -> dict[str, Any] | None:
        obj = cluster["custom"].get_namespaced_custom_object(GROUP, VERSION, team, PLURAL, "digits")
        return obj if (obj.get("status") or {}).get("phase") == "InProgress" else None

    try:
        running = wait_for(in_progress, timeout=300, interval=1.0, what="InProgress")
        capture("in-progress", running)
        # helm upgrade with changed values rolls the operator (Recreate) mid-job.
        run(
            "helm",
            "upgrade",
            "lp",
            str(CHART),
            "--namespace",
            system,
            "--reuse-values",
            "--set",
            "operator.resyncSeconds=6",
            kubeconfig=kubeconfig,
        )
        second = wait_for(
            lambda: (
                (p := operator_pod(core, system)) and p.metadata.name != first.metadata.name and p
            ),
            timeout=120,
            what="the upgraded operator pod",
        )
        assert "--resync-seconds=6" in second.spec.containers[0].command
        final = wait_phase(cluster["custom"], team, "digits", ("Completed", "Failed"))
    except AssertionError as error:
        raise AssertionError(f"{error}\n{operator_log(cluster['layout'], core, system)}") from None
    assert final["status"]["phase"] == "Completed", final["status"]
    capture("completed", final)
    counters = final["status"]["labelCounters"]
    assert counters["totalLabeled"] + counters["failedNonRetryableError"] == 300
    assert final["status"]["observedGeneration"] == final["metadata"]["generation"]
    steps = cluster["batch"].list_namespaced_job(team, label_selector="labelpilot.dev/job=digits")
    names = [j.metadata.name for j in steps.items]
    assert len(names) == len(set(names)) and "digits-export" in names
    assert creators_of_jobs(cluster["layout"], team) == {
        f"system:serviceaccount:{system}:lp-labelpilot"
    }

    # helm uninstall: the CRD and the user's LabelingJobs (and their Jobs) stay.
    run("helm", "uninstall", "lp", "--namespace", system, "--wait", kubeconfig=kubeconfig)
    wait_for(
        lambda: not core.list_namespaced_pod(system).items,
        timeout=120,
        what="the operator pod to go",
    )
    cluster["extensions"].read_custom_resource_definition("labelingjobs.labelpilot.dev")
    kept = cluster["custom"].get_namespaced_custom_object(GROUP, VERSION, team, PLURAL, "digits")
    assert kept["status"]["phase"] == "Completed"
    assert not cluster["rbac"].list_namespaced_role(team).items


def test_install_manifest_without_jobs_create_reports_forbidden(
    cluster: dict[str, Any], tmp_path: Path
) -> None:
    kubeconfig, core, custom = cluster["kubeconfig"], cluster["core"], cluster["custom"]
    manifest = REPO / "deploy" / "install.yaml"
    run("kubectl", "apply", "--server-side", "-f", str(manifest), kubeconfig=kubeconfig)
    try:
        wait_operator(cluster, INSTALL_NAMESPACE)
        role = cluster["rbac"].read_namespaced_role("labelpilot", INSTALL_NAMESPACE)
        for rule in role.rules:
            if "jobs" in rule.resources:
                rule.verbs = [v for v in rule.verbs if v != "create"]
        cluster["rbac"].replace_namespaced_role("labelpilot", INSTALL_NAMESPACE, role)

        # No storage claim, and an input manifest that is not there: once it may run, the
        # job fails in its prepare step (a quick, real Failed status).
        body = labeling_job("denied", tmp_path / "missing", DataVolume("unused", tmp_path), LABELS)
        del body["spec"]["storage"]
        custom.create_namespaced_custom_object(GROUP, VERSION, INSTALL_NAMESPACE, PLURAL, body)

        def stalled() -> dict[str, Any] | None:
            obj = custom.get_namespaced_custom_object(
                GROUP, VERSION, INSTALL_NAMESPACE, PLURAL, "denied"
            )
            conditions = {c["type"]: c for c in (obj.get("status") or {}).get("conditions", [])}
            stall = conditions.get("Stalled")
            return obj if stall and stall["status"] == "True" else None

        try:
            obj = wait_for(stalled, timeout=120, interval=1.0, what="a Stalled condition")
        except AssertionError as error:
            raise AssertionError(
                f"{error}\n{operator_log(cluster['layout'], core, INSTALL_NAMESPACE)}"
            ) from None
        capture("stalled-forbidden", obj)
        stall = condition(obj, "Stalled")
        assert stall["reason"] == "Forbidden"
        assert 'cannot create resource "jobs"' in stall["message"]
        assert condition(obj, "Ready")["status"] == "False"
        assert condition(obj, "Reconciling")["status"] == "False"
        events = core.list_namespaced_event(
            INSTALL_NAMESPACE, field_selector="involvedObject.name=denied"
        ).items
        assert any(e.reason == "Forbidden" and e.type == "Warning" for e in events)
        assert not cluster["batch"].list_namespaced_job(INSTALL_NAMESPACE).items

        # Suspended while stalled: no Job runs, so the job is Stopped at once.
        custom.patch_namespaced_custom_object(
            GROUP, VERSION, INSTALL_NAMESPACE, PLURAL, "denied", {"spec": {"suspend": True}}
        )
        stopped = wait_phase(custom, INSTALL_NAMESPACE, "denied", ("Stopped",), timeout=120)
        capture("stopped", stopped)
        assert condition(stopped, "Ready")["status"] == "True"
        assert kstatus.status(stopped) == "Current"

        # Permission back, job resumed: the operator gets on with it by itself.
        run(
            "kubectl",
            "apply",
            "--server-side",
            "--force-conflicts",
            "-f",
            str(manifest),
            kubeconfig=kubeconfig,
        )
        custom.patch_namespaced_custom_object(
            GROUP, VERSION, INSTALL_NAMESPACE, PLURAL, "denied", {"spec": {"suspend": False}}
        )
        final = wait_phase(
            custom, INSTALL_NAMESPACE, "denied", ("Completed", "Failed"), timeout=300
        )
        capture("failed", final)
        assert final["status"]["phase"] == "Failed"
        assert condition(final, "Stalled")["reason"] != "Forbidden"
        assert cluster["batch"].list_namespaced_job(INSTALL_NAMESPACE).items
    finally:
        # The namespace and everything in it; the CRD stays for the other tests.
        core.delete_namespace(INSTALL_NAMESPACE)
