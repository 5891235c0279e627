"""Label Studio as the workforce, against a real Label Studio server: every task type's
batch goes out as tasks, scripted people answer through the API, the answers come back
into the workspace and the output manifest; several people per object are consolidated;
skips, slow answers and expired tasks fail their objects; a rerun never creates a task
twice; the model's predictions become pre-annotations."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pytest

from labelpilot.api.run_config import TaskType
from labelpilot.api.steps import StepFailed
from labelpilot.datasets.prepare import prepare
from labelpilot.engine import storage
from labelpilot.engine.formats import GroundTruth, metadata_key
from labelpilot.engine.labels import label_from_json
from labelpilot.engine.quality import mask_mean_iou
from labelpilot.engine.workspace import Workspace
from labelpilot.worker.cli import run_step
from tests.labelstudio import annotators as people
from tests.labelstudio.jobs import job, keys, sent
from tests.labelstudio.server import LabelStudio

DATASETS = {
    TaskType.IMAGE_CLASSIFICATION: "digits",
    TaskType.TEXT_CLASSIFICATION: "spamassassin",
    TaskType.OBJECT_DETECTION: "mnist-boxes",
    TaskType.SEMANTIC_SEGMENTATION: "mnist-masks",
}


@pytest.fixture(autouse=True)
def token(label_studio: LabelStudio, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABEL_STUDIO_API_TOKEN", label_studio.token)


@pytest.mark.parametrize("task_type", list(DATASETS), ids=str)
def test_a_batch_goes_out_and_the_answers_come_back(label_studio, tmp_path, task_type):
    data = prepare(DATASETS[task_type], tmp_path / "data", limit=30, seed=1)
    config = job(label_studio, data, tmp_path / "out", auto_labeling=False)
    run_step("prepare", config)
    waiting = run_step("human", config, 0, max_wait=0)
    assert waiting.status == "Waiting" and waiting.answered == 0

    handle = sent(config, 0)
    project = people.project_by_title(label_studio, config.workforce.label_studio.project_title)
    assert handle["projectId"] == project["id"]
    assert 'name="label"' in project["label_config"]
    # a rerun of the step (a restarted Job) finds the recorded batch: no second task
    assert run_step("human", config, 0, max_wait=0).status == "Waiting"
    tasks = people.tasks(label_studio, project["id"])
    assert sorted(t["id"] for t in tasks) == sorted(handle["tasks"].values())

    truth = GroundTruth(data["groundTruthManifest"], task_type, data["labelAttributeName"])
    names = keys(config)
    for task in tasks:
        index = task["meta"]["labelpilot"]["index"]
        people.submit(
            label_studio,
            task["id"],
            people.truth_result(task_type, truth.get(names[index]), data["labels"]),
        )
    done = run_step("human", config, 0, max_wait=10)
    assert done.status == "Succeeded" and done.failed == 0
    assert done.human_batch == len(tasks) > 0

    ws = Workspace(config.output_uri)
    rows = storage.read_jsonl(ws.human_response(0))
    assert len(rows) == len(tasks)
    for row in rows:
        expected = truth.get(names[row["index"]])
        got = label_from_json(task_type, row["label"], data["labels"])
        if task_type.is_classification:
            assert got == expected
        elif task_type is TaskType.OBJECT_DETECTION:
            assert got.boxes.shape == expected.boxes.shape
            assert np.allclose(got.boxes, expected.boxes, atol=1e-3)
        else:
            assert mask_mean_iou(got, people.painted(expected)) >= 0.9
    summary = run_step("export", config)
    lines = storage.read_jsonl(ws.output_manifest)
    meta = metadata_key(task_type, data["labelAttributeName"])
    human = [ln for ln in lines if ln.get(meta, {}).get("human-annotated") == "yes"]
    assert len(lines) == 30 and len(human) == len(rows)
    assert summary.label_counters.human_labeled == len(rows)
    for path in Path(config.output_uri).rglob("*"):  # the token stays in the environment
        assert not path.is_file() or label_studio.token.encode() not in path.read_bytes()


def test_three_people_per_object_the_majority_wins(label_studio, tmp_path):
    data = prepare("digits", tmp_path / "data", limit=40, seed=2)
    config = job(
        label_studio,
        data,
        tmp_path / "out",
        auto_labeling=False,
        workforce={"workers_per_object": 3},
    )
    run_step("prepare", config)
    assert run_step("human", config, 0, max_wait=0).status == "Waiting"
    project = people.project_by_title(label_studio, config.workforce.label_studio.project_title)
    assert project["maximum_annotations"] == 3
    suffix = uuid.uuid4().hex[:6]
    users = [people.create_user(label_studio, f"{who}-{suffix}") for who in ("ada", "bo", "cy")]
    truth = GroundTruth(
        data["groundTruthManifest"], TaskType.IMAGE_CLASSIFICATION, data["labelAttributeName"]
    )
    names = keys(config)
    tasks = people.tasks(label_studio, project["id"])
    for task in tasks:
        right = int(truth.get(names[task["meta"]["labelpilot"]["index"]]))
        wrong = (right + 1) % len(data["labels"])
        for user, label in zip(users, (right, right, wrong), strict=True):
            people.submit(
                label_studio,
                task["id"],
                people.truth_result(TaskType.IMAGE_CLASSIFICATION, label, data["labels"]),
                user=user,
            )
    assert run_step("human", config, 0, max_wait=10).status == "Succeeded"
    rows = storage.read_jsonl(Workspace(config.output_uri).human_response(0))
    assert len(rows) == len(tasks)
    for row in rows:
        assert row["label"] == int(truth.get(names[row["index"]]))
        assert row["workers"] == 3
        assert 0.5 < row["confidence"] <= 1.0


def test_skipped_slow_and_expired_tasks_fail_their_objects(label_studio, tmp_path):
    data = prepare("digits", tmp_path / "data", limit=30, seed=3)
    config = job(
        label_studio,
        data,
        tmp_path / "out",
        auto_labeling=False,
        workforce={"task_time_limit_seconds": 60, "task_availability_lifetime_seconds": 3},
    )
    run_step("prepare", config)
    assert run_step("human", config, 0, max_wait=0).status == "Waiting"
    project = people.project_by_title(label_studio, config.workforce.label_studio.project_title)
    tasks = sorted(people.tasks(label_studio, project["id"]), key=lambda t: t["id"])
    skipped, slow, answered = tasks[0], tasks[1], tasks[2]
    people.submit(label_studio, skipped["id"], [], cancelled=True)
    choice = people.truth_result(TaskType.IMAGE_CLASSIFICATION, 0, data["labels"])
    people.submit(label_studio, slow["id"], choice, lead_time=600)
    people.submit(label_studio, answered["id"], choice)
    with pytest.raises(StepFailed) as failed:  # most of iteration 0 failed: Ground Truth's 10% rule
        run_step("human", config, 0, max_wait=10)
    assert failed.value.reason == "TooManyFailedObjects"
    rows = {
        r["index"]: r for r in storage.read_jsonl(Workspace(config.output_uri).human_response(0))
    }
    index = {t["id"]: t["meta"]["labelpilot"]["index"] for t in tasks}
    assert rows[index[skipped["id"]]]["failure"].startswith("Skipped")
    assert rows[index[slow["id"]]]["failure"].startswith("TaskTimeLimitExceeded")
    assert rows[index[answered["id"]]]["label"] == 0
    expired = [rows[index[t["id"]]] for t in tasks[3:]]
    assert expired and all(
        r["failure"].startswith("TaskAvailabilityLifetimeExceeded") for r in expired
    )
    # the expired tasks are taken back from the workers; the answered ones stay
    left = {t["id"] for t in people.tasks(label_studio, project["id"])}
    assert left == {skipped["id"], slow["id"], answered["id"]}


def test_the_models_predictions_are_pre_annotations(label_studio, tmp_path):
    data = prepare("digits", tmp_path / "data", limit=120, seed=4)
    config = job(
        label_studio, data, tmp_path / "out", target_accuracy=0.999, max_concurrent_task_count=30
    )
    run_step("prepare", config)
    assert run_step("human", config, 0, max_wait=0).status == "Waiting"
    project = people.project_by_title(label_studio, config.workforce.label_studio.project_title)
    truth = GroundTruth(
        data["groundTruthManifest"], TaskType.IMAGE_CLASSIFICATION, data["labelAttributeName"]
    )
    names = keys(config)
    first = people.tasks(label_studio, project["id"])
    assert all(not t["predictions"] for t in first)  # iteration 0: no model yet
    for task in first:
        label = truth.get(names[task["meta"]["labelpilot"]["index"]])
        people.submit(
            label_studio,
            task["id"],
            people.truth_result(TaskType.IMAGE_CLASSIFICATION, label, data["labels"]),
        )
    assert run_step("human", config, 0, max_wait=10).status == "Succeeded"
    for step in ("train", "infer", "threshold"):
        summary = run_step(step, config, 0)
    assert summary.next == "human" and summary.human_batch > 0

    assert run_step("human", config, 1, max_wait=0).status == "Waiting"
    batch = [
        t
        for t in people.tasks(label_studio, project["id"])
        if t["id"] not in {f["id"] for f in first}
    ]
    assert len(batch) == summary.human_batch
    edited = 0
    for k, task in enumerate(sorted(batch, key=lambda t: t["id"])):
        assert len(task["predictions"]) == 1
        prediction = task["predictions"][0]["result"]
        if k % 2 == 0:  # accept the pre-annotation as it is
            people.submit(label_studio, task["id"], prediction)
            continue
        labels = data["labels"]  # a person who disagrees with the model
        other = (labels.index(prediction[0]["value"]["choices"][0]) + 1) % len(labels)
        people.submit(
            label_studio,
            task["id"],
            people.truth_result(TaskType.IMAGE_CLASSIFICATION, other, labels),
        )
        edited += 1
    done = run_step("human", config, 1, max_wait=10)
    assert done.status == "Succeeded"
    assert done.pre_annotated == len(batch)
    assert done.pre_annotations_edited == edited
    recorded = storage.read_json(Workspace(config.output_uri).human_summary(1))
    assert (recorded["preAnnotated"], recorded["preAnnotationsEdited"]) == (len(batch), edited)
