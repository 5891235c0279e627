"""Dev cluster timings: `up` with a warm binary cache, and Job creation to Complete.

Run: `.venv/bin/python -m benchmarks.devcluster [--jobs N]`; the cold build of the binaries
is timed by `benchmarks/cold_build.sh`.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from kubernetes import client, config

from benchmarks.common import git_revision, machine, write_section
from devcluster import cluster
from devcluster.layout import ClusterLayout

PORT = 18443
# What every step pays before its work: the interpreter and the worker's imports.
STEP_COMMAND = ("labelpilot", "worker", "--help")


RESTRICTED = {
    "runAsNonRoot": True,
    "runAsUser": 65532,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "readOnlyRootFilesystem": True,
    "seccompProfile": {"type": "RuntimeDefault"},
}


def trivial_job(name: str, image: str = "none", command: tuple[str, ...] = ("true",)) -> dict:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [
                        {
                            "name": "main",
                            "image": image,
                            "command": list(command),
                            "imagePullPolicy": "IfNotPresent",
                            "securityContext": RESTRICTED,
                        }
                    ],
                }
            },
        },
    }


def job_to_complete(
    batch: client.BatchV1Api, name: str, image: str = "none", command: tuple[str, ...] = ("true",)
) -> float:
    started = time.monotonic()
    batch.create_namespaced_job("default", trivial_job(name, image, command))
    while True:
        job = batch.read_namespaced_job_status(name, "default")
        if any(c.type == "Complete" and c.status == "True" for c in job.status.conditions or []):
            return time.monotonic() - started
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        layout = ClusterLayout(Path(tmp), PORT)
        first_up = cluster.up(layout)
        cluster.down(layout)
        warm_up = cluster.up(layout)
        try:
            api = config.new_client_from_config(config_file=str(layout.admin_kubeconfig))
            batch = client.BatchV1Api(api)
            times = [job_to_complete(batch, f"trivial-{i}") for i in range(args.jobs)]
            steps = [
                job_to_complete(batch, f"step-{i}", command=STEP_COMMAND) for i in range(args.jobs)
            ]
        finally:
            cluster.down(layout)
    step = " ".join(STEP_COMMAND)
    body = f"""## Dev cluster

Machine: {machine()}; revision {git_revision()}.
Command: `.venv/bin/python -m benchmarks.devcluster --jobs {args.jobs}`

| measurement | seconds |
|---|---|
| `dev-cluster up`, fresh state folder (PKI, etcd, nodes), warm binary cache | {first_up:.1f} |
| `dev-cluster up` again after `down` (existing state) | {warm_up:.1f} |
| trivial Job, creation to Complete, median of {args.jobs} | {statistics.median(times):.2f} |
| trivial Job, creation to Complete, max of {args.jobs} | {max(times):.2f} |
| `{step}`, creation to Complete, median of {args.jobs} | {statistics.median(steps):.2f} |
"""
    write_section("devcluster", body)
    print(body)


if __name__ == "__main__":
    main()
