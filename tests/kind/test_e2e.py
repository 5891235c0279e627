"""End to end on kind (hack/kind-e2e.sh), in real containers from the project's images:
installed by the chart, then by `kubectl apply -f deploy/install.yaml`, each time in a
namespace that enforces the restricted Pod Security Standard, a digits LabelingJob run to
Completed while its operator pod is deleted mid-training."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from labelpilot.api.job_labels import LABEL_STEP
from labelpilot.api.run_config import TaskType
from labelpilot.engine import formats
from tests.containers.docker import engine

REPO = Path(__file__).resolve().parents[2]
CLUSTER = "labelpilot-test"
OBJECTS = 1000
TARGET = 0.95
# The first run builds the kind node image and the cluster before its job: on a fresh 2-core
# machine that alone takes over ten minutes. The guard against a hang is the script's own.
pytestmark = pytest.mark.timeout(3600)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The data folder the cluster's nodes mount; the cluster is gone after the module."""
    yield tmp_path_factory.mktemp("kind-e2e")
    kind = subprocess.run(
        ["bash", str(REPO / "hack/kind/build-binaries.sh"), "--print-dir"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    deleted = subprocess.run(
        [f"{kind}/kind", "delete", "cluster", "--name", CLUSTER],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "DOCKER_HOST": engine()},
    )
    assert deleted.returncode == 0, deleted.stderr


def run_e2e(data_dir: Path, install: str) -> None:
    env = {
        **os.environ,
        "E2E_DATA_DIR": str(data_dir),
        "KEEP_CLUSTER": "1",
        "E2E_OBJECTS": str(OBJECTS),
        "KIND_CLUSTER": CLUSTER,
        "IMAGE_TAG": "test",
        "E2E_INSTALL": install,
    }
    run = subprocess.run(
        ["bash", str(REPO / "hack/kind-e2e.sh")],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=3600,
    )
    (data_dir / f"{install}-e2e.log").write_text(run.stdout)
    assert run.returncode == 0, failure(run.stdout)


def failure(log: str) -> str:
    """The script's progress lines and what it printed before its diagnostics began: the
    cause, which the diagnostics' pod listing would otherwise push out of the report."""
    lines = log.splitlines()
    end = next((i for i, line in enumerate(lines) if line.endswith("] diagnostics")), len(lines))
    progress = [line for line in lines[:end] if line.startswith("== [")]
    return "\n".join(
        [
            *progress,
            "-- before the diagnostics:",
            *lines[max(0, end - 40) : end],
            "-- diagnostics (tail):",
            *lines[end:][-60:],
        ]
    )


def check_run(data_dir: Path, install: str) -> None:
    status = yaml.safe_load((data_dir / f"{install}-labelingjob.yaml").read_text())["status"]
    assert status["phase"] == "Completed"
    counters = status["labelCounters"]
    assert (
        counters["totalLabeled"] + counters["failedNonRetryableError"] + counters["unlabeled"]
        == OBJECTS
    )

    # one line per object, none twice, the counters as the status says
    output = data_dir / f"data/output/digits-{install}/manifests/output/output.manifest"
    rows = [json.loads(line) for line in output.read_text().splitlines()]
    assert len(rows) == OBJECTS
    assert len({r["source-ref"] for r in rows}) == OBJECTS
    machine = [r for r in rows if r.get("digit-metadata", {}).get("human-annotated") == "no"]
    human = [r for r in rows if r.get("digit-metadata", {}).get("human-annotated") == "yes"]
    assert (len(machine), len(human)) == (counters["machineLabeled"], counters["humanLabeled"])
    assert machine, "the job labeled nothing by machine"
    truth = formats.GroundTruth(
        str(data_dir / "data/digits/ground-truth.manifest"), TaskType.IMAGE_CLASSIFICATION, "digit"
    )
    right = sum(r["digit"] == truth.get(r["source-ref"]) for r in machine)
    assert right / len(machine) >= TARGET

    # training on the GPU-labelled node, inference on the CPU node, every step restricted
    nodes = {
        n["metadata"]["name"]: n["metadata"]["labels"]
        for n in json.loads((data_dir / "nodes.json").read_text())["items"]
    }
    steps: dict[str, list[dict[str, str]]] = {}
    for pod in json.loads((data_dir / f"{install}-pods.json").read_text())["items"]:
        steps.setdefault(pod["metadata"]["labels"][LABEL_STEP], []).append(
            nodes[pod["spec"]["nodeName"]]
        )
        (container,) = pod["spec"]["containers"]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert pod["status"]["phase"] == "Succeeded", pod["metadata"]["name"]
    assert all(labels["nvidia.com/gpu.present"] == "true" for labels in steps["train"])
    assert all(
        labels["node.kubernetes.io/instance-type"] == "c5.xlarge" for labels in steps["infer"]
    )


def test_installed_by_the_chart(data_dir):
    run_e2e(data_dir, "helm")
    check_run(data_dir, "helm")


def test_installed_by_kubectl_apply(data_dir):
    run_e2e(data_dir, "kubectl")
    check_run(data_dir, "kubectl")
