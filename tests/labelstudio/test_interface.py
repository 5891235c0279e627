"""A job's own labeling interface and instructions, against a real Label Studio server:
the project gets the job's config (its own control and object names) and instructions,
people answer with those names and the answers come back; a later job without a config
of its own keeps the project's, which fits it; a job it does not fit is refused and the
project left as it is."""

from __future__ import annotations

import uuid

import pytest

from labelpilot.api.run_config import RunConfig, TaskType
from labelpilot.api.steps import StepFailed
from labelpilot.datasets.prepare import prepare
from labelpilot.engine import storage
from labelpilot.engine.formats import GroundTruth
from labelpilot.engine.workspace import Workspace
from labelpilot.worker.cli import run_step
from tests.labelstudio import annotators as people
from tests.labelstudio.jobs import job, keys, sent
from tests.labelstudio.server import LabelStudio


@pytest.fixture(autouse=True)
def token(label_studio: LabelStudio, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABEL_STUDIO_API_TOKEN", label_studio.token)


def interface(labels: list[str]) -> str:
    choices = "".join(f'<Choice value="{label}"/>' for label in reversed(labels))
    return (
        '<View><Header value="Which digit is it?"/>'
        '<Image name="scan" value="$image" zoom="true"/>'
        f'<Choices name="digit_class" toName="scan" choice="single">{choices}</Choices>'
        '<TextArea name="note" toName="scan" placeholder="Anything odd?"/></View>'
    )


def answer(digit: str) -> list[dict]:
    return [
        {"from_name": "note", "to_name": "scan", "type": "textarea", "value": {"text": ["ok"]}},
        {
            "from_name": "digit_class",
            "to_name": "scan",
            "type": "choices",
            "value": {"choices": [digit]},
        },
    ]


def answer_all(ls: LabelStudio, config: RunConfig, project: int, truth: GroundTruth) -> int:
    names = keys(config)
    handle = sent(config, 0)
    mine = set(handle["tasks"].values())
    tasks = [t for t in people.tasks(ls, project) if t["id"] in mine]
    for task in tasks:
        digit = str(int(truth.get(names[task["meta"]["labelpilot"]["index"]])))
        people.submit(ls, task["id"], answer(digit))
    return len(tasks)


def check_answers(config: RunConfig, truth: GroundTruth, count: int) -> None:
    done = run_step("human", config, 0, max_wait=10)
    assert done.status == "Succeeded" and done.failed == 0
    rows = storage.read_jsonl(Workspace(config.output_uri).human_response(0))
    assert len(rows) == count > 0
    names = keys(config)
    for row in rows:
        assert row["label"] == int(truth.get(names[row["index"]]))


def test_a_jobs_own_interface_and_instructions_are_used_and_kept(label_studio, tmp_path):
    data = prepare("digits", tmp_path / "data", limit=30, seed=8)
    title = f"lp-{uuid.uuid4().hex[:10]}"
    own = interface(data["labels"])
    truth = GroundTruth(
        data["groundTruthManifest"], TaskType.IMAGE_CLASSIFICATION, data["labelAttributeName"]
    )

    def config(name: str, studio: dict | None = None, **changes: object) -> RunConfig:
        return job(
            label_studio,
            data,
            tmp_path / name,
            job_name=name,
            auto_labeling=False,
            workforce={
                "label_studio": {"url": label_studio.url, "project_title": title, **(studio or {})},
                "task_title": "Digits",
                "task_description": "Pick the digit.\n\nSkip a blank image.",
            },
            **changes,
        )

    first = config("first", {"label_config": own})
    run_step("prepare", first)
    assert run_step("human", first, 0, max_wait=0).status == "Waiting"
    project = people.project_by_title(label_studio, title)
    assert project["label_config"] == own
    assert project["expert_instruction"] == (
        "<h3>Digits</h3><p>Pick the digit.</p><p>Skip a blank image.</p>"
    )
    assert project["show_instruction"] is True
    assert sent(first, 0)["controls"] == {"control": "digit_class", "object": "scan"}
    check_answers(first, truth, answer_all(label_studio, first, project["id"], truth))

    # no config of its own: the project's fits, and stays
    second = config("second")
    run_step("prepare", second)
    assert run_step("human", second, 0, max_wait=0).status == "Waiting"
    check_answers(second, truth, answer_all(label_studio, second, project["id"], truth))

    # other labels: refused, the project as it was
    other = config("other", labels=[f"digit {d}" for d in data["labels"]])
    run_step("prepare", other)
    with pytest.raises(StepFailed) as failed:
        run_step("human", other, 0, max_wait=0)
    assert failed.value.reason == "LabelStudioProjectConflict"
    assert "lacks the job's labels 'digit 0'" in failed.value.message
    after = people.project_by_title(label_studio, title)
    assert after["label_config"] == own and after["expert_instruction"]
