"""Label Studio as the human workforce.

- The project: `project_id`, or the project titled `project_title` (created when missing),
  with the job's own labeling config (`uiConfig`) or LabelPilot's for the task type
  (interface.py), the job's instructions, and the overlap (`maximum_annotations`) set to
  the workers per object; a project set up for something else fails the job, one whose
  own config fits the job keeps it (project.py). The handle records which control and
  object of the config the answers come from.
- submit: one task per object, meta `{"labelpilot": {job, namespace, uid, batch, index}}`,
  with the model's prediction as a pre-annotation when there is one. Tasks this job's batch
  already created (a rerun after a crash before the ids were recorded) are found by their
  meta and reused. The handle holds every task id; the `human` step records it in the
  workspace. Every lookup keeps only the job's own tasks (identity.py).
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

from labelpilot.api import run_config as cfg
from labelpilot.api.run_config import RunConfig, TaskType
from labelpilot.api.steps import StepFailed
from labelpilot.api.ui_config import Binding
from labelpilot.engine import storage
from labelpilot.engine.confinement import DataRoots
from labelpilot.engine.formats import iso_utc
from labelpilot.ml.inputs import ObjectAccess
from labelpilot.workforce.base import Answer, BatchStatus, TaskItem, WorkforceProvider
from labelpilot.workforce.labelstudio.client import Client, LabelStudioError, UnsafeUrl
from labelpilot.workforce.labelstudio.identity import META_KEY, JobIdentity
from labelpilot.workforce.labelstudio.interface import default_binding
from labelpilot.workforce.labelstudio.media import MediaError, task_data
from labelpilot.workforce.labelstudio.project import MODEL_VERSION, open_project
from labelpilot.workforce.labelstudio.results import ResultError, from_result, same_label, to_result

IMPORT_CHUNK = 100


class LabelStudioWorkforce(WorkforceProvider):
    name = "labelStudio"

    def __init__(
        self,
        workforce: cfg.WorkforceConfig,
        task_type: TaskType,
        labels: list[str],
        job: JobIdentity | str,
        manifest_base: str | None,
        *,
        client: Client | None = None,
        access: ObjectAccess | None = None,
    ) -> None:
        """`job`: the job's identity; a bare name stands for a job without namespace and
        uid, which owns only the tasks that carry neither. `access`: where objects may be
        read and how large (default: the manifest's folder or bucket, default limits)."""
        settings = workforce.label_studio
        if settings is None:
            raise ValueError("workforce: no labelStudio settings")
        self.settings = settings
        self.workforce = workforce
        self.task_type = TaskType(task_type)
        self.labels = labels
        self.job = job if isinstance(job, JobIdentity) else JobIdentity(job, None, None)
        self.base = manifest_base
        self.access = access or ObjectAccess(
            DataRoots(
                [
                    os.path.abspath(manifest_base)
                    if storage.is_local(manifest_base)
                    else manifest_base
                ]
                if manifest_base
                else []
            )
        )
        self._client = client
        self._progress: tuple[int, int] | None = None
        # batch id -> its tasks, as the poll that found the batch complete fetched them
        self._complete: dict[str, dict[int, dict[str, Any]]] = {}

    @property
    def client(self) -> Client:
        if self._client is None:
            token = os.environ.get(self.settings.token_env, "")
            if not token:
                raise LabelStudioError(
                    f"no Label Studio API token: set {self.settings.token_env}"
                    " (from the Secret named by apiTokenSecretName)"
                )
            try:
                self._client = Client(self.settings.url, token)
            except UnsafeUrl as exc:
                raise StepFailed("UnsafeLabelStudioUrl", str(exc)) from exc
        return self._client

    @classmethod
    def for_run(
        cls, config: RunConfig, manifest_base: str | None, *, client: Client | None = None
    ) -> LabelStudioWorkforce:
        """The provider of a job's run config, its tasks bound to the job's identity."""
        return cls(
            config.workforce,
            config.task_type,
            config.labels,
            JobIdentity.of(config),
            manifest_base,
            client=client,
            access=ObjectAccess.for_config(config),
        )

    # ---------------------------------------------------------------- tasks

    def _batch_tasks(self, project: int, batch_id: str) -> dict[int, dict[str, Any]]:
        found: dict[int, dict[str, Any]] = {}
        for task in self.client.tasks(project):
            meta = (task.get("meta") or {}).get(META_KEY) or {}
            if self.job.owns(task) and meta.get("batch") == batch_id:
                found.setdefault(int(meta["index"]), task)
        return found

    # ---------------------------------------------------------------- submit

    def _task(
        self,
        batch_id: str,
        item: TaskItem,
        data: dict[str, Any],
        size: tuple[int, int, int] | None,
        binding: Binding,
    ) -> dict[str, Any]:
        task: dict[str, Any] = {
            "data": data,
            "meta": {META_KEY: {**self.job.meta(), "batch": batch_id, "index": item.index}},
        }
        if item.prediction is not None:
            task["predictions"] = [
                {
                    "model_version": MODEL_VERSION,
                    "score": float(item.prediction_score or 0.0),
                    "result": to_result(
                        self.task_type,
                        item.prediction,
                        self.labels,
                        size[:2] if size else None,
                        binding,
                    ),
                }
            ]
        return task

    def submit(
        self, batch_id: str, items: list[TaskItem], workers_per_object: int
    ) -> dict[str, Any]:
        project, binding = open_project(
            self.client,
            self.settings,
            self.job,
            self.task_type,
            self.labels,
            workers_per_object,
            title=self.workforce.task_title,
            description=self.workforce.task_description,
        )
        existing = self._batch_tasks(project, batch_id)
        tasks = {str(i): int(t["id"]) for i, t in existing.items()}
        sizes: dict[str, list[int]] = {}
        failed: dict[str, str] = {}
        pending: list[tuple[TaskItem, dict[str, Any]]] = []
        for item in items:
            try:
                shown = task_data(
                    self.task_type, item.record, self.base, self.settings, self.access
                )
            except MediaError as exc:
                failed[str(item.index)] = f"NotShowable: {exc}"
                continue
            if shown.size is not None:
                sizes[str(item.index)] = list(shown.size)
            if str(item.index) not in tasks:
                pending.append((item, self._task(batch_id, item, shown.data, shown.size, binding)))
        for start in range(0, len(pending), IMPORT_CHUNK):
            chunk = pending[start : start + IMPORT_CHUNK]
            ids = self.client.import_tasks(project, [task for _, task in chunk])
            tasks.update({str(item.index): i for (item, _), i in zip(chunk, ids, strict=True)})
        if any(item.prediction is not None for item in items):
            # the UI pre-fills a task with the predictions of the project's model version
            self.client.update_project(project, {"model_version": MODEL_VERSION})
        return {
            "provider": self.name,
            "url": self.settings.url,
            "projectId": project,
            "job": self.job.meta(),
            "batchId": batch_id,
            "submittedAt": time.time(),
            "workersPerObject": workers_per_object,
            "controls": {"control": binding.control, "object": binding.object},
            "tasks": tasks,
            "sizes": sizes,
            "failed": failed,
        }

    # ---------------------------------------------------------------- poll, collect

    def _fetch(self, handle: dict[str, Any]) -> dict[int, dict[str, Any]]:
        """The handle's tasks that are still there and still the job's."""
        # a handle without "job" was recorded before tasks carried namespace and uid
        owner = self.job if "job" in handle else JobIdentity(self.job.name, None, None)
        wanted = set(handle["tasks"].values())
        return {
            int(t["id"]): t
            for t in self.client.tasks(int(handle["projectId"]))
            if int(t["id"]) in wanted and owner.owns(t)
        }

    def _expired(self, handle: dict[str, Any]) -> bool:
        lifetime = self.workforce.task_availability_lifetime_seconds
        return time.time() >= float(handle["submittedAt"]) + lifetime

    @staticmethod
    def _answered(task: dict[str, Any]) -> int:
        return len(task.get("annotations") or [])

    def poll(self, handle: dict[str, Any]) -> BatchStatus:
        tasks = self._fetch(handle)
        overlap = int(handle["workersPerObject"])
        done = sum(
            1
            for i in handle["tasks"].values()
            if i not in tasks or self._answered(tasks[i]) >= overlap
        )
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
                answers.append(
                    Answer(
                        item.index,
                        failure=f"TaskDeleted: task {task_id} is "
                        f"gone from project {handle['projectId']} (deleted, "
                        "or not this job's)",
                    )
                )
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

    def _answer(
        self, item: TaskItem, task: dict[str, Any], size: list[int] | None, handle: dict[str, Any]
    ) -> Answer:
        limit = self.workforce.task_time_limit_seconds
        # a handle without "controls" was recorded before jobs could bring their own config
        binding = (
            Binding(handle["controls"]["control"], handle["controls"]["object"])
            if "controls" in handle
            else default_binding(self.task_type)
        )
        labels, workers, problems, moments = [], [], [], []
        for annotation in sorted(task.get("annotations") or [], key=lambda a: int(a["id"])):
            if annotation.get("was_cancelled"):
                problems.append("Skipped: the worker skipped the task")
                continue
            lead = annotation.get("lead_time")
            if lead is not None and float(lead) > limit:
                problems.append(
                    f"TaskTimeLimitExceeded: answered in {float(lead):.0f} s, "
                    f"the limit is {limit} s"
                )
                continue
            try:
                label = from_result(
                    self.task_type,
                    annotation.get("result") or [],
                    self.labels,
                    (size[0], size[1]) if size else None,
                    binding,
                )
            except ResultError as exc:
                problems.append(f"InvalidAnswer: {exc}")
                continue
            if size is not None and hasattr(label, "depth"):
                label.depth = size[2]
            labels.append(label)
            workers.append(str(annotation.get("completed_by") or annotation["id"]))
            moment = iso_utc(annotation.get("updated_at") or annotation.get("created_at"))
            if moment is not None:
                moments.append(moment)
        if not labels:
            if not problems:
                lifetime = self.workforce.task_availability_lifetime_seconds
                problems.append(
                    f"TaskAvailabilityLifetimeExceeded: not answered within "
                    f"{lifetime} s of {handle['batchId']} being sent"
                )
            return Answer(item.index, failure=problems[-1])
        edited = None
        if item.prediction is not None:
            edited = sum(not same_label(self.task_type, label, item.prediction) for label in labels)
        return Answer(
            item.index,
            labels=labels,
            workers=workers,
            edited=edited,
            answered_at=max(moments, default=None),
        )
