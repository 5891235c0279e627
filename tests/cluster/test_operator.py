"""The operator on the dev cluster: LabelingJobs driving real step Jobs to the end."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from tests import kstatus
from tests.cluster.kubeutil import wait_for
from tests.cluster.operator_fixtures import (
    GROUP,
    PLURAL,
    VERSION,
    OperatorProcess,
    bind_host_folder,
    labeling_job,
    wait_phase,
)

DIGITS = 300
LABELS = [str(d) for d in range(10)]


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from labelpilot.datasets.prepare import prepare

    root = tmp_path_factory.mktemp("operator-data")
    prepare("digits", root / "digits", limit=DIGITS, seed=1)
    return root


@pytest.fixture()
def env(
    kube_api: client.ApiClient, namespace: str, data_root: Path, operator: OperatorProcess
) -> dict[str, Any]:
    core = client.CoreV1Api(kube_api)
    volume = bind_host_folder(core, namespace, data_root)
    return {
        "ns": namespace,
        "core": core,
        "batch": client.BatchV1Api(kube_api),
        "custom": client.CustomObjectsApi(kube_api),
        "volume": volume,
        "data": data_root / "digits",
        "operator": operator,
    }


def _create(env: dict[str, Any], name: str, **overrides: Any) -> dict[str, Any]:
    body = labeling_job(name, env["data"], env["volume"], LABELS, **overrides)
    return env["custom"].create_namespaced_custom_object(GROUP, VERSION, env["ns"], PLURAL, body)


def _jobs(env: dict[str, Any], name: str) -> list[client.V1Job]:
    return (
        env["batch"]
        .list_namespaced_job(env["ns"], label_selector=f"labelpilot.dev/job={name}")
        .items
    )


def _counters_add_up(status: dict[str, Any]) -> dict[str, int]:
    counters = status["labelCounters"]
    assert (
        counters["humanLabeled"]
        + counters["machineLabeled"]
        + counters["failedNonRetryableError"]
        + counters["unlabeled"]
    ) == DIGITS
    assert counters["totalLabeled"] == counters["humanLabeled"] + counters["machineLabeled"]
    return counters


def _output_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_invalid_jobs_are_refused_naming_the_field(env: dict[str, Any]) -> None:
    cases = {
        "spec.taskType": {"taskType": "VideoTracking"},
        "spec.labels": {"labels": []},
        "spec.autoLabeling.targetAccuracy": {"autoLabeling": {"targetAccuracy": 1.5}},
        "spec.humanTaskConfig.maxConcurrentTaskCount": {
            "humanTaskConfig": {"maxConcurrentTaskCount": 5001}
        },
    }
    for field, override in cases.items():
        with pytest.raises(client.ApiException) as raised:
            _create(env, "invalid", **override)
        assert raised.value.status == 422
        assert field in raised.value.body, (field, raised.value.body)


def test_job_completes_with_jobs_on_the_right_nodes(env: dict[str, Any]) -> None:
    _create(env, "digits")
    final = wait_phase(env["custom"], env["ns"], "digits", ("Completed", "Failed"))
    status = final["status"]
    assert status["phase"] == "Completed", status.get("conditions")
    counters = _counters_add_up(status)

    manifest = env["volume"].path / "output" / "digits" / "manifests/output/output.manifest"
    assert status["outputManifestUri"].endswith("manifests/output/output.manifest")
    lines = _output_lines(manifest)
    assert len(lines) == DIGITS
    assert len({line["source-ref"] for line in lines}) == DIGITS
    humans = sum(
        1 for line in lines if line.get("label-metadata", {}).get("human-annotated") == "yes"
    )
    machines = sum(
        1 for line in lines if line.get("label-metadata", {}).get("human-annotated") == "no"
    )
    assert (humans, machines) == (counters["humanLabeled"], counters["machineLabeled"])
    assert status["finalModelRef"]

    node_types = {
        n.metadata.name: n.metadata.labels["node.kubernetes.io/instance-type"]
        for n in env["core"].list_node().items
    }
    pods = (
        env["core"].list_namespaced_pod(env["ns"], label_selector="labelpilot.dev/job=digits").items
    )
    by_step: dict[str, set[str]] = {}
    for pod in pods:
        step = pod.metadata.labels["labelpilot.dev/step"]
        by_step.setdefault(step, set()).add(node_types[pod.spec.node_name])
    assert by_step["train"] == {"p3.2xlarge"}
    assert "p3.2xlarge" not in by_step["infer"]
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["Succeeded"]["status"] == "True"
    assert conditions["Ready"]["status"] == "True"
    assert status["observedGeneration"] == final["metadata"]["generation"]


def test_operator_restart_mid_training_loses_and_duplicates_nothing(env: dict[str, Any]) -> None:
    _create(env, "restart")

    def training() -> bool:
        return any(
            j.metadata.labels["labelpilot.dev/step"] == "train" and j.status.active
            for j in _jobs(env, "restart")
        )

    wait_for(training, timeout=300, interval=0.5, what="a training Job to run")
    env["operator"].kill()
    try:
        wait_for(
            lambda: not training(),
            timeout=300,
            interval=0.5,
            what="the training Job to finish while the operator is down",
        )
    finally:
        env["operator"].start()
    final = wait_phase(env["custom"], env["ns"], "restart", ("Completed", "Failed"))
    assert final["status"]["phase"] == "Completed", final["status"].get("conditions")
    names = Counter(j.metadata.name for j in _jobs(env, "restart"))
    assert all(count == 1 for count in names.values())
    lines = _output_lines(
        env["volume"].path / "output" / "restart" / "manifests/output/output.manifest"
    )
    assert sorted(line["source-ref"] for line in lines) == sorted(
        json.loads(line)["source-ref"]
        for line in (env["data"] / "input.manifest").read_text().splitlines()
    )
    counters = final["status"]["labelCounters"]
    assert (
        counters["humanLabeled"]
        + counters["machineLabeled"]
        + counters["unlabeled"]
        + counters["failedNonRetryableError"]
        == DIGITS
    )


def test_too_many_failed_objects_in_iteration_zero_fails_the_job(env: dict[str, Any]) -> None:
    _create(
        env,
        "flaky",
        humanTaskConfig={
            "maxConcurrentTaskCount": 100,
            "workforce": {
                "simulated": {
                    "groundTruthManifestUri": f"file://{env['data']}/ground-truth.manifest",
                    "failureRate": 0.5,
                }
            },
        },
    )
    final = wait_phase(env["custom"], env["ns"], "flaky", ("Completed", "Failed"))
    assert final["status"]["phase"] == "Failed"
    failed = next(c for c in final["status"]["conditions"] if c["type"] == "Failed")
    assert failed["status"] == "True"
    assert failed["reason"] == "TooManyFailedObjects", failed


def test_unreadable_manifest_fails_with_reason(env: dict[str, Any]) -> None:
    _create(env, "missing", input={"manifestUri": f"file://{env['data']}/nope.manifest"})
    final = wait_phase(env["custom"], env["ns"], "missing", ("Completed", "Failed"))
    assert final["status"]["phase"] == "Failed"
    failed = next(c for c in final["status"]["conditions"] if c["type"] == "Failed")
    assert "nope.manifest" in failed["message"]
    reason = final["status"]["failureReason"]
    assert reason == f"InputManifestUnreadable: {failed['message']}", reason


def test_stopping_condition_ends_the_job(env: dict[str, Any]) -> None:
    _create(
        env,
        "budget",
        stoppingConditions={"maxHumanLabeledObjectCount": 90},
        autoLabeling={"allowSmallDataset": True, "enabled": False},
    )
    final = wait_phase(env["custom"], env["ns"], "budget", ("Completed", "Failed"))
    status = final["status"]
    assert status["phase"] == "Completed", status.get("conditions")
    counters = status["labelCounters"]
    assert counters["humanLabeled"] <= 90
    assert counters["machineLabeled"] == 0
    assert (
        counters["unlabeled"]
        == DIGITS - counters["humanLabeled"] - counters["failedNonRetryableError"]
    )
    succeeded = next(c for c in status["conditions"] if c["type"] == "Succeeded")
    assert succeeded["reason"] == "MaxHumanLabeled"


def test_suspend_stops_and_resume_completes(env: dict[str, Any]) -> None:
    _create(env, "pause")
    wait_for(
        lambda: any(
            j.metadata.labels["labelpilot.dev/step"] == "train" for j in _jobs(env, "pause")
        ),
        timeout=300,
        what="training to start",
    )
    patch = {"spec": {"suspend": True}}
    env["custom"].patch_namespaced_custom_object(GROUP, VERSION, env["ns"], PLURAL, "pause", patch)
    stopped = wait_phase(env["custom"], env["ns"], "pause", ("Stopped",), timeout=120)
    assert not any(j.status.active for j in _jobs(env, "pause"))
    assert kstatus.status(stopped) == "Current"  # a GitOps tool's wait ends
    iteration = stopped["status"]["iteration"]
    env["custom"].patch_namespaced_custom_object(
        GROUP, VERSION, env["ns"], PLURAL, "pause", {"spec": {"suspend": False}}
    )
    final = wait_phase(env["custom"], env["ns"], "pause", ("Completed", "Failed"))
    assert final["status"]["phase"] == "Completed", final["status"].get("conditions")
    assert final["status"]["iteration"] >= iteration


def test_deleting_a_labeling_job_removes_its_jobs_and_pods(env: dict[str, Any]) -> None:
    _create(env, "doomed")
    wait_for(lambda: _jobs(env, "doomed"), timeout=120, what="a step Job")
    env["custom"].delete_namespaced_custom_object(GROUP, VERSION, env["ns"], PLURAL, "doomed")

    def gone() -> bool:
        pods = (
            env["core"]
            .list_namespaced_pod(env["ns"], label_selector="labelpilot.dev/job=doomed")
            .items
        )
        return not _jobs(env, "doomed") and not pods

    wait_for(gone, timeout=120, what="garbage collection of the step Jobs and pods")


def test_a_labeling_job_can_be_deleted_while_the_operator_is_down(env: dict[str, Any]) -> None:
    _create(env, "orphan")
    wait_for(lambda: _jobs(env, "orphan"), timeout=120, what="a step Job")
    job = env["custom"].get_namespaced_custom_object(GROUP, VERSION, env["ns"], PLURAL, "orphan")
    assert not job["metadata"].get("finalizers")
    env["operator"].kill()
    try:
        env["custom"].delete_namespaced_custom_object(GROUP, VERSION, env["ns"], PLURAL, "orphan")

        def gone() -> bool:
            names = [
                j["metadata"]["name"]
                for j in env["custom"].list_namespaced_custom_object(
                    GROUP, VERSION, env["ns"], PLURAL
                )["items"]
            ]
            return "orphan" not in names and not _jobs(env, "orphan")

        wait_for(gone, timeout=120, what="the job and its step Jobs to be deleted")
    finally:
        env["operator"].start()


BYO_STEP = '''"""A user's own {step} step: records how the operator called it, then delegates to the
built-in step through the contract (same flags, config in LABELPILOT_CONFIG)."""
import json
import os
import sys

with open({calls!r}, "a") as calls:
    calls.write(json.dumps({{"step": "{step}", "argv": sys.argv[1:],
                            "config": "LABELPILOT_CONFIG" in os.environ,
                            "terminationLog": os.environ.get("LABELPILOT_TERMINATION_LOG")}})
                + "\\n")
os.execv(sys.executable, [sys.executable, "-m", "labelpilot.cli", "worker", "{step}",
                          *sys.argv[1:]])
'''


def test_bring_your_own_algorithm_runs_the_users_train_and_infer(env: dict[str, Any]) -> None:
    byo = env["volume"].path / f"byo-{env['ns']}"
    byo.mkdir()
    calls = byo / "calls.jsonl"
    for step in ("train", "infer"):
        (byo / f"{step}.py").write_text(BYO_STEP.format(step=step, calls=str(calls)))
    algorithm = {
        "trainingImage": "registry.example.com/team/digits-train:1.0",
        "trainingCommand": ["python", str(byo / "train.py")],
        "inferenceImage": "registry.example.com/team/digits-infer:1.0",
        "inferenceCommand": ["python", str(byo / "infer.py")],
        "options": {"epochs": "3"},
    }
    _create(env, "byo", autoLabeling={"allowSmallDataset": True, "algorithm": algorithm})
    final = wait_phase(env["custom"], env["ns"], "byo", ("Completed", "Failed"))
    status = final["status"]
    assert status["phase"] == "Completed", status.get("conditions")

    counters = _counters_add_up(status)
    lines = _output_lines(
        env["volume"].path / "output" / "byo" / "manifests/output/output.manifest"
    )
    assert len(lines) == DIGITS
    sources = Counter(line.get("label-metadata", {}).get("human-annotated") for line in lines)
    assert (sources["yes"], sources["no"]) == (counters["humanLabeled"], counters["machineLabeled"])

    jobs = _jobs(env, "byo")
    own = {
        "train": ("trainingImage", "trainingCommand"),
        "infer": ("inferenceImage", "inferenceCommand"),
    }
    ran: Counter[str] = Counter()
    for job in jobs:
        step = job.metadata.labels["labelpilot.dev/step"]
        container = job.spec.template.spec.containers[0]
        if step in own:
            image, command = own[step]
            assert container.image == algorithm[image], job.metadata.name
            assert container.command == algorithm[command], job.metadata.name
            iteration = job.metadata.labels["labelpilot.dev/iteration"]
            assert container.args[:2] == ["--iteration", iteration], container.args
            ran[step] += 1
        else:  # the steps around the model stay the built-in worker's
            assert container.image not in (algorithm["trainingImage"], algorithm["inferenceImage"])
            assert container.command == ["labelpilot", "worker", step], job.metadata.name
    assert ran["train"] >= 1 and ran["infer"] >= 1, ran

    recorded = [json.loads(line) for line in calls.read_text().splitlines()]
    assert Counter(r["step"] for r in recorded) >= ran  # a retried pod may add a call
    assert all(
        r["config"] and r["terminationLog"] and r["argv"][0] == "--iteration" for r in recorded
    ), recorded
