"""Real containers: image build times and sizes, the kind node image, and the kind end to
end run by phase. Writes the "containers" section of BENCHMARKS.md.

    .venv/bin/python -m benchmarks.containers           # warm: what a second `make test` pays
    .venv/bin/python -m benchmarks.containers --cold    # first removes every image built here

--cold removes the project's images, the local bases and the images preloaded into the
node image (their layers with them), so the builds start from Debian's packages and PyPI;
the Go builds of hack/kind/build-binaries.sh stay cached (benchmarks/cold_build.sh times
those).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from tests.containers.docker import engine

from benchmarks.common import REPO, git_revision, machine, write_section

BUILT_HERE = re.compile(r"^(labelpilot/|labelpilot\.local/|registry\.k8s\.io/)")
E2E_PHASE = re.compile(r"^== \[\s*(\d+)s\] (.*)$")


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], check=True, capture_output=True, text=True).stdout


def timed(
    command: list[str], cwd: Path = REPO, env: dict[str, str] | None = None
) -> tuple[float, str]:
    start = time.monotonic()
    result = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, env={**os.environ, **(env or {})}
    )
    if result.returncode:
        raise SystemExit(
            f"{' '.join(command)} failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
        )
    return time.monotonic() - start, result.stdout


def remove_images_built_here() -> None:
    names = [
        n
        for n in docker("images", "--format", "{{.Repository}}:{{.Tag}}").split()
        if BUILT_HERE.match(n)
    ]
    if names:
        docker("rmi", "-f", *names)
    docker("image", "prune", "-f")


def size_mb(image: str) -> float:
    return int(docker("image", "inspect", "-f", "{{.Size}}", image)) / 1e6


def code_change_rebuild() -> float:
    """Rebuilds the images from a copy of the repository with one source file changed."""
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "repo"
        shutil.copytree(
            REPO,
            copy,
            ignore=shutil.ignore_patterns(
                ".venv*", ".git", "demo-output", "__pycache__", "*.egg-info"
            ),
        )
        with (copy / "operator/labelpilot/api/steps.py").open("a") as f:
            f.write("\n# a change of the code\n")
        seconds, _ = timed(["bash", "hack/build-images.sh", "bench"], cwd=copy)
    for image in ("operator", "worker", "worker-gpu"):
        docker("rmi", f"labelpilot/{image}:bench")
    return seconds


def kind_jobs(kubeconfig: Path, image: str, count: int) -> dict[str, float]:
    """Median seconds from creation to Complete of `count` Jobs on the kind cluster, in the
    worker image: one doing nothing, one paying a step's start (the dev cluster's benchmark
    times the same two)."""
    from kubernetes import client, config

    from benchmarks.devcluster import STEP_COMMAND, job_to_complete

    batch = client.BatchV1Api(config.new_client_from_config(config_file=str(kubeconfig)))
    return {
        "true": statistics.median(
            job_to_complete(batch, f"trivial-{i}", image) for i in range(count)
        ),
        " ".join(STEP_COMMAND): statistics.median(
            job_to_complete(batch, f"step-{i}", image, STEP_COMMAND) for i in range(count)
        ),
    }


def e2e_phases(
    objects: int,
) -> tuple[float, list[tuple[int, str]], dict[str, float], dict[str, float]]:
    """The whole run, the second at which each phase began, each node's containerd
    store in MB at the end, and Job start times on the cluster (kind_jobs)."""
    cluster = "labelpilot-bench"
    kind = (
        Path(
            subprocess.run(
                ["bash", str(REPO / "hack/kind/build-binaries.sh"), "--print-dir"],
                check=True,
                capture_output=True,
                text=True,
            ).stdout.strip()
        )
        / "kind"
    )
    try:
        with tempfile.TemporaryDirectory() as data:
            env = {
                "E2E_DATA_DIR": data,
                "KEEP_CLUSTER": "1",
                "E2E_OBJECTS": str(objects),
                "KIND_CLUSTER": cluster,
                "IMAGE_TAG": "bench",
            }
            seconds, out = timed(["bash", "hack/kind-e2e.sh"], env=env)
            jobs = kind_jobs(Path(data) / "kubeconfig", "labelpilot/worker:bench", 10)
        nodes = docker(
            "ps", "--filter", f"label=io.x-k8s.kind.cluster={cluster}", "--format", "{{.Names}}"
        ).split()
        disk = {
            node: float(
                docker("exec", node, "du", "-sx", "--block-size=1M", "/var/lib/containerd").split()[
                    0
                ]
            )
            for node in nodes
        }
    finally:
        subprocess.run([str(kind), "delete", "cluster", "--name", cluster], capture_output=True)
    phases = [
        (int(m.group(1)), m.group(2).replace(data, "$E2E_DATA_DIR"))
        for m in map(E2E_PHASE.match, out.splitlines())
        if m
    ]
    return seconds, phases, disk, jobs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", action="store_true")
    parser.add_argument("--objects", type=int, default=1000)
    args = parser.parse_args()
    os.environ["DOCKER_HOST"] = engine()
    if args.cold:
        remove_images_built_here()
    rows = []
    seconds, _ = timed(["bash", "hack/base-image.sh"])
    rows.append(("Python base image (`hack/base-image.sh`)", seconds))
    seconds, _ = timed(["bash", "hack/build-images.sh", "bench"])
    rows.append(("the three images (`hack/build-images.sh`)", seconds))
    sizes = {
        image: size_mb(f"labelpilot/{image}:bench")
        for image in ("operator", "worker", "worker-gpu")
    }
    rows.append(("the three images again after a change of one source file", code_change_rebuild()))
    seconds, _ = timed(["bash", "hack/kind/node-image.sh"])
    rows.append(("kind node image (`hack/kind/node-image.sh`), Go builds cached", seconds))
    total, phases, disk, jobs = e2e_phases(args.objects)
    kind = "cold" if args.cold else "warm"
    table = "\n".join(f"| {what} | {s:.0f} |" for what, s in rows)
    ends = [start for start, _ in phases[1:]] + [total]
    phase_rows = "\n".join(
        f"| {what} | {start} | {max(0, end - start):.0f} |"
        for (start, what), end in zip(phases, ends, strict=True)
    )
    images = "\n".join(f"| labelpilot/{image} | {mb:,.0f} |" for image, mb in sizes.items())
    job_rows = "\n".join(f"| `{command}` | {seconds:.2f} |" for command, seconds in jobs.items())
    stores = "\n".join(f"| {node} | {mb:,.0f} |" for node, mb in sorted(disk.items()))
    write_section(
        f"containers-{kind}",
        f"""## Real containers and kind ({kind})

Machine: {machine()}; revision {git_revision()}; Docker 20.10 (Debian's docker.io), no
registry (bases and node image built here, torch from PyPI: its CPU index is unreachable).
Command: `.venv/bin/python -m benchmarks.containers{" --cold" if args.cold else ""}`

| build | seconds |
|---|---|
{table}

| image | MB |
|---|---|
{images}

`hack/kind-e2e.sh` with {args.objects} digits, {total:.0f} s in all (a new cluster, deleted at
the end):

| phase | began at s | seconds |
|---|---|---|
{phase_rows}

Each node's containerd store at the end (the worker image is loaded into both workers):

| node | MB |
|---|---|
{stores}

Jobs on that cluster (restricted securityContext, the worker image already on the nodes),
creation to Complete, median of 10; the dev cluster's section times the same commands:

| command | seconds |
|---|---|
{job_rows}
""",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
