"""The images in real containers, the way a kubelet runs them under the restricted Pod
Security Standard: uid 65532, a read-only root filesystem with a writable /tmp, no
capabilities, no privilege escalation, and no network for the steps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labelpilot.datasets.prepare import prepare
from tests.containers.docker import RESTRICTED, UID, docker


@pytest.mark.parametrize("name", ["operator", "worker", "worker-gpu"])
def test_image_runs_as_non_root_with_a_read_only_root(docker_host, images, name):
    probe = docker(
        docker_host,
        "run",
        "--rm",
        *RESTRICTED,
        "--entrypoint",
        "sh",
        images[name],
        "-c",
        "id -u; id -g; touch /tmp/ok; touch /opt/x 2>&1 || echo read-only",
    )
    assert probe.returncode == 0, probe.stderr
    lines = probe.stdout.splitlines()
    assert lines[:2] == [UID, UID]
    assert lines[-1] == "read-only"
    command = ["operator"] if name == "operator" else ["worker"]
    helped = docker(docker_host, "run", "--rm", *RESTRICTED, images[name], *command, "--help")
    assert helped.returncode == 0, helped.stderr
    assert f"usage: labelpilot {command[0]}" in helped.stdout


def test_operator_image_carries_no_ml_stack(docker_host, images):
    probe = docker(
        docker_host,
        "run",
        "--rm",
        *RESTRICTED,
        "--entrypoint",
        "python",
        images["operator"],
        "-c",
        "import importlib.util as u; print([m for m in ('torch', 'sklearn', 'PIL') "
        "if u.find_spec(m)])",
    )
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip() == "[]"


def test_gpu_worker_has_a_cuda_build_of_torch(docker_host, images):
    probe = docker(
        docker_host,
        "run",
        "--rm",
        *RESTRICTED,
        "--entrypoint",
        "python",
        images["worker-gpu"],
        "-c",
        "import torch; print(torch.version.cuda); print(torch.cuda.is_available())",
    )
    assert probe.returncode == 0, probe.stderr
    cuda, available = probe.stdout.split()
    assert cuda != "None" and available == "False"  # CUDA inside, no GPU on this machine


def writable_by_the_image(folder: Path) -> None:
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o777 if path.is_dir() else 0o666)


@pytest.mark.parametrize(
    "dataset, task, limit",
    [
        ("digits", "image-classification", 400),
        ("spamassassin", "text-classification", 300),
    ],
)
def test_worker_image_labels_a_data_set_offline(
    docker_host, images, tmp_path, dataset, task, limit
):
    data = prepare(dataset, tmp_path / "data", limit=limit, seed=0, ref_root="/data/data")
    writable_by_the_image(tmp_path)
    run = docker(
        docker_host,
        "run",
        "--rm",
        *RESTRICTED,
        "--network",
        "none",
        "-v",
        f"{tmp_path}:/data",
        images["worker"],
        "run",
        "--task-type",
        task,
        "--input-manifest",
        "/data/data/input.manifest",
        "--labels-file",
        "/data/data/labels.txt",
        "--label-attribute-name",
        data["labelAttributeName"],
        "--output",
        "/data/out",
        "--workforce",
        "simulated",
        "--ground-truth",
        "/data/data/ground-truth.manifest",
        "--allow-small-dataset",
        "--max-concurrent-task-count",
        "100",
        "--model-options",
        json.dumps({"epochs": 4, "threads": 1, "device": "cpu"}),
        timeout=1200,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    output = (tmp_path / "out/manifests/output/output.manifest").read_text().splitlines()
    assert len(output) == limit
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    counters = summary["labelCounters"]
    assert counters["unlabeled"] == 0 and counters["failedNonRetryableError"] == 0
