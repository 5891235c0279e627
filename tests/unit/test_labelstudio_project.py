"""Which labeling config and instructions a job's Label Studio project ends up with, and
when the job is refused rather than a user's project changed (a recording client, no
server; the server tier runs the same against Label Studio)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from labelpilot.api.run_config import LabelStudioWorkforceConfig, TaskType
from labelpilot.api.spec import LabelingJobSpec
from labelpilot.api.steps import StepFailed
from labelpilot.api.ui_config import Binding
from labelpilot.controller.run_config_from_spec import to_run_config
from labelpilot.workforce.labelstudio.identity import JobIdentity
from labelpilot.workforce.labelstudio.interface import instructions, labeling_config
from labelpilot.workforce.labelstudio.project import open_project

LABELS = ["cat", "dog"]
JOB = JobIdentity("pets", "team-a", "uid-1")
MINE = (
    '<View><Image name="photo" value="$image"/><Choices name="animal" toName="photo">'
    '<Choice value="cat"/><Choice value="dog"/></Choices></View>'
)


class Projects:
    """The project calls open_project makes, on projects held in memory."""

    def __init__(self, *projects: dict[str, Any]) -> None:
        self.held = {int(p["id"]): dict(p) for p in projects}
        self.created: list[dict[str, Any]] = []
        self.updates: list[dict[str, Any]] = []

    def project(self, project_id: int) -> dict[str, Any]:
        return dict(self.held[project_id])

    def projects(self, title: str) -> list[dict[str, Any]]:
        return [dict(p) for p in self.held.values() if p.get("title") == title]

    def create_project(self, body: dict[str, Any]) -> dict[str, Any]:
        self.created.append(body)
        project = {"id": len(self.held) + 1, **body}
        self.held[project["id"]] = project
        return dict(project)

    def update_project(self, project_id: int, changes: dict[str, Any]) -> None:
        self.updates.append(changes)
        self.held[project_id].update(changes)

    def tasks(self, project_id: int) -> list[dict[str, Any]]:
        return []


def settings(config: str | None = None, **project: Any) -> LabelStudioWorkforceConfig:
    return LabelStudioWorkforceConfig(
        url="http://ls:8080", label_config=config, **(project or {"project_title": "pets"})
    )


def opened(client: Projects, config: str | None = None, **kwargs: Any) -> tuple[int, Binding]:
    return open_project(
        client,  # type: ignore[arg-type]
        settings(config),
        JOB,
        TaskType.IMAGE_CLASSIFICATION,
        LABELS,
        1,
        **kwargs,
    )


def existing(config: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": 1,
        "title": "pets",
        "label_config": config,
        "maximum_annotations": 1,
        "show_collab_predictions": True,
        **fields,
    }


def test_a_new_project_gets_the_jobs_config_and_instructions():
    client = Projects()
    project, binding = opened(client, MINE, title="Pets", description="Cat or dog?\n\nLook.")
    assert (project, binding) == (1, Binding("animal", "photo"))
    (body,) = client.created
    assert body["label_config"] == MINE
    assert body["expert_instruction"] == "<h3>Pets</h3><p>Cat or dog?</p><p>Look.</p>"
    assert body["show_instruction"] is True


def test_instructions_are_escaped_plain_text():
    assert instructions("<b>x</b>", "a & b\nc") == (
        "<h3>&lt;b&gt;x&lt;/b&gt;</h3><p>a &amp; b<br/>c</p>"
    )
    assert instructions(None, None) is None
    assert instructions(None, "only") == "<p>only</p>"


def test_an_existing_project_keeps_a_config_that_fits_the_job():
    client = Projects(existing(MINE.replace("animal", "pet")))
    assert opened(client) == (1, Binding("pet", "photo"))
    assert client.updates == []
    assert client.held[1]["label_config"] == MINE.replace("animal", "pet")


def test_an_empty_project_takes_the_jobs_config():
    client = Projects(existing("<View></View>"))
    assert opened(client, MINE)[1] == Binding("animal", "photo")
    assert client.updates == [{"label_config": MINE}]


def test_a_config_that_does_not_fit_is_left_and_the_job_refused():
    other = MINE.replace('"dog"', '"fish"')
    client = Projects(existing(other))
    with pytest.raises(StepFailed) as refused:
        opened(client)
    assert refused.value.reason == "LabelStudioProjectConflict"
    message = str(refused.value)
    assert "project 1 ('pets')" in message and "team-a/pets" in message
    assert "lacks the job's labels 'dog'" in message and "'fish'" in message
    assert client.updates == [] and client.held[1]["label_config"] == other


def test_a_project_with_another_config_than_the_jobs_own_is_left_alone():
    theirs = labeling_config(TaskType.IMAGE_CLASSIFICATION, LABELS)  # fits, but not MINE
    client = Projects(existing(theirs))
    with pytest.raises(StepFailed, match=r"another labeling config than job .*uiConfig"):
        opened(client, MINE)
    assert client.updates == []


def test_the_jobs_own_config_must_fit_its_labels():
    client = Projects()
    with pytest.raises(StepFailed) as refused:
        opened(client, MINE.replace('"cat"', '"cow"'))
    assert refused.value.reason == "UiConfigIncompatible"
    assert "humanTaskConfig.uiConfig" in str(refused.value) and "'cow'" in str(refused.value)
    assert client.created == []


def test_other_instructions_are_not_replaced():
    client = Projects(existing(MINE, expert_instruction="<p>Theirs</p>", show_instruction=False))
    with pytest.raises(StepFailed, match="other instructions"):
        opened(client, MINE, title="Pets")
    same = Projects(existing(MINE, expert_instruction="<h3>Pets</h3>", show_instruction=False))
    opened(same, MINE, title="Pets")
    assert same.updates == []  # the same instructions; whether to show them is the project's
    kept = Projects(existing(MINE, expert_instruction="<p>Theirs</p>"))
    opened(kept, MINE)
    assert kept.updates == []


def test_the_spec_refuses_a_config_that_does_not_fit_its_labels(spec_dict):
    studio = {"url": "http://ls:8080", "apiTokenSecretName": "t", "project": {"title": "pets"}}
    spec = spec_dict(
        {
            "labels": LABELS,
            "humanTaskConfig": {
                "uiConfig": MINE.replace('"dog"', '"fish"'),
                "taskTitle": "Pets",
                "workforce": {"simulated": None, "labelStudio": studio},
            },
        }
    )
    with pytest.raises(ValidationError, match=r"humanTaskConfig\.uiConfig cannot take"):
        LabelingJobSpec.from_k8s(spec)
    spec["humanTaskConfig"]["uiConfig"] = "<View><Image"
    with pytest.raises(ValidationError, match="uiConfig: it is not well-formed XML"):
        LabelingJobSpec.from_k8s(spec)
    spec["humanTaskConfig"]["uiConfig"] = MINE
    run = to_run_config("pets", "team-a", LabelingJobSpec.from_k8s(spec))
    assert run.workforce.label_studio is not None
    assert run.workforce.label_studio.label_config == MINE
    assert run.workforce.task_title == "Pets" and run.workforce.task_description is None
    # labels from a category file are known to the human step only: it checks then
    spec |= {"labels": None, "labelCategoryConfigUri": "file:///data/labels.json"}
    del spec["labels"]
    spec["humanTaskConfig"]["uiConfig"] = MINE.replace('"dog"', '"fish"')
    LabelingJobSpec.from_k8s(spec)


def run_flags(tmp_path: Any, *flags: str) -> Any:
    """`labelpilot run`'s config of `flags` (a Label Studio job of two labels)."""
    import argparse

    from labelpilot.worker import in_process

    (tmp_path / "labels.txt").write_text("cat\ndog\n")
    parser = argparse.ArgumentParser()
    in_process.register(parser.add_subparsers())
    args = parser.parse_args(
        [
            "run",
            "--task-type",
            "image-classification",
            "--input-manifest",
            str(tmp_path / "input.manifest"),
            "--labels-file",
            str(tmp_path / "labels.txt"),
            "--label-attribute-name",
            "pet",
            "--output",
            str(tmp_path / "out"),
            *flags,
        ]
    )
    return in_process.build_config(args)


def test_labelpilot_run_takes_the_interface_from_a_file(tmp_path):
    (tmp_path / "ui.xml").write_text(MINE)
    studio = ("--workforce", "label-studio", "--label-studio-url", "http://127.0.0.1:8080")
    config = run_flags(
        tmp_path,
        *studio,
        "--label-studio-project",
        "pets",
        "--ui-config",
        str(tmp_path / "ui.xml"),
        "--task-title",
        "Pets",
    )
    assert config.workforce.label_studio.label_config == MINE
    assert config.workforce.task_title == "Pets"
    (tmp_path / "bad.xml").write_text('<!DOCTYPE View [<!ENTITY a "b">]><View>&a;</View>')
    with pytest.raises(SystemExit, match=r"--ui-config .*bad\.xml: a DOCTYPE"):
        run_flags(
            tmp_path,
            *studio,
            "--label-studio-project",
            "p",
            "--ui-config",
            str(tmp_path / "bad.xml"),
        )
    with pytest.raises(SystemExit, match="needs --workforce label-studio"):
        run_flags(tmp_path, "--ui-config", str(tmp_path / "ui.xml"))
