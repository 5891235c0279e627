"""Label Studio as the human workforce.

- The project: `project_id`, or the project titled `project_title` (created when missing),
  with LabelPilot's labeling config for the task type (interface.py) and the overlap
  (`maximum_annotations`) set to the workers per object.
- submit: one task per object, meta `{"labelpilot": {job, batch, index}}`, with the model's
  prediction as a pre-annotation when there is one. Tasks this batch already created (a
  rerun after a crash before the ids were recorded) are found by their meta and reused.
  The handle holds every task id; the `human` step records it in the workspace.
- poll: a task is done when it has as many annotations (skips included) as the overlap,
  or when `task_availability_lifetime_seconds` passed since the batch was sent.
- collect: submitted annotations become answers; skipped ones, ones that took longer than
  `task_time_limit_seconds` (Label Studio's lead time), unreadable ones, expired and
  deleted tasks become failures with the reason.
- withdraw: once the answers are recorded, an expired batch's tasks that still lack answers
  are deleted, so nobody labels them for nothing.
"""

from __future__ import annotations

import os
import time
from typing import Any

from labelpilot import config as cfg
from labelpilot.config import TaskType
from labelpilot.workforce.base import Answer, BatchStatus, TaskItem, WorkforceProvider
from labelpilot.workforce.labelstudio.client import Client, LabelStudioError
from labelpilot.workforce.labelstudio.interface import labeling_config
from labelpilot.workforce.labelstudio.media import MediaError, task_data
from labelpilot.workforce.labelstudio.results import (
    ResultError,
    from_result,
    same_label,
    to_result,
)

IMPORT_CHUNK = 100
META_KEY = "labelpilot"


class LabelStudioWorkforce(WorkforceProvider):
    name = "labelStudio"

    def __init__(self, workforce: cfg.WorkforceConfig, task_type: TaskType, labels: list[str],
                 job_name: str, manifest_base: str | None, *,
                 client: Client | None = None) -> None:
        settings = workforce.label_studio
        if settings is None:
            raise ValueError("workforce: no labelStudio settings")
        self.settings = settings
        self.workforce = workforce
        self.task_type = TaskType(task_type)
        self.labels = labels
        self.job_name = job_name
        self.base = manifest_base
        self._client = client
        self._progress: tuple[int, int] | None = None
        # batch id -> its tasks, as the poll that found the batch complete fetched them
        self._complete: dict[str, dict[int, dict[str, Any]]] = {}

    @property
    def client(self) -> Client:
        if self._client is None:
            token = os.environ.get(self.settings.token_env, "")
            if not token:
                raise LabelStudioError(f"no Label Studio API token: set {self.settings.token_env}"
                                       " (from the Secret named by apiTokenSecretName)")
            self._client = Client(self.settings.url, token)
        return self._client

    # ---------------------------------------------------------------- project

    def project_id(self, workers_per_object: int) -> int:
        s = self.settings
        wanted = {"label_config": labeling_config(self.task_type, self.labels),
                  "maximum_annotations": workers_per_object,
                  "show_collab_predictions": True}
        if s.project_id is not None:
            project = self.client.project(s.project_id)
        else:
            found = [p for p in self.client.projects(s.project_title)
                     if p.get("title") == s.project_title]
            if not found:
                return int(self.client.create_project({
                    "title": s.project_title, **wanted,
                    "description": f"Human tasks of LabelPilot job {self.job_name}"})["id"])
            project = min(found, key=lambda p: int(p["id"]))
        changes = {k: v for k, v in wanted.items() if project.get(k) != v}
        if changes:
            self.client.update_project(int(project["id"]), changes)
        return int(project["id"])

    def _batch_tasks(self, project: int, batch_id: str) -> dict[int, dict[str, Any]]:
        found: dict[int, dict[str, Any]] = {}
        for task in self.client.tasks(project):
            meta = (task.get("meta") or {}).get(META_KEY) or {}
            if meta.get("batch") == batch_id and meta.get("job") == self.job_name:
                found.setdefault(int(meta["index"]), task)
        return found

    # ---------------------------------------------------------------- submit

    def _task(self, batch_id: str, item: TaskItem, data: dict[str, Any],
              size: tuple[int, int, int] | None) -> dict[str, Any]:
        task: dict[str, Any] = {"data": data, "meta": {META_KEY: {
            "job": self.job_name, "batch": batch_id, "index": item.index}}}
        if item.prediction is not None:
            task["predictions"] = [{
                "model_version": batch_id,
                "score": float(item.prediction_score or 0.0),
                "result": to_result(self.task_type, item.prediction, self.labels,
                                    size[:2] if size else None)}]
        return task

    def submit(self, batch_id: str, items: list[TaskItem], workers_per_object: int
               ) -> dict[str, Any]:
        project = self.project_id(workers_per_object)
        existing = self._batch_tasks(project, batch_id)
        tasks = {str(i): int(t["id"]) for i, t in existing.items()}
        sizes: dict[str, list[int]] = {}
        failed: dict[str, str] = {}
        pending: list[tuple[TaskItem, dict[str, Any]]] = []
        for item in items:
            try:
                shown = task_data(self.task_type, item.record, self.base, self.settings)
            except MediaError as exc:
                failed[str(item.index)] = f"NotShowable: {exc}"
                continue
            if shown.size is not None:
                sizes[str(item.index)] = list(shown.size)
            if str(item.index) not in tasks:
                pending.append((item, self._task(batch_id, item, shown.data, shown.size)))
        for start in range(0, len(pending), IMPORT_CHUNK):
            chunk = pending[start:start + IMPORT_CHUNK]
            ids = self.client.import_tasks(project, [task for _, task in chunk])
            tasks.update({str(item.index): i for (item, _), i in zip(chunk, ids, strict=True)})
        if any(item.prediction is not None for item in items):
            # the UI pre-fills a task with the predictions of the project's model version
            self.client.update_project(project, {"model_version": batch_id})
        return {"provider": self.name, "url": self.settings.url, "projectId": project,
                "batchId": batch_id, "submittedAt": time.time(),
                "workersPerObject": workers_per_object, "tasks": tasks, "sizes": sizes,
                "failed": failed}

    # ---------------------------------------------------------------- poll, collect

    def _fetch(self, handle: dict[str, Any]) -> dict[int, dict[str, Any]]:
        wanted = set(handle["tasks"].values())
        return {int(t["id"]): t for t in self.client.tasks(int(handle["projectId"]))
                if int(t["id"]) in wanted}

    def _expired(self, handle: dict[str, Any]) -> bool:
        lifetime = self.workforce.task_availability_lifetime_seconds
        return time.time() >= float(handle["submittedAt"]) + lifetime

    @staticmethod
    def _answered(task: dict[str, Any]) -> int:
        return len(task.get("annotations") or [])

    def poll(self, handle: dict[str, Any]) -> BatchStatus:
        tasks = self._fetch(handle)
        overlap = int(handle["workersPerObject"])
        done = sum(1 for i in handle["tasks"].values()
                   if i not in tasks or self._answered(tasks[i]) >= overlap)
        total = len(handle["tasks"])
        self._progress = (done + len(handle["failed"]), total + len(handle["failed"]))
        complete = done == total or self._expired(handle)
        if complete:
            self._complete[handle["batchId"]] = tasks
        return BatchStatus.COMPLETED if complete else BatchStatus.IN_PROGRESS

    def progress(self, handle: dict[str, Any]) -> tuple[int, int] | None:
        return self._progress

    def collect(self, handle: dict[str, Any], items: list[TaskItem]) -> list[Answer]:
        tasks = self._complete.pop(handle["batchId"], None) or self._fetch(handle)
        answers = []
        for item in items:
            key = str(item.index)
            if key in handle["failed"]:
                answers.append(Answer(item.index, failure=handle["failed"][key]))
                continue
            task_id = int(handle["tasks"][key])
            if task_id not in tasks:
                answers.append(Answer(item.index, failure=f"TaskDeleted: task {task_id} is "
                                      f"gone from project {handle['projectId']}"))
                continue
            size = handle["sizes"].get(key)
            answers.append(self._answer(item, tasks[task_id], size, handle))
        return answers

    def withdraw(self, handle: dict[str, Any]) -> None:
        """Deletes the tasks of an expired batch that still lack answers: their objects
        failed with TaskAvailabilityLifetimeExceeded, later answers would be paid for and
        thrown away."""
        if not self._expired(handle):
            return
        overlap = int(handle["workersPerObject"])
        tasks = self._fetch(handle)
        for task_id in sorted(i for i, t in tasks.items() if self._answered(t) < overlap):
            self.client.delete_task(task_id)

    def _answer(self, item: TaskItem, task: dict[str, Any], size: list[int] | None,
                handle: dict[str, Any]) -> Answer:
        limit = self.workforce.task_time_limit_seconds
        labels, workers, problems = [], [], []
        for annotation in sorted(task.get("annotations") or [], key=lambda a: int(a["id"])):
            if annotation.get("was_cancelled"):
                problems.append("Skipped: the worker skipped the task")
                continue
            lead = annotation.get("lead_time")
            if lead is not None and float(lead) > limit:
                problems.append(f"TaskTimeLimitExceeded: answered in {float(lead):.0f} s, "
                                f"the limit is {limit} s")
                continue
            try:
                label = from_result(self.task_type, annotation.get("result") or [],
                                    self.labels, (size[0], size[1]) if size else None)
            except ResultError as exc:
                problems.append(f"InvalidAnswer: {exc}")
                continue
            if size is not None and hasattr(label, "depth"):
                label.depth = size[2]
            labels.append(label)
            workers.append(str(annotation.get("completed_by") or annotation["id"]))
        if not labels:
            if not problems:
                lifetime = self.workforce.task_availability_lifetime_seconds
                problems.append(f"TaskAvailabilityLifetimeExceeded: not answered within "
                                f"{lifetime} s of {handle['batchId']} being sent")
            return Answer(item.index, failure=problems[-1])
        edited = None
        if item.prediction is not None:
            edited = sum(not same_label(self.task_type, label, item.prediction)
                         for label in labels)
        return Answer(item.index, labels=labels, workers=workers, edited=edited)
