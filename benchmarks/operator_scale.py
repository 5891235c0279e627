"""Many small LabelingJobs at once on a dev cluster: how fast and how lean the operator is.

Run: `.venv/bin/python -m benchmarks.operator_scale [--jobs 50] [--objects 60]`.
Measures the time from a step Job's completion to the creation of the next step Job
(both seen through one watch), the operator's CPU time and peak RSS, and the API requests
it makes per iteration (from the API server's audit log, by the operator's own identity).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client, config, watch

from benchmarks.common import git_revision, machine, write_section
from devcluster import cluster
from devcluster.layout import ClusterLayout
from labelpilot.api.job_labels import LABEL_JOB, LABEL_STEP
from labelpilot.datasets.prepare import prepare

PORT = 19443
NAMESPACE = "bench"
GROUP, VERSION, PLURAL = "labelpilot.dev", "v1alpha1", "labelingjobs"
REPO = Path(__file__).resolve().parents[1]
OPERATOR_USER = f"system:serviceaccount:{NAMESPACE}:operator"


class JobClock(threading.Thread):
    """Local times at which each step Job appeared and completed."""

    def __init__(self, batch: client.BatchV1Api) -> None:
        super().__init__(daemon=True)
        self.batch = batch
        self.created: dict[str, float] = {}
        self.completed: dict[str, float] = {}
        self.running: dict[str, float] = {}  # its pod first ready (or already done)
        self.owner: dict[str, str] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        stream = watch.Watch().stream(
            self.batch.list_namespaced_job, NAMESPACE, timeout_seconds=3600
        )
        for event in stream:
            if self.stop.is_set():
                return
            job = event["object"]
            name = job.metadata.name
            now = time.monotonic()
            self.created.setdefault(name, now)
            self.owner[name] = job.metadata.labels.get(LABEL_JOB, "")
            done = any(
                c.type in ("Complete", "Failed") and c.status == "True"
                for c in (job.status.conditions or [])
            )
            if done:
                self.completed.setdefault(name, now)

    def watch_pods(self, core: client.CoreV1Api) -> None:
        """Records when each step Job's first pod is seen running (or already ended)."""
        stream = watch.Watch().stream(
            core.list_namespaced_pod, NAMESPACE, label_selector=LABEL_STEP, timeout_seconds=3600
        )
        for event in stream:
            if self.stop.is_set():
                return
            pod = event["object"]
            job = (pod.metadata.labels or {}).get("batch.kubernetes.io/job-name") or (
                pod.metadata.labels or {}
            ).get("job-name")
            if job and pod.status.phase in ("Running", "Succeeded", "Failed"):
                self.running.setdefault(job, time.monotonic())

    def gaps(self) -> list[float]:
        return [gap for _, gap in self.transitions()]

    def transitions(self) -> list[tuple[str, float]]:
        """Completion of each step Job to the creation of its LabelingJob's next one."""
        by_owner: dict[str, list[str]] = {}
        for name, owner in self.owner.items():
            by_owner.setdefault(owner, []).append(name)
        result = []
        for names in by_owner.values():
            ordered = sorted(names, key=lambda n: self.created[n])
            for before, after in itertools.pairwise(ordered):
                if before in self.completed:
                    step = f"{before.split('-', 2)[-1]} -> {after.split('-', 2)[-1]}"
                    result.append((step, self.created[after] - self.completed[before]))
        return result


def operator_kubeconfig(api: client.ApiClient, layout: ClusterLayout, path: Path) -> None:
    core, rbac = client.CoreV1Api(api), client.RbacAuthorizationV1Api(api)
    core.create_namespaced_service_account(NAMESPACE, {"metadata": {"name": "operator"}})
    rbac.create_cluster_role_binding(
        {
            "metadata": {"name": "bench-operator"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "cluster-admin",
            },
            "subjects": [{"kind": "ServiceAccount", "name": "operator", "namespace": NAMESPACE}],
        }
    )
    token = core.create_namespaced_service_account_token(
        "operator", NAMESPACE, {"spec": {"expirationSeconds": 86400}}
    ).status.token
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "bench",
                "clusters": [
                    {
                        "name": "bench",
                        "cluster": {
                            "server": layout.server,
                            "certificate-authority": str(layout.pki / "ca.crt"),
                        },
                    }
                ],
                "users": [{"name": "bench", "user": {"token": token}}],
                "contexts": [{"name": "bench", "context": {"cluster": "bench", "user": "bench"}}],
            }
        )
    )


def data_volume(core: client.CoreV1Api, folder: Path) -> None:
    core.create_persistent_volume(
        {
            "metadata": {"name": "bench-data"},
            "spec": {
                "capacity": {"storage": "10Gi"},
                "accessModes": ["ReadWriteMany"],
                "storageClassName": "",
                "persistentVolumeReclaimPolicy": "Retain",
                "hostPath": {"path": str(folder), "type": "Directory"},
                "claimRef": {"namespace": NAMESPACE, "name": "data"},
            },
        }
    )
    core.create_namespaced_persistent_volume_claim(
        NAMESPACE,
        {
            "metadata": {"name": "data"},
            "spec": {
                "accessModes": ["ReadWriteMany"],
                "storageClassName": "",
                "volumeName": "bench-data",
                "resources": {"requests": {"storage": "10Gi"}},
            },
        },
    )


def labeling_job(name: str, folder: Path) -> dict[str, Any]:
    data = folder / "digits"
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "LabelingJob",
        "metadata": {"name": name},
        "spec": {
            "taskType": "ImageClassification",
            "labelAttributeName": "label",
            "labels": [str(d) for d in range(10)],
            "input": {"manifestUri": f"file://{data}/input.manifest"},
            "output": {"uri": f"file://{folder}/output/{name}"},
            "storage": {"volumeClaimName": "data", "mountPath": str(folder)},
            "autoLabeling": {"allowSmallDataset": True, "algorithm": {"options": {"epochs": "1"}}},
            "humanTaskConfig": {
                "workforce": {
                    "simulated": {"groundTruthManifestUri": f"file://{data}/ground-truth.manifest"}
                }
            },
            "resources": {"inference": {"profile": "c5.4xlarge"}},
        },
    }


def proc_usage(pid: int) -> tuple[float, float]:
    """CPU seconds and peak RSS (MiB) of a live process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    peak = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            peak = int(line.split()[1]) / 1024
    return cpu, peak


def audit_requests(log: Path) -> Counter[str]:
    """The operator's requests by verb and resource, from the audit log."""
    requests: Counter[str] = Counter()
    with log.open() as handle:
        for line in handle:
            if OPERATOR_USER not in line:
                continue
            event = json.loads(line)
            if event["user"]["username"] == OPERATOR_USER:
                ref = event.get("objectRef") or {}
                resource = ref.get("resource", "-") + (
                    "/" + ref["subresource"] if ref.get("subresource") else ""
                )
                requests[f"{event['verb']} {resource}"] += 1
    return requests


def run_delay(pid: int) -> tuple[float, float]:
    """Seconds on a CPU and seconds runnable but waiting for one, over a process's threads
    (/proc/PID/task/*/schedstat): the second says how starved of CPU the process was."""
    on_cpu = waiting = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "schedstat").read_text().split()
        except OSError:
            continue
        on_cpu += int(fields[0])
        waiting += int(fields[1])
    return on_cpu / 1e9, waiting / 1e9


def running_tasks() -> int:
    """Runnable tasks on the machine now (/proc/loadavg's fourth field)."""
    return int(Path("/proc/loadavg").read_text().split()[3].split("/")[0])


DECISION = re.compile(
    r"created job \S+/(\S+) ([0-9.]+) s after the end of (\S+) was seen "
    r"\(decision seen=([0-9.]+) created=([0-9.]+)\)"
)


def decisions(log: Path) -> list[tuple[str, str, float, float, float]]:
    """(ended Job, created Job, seen, created, seconds) from the operator's log."""
    result = []
    for line in log.read_text(errors="replace").splitlines():
        match = DECISION.search(line)
        if match:
            created, seconds, ended, seen, at = match.groups()
            result.append((ended, created, float(seen), float(at), float(seconds)))
    return result


def pod_start(clock: JobClock) -> str:
    """Step Job created -> its pod running, for context, outside the gap above: training
    pods queue for the two GPU nodes, the other steps for CPU capacity."""
    starts: dict[str, list[float]] = {"training": [], "other steps": []}
    for name in clock.running:
        if name in clock.created:
            kind = "training" if name.endswith("-train") else "other steps"
            starts[kind].append(clock.running[name] - clock.created[name])
    parts = [
        f"{kind} p50 {percentile(values, 0.5):.2f} s, p95 {percentile(values, 0.95):.2f} s "
        f"(n = {len(values)})"
        for kind, values in starts.items()
        if values
    ]
    if not parts:
        return ""
    return (
        "Pod start (step Job created -> its pod running: job controller, scheduler "
        "including the wait for free node capacity, node agent; not part of the gap): "
        + "; ".join(parts)
        + "."
    )


def starvation(clock: JobClock, samples: list[tuple[float, float, float, int]]) -> str:
    """How much of the time the operator wanted a CPU it waited for one, during the start
    burst (until the last iteration-0 training Job was created) and after it."""
    trains = [t for name, t in clock.created.items() if name.endswith("-i0-train")]
    end_of_burst = max(trains) if trains else samples[-1][0]
    lines = []
    for label, chosen in (
        ("start burst", [s for s in samples if s[0] <= end_of_burst + 2]),
        ("rest of the run", [s for s in samples if s[0] >= end_of_burst]),
    ):
        if len(chosen) < 2:
            continue
        first, last = chosen[0], chosen[-1]
        on_cpu, waiting = last[1] - first[1], last[2] - first[2]
        tasks = statistics.mean(s[3] for s in chosen)
        lines.append(
            f"| {label} ({last[0] - first[0]:.0f} s) | {on_cpu:.1f} s | {waiting:.1f} s "
            f"| {waiting / max(1e-9, on_cpu + waiting):.0%} | {tasks:.1f} |"
        )
    return (
        "Operator CPU starvation (from /proc/PID/task/*/schedstat; runnable tasks from "
        "/proc/loadavg):\n\n| window | operator on CPU | operator runnable, waiting for a "
        "CPU | share waiting | runnable tasks on the machine, mean |\n|---|---|---|---|---|\n"
        + "\n".join(lines)
    )


def decision_split(clock: JobClock, seen: list[tuple[str, str, float, float, float]]) -> str:
    """Each gap split at the operator's handler: watch delivery and queueing before it,
    the operator's own decision (read, plan, create) after it."""
    rows: dict[str, tuple[list[float], list[float]]] = {}
    for ended, created, at_seen, _, seconds in seen:
        if ended not in clock.completed:
            continue
        step = f"{ended.split('-', 2)[-1]} -> {created.split('-', 2)[-1]}"
        for key in (step, "all"):
            before, decide = rows.setdefault(key, ([], []))
            before.append(at_seen - clock.completed[ended])
            decide.append(seconds)
    lines = [
        f"| {step} | {len(b)} | {percentile(b, 0.5):.2f} / {percentile(b, 0.95):.2f} s "
        f"| {percentile(d, 0.5):.2f} / {percentile(d, 0.95):.2f} s |"
        for step, (b, d) in sorted(rows.items())
    ]
    return (
        "Gap split at the operator's step-Job handler (same monotonic clock): ending seen "
        "by the benchmark's watch -> handler called; handler -> next Job created "
        "(the operator's decision).\n\n| transition | n | to the handler, p50 / p95 "
        "| decision, p50 / p95 |\n|---|---|---|---|\n" + "\n".join(lines)
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(jobs: int, objects: int, port: int = PORT, note: str = "") -> str:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        layout = ClusterLayout(root / "cluster", port)
        cluster.up(layout)
        operator: subprocess.Popen[bytes] | None = None
        try:
            api = config.new_client_from_config(config_file=str(layout.admin_kubeconfig))
            core, batch = client.CoreV1Api(api), client.BatchV1Api(api)
            custom = client.CustomObjectsApi(api)
            subprocess.run(
                [
                    str(Path(sys.executable).parent / "labelpilot"),
                    "crd",
                    "--out",
                    str(root / "crd.yaml"),
                ],
                check=True,
            )
            client.ApiextensionsV1Api(api).create_custom_resource_definition(
                yaml.safe_load((root / "crd.yaml").read_text())
            )
            core.create_namespace({"metadata": {"name": NAMESPACE}})
            time.sleep(2)
            data = root / "data"
            data.mkdir()
            prepare("digits", data / "digits", limit=objects, seed=3)
            data_volume(core, data)
            kubeconfig = root / "operator.kubeconfig"
            operator_kubeconfig(api, layout, kubeconfig)
            clock = JobClock(batch)
            clock.start()
            threading.Thread(target=clock.watch_pods, args=(core,), daemon=True).start()
            operator = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "labelpilot.cli",
                    "operator",
                    "-n",
                    NAMESPACE,
                    "--metrics-port",
                    "0",
                    "--liveness",
                    "",
                    "--policy",
                    str(REPO / "tests/cluster/operator-policy.yaml"),
                ],
                env=dict(os.environ, KUBECONFIG=str(kubeconfig)),
                stdout=(root / "operator.log").open("wb"),
                stderr=subprocess.STDOUT,
            )
            started = time.monotonic()
            samples = [(started, *run_delay(operator.pid), running_tasks())]
            for index in range(jobs):
                custom.create_namespaced_custom_object(
                    GROUP, VERSION, NAMESPACE, PLURAL, labeling_job(f"lj-{index:03d}", data)
                )
            while True:
                items = custom.list_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL)[
                    "items"
                ]
                phases = [(i.get("status") or {}).get("phase") for i in items]
                if all(p in ("Completed", "Failed") for p in phases):
                    break
                time.sleep(2)
                samples.append((time.monotonic(), *run_delay(operator.pid), running_tasks()))
            wall = time.monotonic() - started
            cpu, peak = proc_usage(operator.pid)
            seen = decisions(root / "operator.log")
            clock.stop.set()
            iterations = sum((i["status"].get("iteration") or 0) + 1 for i in items)
            completed = phases.count("Completed")
            requests = audit_requests(layout.log("audit"))
        finally:
            if operator is not None:
                operator.terminate()
                operator.wait(15)
            cluster.down(layout)
    gaps = clock.gaps()
    slow: dict[str, list[float]] = {}
    for step, gap in clock.transitions():
        slow.setdefault(step, []).append(gap)
    by_step = ", ".join(
        f"{step} p95 {percentile(values, 0.95):.1f} s" for step, values in sorted(slow.items())
    )
    total = sum(requests.values())
    starved = starvation(clock, samples)
    remark = f"\n{note}\n" if note else ""
    command = f".venv/bin/python -m benchmarks.operator_scale --jobs {jobs} --objects {objects}"
    split = decision_split(clock, seen)
    breakdown = ", ".join(f"{kind} {count}" for kind, count in requests.most_common(8))
    return f"""## Operator at scale: {jobs} LabelingJobs at once

Machine: {machine()}; revision {git_revision()}.
Command: `{command}`
Each job: {objects} digits, 1 training epoch, simulated workforce; every step is a real Job
run by the dev cluster's node agent on the same 2 cores as the control plane and the operator;
the pods share the CPU through the agent's all-pods cgroup (README, "The dev cluster").

| measurement | value |
|---|---|
| jobs Completed / created | {completed} / {jobs} |
| wall time until all ended | {wall:.0f} s |
| step Job completed -> next step Job created, p50 | {percentile(gaps, 0.5):.2f} s |
| same, p95 | {percentile(gaps, 0.95):.2f} s |
| same, max (n = {len(gaps)}) | {max(gaps):.2f} s |
| operator CPU time | {cpu:.1f} s |
| operator peak RSS | {peak:.0f} MiB |
| operator API requests (audit log) | {total} |
| API requests per iteration ({iterations} iterations) | {total / max(1, iterations):.1f} |
| median gap, for reference | {statistics.median(gaps):.2f} s |

Requests by kind: {breakdown}.

{split}

{pod_start(clock)}

{starved}

Gap by transition: {by_step}.
{remark}"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--objects", type=int, default=60)
    parser.add_argument(
        "--port",
        type=int,
        default=PORT,
        help="the dev cluster's API server port (uses the next four too)",
    )
    parser.add_argument("--note", default="", help="a remark added to the section")
    parser.add_argument(
        "--section", default="operator-scale", help="the BENCHMARKS.md section to write"
    )
    args = parser.parse_args()
    body = run(args.jobs, args.objects, args.port, args.note)
    write_section(args.section, body)
    print(body)


if __name__ == "__main__":
    main()
