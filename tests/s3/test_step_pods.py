"""A step Job's container, run as the pod runs it: the command, arguments and environment
of the Job the operator builds, with the credentials Secret's keys added by envFrom
(spec.storage.credentialsSecretName) and nothing else of this process's environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from labelpilot.api.spec import LabelingJobSpec
from labelpilot.api.steps import FAILED_EXIT_CODE, TERMINATION_LOG_ENV, Step
from labelpilot.controller.policy import Policy
from labelpilot.controller.step_jobs import JobSettings, build_job
from labelpilot.engine.workspace import Workspace
from tests.s3.data import LABELS, digits_in_bucket
from tests.s3.seaweedfs import S3Server, bucket_ready

BUCKET = "step-pods"
SECRET = "labeling-s3"
SETTINGS = JobSettings(policy=Policy.from_yaml(f"credentialsSecrets: [{SECRET}]"))


@pytest.fixture(scope="module")
def digits(s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    bucket_ready(s3_server, BUCKET)
    local = tmp_path_factory.mktemp("digits") / "digits"
    return digits_in_bucket(s3_server, local, f"s3://{BUCKET}/digits", 60)


def spec(digits: dict[str, Any], output: str) -> LabelingJobSpec:
    return LabelingJobSpec.model_validate(
        {
            "taskType": "ImageClassification",
            "labelAttributeName": "label",
            "labels": LABELS,
            "input": {"manifestUri": digits["manifest"]},
            "output": {"uri": output},
            "storage": {"credentialsSecretName": SECRET},
            "autoLabeling": {"allowSmallDataset": True},
            "humanTaskConfig": {
                "maxConcurrentTaskCount": 20,
                "workforce": {"simulated": {"groundTruthManifestUri": digits["truth"]}},
            },
        }
    )


def run_pod(
    job: dict[str, Any], secrets: dict[str, dict[str, str]], scratch: Path
) -> tuple[int, dict[str, Any]]:
    """Runs the Job's container locally; (exit code, the summary of its termination log)."""
    container = job["spec"]["template"]["spec"]["containers"][0]
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    for source in container.get("envFrom", []):
        env.update(secrets[source["secretRef"]["name"]])
    env.update({var["name"]: var["value"] for var in container["env"] if "value" in var})
    # the pod's emptyDir and termination log path, here under the test's folder
    env.update({"HOME": str(scratch), TERMINATION_LOG_ENV: str(scratch / "termination-log")})
    assert container["command"][:2] == ["labelpilot", "worker"]
    done = subprocess.run(
        [sys.executable, "-m", "labelpilot.cli", *container["command"][1:], *container["args"]],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return done.returncode, json.loads((scratch / "termination-log").read_text())


def test_the_step_jobs_reference_the_secret_and_never_copy_it(digits: dict[str, Any]) -> None:
    labeling = spec(digits, f"s3://{BUCKET}/jobs/refs")
    for step, iteration in ((Step.PREPARE, None), (Step.HUMAN, 0), (Step.TRAIN, 0)):
        job = build_job("refs", "team-a", "uid-1", labeling, step, iteration, SETTINGS)
        container = job["spec"]["template"]["spec"]["containers"][0]
        assert container["envFrom"] == [{"secretRef": {"name": SECRET}}]
        assert not [var for var in container["env"] if var["name"].startswith("AWS_")]


def test_steps_read_and_write_the_bucket_with_the_secrets_credentials(
    s3_server: S3Server, digits: dict[str, Any], tmp_path: Path
) -> None:
    output = f"s3://{BUCKET}/jobs/pods"
    labeling = spec(digits, output)
    secrets = {SECRET: s3_server.environment()}
    for step, iteration in ((Step.PREPARE, None), (Step.HUMAN, 0)):
        job = build_job("pods", "team-a", "uid-1", labeling, step, iteration, SETTINGS)
        scratch = tmp_path / str(step)
        scratch.mkdir()
        code, summary = run_pod(job, secrets, scratch)
        assert code == 0, summary
        assert summary["status"] == "Succeeded", summary

    plan = json.loads(s3_server.filesystem().cat_file(Workspace(output).prepare_plan))
    assert plan["failed"] == {}
    assert summary["labelCounters"]["humanLabeled"] > 0


def test_a_wrong_secret_fails_the_step_naming_the_uri(
    s3_server: S3Server, digits: dict[str, Any], tmp_path: Path
) -> None:
    labeling = spec(digits, f"s3://{BUCKET}/jobs/wrong-secret")
    job = build_job("wrong", "team-a", "uid-1", labeling, Step.PREPARE, None, SETTINGS)
    secrets = {SECRET: s3_server.environment(secret_key="not-the-secret")}
    code, summary = run_pod(job, secrets, tmp_path)
    assert code == FAILED_EXIT_CODE
    assert summary["reason"] == "InputManifestUnreadable"
    assert summary["message"].startswith(f"{digits['manifest']}: PermissionError")
