"""End to end on kind (hack/kind-e2e.sh), in real containers from the project's images: the
chart installed with them, a namespace that enforces the restricted Pod Security Standard,
a digits LabelingJob run to Completed while its operator pod is deleted mid-training."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import yaml

from labelpilot import formats
from labelpilot.config import TaskType

REPO = Path(__file__).resolve().parents[2]
OBJECTS = 1000
TARGET = 0.95


def test_digits_job_completes_on_kind_in_real_containers(tmp_path):
    env = {**os.environ, "E2E_DATA_DIR": str(tmp_path), "KEEP_CLUSTER": "0",
           "E2E_OBJECTS": str(OBJECTS), "KIND_CLUSTER": "labelpilot-test",
           "IMAGE_TAG": "test"}
    run = subprocess.run(["bash", str(REPO / "hack/kind-e2e.sh")], env=env, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=3600)
    assert run.returncode == 0, run.stdout[-6000:]

    job = yaml.safe_load((tmp_path / "labelingjob.yaml").read_text())
    status = job["status"]
    assert status["phase"] == "Completed"
    counters = status["labelCounters"]
    assert counters["totalLabeled"] + counters["failedNonRetryableError"] + counters[
        "unlabeled"] == OBJECTS

    # one line per object, none twice, the counters as the status says
    output = tmp_path / "data/output/digits/manifests/output/output.manifest"
    rows = [json.loads(line) for line in output.read_text().splitlines()]
    assert len(rows) == OBJECTS
    assert len({r["source-ref"] for r in rows}) == OBJECTS
    machine = [r for r in rows if r.get("digit-metadata", {}).get("human-annotated") == "no"]
    human = [r for r in rows if r.get("digit-metadata", {}).get("human-annotated") == "yes"]
    assert (len(machine), len(human)) == (counters["machineLabeled"], counters["humanLabeled"])
    assert machine, "the job labeled nothing by machine"
    truth = formats.GroundTruth(str(tmp_path / "data/digits/ground-truth.manifest"),
                                TaskType.IMAGE_CLASSIFICATION, "digit")
    right = sum(r["digit"] == truth.get(r["source-ref"]) for r in machine)
    assert right / len(machine) >= TARGET

    # training on the GPU-labelled node, inference on the CPU node, every step restricted
    nodes = {n["metadata"]["name"]: n["metadata"]["labels"]
             for n in json.loads((tmp_path / "nodes.json").read_text())["items"]}
    pods = json.loads((tmp_path / "pods.json").read_text())["items"]
    steps = {}
    for pod in pods:
        step = pod["metadata"]["labels"].get("labelpilot.dev/step")
        steps.setdefault(step, []).append(nodes[pod["spec"]["nodeName"]])
        (container,) = pod["spec"]["containers"]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert pod["status"]["phase"] == "Succeeded", pod["metadata"]["name"]
    assert all(labels["nvidia.com/gpu.present"] == "true" for labels in steps["train"])
    assert all(labels["node.kubernetes.io/instance-type"] == "c5.xlarge"
               for labels in steps["infer"])
