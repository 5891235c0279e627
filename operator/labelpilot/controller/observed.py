"""A child Job as the planner sees it, parsed from the Job and its Pods (plain dicts)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from labelpilot.api.job_labels import LABEL_ITERATION, LABEL_POLL, LABEL_STEP
from labelpilot.api.step_summary import StepStatus, StepSummary, parse_summary
from labelpilot.api.steps import FAILED_EXIT_CODE, Step
from labelpilot.controller.step_jobs import CONTAINER

Obj = dict[str, Any]


class JobState(StrEnum):
    ACTIVE = "Active"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


@dataclass(frozen=True)
class ObservedJob:
    name: str
    step: Step
    iteration: int | None
    state: JobState
    namespace: str | None = None
    shard_count: int = 1
    failure_reason: str | None = None  # the Job's Failed condition: BackoffLimitExceeded, ...
    failure_message: str | None = None
    exit_code: int | None = None  # of the attempt the summary (or the failure) comes from
    # The step's own JSON summary from that attempt. The rest of its termination message
    # (with FallbackToLogsOnError, a log tail) is not kept: it may print secrets.
    summary: StepSummary | None = None
    pod: str | None = None  # where that attempt ran
    container_reason: str | None = None  # how it ended: Error, OOMKilled, ...
    deleting: bool = False
    start_time: datetime | None = None
    completion_time: datetime | None = None
    poll: int = 0  # the human step's polling round
    failed_pods: int = 0  # the Job's status.failed: its Pods that failed (retried or not)

    @property
    def rule_failure(self) -> bool:
        """A rule failed the whole job (exit code 3, podFailurePolicy FailJob)."""
        return self.state is JobState.FAILED and (
            self.exit_code == FAILED_EXIT_CODE
            or self.failure_reason == "PodFailurePolicy"
            or (self.summary is not None and self.summary.status is StepStatus.FAILED)
        )

    @property
    def logs_hint(self) -> str:
        namespace = f" -n {self.namespace}" if self.namespace else ""
        return f"kubectl logs job/{self.name}{namespace}"

    @property
    def pod_logs_hint(self) -> str:
        """The command that shows the log of the attempt the failure comes from."""
        if not self.pod:
            return self.logs_hint
        namespace = f" -n {self.namespace}" if self.namespace else ""
        return f"kubectl logs {self.pod}{namespace}"


def get(obj: Obj | None, key: str) -> Any:
    """`obj[key]` for API JSON (camelCase) or the kubernetes client's to_dict() (snake)."""
    if not obj:
        return None
    if key in obj:
        return obj[key]
    snake = "".join("_" + c.lower() if c.isupper() else c for c in key)
    return obj.get(snake)


def parse_time(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def job_state(job: Obj) -> tuple[JobState, str | None, str | None]:
    """Active until the Job carries a terminal condition (Complete or Failed) set to True."""
    for condition in get(get(job, "status"), "conditions") or []:
        if str(get(condition, "status")) != "True":
            continue
        if get(condition, "type") == "Complete":
            return JobState.SUCCEEDED, None, None
        if get(condition, "type") == "Failed":
            return JobState.FAILED, get(condition, "reason"), get(condition, "message")
    return JobState.ACTIVE, None, None


@dataclass(frozen=True)
class Attempt:
    """One terminated run of the worker container."""

    exit_code: int
    message: str
    finished_at: datetime | None
    pod: str
    reason: str | None = None

    @property
    def sort_key(self) -> tuple[float, str]:
        return (self.finished_at.timestamp() if self.finished_at else 0.0, self.pod)


def attempts(job: Obj, pods: list[Obj]) -> list[Attempt]:
    """The worker container's terminated runs in the Job's Pods, oldest first."""
    metadata = get(job, "metadata") or {}
    uid, name = get(metadata, "uid"), get(metadata, "name")
    found: list[Attempt] = []
    for pod in pods:
        if not _owned(pod, uid, name):
            continue
        pod_name = str(get(get(pod, "metadata"), "name") or "")
        for status in get(get(pod, "status"), "containerStatuses") or []:
            if get(status, "name") not in (CONTAINER, None):
                continue
            for holder in (get(status, "state"), get(status, "lastState")):
                terminated = get(holder, "terminated")
                if terminated and get(terminated, "exitCode") is not None:
                    found.append(
                        Attempt(
                            exit_code=int(get(terminated, "exitCode")),
                            message=str(get(terminated, "message") or ""),
                            finished_at=parse_time(get(terminated, "finishedAt")),
                            pod=pod_name,
                            reason=str(get(terminated, "reason") or "") or None,
                        )
                    )
    return sorted(found, key=lambda a: a.sort_key)


def _owned(pod: Obj, uid: str | None, name: str | None) -> bool:
    metadata = get(pod, "metadata") or {}
    owners = get(metadata, "ownerReferences") or []
    if uid and owners:
        return any(get(o, "uid") == uid for o in owners)
    labels = get(metadata, "labels") or {}
    job_name = labels.get("batch.kubernetes.io/job-name") or labels.get("job-name")
    return job_name is None or job_name == name


def _pick(state: JobState, runs: list[Attempt]) -> Attempt | None:
    """The run whose summary speaks for the Job: for a failure the rule failure (exit 3)
    or else the last crash; for a success the last clean exit; else the latest run."""
    if state is JobState.FAILED:
        rule = [a for a in runs if a.exit_code == FAILED_EXIT_CODE]
        crashes = [a for a in runs if a.exit_code != 0]
        chosen = rule or crashes
    elif state is JobState.SUCCEEDED:
        chosen = [a for a in runs if a.exit_code == 0 and parse_summary(a.message)] or [
            a for a in runs if a.exit_code == 0
        ]
    else:
        chosen = runs
    return chosen[-1] if chosen else None


def observed_from(job: Obj, pods: list[Obj]) -> ObservedJob:
    """Parses a LabelPilot step Job (and the Pods it owns) into an ObservedJob.

    Raises ValueError for a Job without the `labelpilot.dev/step` label."""
    metadata = get(job, "metadata") or {}
    labels = get(metadata, "labels") or {}
    try:
        step = Step(labels[LABEL_STEP])
    except (KeyError, ValueError) as error:
        raise ValueError(f"job {get(metadata, 'name')!r} is not a LabelPilot step job") from error
    raw_iteration = labels.get(LABEL_ITERATION)
    spec = get(job, "spec") or {}
    status = get(job, "status") or {}
    state, reason, message = job_state(job)
    attempt = _pick(state, attempts(job, pods))
    text = attempt.message if attempt else None
    return ObservedJob(
        name=str(get(metadata, "name")),
        namespace=get(metadata, "namespace"),
        step=step,
        iteration=int(raw_iteration) if raw_iteration not in (None, "") else None,
        state=state,
        shard_count=int(get(spec, "completions") or 1),
        failure_reason=reason,
        failure_message=message,
        exit_code=attempt.exit_code if attempt else None,
        summary=parse_summary(text),
        pod=(attempt.pod or None) if attempt else None,
        container_reason=attempt.reason if attempt else None,
        deleting=get(metadata, "deletionTimestamp") is not None,
        start_time=parse_time(get(status, "startTime")),
        completion_time=parse_time(get(status, "completionTime")),
        poll=int(labels.get(LABEL_POLL) or 0),
        failed_pods=int(get(status, "failed") or 0),
    )
