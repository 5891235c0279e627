"""The dev cluster's promises: real scheduling, real Job controller, pods as processes."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from kubernetes import client

from tests.cluster.kubeutil import job_condition, simple_job, wait_for

REPO = Path(__file__).resolve().parents[2]

GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}


def _pods(core: client.CoreV1Api, namespace: str, job: str) -> list[client.V1Pod]:
    return core.list_namespaced_pod(namespace, label_selector=f"job-name={job}").items


def _wait_job(batch: client.BatchV1Api, namespace: str, name: str, timeout: float = 60) -> str:
    return wait_for(
        lambda: job_condition(batch.read_namespaced_job(name, namespace)),
        timeout,
        what=f"job {name} to finish",
    )


def _wait_service_account(core: client.CoreV1Api, namespace: str) -> None:
    wait_for(
        lambda: any(
            sa.metadata.name == "default"
            for sa in core.list_namespaced_service_account(namespace).items
        ),
        what="the default service account",
    )


@pytest.fixture()
def apis(kube_api: client.ApiClient, namespace: str) -> tuple[client.CoreV1Api, client.BatchV1Api]:
    core = client.CoreV1Api(kube_api)
    _wait_service_account(core, namespace)
    return core, client.BatchV1Api(kube_api)


def test_nodes_mirror_instance_classes(kube_api: client.ApiClient) -> None:
    nodes = client.CoreV1Api(kube_api).list_node().items
    by_type: dict[str, list[client.V1Node]] = {}
    for node in nodes:
        instance_type = node.metadata.labels["node.kubernetes.io/instance-type"]
        by_type.setdefault(instance_type, []).append(node)
    assert len(by_type["p3.2xlarge"]) >= 2
    for instance_type in ("c5.xlarge", "c5.2xlarge", "c5.4xlarge", "m4.xlarge"):
        assert len(by_type[instance_type]) == 1
    gpu = by_type["p3.2xlarge"][0]
    assert gpu.status.capacity["nvidia.com/gpu"] == "1"
    assert gpu.status.capacity["memory"] == "61Gi"
    assert gpu.metadata.labels["nvidia.com/gpu.product"] == "Tesla-V100-SXM2-16GB"
    assert [(t.key, t.effect) for t in gpu.spec.taints] == [("nvidia.com/gpu", "NoSchedule")]
    for node in nodes:
        ready = next(c for c in node.status.conditions if c.type == "Ready")
        assert ready.status == "True", node.metadata.name


def test_gpu_job_runs_on_gpu_node_and_reports_termination_message(apis, namespace) -> None:
    core, batch = apis
    job = simple_job(
        "gpu",
        'echo \'{"step": "train", "ok": true}\' > /dev/termination-log',
        pod_spec={
            "nodeSelector": {"nvidia.com/gpu.present": "true"},
            "tolerations": [GPU_TOLERATION],
        },
    )
    job["spec"]["template"]["spec"]["containers"][0]["resources"] = {
        "limits": {"nvidia.com/gpu": "1"}
    }
    batch.create_namespaced_job(namespace, job)
    assert _wait_job(batch, namespace, "gpu") == "Complete"
    (pod,) = _pods(core, namespace, "gpu")
    node = core.read_node(pod.spec.node_name)
    assert node.metadata.labels["node.kubernetes.io/instance-type"] == "p3.2xlarge"
    terminated = pod.status.container_statuses[0].state.terminated
    assert terminated.exit_code == 0
    assert json.loads(terminated.message) == {"step": "train", "ok": True}


def test_pod_without_toleration_never_lands_on_gpu_node(apis, namespace) -> None:
    core, batch = apis
    pinned = simple_job(
        "pinned", "true", pod_spec={"nodeSelector": {"nvidia.com/gpu.present": "true"}}
    )
    batch.create_namespaced_job(namespace, pinned)
    for index in range(4):
        batch.create_namespaced_job(namespace, simple_job(f"free-{index}", "true"))
    for index in range(4):
        assert _wait_job(batch, namespace, f"free-{index}") == "Complete"
        (pod,) = _pods(core, namespace, f"free-{index}")
        node = core.read_node(pod.spec.node_name)
        assert "nvidia.com/gpu.present" not in node.metadata.labels

    def unschedulable() -> bool:
        pods = _pods(core, namespace, "pinned")
        return bool(pods) and any(
            c.type == "PodScheduled" and c.reason == "Unschedulable"
            for c in (pods[0].status.conditions or [])
        )

    wait_for(unschedulable, what="the scheduler to refuse the untolerated pod")
    (pod,) = _pods(core, namespace, "pinned")
    assert pod.spec.node_name is None


def test_failing_pod_fails_job_after_backoff_limit(apis, namespace) -> None:
    core, batch = apis
    batch.create_namespaced_job(
        namespace, simple_job("fails", "echo boom >&2; exit 7", backoff_limit=1)
    )
    assert _wait_job(batch, namespace, "fails", timeout=90) == "Failed"
    pods = _pods(core, namespace, "fails")
    assert len(pods) == 2
    for pod in pods:
        terminated = pod.status.container_statuses[0].state.terminated
        assert terminated.exit_code == 7
        assert pod.status.phase == "Failed"


def test_deleted_pod_process_is_gone(apis, namespace) -> None:
    core, _ = apis
    core.create_namespaced_pod(
        namespace,
        {
            "metadata": {"name": "sleeper"},
            "spec": {
                "restartPolicy": "Never",
                "terminationGracePeriodSeconds": 2,
                "containers": [{"name": "main", "image": "none", "command": ["sleep", "600"]}],
            },
        },
    )

    pid = wait_for(lambda: _running_pid(core, namespace, "sleeper"), what="the sleeper to run")
    assert Path(f"/proc/{pid}").exists()
    core.delete_namespaced_pod("sleeper", namespace)

    def gone() -> bool:
        names = [p.metadata.name for p in core.list_namespaced_pod(namespace).items]
        return "sleeper" not in names

    wait_for(gone, timeout=30, what="the pod object to be removed")
    assert not _alive(pid)


def _cpu_group(pid: int) -> Path:
    """The cgroup directory holding `pid`'s CPU settings (v1 `cpu` line, else unified)."""
    lines = [line.split(":", 2) for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines()]
    v1 = [path for _, controllers, path in lines if "cpu" in controllers.split(",")]
    if v1:
        return Path("/sys/fs/cgroup/cpu") / v1[0].lstrip("/")
    return Path("/sys/fs/cgroup") / next(path for _, c, path in lines if c == "").lstrip("/")


def test_pod_cpu_requests_and_limits_shape_its_cpu_group(apis, namespace) -> None:
    core, _ = apis
    pod = core.create_namespaced_pod(
        namespace,
        {
            "metadata": {"name": "spinner"},
            "spec": {
                "restartPolicy": "Never",
                "terminationGracePeriodSeconds": 0,
                "containers": [
                    {
                        "name": "main",
                        "image": "none",
                        "command": [sys.executable, "-c", "while True: pass"],
                        "resources": {"requests": {"cpu": "100m"}, "limits": {"cpu": "200m"}},
                    }
                ],
            },
        },
    )
    pid = wait_for(lambda: _running_pid(core, namespace, "spinner"), what="the spinner to run")
    group = _cpu_group(pid)
    assert group.name == pod.metadata.uid
    assert group.parent.name.startswith("labelpilot-pods-")
    if (group / "cpu.shares").exists():
        assert (group / "cpu.shares").read_text().split() == ["102"]
        assert (group / "cpu.cfs_quota_us").read_text().split() == ["20000"]
        assert (group.parent / "cpu.shares").read_text().split() == ["1024"]
    else:
        assert (group / "cpu.max").read_text().split() == ["20000", "100000"]

    def throttled() -> bool:
        stat = dict(line.split() for line in (group / "cpu.stat").read_text().splitlines())
        return int(stat["nr_throttled"]) >= 3

    wait_for(throttled, timeout=30, what="the 200m limit to throttle a busy loop")
    core.delete_namespaced_pod("spinner", namespace)
    wait_for(lambda: not group.exists(), timeout=30, what="the pod's CPU group to be removed")


def test_a_container_over_its_memory_limit_is_oom_killed(apis, namespace) -> None:
    core, _ = apis
    core.create_namespaced_pod(
        namespace,
        {
            "metadata": {"name": "hog"},
            "spec": {
                "restartPolicy": "Never",
                "containers": [
                    {
                        "name": "main",
                        "image": "none",
                        "command": [
                            sys.executable,
                            "-c",
                            "data = b'x' * (512 * 2**20); print(len(data))",
                        ],
                        "resources": {"limits": {"memory": "64Mi"}},
                    }
                ],
            },
        },
    )

    def terminated() -> client.V1ContainerStateTerminated | None:
        statuses = core.read_namespaced_pod("hog", namespace).status.container_statuses or []
        return statuses[0].state.terminated if statuses else None

    state = wait_for(terminated, timeout=60, what="the hog to end")
    assert (state.reason, state.exit_code) == ("OOMKilled", 137)
    assert core.read_namespaced_pod("hog", namespace).status.phase == "Failed"


def _running_pid(core: client.CoreV1Api, namespace: str, name: str) -> int | None:
    statuses = core.read_namespaced_pod(name, namespace).status.container_statuses or []
    if statuses and statuses[0].state.running:
        return int(statuses[0].container_id.rsplit("/", 1)[1])
    return None


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


PROBE = textwrap.dedent("""
    import json, os, ssl, urllib.request, urllib.error
    sa = "/var/run/secrets/kubernetes.io/serviceaccount"
    token = open(sa + "/token").read()
    ns = open(sa + "/namespace").read()
    ctx = ssl.create_default_context(cafile=sa + "/ca.crt")
    base = "https://%s:%s" % (os.environ["KUBERNETES_SERVICE_HOST"],
                              os.environ["KUBERNETES_SERVICE_PORT"])
    def status(path):
        req = urllib.request.Request(base + path, headers={"Authorization": "Bearer " + token})
        try:
            return urllib.request.urlopen(req, context=ctx).status
        except urllib.error.HTTPError as e:
            return e.code
    result = {
        "namespace": ns,
        "allowed": status("/api/v1/namespaces/%s/configmaps/probe-config" % ns),
        "denied": status("/api/v1/namespaces/%s/secrets" % ns),
        "env": {k: os.environ.get(k) for k in ("POD_NAME", "NODE", "SECRET", "CONFIG")},
        "config_file": open("/etc/probe/greeting").read(),
    }
    with open("/data/result.json", "w") as f:
        json.dump(result, f)
""")


def test_pod_sees_volumes_token_env_and_rbac(apis, namespace, kube_api) -> None:
    core, batch = apis
    rbac = client.RbacAuthorizationV1Api(kube_api)
    core.create_namespaced_config_map(
        namespace,
        {"metadata": {"name": "probe-config"}, "data": {"greeting": "hello", "key": "cfg"}},
    )
    core.create_namespaced_secret(
        namespace,
        {
            "metadata": {"name": "probe-secret"},
            "data": {"password": base64.b64encode(b"s3cret").decode()},
        },
    )
    core.create_namespaced_service_account(namespace, {"metadata": {"name": "prober"}})
    rbac.create_namespaced_role(
        namespace,
        {
            "metadata": {"name": "read-configmaps"},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}],
        },
    )
    rbac.create_namespaced_role_binding(
        namespace,
        {
            "metadata": {"name": "prober-reads"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": "read-configmaps",
            },
            "subjects": [{"kind": "ServiceAccount", "name": "prober", "namespace": namespace}],
        },
    )
    core.create_namespaced_persistent_volume_claim(
        namespace,
        {
            "metadata": {"name": "data"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
            },
        },
    )
    job = simple_job(
        "probe",
        "",
        pod_spec={
            "serviceAccountName": "prober",
            "volumes": [
                {"name": "data", "persistentVolumeClaim": {"claimName": "data"}},
                {"name": "cfg", "configMap": {"name": "probe-config"}},
            ],
        },
    )
    container = job["spec"]["template"]["spec"]["containers"][0]
    container["command"] = [sys.executable, "-c", PROBE]
    container["volumeMounts"] = [
        {"name": "data", "mountPath": "/data"},
        {"name": "cfg", "mountPath": "/etc/probe", "readOnly": True},
    ]
    container["env"] = [
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
        {
            "name": "SECRET",
            "valueFrom": {"secretKeyRef": {"name": "probe-secret", "key": "password"}},
        },
        {
            "name": "CONFIG",
            "valueFrom": {"configMapKeyRef": {"name": "probe-config", "key": "key"}},
        },
    ]
    batch.create_namespaced_job(namespace, job)
    assert _wait_job(batch, namespace, "probe") == "Complete"

    claim = core.read_namespaced_persistent_volume_claim("data", namespace)
    volume = core.read_persistent_volume(claim.spec.volume_name)
    result = json.loads((Path(volume.spec.host_path.path) / "result.json").read_text())
    (pod,) = _pods(core, namespace, "probe")
    assert result["namespace"] == namespace
    assert result["allowed"] == 200
    assert result["denied"] == 403
    assert result["env"] == {
        "POD_NAME": pod.metadata.name,
        "NODE": pod.spec.node_name,
        "SECRET": "s3cret",
        "CONFIG": "cfg",
    }
    assert result["config_file"] == "hello"
    assert not Path("/data/result.json").exists(), "the volume leaked onto the host path"


def test_restart_policy_on_failure_restarts_until_success(apis, namespace) -> None:
    core, _ = apis
    script = "if [ -f /scratch/seen ]; then exit 0; fi; touch /scratch/seen; exit 1"
    core.create_namespaced_pod(
        namespace,
        {
            "metadata": {"name": "retry"},
            "spec": {
                "restartPolicy": "OnFailure",
                "volumes": [{"name": "scratch", "emptyDir": {}}],
                "containers": [
                    {
                        "name": "main",
                        "image": "none",
                        "command": ["sh", "-c", script],
                        "volumeMounts": [{"name": "scratch", "mountPath": "/scratch"}],
                    }
                ],
            },
        },
    )
    pod = wait_for(
        lambda: (
            (p := core.read_namespaced_pod("retry", namespace)).status.phase == "Succeeded" and p
        ),
        what="the pod to succeed",
    )
    assert pod.status.container_statuses[0].restart_count == 1


def test_active_deadline_fails_pod(apis, namespace) -> None:
    core, _ = apis
    core.create_namespaced_pod(
        namespace,
        {
            "metadata": {"name": "slow"},
            "spec": {
                "restartPolicy": "Never",
                "activeDeadlineSeconds": 2,
                "containers": [{"name": "main", "image": "none", "command": ["sleep", "300"]}],
            },
        },
    )
    pod = wait_for(
        lambda: (p := core.read_namespaced_pod("slow", namespace)).status.phase == "Failed" and p,
        timeout=30,
        what="the deadline",
    )
    assert pod.status.reason == "DeadlineExceeded"


def test_logs_command_prints_container_output(apis, namespace, dev_cluster) -> None:
    core, batch = apis
    batch.create_namespaced_job(namespace, simple_job("talk", "echo line-one; echo line-two"))
    assert _wait_job(batch, namespace, "talk") == "Complete"
    (pod,) = _pods(core, namespace, "talk")
    env = dict(
        os.environ,
        LABELPILOT_DEV_CLUSTER_DIR=str(dev_cluster.state_dir),
        LABELPILOT_DEV_CLUSTER_PORT=str(dev_cluster.apiserver_port),
    )
    out = subprocess.run(
        [sys.executable, "-m", "devcluster", "logs", pod.metadata.name, "-n", namespace],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        cwd=REPO,
    )
    assert out.stdout.splitlines() == ["line-one", "line-two"]


def test_up_is_idempotent(dev_cluster) -> None:
    from devcluster import cluster

    before = {s.name: s.pid for s in cluster.status(dev_cluster)}
    seconds = cluster.up(dev_cluster)
    after = {s.name: s.pid for s in cluster.status(dev_cluster)}
    assert before == after
    assert all(pid for pid in after.values())
    assert seconds < 10


def test_down_stops_every_process_and_leaves_no_mount(tmp_path: Path) -> None:
    from kubernetes import config

    from devcluster import cluster
    from devcluster.layout import ClusterLayout
    from tests.conftest import TEST_PORT

    layout = ClusterLayout(tmp_path / "second", TEST_PORT + 10)
    try:
        cluster.up(layout)
        core = client.CoreV1Api(
            config.new_client_from_config(config_file=str(layout.admin_kubeconfig))
        )
        _wait_service_account(core, "default")
        core.create_namespaced_pod(
            "default",
            {
                "metadata": {"name": "long"},
                "spec": {
                    "restartPolicy": "Never",
                    "volumes": [{"name": "scratch", "emptyDir": {}}],
                    "containers": [
                        {
                            "name": "main",
                            "image": "none",
                            "command": ["sleep", "600"],
                            "volumeMounts": [{"name": "scratch", "mountPath": "/scratch"}],
                        }
                    ],
                },
            },
        )

        def pod_pid() -> int | None:
            statuses = core.read_namespaced_pod("long", "default").status.container_statuses
            if statuses and statuses[0].state.running:
                return int(statuses[0].container_id.rsplit("/", 1)[1])
            return None

        pids = [wait_for(pod_pid, what="the pod to run")]
        pids += [s.pid for s in cluster.status(layout)]
        assert all(pids)
        assert any(str(layout.state_dir) in _mounts(pid) for pid in pids[:1])
    finally:
        cluster.down(layout)
    assert not [pid for pid in pids if _alive(pid)]
    state = str(layout.state_dir)
    assert not [p for p in Path("/proc").glob("[0-9]*") if state in _mounts(p.name)]


def _mounts(pid: int | str) -> str:
    try:
        return Path(f"/proc/{pid}/mountinfo").read_text()
    except OSError:
        return ""


def test_volume_over_the_checkout_does_not_hide_the_runtime(apis, namespace) -> None:
    core, _ = apis
    checkout_parent = str(Path(__file__).resolve().parents[3])
    core.create_namespaced_pod(
        namespace,
        {
            "metadata": {"name": "shadow"},
            "spec": {
                "restartPolicy": "Never",
                "volumes": [{"name": "scratch", "emptyDir": {}}],
                "containers": [
                    {
                        "name": "main",
                        "image": "none",
                        "command": ["labelpilot", "--help"],
                        "volumeMounts": [{"name": "scratch", "mountPath": checkout_parent}],
                    }
                ],
            },
        },
    )
    pod = wait_for(
        lambda: (
            (p := core.read_namespaced_pod("shadow", namespace)).status.phase
            in ("Succeeded", "Failed")
            and p
        ),
        what="the pod to end",
    )
    assert pod.status.phase == "Succeeded"
