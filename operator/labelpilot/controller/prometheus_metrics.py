"""Prometheus metrics of the operator."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

LABELS = Gauge(
    "labelpilot_labels", "Objects per label source of a LabelingJob", ["namespace", "job", "source"]
)
ITERATIONS = Gauge(
    "labelpilot_iteration", "Current iteration of a LabelingJob", ["namespace", "job"]
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

_SOURCES = {
    "humanLabeled": "human",
    "machineLabeled": "machine",
    "failedNonRetryableError": "failed",
    "unlabeled": "unlabeled",
}


def record_status(namespace: str, name: str, status: dict[str, object]) -> None:
    counters = status.get("labelCounters") or {}
    assert isinstance(counters, dict)
    for key, source in _SOURCES.items():
        LABELS.labels(namespace, name, source).set(float(counters.get(key) or 0))
    ITERATIONS.labels(namespace, name).set(float(str(status.get("iteration") or 0)))


def forget(namespace: str, name: str) -> None:
    """Removes a deleted LabelingJob's series, so that it stops being reported."""
    for source in _SOURCES.values():
        LABELS.remove(namespace, name, source)
    ITERATIONS.remove(namespace, name)


def serve(port: int) -> None:
    start_http_server(port)
