"""A LabelingJob whose humans work in a real Label Studio: scripted people answer through
its API while the operator drives the Jobs; the human step polls in short Jobs, and killing
the operator while tasks are open neither duplicates nor loses a task."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from labelpilot.api.run_config import TaskType
from labelpilot.engine.formats import GroundTruth, read_manifest
from tests.cluster.operator_fixtures import (
    GROUP,
    PLURAL,
    VERSION,
    OperatorProcess,
    bind_host_folder,
    labeling_job,
)
from tests.labelstudio import annotators as people
from tests.labelstudio.server import LabelStudio

OBJECTS = 200
LABELS = [str(d) for d in range(10)]
TERMINAL = ("Completed", "Failed")


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from labelpilot.datasets.prepare import prepare

    root = tmp_path_factory.mktemp("ls-operator-data")
    prepare("digits", root / "digits", limit=OBJECTS, seed=5)
    return root


class People:
    """Answers every open task of the project with the true class."""

    def __init__(self, ls: LabelStudio, title: str, data: Path) -> None:
        self.ls, self.title = ls, title
        self.truth = GroundTruth(
            f"{data}/ground-truth.manifest", TaskType.IMAGE_CLASSIFICATION, "label"
        )
        self.keys = {o.index: o.key for o in read_manifest(f"{data}/input.manifest")}
        self.project: int | None = None

    def tasks(self) -> list[dict[str, Any]]:
        if self.project is None:
            found = [
                p
                for p in self.ls.call(
                    "GET",
                    "/api/projects/",  # type: ignore[index]
                    params={"page_size": 1000},
                )["results"]
                if p["title"] == self.title
            ]
            if not found:
                return []
            self.project = found[0]["id"]
        return people.tasks(self.ls, self.project)

    def answer_open_tasks(self) -> int:
        answered = 0
        for task in self.tasks():
            if task["annotations"]:
                continue
            index = task["meta"]["labelpilot"]["index"]
            people.submit(
                self.ls,
                task["id"],
                people.truth_result(
                    TaskType.IMAGE_CLASSIFICATION, self.truth.get(self.keys[index]), LABELS
                ),
            )
            answered += 1
        return answered


def _phase(custom: client.CustomObjectsApi, ns: str, name: str) -> dict[str, Any]:
    return custom.get_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, name)


def test_a_label_studio_job_completes_and_survives_an_operator_restart(
    kube_api: client.ApiClient,
    namespace: str,
    digits: Path,
    operator: OperatorProcess,
    label_studio: LabelStudio,
) -> None:
    core, batch = client.CoreV1Api(kube_api), client.BatchV1Api(kube_api)
    custom = client.CustomObjectsApi(kube_api)
    volume = bind_host_folder(core, namespace, digits)
    core.create_namespaced_secret(
        namespace, {"metadata": {"name": "ls-token"}, "stringData": {"token": label_studio.token}}
    )
    title = f"lp-cluster-{uuid.uuid4().hex[:8]}"
    data = digits / "digits"
    body = labeling_job(
        "studio",
        data,
        volume,
        LABELS,
        humanTaskConfig={
            "maxConcurrentTaskCount": 60,
            "pollIntervalSeconds": 5,
            "workforce": {
                "labelStudio": {
                    "url": label_studio.url,
                    "apiTokenSecretName": "ls-token",
                    "project": {"title": title},
                }
            },
        },
    )
    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body)
    crowd = People(label_studio, title, data)

    # the first batch is out; the operator dies while nobody has answered yet
    deadline = time.monotonic() + 300
    while not crowd.tasks():
        assert time.monotonic() < deadline, "no Label Studio task appeared"
        time.sleep(1)
    operator.kill()
    try:

        def human_jobs() -> list[client.V1Job]:
            return [
                j
                for j in batch.list_namespaced_job(
                    namespace, label_selector="labelpilot.dev/job=studio"
                ).items
                if j.metadata.labels["labelpilot.dev/step"] == "human"
            ]

        # the Job stops waiting on its own: no Pod holds on while people work
        while not any(j.status.succeeded for j in human_jobs()):
            assert time.monotonic() < deadline, "the human Job kept waiting"
            time.sleep(1)
    finally:
        operator.start()

    while (_phase(custom, namespace, "studio").get("status") or {}).get("phase") not in TERMINAL:
        assert time.monotonic() < deadline + 600, "the job did not finish"
        crowd.answer_open_tasks()
        time.sleep(1)
    final = _phase(custom, namespace, "studio")["status"]
    assert final["phase"] == "Completed", final.get("conditions")

    jobs = batch.list_namespaced_job(namespace, label_selector="labelpilot.dev/job=studio").items
    names = Counter(j.metadata.name for j in jobs)
    assert all(n == 1 for n in names.values())
    assert "studio-i0-human-1" in names or "studio-i0-human-2" in names, sorted(names)

    tasks = crowd.tasks()
    keyed = Counter(
        (t["meta"]["labelpilot"]["batch"], t["meta"]["labelpilot"]["index"]) for t in tasks
    )
    assert all(n == 1 for n in keyed.values()), "a task was created twice"
    counters = final["labelCounters"]
    assert counters["humanLabeled"] == len(tasks)
    assert (
        counters["humanLabeled"]
        + counters["machineLabeled"]
        + counters["failedNonRetryableError"]
        + counters["unlabeled"]
    ) == OBJECTS
    lines = [
        json.loads(line)
        for line in (volume.path / "output" / "studio" / "manifests/output/output.manifest")
        .read_text()
        .splitlines()
    ]
    human = [ln for ln in lines if ln["label-metadata"]["human-annotated"] == "yes"]
    assert len(lines) == OBJECTS and len(human) == len(tasks)
    truth = {crowd.keys[t["meta"]["labelpilot"]["index"]] for t in tasks}
    assert {ln["source-ref"] for ln in human} == truth
    # the token is only in the Secret: not in the status, the Events or the Jobs' specs
    events = core.list_namespaced_event(namespace).items
    seen = (
        json.dumps(final)
        + " ".join(e.message or "" for e in events)
        + json.dumps([batch.api_client.sanitize_for_serialization(j) for j in jobs])
    )
    assert label_studio.token not in seen
