"""Which job a Label Studio task belongs to: the LabelingJob's namespace, name and uid, or
for `labelpilot run` without a uid a stand-in from the job name and the output URI."""

from __future__ import annotations

from labelpilot.api.run_config import RunConfig
from labelpilot.workforce.labelstudio.identity import JobIdentity


def config(**changes: object) -> RunConfig:
    return RunConfig.model_validate(
        {
            "job_name": "digits",
            "task_type": "image-classification",
            "label_attribute_name": "label",
            "labels": ["a", "b"],
            "input_manifest_uri": "/data/in.manifest",
            "output_uri": "/data/out",
            "workforce": {
                "label_studio": {"url": "http://127.0.0.1:8080", "project_title": "shared"}
            },
            **changes,
        }
    )


def task(**meta: object) -> dict[str, object]:
    return {"id": 1, "meta": {"labelpilot": {"batch": "digits-i0", "index": 0, **meta}}}


def test_a_job_owns_only_tasks_of_its_namespace_name_and_uid():
    job = JobIdentity.of(config(job_namespace="team-a", job_uid="uid-1"))
    assert job == JobIdentity("digits", "team-a", "uid-1")
    assert job.owns(task(**job.meta()))
    for other in (
        {"job": "digits", "namespace": "team-b", "uid": "uid-2"},  # other namespace
        {"job": "digits", "namespace": "team-a", "uid": "uid-3"},  # re-created
        {"job": "digits"},
    ):  # a task made before tasks carried the uid
        assert not job.owns(task(**other))
    assert not job.owns({"id": 2, "meta": {}}) and not job.owns({"id": 3})
    assert not job.owns({"id": 4, "meta": {"labelpilot": "digits"}})


def test_without_a_uid_the_output_makes_the_job():
    first = JobIdentity.of(config())
    assert first == JobIdentity.of(config(output_uri="/data/out/"))  # stable over reruns
    assert first.uid is not None and first.uid.startswith("run-")
    assert first.uid != JobIdentity.of(config(output_uri="/data/elsewhere")).uid
    assert first.uid != JobIdentity.of(config(job_name="other")).uid
    assert not JobIdentity.of(config(output_uri="/data/elsewhere")).owns(task(**first.meta()))
