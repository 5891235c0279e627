"""A job reads objects only under its data roots, on a real S3 server: an object in another
bucket, or outside an admin's root in the same bucket, is a failed object even though the
job's credentials could read it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from labelpilot.api.run_config import RunConfig
from labelpilot.engine.workspace import Workspace
from labelpilot.worker.cli import run_step
from tests.s3.data import LABELS, digits_in_bucket
from tests.s3.seaweedfs import S3Server, bucket_ready

BUCKET = "roots"
OTHER = "roots-other"


@pytest.fixture(scope="module")
def digits(s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    bucket_ready(s3_server, BUCKET)
    bucket_ready(s3_server, OTHER)
    local = tmp_path_factory.mktemp("digits") / "digits"
    data = digits_in_bucket(s3_server, local, f"s3://{BUCKET}/digits", 40)
    image = s3_server.filesystem().cat_file(data["refs"][0])
    elsewhere = [f"s3://{OTHER}/digits/0.png", f"s3://{BUCKET}/private/0.png"]
    for uri in elsewhere:  # readable with the job's credentials
        s3_server.filesystem().pipe_file(uri, image)
    return {**data, "elsewhere": elsewhere}


def prepare(
    server: S3Server,
    digits: dict[str, Any],
    output: str,
    monkeypatch: pytest.MonkeyPatch,
    **changes: Any,
) -> dict[str, Any]:
    """Prepare on the manifest plus lines naming `elsewhere`; returns its plan's failures."""
    for name, value in server.environment().items():
        monkeypatch.setenv(name, value)
    fs = server.filesystem()
    lines = fs.cat_file(digits["manifest"]).decode().splitlines()
    lines += [json.dumps({"source-ref": uri}) for uri in digits["elsewhere"]]
    manifest = f"{output}/input.manifest"
    fs.pipe_file(manifest, "".join(f"{line}\n" for line in lines).encode())
    config = RunConfig.model_validate(
        {
            "job_name": "roots",
            "task_type": "image-classification",
            "label_attribute_name": "label",
            "labels": LABELS,
            "input_manifest_uri": manifest,
            "output_uri": f"{output}/job",
            "workforce": {"simulated": {"ground_truth_uri": digits["truth"]}},
            "allow_small_dataset": True,
            "max_concurrent_task_count": 100,
            **changes,
        }
    )
    run_step("prepare", config)
    plan = json.loads(fs.cat_file(Workspace(config.output_uri).prepare_plan))
    return {int(index): reason for index, reason in plan["failed"].items()}


def test_an_object_in_another_bucket_is_refused(
    s3_server: S3Server, digits: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    failed = prepare(s3_server, digits, f"s3://{BUCKET}/run-bucket", monkeypatch)
    other = digits["elsewhere"][0]
    assert failed == {40: f"ObjectOutsideDataRoots: {other}: not under the data roots s3://roots/"}


def test_an_admins_roots_narrow_the_bucket(
    s3_server: S3Server, digits: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = f"s3://{BUCKET}/digits/"
    failed = prepare(s3_server, digits, f"s3://{BUCKET}/run-roots", monkeypatch, data_roots=[root])
    assert sorted(failed) == [40, 41]
    for index, uri in zip((40, 41), digits["elsewhere"], strict=True):
        assert failed[index] == f"ObjectOutsideDataRoots: {uri}: not under the data roots {root}"
