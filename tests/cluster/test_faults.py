"""Faults on the dev cluster: step processes killed mid-write and the operator killed, and
still no label lost, none duplicated, none changed (docs/faults.md).

One LabelingJob ("storm") has every step's process SIGKILLed once at a chosen moment of
its work, and the operator killed while a step runs and restarted once that step's Job
has finished; its Jobs' backoff retries each killed step. Its labels are compared with
those of an undisturbed run of the same RunConfig (the one the operator gives the step
Jobs, steps run in-process) into another workspace: the engine is deterministic on the
CPU for a given seed, so every label and confidence must be equal.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from tests.cluster.faults import InjectedKill, StepFault, inject
from tests.cluster.kubeutil import job_condition, wait_for
from tests.cluster.operator_fixtures import (
    GROUP,
    PLURAL,
    VERSION,
    DataVolume,
    OperatorProcess,
    bind_host_folder,
    labeling_job,
    wait_phase,
)

DIGITS = 300
LABELS = [str(d) for d in range(10)]
# Two iterations that each machine-label some objects (a model, predictions, a threshold
# that accepts), and a human batch that takes long enough to be killed while it waits.
AUTO_LABELING = {
    "allowSmallDataset": True,
    "targetAccuracy": 0.9,
    "thresholdMode": "GroundTruth",
    "algorithm": {"options": {"epochs": "15"}},
}
LATENCY_SECONDS = 5
OPERATOR_DOWN = "storm-i1-train"  # the step whose Job runs while the operator is down
BASELINE = (
    "import sys\n"
    "from labelpilot.api.run_config import RunConfig\n"
    "from labelpilot.worker.in_process import run_job\n"
    "run_job(RunConfig.load(sys.argv[1]), progress=False)\n"
)


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from labelpilot.datasets.prepare import prepare

    root = tmp_path_factory.mktemp("faults-data")
    prepare("digits", root / "digits", limit=DIGITS, seed=1)
    return root


def _exists(*paths: Path) -> bool:
    return all(p.exists() for p in paths)


def _absent(*paths: Path) -> bool:
    return not any(p.exists() for p in paths)


def step_faults(ws: Path, job: str) -> dict[str, StepFault]:
    """One kill per step, each at a moment where the step has written part of its work."""

    def it(folder: str, i: int) -> Path:
        return ws / folder / f"iteration-{i:04d}"

    def fault(
        name: str, step: str, watch: Path, ready: Callable[[], bool], moment: str
    ) -> StepFault:
        return StepFault(f"{job}-{name}", step, watch, ready, moment)

    models0, models1, final = it("models", 0), it("models", 1), ws / "models" / "final"
    return {
        f.job: f
        for f in [
            fault(
                "prepare",
                "prepare",
                ws / "manifests" / "intermediate",
                lambda: (
                    _exists(ws / "binding.json")
                    and _absent(ws / "manifests" / "intermediate" / "prepare.json")
                ),
                "binding.json written, the plan not yet",
            ),
            fault(
                "i0-human",
                "human",
                it("annotations", 0),
                lambda: (
                    _exists(it("annotations", 0) / "summary.json")
                    and _absent(it("annotations", 0) / "response.jsonl")
                ),
                "the batch's summary written, its answers not yet",
            ),
            fault(
                "i0-train",
                "train",
                it("training", 0),
                lambda: (
                    _exists(models0 / "model.json", models0 / "weights.pt")
                    and _absent(it("training", 0) / "summary.json")
                ),
                "the model saved, the training summary (its commit) not yet",
            ),
            fault(
                "i0-infer",
                "infer",
                it("inference", 0),
                lambda: it("inference", 0).is_dir() and not any(it("inference", 0).iterdir()),
                "the inference folder just created, no shard in it yet",
            ),
            fault(
                "i0-threshold",
                "threshold",
                it("activelearning", 0),
                lambda: (
                    _exists(
                        it("activelearning", 0) / "machine-labels.jsonl",
                        it("activelearning", 0) / "selection.json",
                    )
                    and _absent(it("activelearning", 0) / "thresholds.json")
                ),
                "machine labels and the next batch written, thresholds.json (the commit) not yet",
            ),
            fault(
                "i1-human",
                "human",
                it("annotations", 1),
                lambda: (
                    _exists(it("annotations", 1) / "request.json")
                    and _absent(it("annotations", 1) / "summary.json")
                ),
                "the batch sent to the workforce, waiting for its answers",
            ),
            fault(
                "i1-train",
                "train",
                models1,
                lambda: models1.is_dir() and _absent(models1 / "model.json"),
                "the model folder just created, the model not yet saved",
            ),
            fault(
                "export",
                "export",
                final,
                lambda: (
                    _exists(ws / "manifests" / "output" / "output.manifest", final / "model.json")
                    and _absent(final / "weights.pt")
                ),
                "the output manifest written, the final model half copied",
            ),
        ]
    }


@pytest.fixture()
def env(
    kube_api: client.ApiClient,
    namespace: str,
    data_root: Path,
    dev_cluster: Any,
    operator: OperatorProcess,
    tmp_path: Path,
) -> dict[str, Any]:
    core = client.CoreV1Api(kube_api)
    return {
        "ns": namespace,
        "core": core,
        "batch": client.BatchV1Api(kube_api),
        "custom": client.CustomObjectsApi(kube_api),
        "volume": bind_host_folder(core, namespace, data_root),
        "data": data_root / "digits",
        "pods": dev_cluster.pods,
        "operator": operator,
        "logs": tmp_path,
    }


def _spec(env: dict[str, Any], name: str) -> dict[str, Any]:
    volume: DataVolume = env["volume"]
    return labeling_job(
        name,
        env["data"],
        volume,
        LABELS,
        autoLabeling=AUTO_LABELING,
        humanTaskConfig={
            "maxConcurrentTaskCount": 100,
            "workforce": {
                "simulated": {
                    "groundTruthManifestUri": f"file://{env['data']}/ground-truth.manifest",
                    "latencySeconds": LATENCY_SECONDS,
                }
            },
        },
    )


def _jobs(env: dict[str, Any], name: str) -> dict[str, client.V1Job]:
    found = (
        env["batch"]
        .list_namespaced_job(env["ns"], label_selector=f"labelpilot.dev/job={name}")
        .items
    )
    return {j.metadata.name: j for j in found}


def _expected_jobs(name: str, report: dict[str, Any]) -> set[str]:
    """One Job per step the report shows: no step ran twice, none polled again."""
    names = {f"{name}-prepare", f"{name}-export"}
    for entry in report["iterations"]:
        i = entry["iteration"]
        names |= {f"{name}-i{i}-human"} if "human" in entry else set()
        names |= {f"{name}-i{i}-train", f"{name}-i{i}-infer"} if "training" in entry else set()
        names |= {f"{name}-i{i}-threshold"} if "threshold" in entry else set()
    return names


def _phase_ended(env: dict[str, Any], name: str) -> str | None:
    obj = env["custom"].get_namespaced_custom_object(GROUP, VERSION, env["ns"], PLURAL, name)
    status = obj.get("status") or {}
    if status.get("phase") in ("Completed", "Failed"):
        return f"{name} is {status['phase']}: {status.get('conditions')}"
    return None


def _start_baseline(env: dict[str, Any], job: str, workspace: Path) -> subprocess.Popen[bytes]:
    """The undisturbed run: the RunConfig of `job`'s step Jobs, into `workspace`."""
    prepare = wait_for(
        lambda: _jobs(env, job).get(f"{job}-prepare"), 120, what=f"{job}'s prepare Job"
    )
    variables = {e.name: e.value for e in prepare.spec.template.spec.containers[0].env}
    config = json.loads(variables["LABELPILOT_CONFIG"])
    config["output_uri"] = str(workspace)
    path = env["logs"] / "baseline-config.json"
    path.write_text(json.dumps(config))
    # the node agent gives every container one torch thread unless the host says otherwise
    threads = os.environ.get("LABELPILOT_TORCH_THREADS", "1")
    with (env["logs"] / "baseline.log").open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-c", BASELINE, str(path)],
            env=dict(os.environ, LABELPILOT_TORCH_THREADS=threads),
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _labels(lines: list[dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    """Each object's label as the output manifest gives it, without the job's name and the
    label's creation date (they name the run, not the label)."""
    out = {}
    for line in lines:
        meta = line.get("label-metadata") or {}
        out[line["source-ref"]] = (
            line.get("label"),
            meta.get("class-name"),
            meta.get("human-annotated"),
            meta.get("confidence"),
            meta.get("failure-reason"),
        )
    return out


def _without_seconds(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_seconds(v) for k, v in value.items() if k != "seconds"}
    if isinstance(value, list):
        return [_without_seconds(v) for v in value]
    return value


def _kill_operator_across(env: dict[str, Any], fault: StepFault) -> InjectedKill:
    """The operator killed as soon as `fault`'s Job exists, and started again only once
    that Job, with its step killed and retried meanwhile, has completed."""
    wait_for(
        lambda: fault.job in _jobs(env, "storm"),
        300,
        interval=0.05,
        what=f"{fault.job} to be created",
    )
    operator: OperatorProcess = env["operator"]
    operator.kill()
    assert operator.process is not None and operator.process.returncode == -9
    try:
        kill = inject(fault, env["core"], env["ns"], env["pods"], env["logs"], lambda: None)
        wait_for(
            lambda: job_condition(_jobs(env, "storm")[fault.job]) == "Complete",
            300,
            interval=0.5,
            what=f"{fault.job} to complete while the operator is down",
        )
    finally:
        operator.start()
    return kill


def test_killed_steps_and_operator_lose_no_label(env: dict[str, Any]) -> None:
    storm_ws = env["volume"].path / "output" / "storm"
    baseline_ws = env["volume"].path / "output" / "calm"
    faults = list(step_faults(storm_ws, "storm").values())
    env["custom"].create_namespaced_custom_object(
        GROUP, VERSION, env["ns"], PLURAL, _spec(env, "storm")
    )

    def inject_fault(fault: StepFault) -> InjectedKill:
        if fault.job == OPERATOR_DOWN:
            return _kill_operator_across(env, fault)
        return inject(
            fault,
            env["core"],
            env["ns"],
            env["pods"],
            env["logs"],
            lambda: _phase_ended(env, "storm"),
        )

    kills = [inject_fault(faults[0])]
    baseline = _start_baseline(env, "storm", baseline_ws)
    try:
        kills += [inject_fault(fault) for fault in faults[1:]]
        final = wait_phase(env["custom"], env["ns"], "storm", ("Completed", "Failed"))
        baseline.wait(300)
        assert baseline.returncode == 0, (env["logs"] / "baseline.log").read_text()[-2000:]
    finally:
        if baseline.poll() is None:
            baseline.kill()
            baseline.wait()
    status = final["status"]
    assert status["phase"] == "Completed", status.get("conditions")

    # each kill really happened: its Job failed once (exit 137, SIGKILL) and then succeeded;
    # no other Job failed, and no step got a second Job
    storm_report = json.loads((storm_ws / "report.json").read_text())
    jobs = _jobs(env, "storm")
    killed = {k.fault.job: k for k in kills}
    assert set(jobs) == _expected_jobs("storm", storm_report)
    assert set(killed) == {f.job for f in faults} and set(killed) <= set(jobs)
    for name, job in jobs.items():
        expected = (1, 1) if name in killed else (0, 1)
        assert ((job.status.failed or 0), job.status.succeeded) == expected, (name, job.status)
    for name, kill in killed.items():
        pods = (
            env["core"]
            .list_namespaced_pod(env["ns"], label_selector=f"batch.kubernetes.io/job-name={name}")
            .items
        )
        pod = next(p for p in pods if p.metadata.uid == kill.pod_uid)
        terminated = pod.status.container_statuses[0].state.terminated
        assert terminated is not None and terminated.exit_code == 137, (name, terminated)

    # every input object exactly once in the output manifest, and the counters add up
    sources = [
        json.loads(line)["source-ref"]
        for line in (env["data"] / "input.manifest").read_text().splitlines()
    ]
    output = _lines(storm_ws / "manifests" / "output" / "output.manifest")
    assert Counter(line["source-ref"] for line in output) == Counter(sources)
    counters = status["labelCounters"]
    assert (
        sum(
            counters[k]
            for k in ("humanLabeled", "machineLabeled", "unlabeled", "failedNonRetryableError")
        )
        == DIGITS
    )
    assert counters["totalLabeled"] == counters["humanLabeled"] + counters["machineLabeled"]
    annotated = Counter(
        (line.get("label-metadata") or {}).get("human-annotated") for line in output
    )
    assert (annotated["yes"], annotated["no"]) == (
        counters["humanLabeled"],
        counters["machineLabeled"],
    )

    # the same labels, confidences and iterations as the undisturbed run
    storm_labels = _labels(output)
    calm_labels = _labels(_lines(baseline_ws / "manifests" / "output" / "output.manifest"))
    assert set(calm_labels) == set(sources)
    changed = sorted(s for s in sources if storm_labels[s] != calm_labels[s])
    assert not changed, (
        f"{len(changed)} of {DIGITS} labels differ from the undisturbed "
        f"run's, e.g. {changed[0]}: {storm_labels[changed[0]]} instead of "
        f"{calm_labels[changed[0]]}"
    )
    calm_report = json.loads((baseline_ws / "report.json").read_text())
    assert storm_report["labelCounters"] == calm_report["labelCounters"] == counters
    assert _without_seconds(storm_report["iterations"]) == _without_seconds(
        calm_report["iterations"]
    )
    # ... which covers the model's work, not only people's answers
    assert counters["machineLabeled"] > 0 and len(storm_report["iterations"]) >= 2, counters
    for kill in kills:  # the record docs/faults.md keeps (pytest -s shows it)
        job = jobs[kill.fault.job]
        print(
            f"{kill.fault.job}: killed pod {kill.pod} ({kill.fault.moment}); Job failed "
            f"{job.status.failed}, succeeded {job.status.succeeded}"
        )
    print(f"storm: {counters}; labels lost or changed: {len(changed)} of {DIGITS}")
