"""The job's Label Studio project: found (by id or title) or created, then checked before
any task goes in. Several jobs may share a project; none may change it under another:

- the labeling config: the job's own (`uiConfig`) must fit the job's task type and labels
  (labelpilot.api.ui_config), or the job fails (UiConfigIncompatible). An empty config (a
  new project) gets the job's own, or else LabelPilot's; the same one is kept. A project
  with another config: a job without a config of its own keeps it when it fits the job
  (its control and object names are where the answers are read), and fails
  (LabelStudioProjectConflict) saying what does not fit otherwise; a job with a config of
  its own fails. LabelPilot never replaces a project's labeling config;
- the instructions (`taskTitle`, `taskDescription`: `expert_instruction`, shown before
  labeling): set on a project without instructions, kept when the same; other
  instructions fail the job the same way. A job without any leaves the project's alone;
- the overlap (`maximum_annotations`, the workers per object) counts for every task of the
  project: it is changed only while the project holds no task of another job (identity.py),
  otherwise a different one fails the job the same way;
- pre-annotations: every LabelPilot prediction has the model version `LabelPilot`; the
  project shows predictions (`show_collab_predictions`) of that model version (set once
  predictions exist: Label Studio accepts no model version without them), whatever job or
  iteration made them.
"""

from __future__ import annotations

from typing import Any

from labelpilot.api import run_config as cfg
from labelpilot.api.run_config import TaskType
from labelpilot.api.steps import StepFailed
from labelpilot.api.ui_config import Binding, UiConfigError, bind
from labelpilot.workforce.labelstudio.client import Client
from labelpilot.workforce.labelstudio.identity import JobIdentity
from labelpilot.workforce.labelstudio.interface import (
    default_binding,
    instructions,
    labeling_config,
)
from labelpilot.workforce.labelstudio.labeling import is_empty, same

CONFLICT = "LabelStudioProjectConflict"
INCOMPATIBLE = "UiConfigIncompatible"
MODEL_VERSION = "LabelPilot"


def _named(project: dict[str, Any]) -> str:
    return f"{project['id']} ({project.get('title')!r})"


def _find_or_create(
    client: Client,
    settings: cfg.LabelStudioWorkforceConfig,
    job: JobIdentity,
    wanted: dict[str, Any],
) -> tuple[dict[str, Any], bool]:
    """The project, and whether it was created just now (with `wanted`)."""
    if settings.project_id is not None:
        return client.project(settings.project_id), False
    found = [
        p
        for p in client.projects(settings.project_title)
        if p.get("title") == settings.project_title
    ]
    if found:
        return min(found, key=lambda p: int(p["id"])), False
    return client.create_project(
        {
            "title": settings.project_title,
            **wanted,
            "description": f"Human tasks of LabelPilot job {job}",
        }
    ), True


def _own_config(
    settings: cfg.LabelStudioWorkforceConfig,
    job: JobIdentity,
    task_type: TaskType,
    labels: list[str],
) -> tuple[str, Binding]:
    """The config the job asks for, and where its answers are."""
    if settings.label_config is None:
        return labeling_config(task_type, labels), default_binding(task_type)
    try:
        return settings.label_config, bind(settings.label_config, task_type, labels)
    except UiConfigError as exc:
        raise StepFailed(
            INCOMPATIBLE,
            f"job {job}: humanTaskConfig.uiConfig cannot take its {TaskType(task_type).value} "
            f"tasks: {exc}",
        ) from exc


def _kept_config(
    project: dict[str, Any],
    settings: cfg.LabelStudioWorkforceConfig,
    job: JobIdentity,
    task_type: TaskType,
    labels: list[str],
) -> Binding:
    """Where the answers are in the existing config of a project the job did not set up;
    raises StepFailed when the job may not use it."""
    current = str(project.get("label_config") or "")
    if settings.label_config is not None:
        raise StepFailed(
            CONFLICT,
            (
                f"Label Studio project {_named(project)} already has another labeling config "
                f"than job {job}'s humanTaskConfig.uiConfig. LabelPilot does not replace a "
                "project's labeling config; give the job a project of its own (another "
                "title), one whose labeling config is empty or the job's, or drop uiConfig "
                "to use the project's"
            ),
        )
    try:
        return bind(current, task_type, labels)
    except UiConfigError as exc:
        raise StepFailed(
            CONFLICT,
            (
                f"Label Studio project {_named(project)} has a labeling config that cannot "
                f"take the {TaskType(task_type).value} tasks of job {job}: {exc}. LabelPilot "
                "does not replace a project's labeling config; give the job a project of its "
                "own (another title), or one whose labeling config fits the job"
            ),
        ) from exc


def open_project(
    client: Client,
    settings: cfg.LabelStudioWorkforceConfig,
    job: JobIdentity,
    task_type: TaskType,
    labels: list[str],
    workers_per_object: int,
    *,
    title: str | None = None,
    description: str | None = None,
) -> tuple[int, Binding]:
    """The id of the project the job's tasks go to, and where the answers are in its
    results; raises StepFailed when the project is set up for something else."""
    config, binding = _own_config(settings, job, task_type, labels)
    wanted: dict[str, Any] = {
        "label_config": config,
        "maximum_annotations": workers_per_object,
        "show_collab_predictions": True,
    }
    shown = instructions(title, description)
    if shown is not None:
        wanted |= {"expert_instruction": shown, "show_instruction": True}
    project, created = _find_or_create(client, settings, job, wanted)
    project_id = int(project["id"])
    if created:
        return project_id, binding
    current = str(project.get("label_config") or "")
    changes = {k: v for k, v in wanted.items() if project.get(k) != v}
    if same(current, config):
        changes.pop("label_config", None)
    elif not is_empty(current):
        binding = _kept_config(project, settings, job, task_type, labels)
        changes.pop("label_config", None)
    if "expert_instruction" not in changes:
        changes.pop("show_instruction", None)  # the project's own choice
    elif str(project.get("expert_instruction") or "").strip():
        raise StepFailed(
            CONFLICT,
            (
                f"Label Studio project {_named(project)} already has other instructions than "
                f"job {job}'s taskTitle and taskDescription. LabelPilot does not replace a "
                "project's instructions; give the job a project of its own, or drop "
                "taskTitle and taskDescription to keep the project's"
            ),
        )
    if "maximum_annotations" in changes:
        others = sum(not job.owns(t) for t in client.tasks(project_id))
        if others:
            raise StepFailed(
                CONFLICT,
                (
                    f"Label Studio project {_named(project)} asks for "
                    f"{project.get('maximum_annotations')} annotations per task (its overlap) and "
                    f"holds {others} tasks of other jobs; job {job} asks for "
                    f"{workers_per_object} workers per object. LabelPilot does not change the "
                    "overlap of other jobs' tasks; give the job a project of its own"
                ),
            )
    if changes:
        client.update_project(project_id, changes)
    return project_id, binding
