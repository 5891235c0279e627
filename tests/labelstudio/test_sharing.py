"""Jobs sharing one Label Studio project, against a real Label Studio server: a same-named
job (another namespace, re-created with a new uid, or `labelpilot run` into another output)
gets tasks of its own and never sees, takes the answers of or deletes another's; a job
whose labels or overlap do not fit the project fails with what differs and leaves the
project as it was; an empty project gets the job's labeling config."""

from __future__ import annotations

import uuid

import pytest

from labelpilot.api.run_config import RunConfig, TaskType
from labelpilot.api.steps import StepFailed
from labelpilot.datasets.prepare import prepare
from labelpilot.engine import storage
from labelpilot.engine.formats import GroundTruth, read_manifest
from labelpilot.worker.cli import run_step
from labelpilot.workforce.base import BatchStatus, TaskItem
from labelpilot.workforce.labelstudio.interface import labeling_config
from labelpilot.workforce.labelstudio.provider import LabelStudioWorkforce
from tests.labelstudio import annotators as people
from tests.labelstudio.jobs import job
from tests.labelstudio.server import LabelStudio

BATCH = "ls-job-i0"  # the same name makes the same batch id


@pytest.fixture(autouse=True)
def token(label_studio: LabelStudio, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABEL_STUDIO_API_TOKEN", label_studio.token)


def provider(config: RunConfig) -> LabelStudioWorkforce:
    return LabelStudioWorkforce.for_run(config, storage.parent(config.input_manifest_uri))


def items(config: RunConfig, count: int) -> list[TaskItem]:
    return [
        TaskItem(o.index, o.key or "", o.record)
        for o in read_manifest(config.input_manifest_uri)[:count]
    ]


def ids(handle: dict) -> set[int]:
    return set(handle["tasks"].values())


def test_same_named_jobs_in_one_project_keep_to_their_own_tasks(label_studio, tmp_path):
    data = prepare("digits", tmp_path / "data", limit=30, seed=5)
    first = job(label_studio, data, tmp_path / "a", job_namespace="team-a", job_uid="uid-1")
    same_project = {"workforce": {"label_studio": first.workforce.label_studio.model_dump()}}
    others = {  # each named ls-job, each sending batch ls-job-i0 into the same project
        "other namespace": job(
            label_studio,
            data,
            tmp_path / "b",
            job_namespace="team-b",
            job_uid="uid-2",
            **same_project,
        ),
        "re-created": job(
            label_studio,
            data,
            tmp_path / "a",
            job_namespace="team-a",
            job_uid="uid-3",
            **same_project,
        ),
        "labelpilot run": job(label_studio, data, tmp_path / "c", **same_project),
    }
    batch = items(first, 5)
    a = provider(first)
    sent_a = a.submit(BATCH, batch, 1)
    handles = {why: provider(c).submit(BATCH, batch, 1) for why, c in others.items()}
    for why, handle in handles.items():
        assert len(ids(handle)) == len(batch), why
        assert not ids(handle) & ids(sent_a), f"{why}: took the first job's tasks"
    assert a.submit(BATCH, batch, 1)["tasks"] == sent_a["tasks"]  # a rerun reuses its own
    project = sent_a["projectId"]
    tasks = {t["id"]: t for t in people.tasks(label_studio, project)}
    assert {tasks[i]["meta"]["labelpilot"]["uid"] for i in ids(sent_a)} == {"uid-1"}
    assert {tasks[i]["meta"]["labelpilot"]["namespace"] for i in ids(sent_a)} == {"team-a"}

    truth = GroundTruth(
        data["groundTruthManifest"], TaskType.IMAGE_CLASSIFICATION, data["labelAttributeName"]
    )
    key = {item.index: item.key for item in batch}
    for index, task_id in sent_a["tasks"].items():
        people.submit(
            label_studio,
            task_id,
            people.truth_result(
                TaskType.IMAGE_CLASSIFICATION, truth.get(key[int(index)]), data["labels"]
            ),
        )
    assert a.poll(sent_a) is BatchStatus.COMPLETED
    assert all(answer.labels for answer in a.collect(sent_a, batch))
    for why, config in others.items():
        other = provider(config)
        assert other.poll(handles[why]) is BatchStatus.IN_PROGRESS, why
        # the first job's handle (its workspace, say): its tasks are not this job's
        assert all(
            answer.failure and answer.failure.startswith("TaskDeleted")
            for answer in other.collect(sent_a, batch)
        ), why

    # a batch sent before tasks carried namespace and uid (its handle has no "job"): still
    # the job's by name, and only through that handle
    legacy_task = {
        "data": {"image": "data:,"},
        "meta": {"labelpilot": {"job": "ls-job", "batch": BATCH, "index": batch[0].index}},
    }
    imported = label_studio.call(
        "POST",
        f"/api/projects/{project}/import",
        params={"return_task_ids": "true"},
        json=[legacy_task],
    )
    legacy_id = int(imported["task_ids"][0])  # type: ignore[index]
    people.submit(
        label_studio,
        legacy_id,
        people.truth_result(TaskType.IMAGE_CLASSIFICATION, truth.get(batch[0].key), data["labels"]),
    )
    legacy = {key: value for key, value in sent_a.items() if key != "job"}
    legacy["tasks"] = {str(batch[0].index): legacy_id}
    assert a.collect(legacy, batch[:1])[0].labels
    assert a.collect({**legacy, "job": sent_a["job"]}, batch[:1])[0].failure

    recreated = provider(others["re-created"])
    expired = {**handles["re-created"], "submittedAt": 0.0}
    assert all(
        answer.failure.startswith("TaskAvailabilityLifetimeExceeded")
        for answer in recreated.collect(expired, batch)
    )
    recreated.withdraw(expired)
    recreated.withdraw({**handles["other namespace"], "submittedAt": 0.0})  # not its own
    left = {t["id"] for t in people.tasks(label_studio, project)}
    assert left == ids(sent_a) | ids(handles["other namespace"]) | ids(
        handles["labelpilot run"]
    ) | {legacy_id}


def test_a_project_set_up_for_other_labels_or_overlap_is_left_as_it_is(label_studio, tmp_path):
    empty = label_studio.call(
        "POST", "/api/projects/", json={"title": f"lp-{uuid.uuid4().hex[:10]}"}
    )
    project = int(empty["id"])  # type: ignore[index]
    data = prepare("digits", tmp_path / "data", limit=30, seed=6)

    def config(name: str, **changes: object) -> RunConfig:
        workforce = changes.pop("workforce", {})
        return job(
            label_studio,
            data,
            tmp_path / name,
            job_name=name,
            auto_labeling=False,
            workforce={
                "label_studio": {"url": label_studio.url, "project_id": project},
                **workforce,
            },
            **changes,
        )  # type: ignore[dict-item]

    def settings() -> dict:
        return label_studio.call("GET", f"/api/projects/{project}/")  # type: ignore[return-value]

    first = config("digits")
    run_step("prepare", first)
    assert run_step("human", first, 0, max_wait=0).status == "Waiting"
    digits = labeling_config(TaskType.IMAGE_CLASSIFICATION, data["labels"])
    assert settings()["label_config"] == digits  # the empty project took the job's config
    before = {t["id"] for t in people.tasks(label_studio, project)}
    assert before

    renamed = config("renamed", labels=[f"digit {d}" for d in data["labels"]])
    run_step("prepare", renamed)
    with pytest.raises(StepFailed) as failed:
        run_step("human", renamed, 0, max_wait=0)
    assert failed.value.reason == "LabelStudioProjectConflict"
    assert f"project {project} " in failed.value.message
    assert "lacks the job's labels 'digit 0', 'digit 1'" in failed.value.message
    assert "lists '0', '1'" in failed.value.message

    three = config("three", workforce={"workers_per_object": 3})
    run_step("prepare", three)
    with pytest.raises(StepFailed) as failed:
        run_step("human", three, 0, max_wait=0)
    assert failed.value.reason == "LabelStudioProjectConflict"
    assert "asks for 1 annotations per task" in failed.value.message
    assert "3 workers per object" in failed.value.message

    assert settings()["label_config"] == digits and settings()["maximum_annotations"] == 1
    assert {t["id"] for t in people.tasks(label_studio, project)} == before

    alike = config("alike")  # same labels, same overlap: shares the project
    run_step("prepare", alike)
    assert run_step("human", alike, 0, max_wait=0).status == "Waiting"
    assert len(people.tasks(label_studio, project)) == 2 * len(before)
