"""GitOps tools read each phase of a LabelingJob right: kstatus, the library Flux's `wait`
and others judge custom resources with, run for real (hack/kstatus) on statuses that the
operator's own planner and conditions code wrote.

A job still moving reads InProgress, a job at rest as its spec asks (Completed, or Stopped
by `spec.suspend`) Current, a failed or stalled one Failed, and any job whose latest
generation the operator has not yet observed InProgress.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml
from tests import kstatus
from tests.specs import summary

from labelpilot.api.crd import GROUP, KIND, VERSION
from labelpilot.api.spec import LabelingJobSpec
from labelpilot.api.status import LabelingJobStatus, Phase
from labelpilot.api.step_summary import StepSummary
from labelpilot.api.steps import Step
from labelpilot.controller.conditions import Outcome, stalled
from labelpilot.controller.observed import JobState, ObservedJob
from labelpilot.controller.planner import plan
from labelpilot.controller.step_jobs import job_name

NAME = "digits"
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
Spec = dict[str, Any]


def job(
    step: Step, state: JobState, result: StepSummary | None = None, **fields: Any
) -> ObservedJob:
    iteration = 0 if step.iterative else None
    return ObservedJob(
        name=job_name(NAME, step, iteration),
        namespace="team-a",
        step=step,
        iteration=iteration,
        state=state,
        summary=result,
        **fields,
    )


def counters(human: int, unlabeled: int) -> dict[str, int]:
    return {
        "totalLabeled": human,
        "humanLabeled": human,
        "machineLabeled": 0,
        "failedNonRetryableError": 0,
        "unlabeled": unlabeled,
    }


class Run:
    """One LabelingJob reconciled step by step, as the operator does; `object()` is the
    resource as the API server then holds it."""

    def __init__(self, spec_dict: Callable[..., Spec]) -> None:
        self.spec_dict = spec_dict
        self.body: Spec = spec_dict({"autoLabeling": {"enabled": False}})
        self.generation = 1
        self.status: LabelingJobStatus | None = None
        self.now = START

    def edit(self, changes: Spec) -> None:
        """A spec change: the API server moves metadata.generation."""
        self.body = {**self.body, **changes}
        self.generation += 1

    def reconcile(self, *observed: ObservedJob) -> Phase | None:
        self.now += timedelta(seconds=30)
        decision = plan(
            LabelingJobSpec.from_k8s(self.body),
            self.status,
            list(observed),
            self.now,
            generation=self.generation,
        )
        self.status = decision.status
        return self.status.phase

    def object(self) -> Spec:
        assert self.status is not None
        return {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": KIND,
            "metadata": {"name": NAME, "namespace": "team-a", "generation": self.generation},
            "spec": self.body,
            "status": self.status.to_k8s(),
        }


PREPARED = summary(Step.PREPARE, next="human", labelCounters=counters(0, 100))
HUMAN_ACTIVE = job(Step.HUMAN, JobState.ACTIVE)


def initializing(run: Run) -> Phase | None:
    return run.reconcile()


def in_progress(run: Run) -> Phase | None:
    initializing(run)
    return run.reconcile(job(Step.PREPARE, JobState.SUCCEEDED, PREPARED), HUMAN_ACTIVE)


def stopping(run: Run) -> Phase | None:
    in_progress(run)
    run.edit({"suspend": True})
    return run.reconcile(job(Step.PREPARE, JobState.SUCCEEDED, PREPARED), HUMAN_ACTIVE)


def stopped(run: Run) -> Phase | None:
    stopping(run)
    return run.reconcile(job(Step.PREPARE, JobState.SUCCEEDED, PREPARED))


def created_suspended(run: Run) -> Phase | None:
    run.body = {**run.body, "suspend": True}
    return run.reconcile()


def resumed(run: Run) -> Phase | None:
    stopped(run)
    run.edit({"suspend": False})
    return run.reconcile(job(Step.PREPARE, JobState.SUCCEEDED, PREPARED))


def completed(run: Run) -> Phase | None:
    prepared = job(Step.PREPARE, JobState.SUCCEEDED, PREPARED)
    labeled = job(
        Step.HUMAN,
        JobState.SUCCEEDED,
        summary(
            Step.HUMAN,
            0,
            next="export",
            stopReason="AllLabeled",
            labelCounters=counters(100, 0),
            humanBatch=100,
        ),
    )
    exported = job(
        Step.EXPORT,
        JobState.SUCCEEDED,
        summary(
            Step.EXPORT,
            labelCounters=counters(100, 0),
            outputManifestUri="file:///data/out/manifests/output/output.manifest",
        ),
    )
    initializing(run)
    run.reconcile(prepared)
    run.reconcile(prepared, labeled)
    return run.reconcile(prepared, labeled, exported)


def failed(run: Run) -> Phase | None:
    in_progress(run)
    crashed = job(
        Step.HUMAN,
        JobState.FAILED,
        exit_code=1,
        pod="digits-human-x",
        failure_reason="BackoffLimitExceeded",
        container_reason="Error",
    )
    return run.reconcile(job(Step.PREPARE, JobState.SUCCEEDED, PREPARED), crashed)


def forbidden(run: Run) -> Phase | None:
    """The API server refused to create the step's Job: what the reconciler then writes."""
    initializing(run)
    assert run.status is not None
    run.status.conditions = stalled(
        run.status.conditions,
        Outcome("Forbidden", 'jobs.batch is forbidden: cannot create resource "jobs"'),
        run.now,
        run.generation,
    )
    return run.status.phase


def edited_after(scenario: Callable[[Run], Phase | None]) -> Callable[[Run], Phase | None]:
    """`scenario`, then a spec edit the operator has not yet observed."""

    def edited(run: Run) -> Phase | None:
        phase = scenario(run)
        run.edit({"labels": ["0", "1", "2", "3"]})
        return phase

    edited.__name__ = f"{scenario.__name__} then edited"
    return edited


@pytest.mark.parametrize(
    "scenario, phase, expected",
    [
        (initializing, Phase.INITIALIZING, "InProgress"),
        (in_progress, Phase.IN_PROGRESS, "InProgress"),
        (stopping, Phase.STOPPING, "InProgress"),
        (stopped, Phase.STOPPED, "Current"),
        (created_suspended, Phase.STOPPED, "Current"),
        (resumed, Phase.IN_PROGRESS, "InProgress"),
        (completed, Phase.COMPLETED, "Current"),
        (failed, Phase.FAILED, "Failed"),
        (forbidden, Phase.INITIALIZING, "Failed"),
        (edited_after(stopped), Phase.STOPPED, "InProgress"),
        (edited_after(completed), Phase.COMPLETED, "InProgress"),
        (edited_after(in_progress), Phase.IN_PROGRESS, "InProgress"),
    ],
    ids=lambda value: getattr(value, "__name__", str(value)),
)
def test_kstatus_reads_each_phase(spec_dict, scenario, phase, expected):
    run = Run(spec_dict)
    assert scenario(run) is phase
    obj = run.object()
    (result,) = kstatus.read([obj])
    conditions = {c["type"]: c["status"] for c in obj["status"]["conditions"]}
    assert result["status"] == expected, f"{result['message']} ({conditions})"


def test_the_generation_check_is_the_librarys(spec_dict):
    """A lagging observedGeneration is what makes the edited jobs above InProgress."""
    run = Run(spec_dict)
    completed(run)
    current = run.object()
    run.edit({"labels": ["0", "1", "2", "3"]})
    lagging = run.object()
    assert [r["status"] for r in kstatus.read([current, lagging])] == ["Current", "InProgress"]
    assert (
        "generation is 2, but latest observed generation is 1"
        in kstatus.read([lagging])[0]["message"]
    )


def test_the_reader_takes_yaml_documents_and_lists(spec_dict, tmp_path):
    done, moving = Run(spec_dict), Run(spec_dict)
    completed(done)
    in_progress(moving)
    listed = {"apiVersion": "v1", "kind": "List", "items": [done.object(), moving.object()]}
    path = tmp_path / "jobs.yaml"
    path.write_text(f"{yaml.safe_dump(done.object())}---\n---\n{yaml.safe_dump(listed)}")
    result = subprocess.run(
        [str(kstatus.binary()), str(path)], capture_output=True, text=True, timeout=60, check=True
    )
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["status"] for r in lines] == ["Current", "Current", "InProgress"]
    assert {(r["kind"], r["namespace"], r["name"]) for r in lines} == {(KIND, "team-a", NAME)}


def test_the_reader_names_what_it_cannot_read(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("kind: LabelingJob\nmetadata: {generation: 1}\n")
    result = subprocess.run(
        [str(kstatus.binary()), str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"kstatus: {path}: document 1: not an object: kind and metadata.name are required"
    )
