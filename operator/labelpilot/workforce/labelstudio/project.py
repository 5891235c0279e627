"""The job's Label Studio project: found (by id or title) or created, then checked before
any task goes in. Several jobs may share a project; none may change it under another:

- the labeling config: an empty one (a new project) gets the job's; the same one is kept;
  any other (another job's labels or task type, or a config made in Label Studio) fails
  the job (LabelStudioProjectConflict) with what differs, and the project is left as it is;
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
from labelpilot.workforce.labelstudio.client import Client
from labelpilot.workforce.labelstudio.identity import JobIdentity
from labelpilot.workforce.labelstudio.interface import labeling_config
from labelpilot.workforce.labelstudio.labeling import difference, is_empty, same

CONFLICT = "LabelStudioProjectConflict"
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


def open_project(
    client: Client,
    settings: cfg.LabelStudioWorkforceConfig,
    job: JobIdentity,
    task_type: TaskType,
    labels: list[str],
    workers_per_object: int,
) -> int:
    """The id of the project the job's tasks go to; raises StepFailed when the project is
    set up for something else."""
    config = labeling_config(task_type, labels)
    wanted = {
        "label_config": config,
        "maximum_annotations": workers_per_object,
        "show_collab_predictions": True,
    }
    project, created = _find_or_create(client, settings, job, wanted)
    project_id = int(project["id"])
    if created:
        return project_id
    current = str(project.get("label_config") or "")
    changes = {k: v for k, v in wanted.items() if project.get(k) != v}
    if same(current, config):
        changes.pop("label_config", None)
    elif not is_empty(current):
        raise StepFailed(
            CONFLICT,
            (
                f"Label Studio project {_named(project)} already has another labeling config: "
                f"{difference(current, config)}. LabelPilot does not replace a project's "
                "labeling config; give the job a project of its own (another title), or one "
                "whose labeling config is empty or the job's"
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
    return project_id
