"""The workspace is bound to its job and its input manifest; labels to their objects."""

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from engine_fixtures import config_for, digits, snapshot

from labelpilot import cli
from labelpilot.api.run_config import RunConfig, TaskType
from labelpilot.api.steps import StepFailed
from labelpilot.engine import formats, storage
from labelpilot.engine.labels import LabelState, object_id
from labelpilot.engine.predictions import pack
from labelpilot.engine.workspace import Workspace
from labelpilot.ml.base import Predictions
from labelpilot.worker.cli import run_step
from labelpilot.worker.infer import objects_to_predict


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return digits(tmp_path_factory.mktemp("digits"), 260)


@pytest.fixture()
def manifest(data, tmp_path) -> Path:
    """A copy of the data set's input manifest that a test may change, in the data set's
    folder (where its objects may be read)."""
    path = Path(data["inputManifest"]).parent / f"{tmp_path.name}.manifest"
    shutil.copyfile(data["inputManifest"], path)
    return path


def labeled_workspace(data, manifest: Path, out: Path, **changes) -> RunConfig:
    config = config_for(data, out, input_manifest_uri=str(manifest), **changes)
    run_step("prepare", config)
    run_step("human", config, 0)
    return config


def refused(step: str, config: RunConfig, iteration: int | None = None) -> StepFailed:
    with pytest.raises(StepFailed) as error:
        run_step(step, config, iteration)
    return error.value


def test_prepare_binds_the_workspace_to_the_job_and_the_manifest(data, manifest, tmp_path):
    out = tmp_path / "job"
    config = config_for(
        data, out, input_manifest_uri=str(manifest), job_namespace="team-a", job_uid="0b6c2a9e"
    )
    run_step("prepare", config)
    bound = json.loads((out / "binding.json").read_text())
    assert bound == {
        "job": {"name": "test-job", "namespace": "team-a", "uid": "0b6c2a9e"},
        "manifest": {
            "uri": str(manifest),
            "objects": 260,
            "sha256": hashlib.sha256(manifest.read_bytes()).hexdigest(),
        },
    }


def test_a_line_inserted_at_the_top_of_the_manifest_is_refused(data, manifest, tmp_path):
    out = tmp_path / "job"
    config = labeled_workspace(data, manifest, out)
    before = snapshot(out)
    lines = manifest.read_text().splitlines()
    manifest.write_text("\n".join([lines[-1], *lines]) + "\n")
    for step, iteration in (
        ("prepare", None),
        ("human", 0),
        ("human", 1),
        ("train", 0),
        ("infer", 0),
        ("threshold", 0),
        ("export", None),
    ):
        error = refused(step, config, iteration)
        assert error.reason == "WorkspaceMismatch", step
        assert "260 objects" in error.message and "261 objects" in error.message
        assert "manifest sha256" in error.message
    assert snapshot(out) == before


@pytest.mark.parametrize(
    "change",
    [
        {"job_uid": "uid-of-another-job"},
        {"job_name": "another-job"},
        {"job_namespace": "team-b"},
    ],
)
def test_another_job_is_refused(data, manifest, tmp_path, change):
    out = tmp_path / "job"
    labeled_workspace(data, manifest, out, job_uid="uid-of-this-job")
    before = snapshot(out)
    other = config_for(
        data, out, input_manifest_uri=str(manifest), **{"job_uid": "uid-of-this-job", **change}
    )
    for step, iteration in (("prepare", None), ("human", 0), ("export", None)):
        error = refused(step, other, iteration)
        assert error.reason == "WorkspaceMismatch"
        assert "job test-job (uid uid-of-this-job)" in error.message
        assert str(next(iter(change.values()))) in error.message
    assert snapshot(out) == before


def test_another_data_set_into_an_existing_workspace_is_refused(data, manifest, tmp_path):
    out = tmp_path / "job"
    labeled_workspace(data, manifest, out)
    before = snapshot(out)
    other = digits(tmp_path / "other", 260)
    error = refused("prepare", config_for(other, out))
    assert error.reason == "WorkspaceMismatch"
    assert str(manifest) in error.message and other["inputManifest"] in error.message
    assert snapshot(out) == before


def test_a_workspace_with_files_but_no_binding_is_refused(data, manifest, tmp_path):
    out = tmp_path / "job"
    (out / "manifests").mkdir(parents=True)
    (out / "manifests" / "notes.txt").write_text("another tool's\n")
    config = config_for(data, out, input_manifest_uri=str(manifest))
    error = refused("prepare", config)
    assert error.reason == "WorkspaceMismatch" and "no binding.json" in error.message
    assert snapshot(out) == {"manifests/notes.txt": b"another tool's\n"}

    older = tmp_path / "older"
    labeled_workspace(data, manifest, older)
    (older / "binding.json").unlink()  # as an older LabelPilot left it
    before = snapshot(older)
    config = config_for(data, older, input_manifest_uri=str(manifest))
    for step, iteration in (("prepare", None), ("human", 1), ("export", None)):
        error = refused(step, config, iteration)
        assert "holds files but no binding.json" in error.message, step
    assert snapshot(older) == before


def test_the_same_job_resumes_its_workspace(data, manifest, tmp_path):
    out = tmp_path / "job"
    config = labeled_workspace(data, manifest, out, job_uid="u-1", job_namespace="team-a")
    bound = (out / "binding.json").read_bytes()
    again = RunConfig.model_validate_json(config.to_json())  # as the next Job reads it
    assert run_step("prepare", again).status == "Succeeded"
    assert run_step("human", again, 0).status == "Succeeded"
    assert run_step("export", again).status == "Succeeded"
    assert (out / "binding.json").read_bytes() == bound


def test_the_worker_exits_3_with_the_reason(data, manifest, tmp_path, capsys):
    out = tmp_path / "job"
    labeled_workspace(data, manifest, out, job_uid="first")
    path = tmp_path / "config.json"
    path.write_text(
        config_for(data, out, input_manifest_uri=str(manifest), job_uid="second").to_json()
    )
    assert cli.main(["worker", "human", "--iteration", "0", "--config", str(path)]) == 3
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["status"] == "Failed" and summary["reason"] == "WorkspaceMismatch"


def scripted_inference(data, ws: Workspace, manifest: Path) -> None:
    """Iteration 0's inference as if by a model that is right, confidently, on every object
    but the first one to predict, which it could not read."""
    truth = formats.GroundTruth(
        data["groundTruthManifest"], TaskType.IMAGE_CLASSIFICATION, data["labelAttributeName"]
    )
    keys = {o.index: o.key for o in formats.read_manifest(str(manifest))}
    unreadable, *indices = objects_to_predict(LabelState.load(ws, human_upto=0, machine_upto=-1))
    probs = np.full((len(indices), len(data["labels"])), 0.001, np.float32)
    for row, i in enumerate(indices):
        probs[row, int(truth.get(keys[i]))] = 0.99
    storage.write_bytes(
        ws.inference_shard(0, 0, 1),
        pack(
            Predictions(probs=probs),
            indices,
            [(8, 8, 1)] * len(indices),
            {unreadable: "UnreadableObject: gone"},
        ),
    )


def test_every_label_row_records_its_object(data, manifest, tmp_path):
    out = tmp_path / "job"
    config = labeled_workspace(data, manifest, out, target_accuracy=0.8)
    ws = Workspace(str(out))
    scripted_inference(data, ws, manifest)
    run_step("threshold", config, 0)
    ids = {o.index: object_id(o) for o in formats.read_manifest(str(manifest))}
    machine = storage.read_jsonl(ws.machine_labels(0))
    assert any("label" in r for r in machine) and any("failure" in r for r in machine)
    rows = storage.read_jsonl(ws.human_response(0)) + machine
    assert all(r["object"] == ids[r["index"]] for r in rows)


def _swap_two_labels(ws: Workspace) -> None:
    rows = storage.read_jsonl(ws.human_response(0))
    first, second = [r for r in rows if "label" in r][:2]
    first["index"], second["index"] = second["index"], first["index"]
    storage.write_jsonl(ws.human_response(0), rows)


@pytest.mark.parametrize("step", ["export", "train"])
def test_a_label_row_of_another_object_is_refused(data, manifest, tmp_path, step):
    out = tmp_path / "job"
    config = labeled_workspace(data, manifest, out)
    ws = Workspace(str(out))
    _swap_two_labels(ws)
    before = snapshot(out)
    error = refused(step, config, None if step == "export" else 0)
    assert error.reason == "ObjectMismatch"
    assert "annotations/iteration-0000/response.jsonl" in error.message
    assert "was recorded for object" in error.message
    assert snapshot(out) == before


def test_a_label_row_without_its_object_is_refused(data, manifest, tmp_path):
    out = tmp_path / "job"
    config = labeled_workspace(data, manifest, out)
    ws = Workspace(str(out))
    rows = storage.read_jsonl(ws.human_response(0))
    before = storage.read_bytes(ws.output_manifest)  # the human step's
    storage.write_jsonl(
        ws.human_response(0), [{k: v for k, v in r.items() if k != "object"} for r in rows]
    )
    error = refused("export", config)
    assert error.reason == "ObjectMismatch" and "does not record which object" in error.message
    assert storage.read_bytes(ws.output_manifest) == before  # not rewritten from that row
