"""Prometheus metrics of the operator.

A LabelingJob's series carry `namespace` and `labelingjob` (not `job`, which Prometheus
gives every scraped series as its scrape job): a handful per LabelingJob, never one per
object. The chart's dashboard and alerts (charts/labelpilot) read them.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from prometheus_client import Counter, Gauge, Histogram, start_http_server

from labelpilot.api.status import Phase
from labelpilot.api.step_summary import StepStatus
from labelpilot.api.steps import Step
from labelpilot.controller.observed import ObservedJob

JOB_LABELS = ["namespace", "labelingjob"]
LABELS = Gauge(
    "labelpilot_labels", "Objects per label source of a LabelingJob", [*JOB_LABELS, "source"]
)
ITERATIONS = Gauge("labelpilot_iteration", "Current iteration of a LabelingJob", JOB_LABELS)
PHASE = Gauge(
    "labelpilot_job_phase",
    "1 for the phase a LabelingJob is in, 0 for the other phases",
    [*JOB_LABELS, "phase"],
)
PROGRESS = Gauge(
    "labelpilot_job_progress_timestamp_seconds",
    "When a LabelingJob last moved (phase, step, iteration, label counters or human "
    "answers changed), Unix time; for a job found at the operator's start, that start",
    JOB_LABELS,
)
HUMAN_QUEUE = Gauge(
    "labelpilot_human_queue_objects",
    "Objects of a LabelingJob's human batch that people have not answered yet",
    JOB_LABELS,
)
HUMAN_QUEUE_MOVED = Gauge(
    "labelpilot_human_queue_change_timestamp_seconds",
    "When a LabelingJob's human queue last changed (a batch sent, an answer came), Unix time",
    JOB_LABELS,
)
STEP_FAILURES = Counter(
    "labelpilot_step_failures_total",
    "Failed Pods of a LabelingJob's step Jobs (each is retried until the Job's backoffLimit)",
    [*JOB_LABELS, "step"],
)
STEP_SECONDS = Histogram(
    "labelpilot_step_duration_seconds",
    "Duration of finished step Jobs",
    ["step"],
    buckets=(1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
)
RECONCILE_SECONDS = Histogram(
    "labelpilot_reconcile_duration_seconds", "Duration of one reconcile of a LabelingJob"
)
RECONCILE_ERRORS = Counter(
    "labelpilot_reconcile_errors_total", "Reconciles that raised an error", ["reason"]
)
DECISION_SECONDS = Histogram(
    "labelpilot_decision_seconds",
    "From a step Job's ending as the operator saw it to the creation of the next Job",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)
JOBS_CREATED = Counter("labelpilot_step_jobs_created_total", "Step Jobs created", ["step"])

# Series that exist from the start at 0, so that a first increase shows in increase().
for _reason in ("Forbidden", "JobRejected", "InvalidSpec"):
    RECONCILE_ERRORS.labels(_reason)
for _step in Step:
    JOBS_CREATED.labels(str(_step))

_SOURCES = {
    "humanLabeled": "human",
    "machineLabeled": "machine",
    "failedNonRetryableError": "failed",
    "unlabeled": "unlabeled",
}


def human_queue(observed: list[ObservedJob]) -> int:
    """Unanswered objects of the latest human round, if it is waiting for people."""
    rounds = [job for job in observed if job.step is Step.HUMAN and not job.deleting]
    if not rounds:
        return 0
    latest = max(rounds, key=lambda job: (job.iteration or 0, job.poll))
    said = latest.summary
    if said is None or said.status is not StepStatus.WAITING:
        return 0
    return max((said.human_batch or 0) - (said.answered or 0), 0)


@dataclass
class _Seen:
    """What the last record of one LabelingJob saw."""

    progress: tuple[object, ...] = ()
    queue: int = -1
    failed_pods: dict[str, int] = field(default_factory=dict)  # step Job -> its failed Pods


class JobSeries:
    """A LabelingJob's series, and what they change from; one per operator process."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._seen: dict[tuple[str, str], _Seen] = {}

    def record(
        self,
        namespace: str,
        name: str,
        status: dict[str, object],
        observed: list[ObservedJob],
        now: float | None = None,
    ) -> None:
        now = time.time() if now is None else now
        counters = status.get("labelCounters") or {}
        assert isinstance(counters, dict)
        for key, source in _SOURCES.items():
            LABELS.labels(namespace, name, source).set(float(counters.get(key) or 0))
        ITERATIONS.labels(namespace, name).set(float(str(status.get("iteration") or 0)))
        phase = str(status.get("phase") or "")
        for each in Phase:
            PHASE.labels(namespace, name, str(each)).set(1.0 if each == phase else 0.0)
        queue = human_queue(observed)
        HUMAN_QUEUE.labels(namespace, name).set(queue)
        progress = (
            phase,
            status.get("currentStep"),
            status.get("iteration"),
            tuple(sorted(counters.items())),
            queue,
        )
        with self._guard:
            first = (namespace, name) not in self._seen
            seen = self._seen.setdefault((namespace, name), _Seen())
            moved, seen.progress = progress != seen.progress, progress
            queue_moved, seen.queue = queue != seen.queue, queue
            failures = self._new_failures(seen, observed, count=not first)
        if moved:
            PROGRESS.labels(namespace, name).set(now)
        if queue_moved:
            HUMAN_QUEUE_MOVED.labels(namespace, name).set(now)
        for step in Step:
            STEP_FAILURES.labels(namespace, name, str(step)).inc(failures.get(step, 0))

    @staticmethod
    def _new_failures(seen: _Seen, observed: list[ObservedJob], count: bool) -> dict[Step, int]:
        """Pods failed since the last record; a job's first record (a new job, or one the
        operator found at its start) only takes note of them."""
        found: dict[Step, int] = {}
        for job in observed:
            before = seen.failed_pods.get(job.name, 0)
            if job.failed_pods > before:
                seen.failed_pods[job.name] = job.failed_pods
                if count:
                    found[job.step] = found.get(job.step, 0) + job.failed_pods - before
        return found

    def forget(self, namespace: str, name: str) -> None:
        """Removes a deleted LabelingJob's series, so that it stops being reported."""
        with self._guard:
            self._seen.pop((namespace, name), None)
        for source in _SOURCES.values():
            LABELS.remove(namespace, name, source)
        for each in Phase:
            PHASE.remove(namespace, name, str(each))
        for step in Step:
            STEP_FAILURES.remove(namespace, name, str(step))
        for gauge in (ITERATIONS, PROGRESS, HUMAN_QUEUE, HUMAN_QUEUE_MOVED):
            gauge.remove(namespace, name)


def serve(port: int) -> None:
    start_http_server(port)
