"""A labeling job whose data and output live in a real S3-compatible server (SeaweedFS).

The steps get the credentials and the endpoint from their environment, as a step pod gets
them from the Secret that spec.storage.credentialsSecretName names (envFrom), never from a
flag or the config.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from tests.s3.data import LABELS, digits_in_bucket
from tests.s3.seaweedfs import S3Server, bucket_ready

BUCKET = "labeling"
DIGITS = 200


@pytest.fixture(scope="module")
def digits(s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    bucket_ready(s3_server, BUCKET)
    local = tmp_path_factory.mktemp("digits")
    data = digits_in_bucket(s3_server, local / "digits", f"s3://{BUCKET}/digits", DIGITS)
    (local / "labels.txt").write_text("".join(f"{label}\n" for label in LABELS))
    return {**data, "labels": local / "labels.txt"}


def run(
    server: S3Server, digits: dict[str, Any], output: str, *flags: str, secret: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`labelpilot run` with the Secret's variables in its environment."""
    env = {**os.environ, **server.environment(secret)}
    argv = {
        "--task-type": "image-classification",
        "--input-manifest": digits["manifest"],
        "--labels-file": str(digits["labels"]),
        "--label-attribute-name": "label",
        "--output": output,
        "--ground-truth": digits["truth"],
        "--model-options": '{"epochs": 3}',
        **dict(zip(flags[::2], flags[1::2], strict=True)),
    }
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "labelpilot.cli",
            "run",
            *[v for kv in argv.items() for v in kv],
            "--allow-small-dataset",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        check=False,
    )


def lines(server: S3Server, uri: str) -> list[dict[str, Any]]:
    text = server.filesystem().cat_file(uri).decode()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_a_job_reads_its_data_from_s3_and_writes_its_output_there(
    s3_server: S3Server, digits: dict[str, Any]
) -> None:
    output = f"s3://{BUCKET}/jobs/digits"
    done = run(s3_server, digits, output)
    assert done.returncode == 0, done.stderr

    manifest = lines(s3_server, f"{output}/manifests/output/output.manifest")
    assert sorted(line["source-ref"] for line in manifest) == sorted(digits["refs"])
    truth = {line["source-ref"]: line["label"] for line in lines(s3_server, digits["truth"])}
    by = {"yes": 0, "no": 0}
    for line in manifest:
        metadata = line["label-metadata"]
        assert line["label"] in range(len(LABELS))
        assert metadata["class-name"] == LABELS[line["label"]]
        by[metadata["human-annotated"]] += 1
        if metadata["human-annotated"] == "yes":  # the simulated workforce answers the truth
            assert line["label"] == truth[line["source-ref"]]
    summary = json.loads(done.stdout.splitlines()[-1])
    counters = summary["labelCounters"]
    assert (by["yes"], by["no"]) == (counters["humanLabeled"], counters["machineLabeled"])
    assert counters["totalLabeled"] == DIGITS


def test_a_missing_bucket_is_one_line_naming_the_uri(
    s3_server: S3Server, digits: dict[str, Any]
) -> None:
    manifest = "s3://no-such-bucket/input.manifest"
    done = run(s3_server, {**digits, "manifest": manifest}, f"s3://{BUCKET}/jobs/no-bucket")
    assert done.returncode == 3
    assert done.stderr == (
        f"labelpilot run: InputManifestUnreadable: {manifest}: "
        "FileNotFoundError: The specified bucket does not exist\n"
    )


def test_wrong_credentials_are_one_line_naming_the_uri(
    s3_server: S3Server, digits: dict[str, Any]
) -> None:
    done = run(s3_server, digits, f"s3://{BUCKET}/jobs/wrong", secret="not-the-secret")
    assert done.returncode != 0
    assert (
        done.stderr
        == f"--ground-truth {digits['truth']}: cannot read: PermissionError: Forbidden\n"
    )
