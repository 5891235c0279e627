"""The planner over every phase and failure, without a cluster.

A small simulated worker (`FakeWorker`) answers each created Job with the summary the step
contract describes, so whole runs are driven through `plan` the way the controller will.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tests.specs import summary

from labelpilot.api.spec import LabelingJobSpec
from labelpilot.api.status import (
    FAILURE_REASON_MAX,
    HISTORY_MAX,
    ConditionStatus,
    ConditionType,
    IterationRecord,
    LabelingJobStatus,
    Phase,
)
from labelpilot.api.step_summary import StepSummary, parse_summary
from labelpilot.api.steps import Step
from labelpilot.controller.observed import JobState, ObservedJob
from labelpilot.controller.planner import (
    INVALID_PROFILE,
    JOB_REJECTED,
    NOT_ALLOWED,
    CreateJob,
    Decision,
    DeleteJob,
    failed,
    plan,
)
from labelpilot.controller.step_jobs import job_name

NAME = "mnist"
NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


def make_spec(spec_dict: Any, changes: dict[str, Any] | None = None) -> LabelingJobSpec:
    return LabelingJobSpec.from_k8s(spec_dict(changes))


def job(
    step: Step,
    iteration: int | None = None,
    state: JobState = JobState.SUCCEEDED,
    result: StepSummary | None = None,
    **fields: Any,
) -> ObservedJob:
    it = iteration if step.iterative else None
    return ObservedJob(
        name=job_name(NAME, step, it),
        namespace="ns",
        step=step,
        iteration=it,
        state=state,
        summary=result,
        **fields,
    )


def counters(
    human: int = 0, machine: int = 0, failed_objects: int = 0, unlabeled: int = 0
) -> dict[str, int]:
    return {
        "totalLabeled": human + machine,
        "humanLabeled": human,
        "machineLabeled": machine,
        "failedNonRetryableError": failed_objects,
        "unlabeled": unlabeled,
    }


def condition(status: LabelingJobStatus, kind: ConditionType) -> tuple[str, str]:
    found = status.condition(kind)
    assert found is not None, kind
    return str(found.status), found.reason


def at(decision: Decision) -> tuple[Phase | None, Step | None, int]:
    return decision.status.phase, decision.status.current_step, decision.status.iteration


def started(spec: LabelingJobSpec, step: Step, iteration: int, **status: Any) -> LabelingJobStatus:
    """A status whose current step is `step` at `iteration`, as an earlier plan left it."""
    first = plan(spec, None, [], NOW - timedelta(hours=1), generation=1).status
    return first.model_copy(
        update={"phase": Phase.IN_PROGRESS, "current_step": step, "iteration": iteration, **status}
    )


@dataclass
class FakeWorker:
    """Answers steps like the labeling engine would, on a dataset of `size` objects."""

    size: int
    batch: int
    auto: bool = True
    machine_share: float = 0.5  # of the unlabeled objects auto-labeled per threshold step
    failing: int = 0  # objects that fail in iteration 0
    human: int = 0
    machine: int = 0
    failed_objects: int = 0

    @property
    def unlabeled(self) -> int:
        return self.size - self.human - self.machine - self.failed_objects

    def counters(self) -> dict[str, int]:
        return counters(self.human, self.machine, self.failed_objects, self.unlabeled)

    def run(self, step: Step, iteration: int | None) -> StepSummary:
        if step is Step.PREPARE:
            return summary(step, next="human", labelCounters=self.counters(), seconds=0.5)
        if step is Step.HUMAN:
            sent = min(self.batch, self.unlabeled)
            lost = min(self.failing, sent) if iteration == 0 else 0
            self.failed_objects += lost
            self.human += sent - lost
            nxt = "train" if self.auto else ("human" if self.unlabeled else "export")
            return summary(
                step,
                iteration,
                next=nxt,
                labelCounters=self.counters(),
                humanBatch=sent,
                seconds=2.0,
                stopReason=None if self.unlabeled or self.auto else "AllLabeled",
            )
        if step in (Step.TRAIN, Step.INFER):
            return summary(step, iteration, seconds=3.0)
        if step is Step.THRESHOLD:
            auto = int(self.unlabeled * self.machine_share)
            self.machine += auto
            done = self.unlabeled == 0
            return summary(
                step,
                iteration,
                next="export" if done else "human",
                stopReason="AllLabeled" if done else None,
                labelCounters=self.counters(),
                accuracyBound=0.951,
                threshold=0.8,
                machineLabeledThisIteration=auto,
                seconds=1.0,
            )
        return summary(
            step,
            next=None,
            labelCounters=self.counters(),
            outputManifestUri="file:///data/out/manifests/output/output.manifest",
            finalModelRef="file:///data/out/models/final",
            seconds=1.0,
        )


def drive(
    spec: LabelingJobSpec, worker: FakeWorker, limit: int = 500, story: list[str] | None = None
) -> tuple[Decision, list[CreateJob]]:
    """Runs the planner as the controller would: each created Job finishes with the
    worker's summary before the next reconcile. `story` collects the Events."""
    status: LabelingJobStatus | None = None
    observed: list[ObservedJob] = []
    created: list[CreateJob] = []
    now = NOW
    for _ in range(limit):
        decision = plan(spec, status, observed, now, generation=1)
        status = decision.status
        if story is not None:
            story.extend(f"{e.reason}: {e.message}" for e in decision.events)
        creates = [a for a in decision.actions if isinstance(a, CreateJob)]
        if not creates:
            return decision, created
        assert len(creates) == 1, decision.actions
        (action,) = creates
        created.append(action)
        observed.append(
            job(action.step, action.iteration, result=worker.run(action.step, action.iteration))
        )
        now += timedelta(seconds=10)
    raise AssertionError("the job did not finish")


# --- whole runs -----------------------------------------------------------------------


@pytest.mark.parametrize("size, batch, share", [(1000, 100, 0.5), (300, 100, 0.9), (50, 100, 0.0)])
def test_a_full_run_goes_through_the_loop_and_completes(spec_dict, size, batch, share):
    spec = make_spec(spec_dict)
    worker = FakeWorker(size=size, batch=batch, machine_share=share)
    final, created = drive(spec, worker)
    status = final.status
    assert status.phase is Phase.COMPLETED
    steps = [a.step for a in created]
    assert steps[0] is Step.PREPARE and steps[-1] is Step.EXPORT
    loop = steps[1:-1]
    assert loop == [Step.HUMAN, Step.TRAIN, Step.INFER, Step.THRESHOLD] * (len(loop) // 4)
    iterations = [a.iteration for a in created[1:-1]]
    assert iterations == sorted(iterations)
    assert iterations[-1] == len(loop) // 4 - 1 == status.iteration
    names = [job_name(NAME, a.step, a.iteration) for a in created]
    assert len(set(names)) == len(names)
    c = status.label_counters
    assert c.total_labeled + c.unlabeled + c.failed_non_retryable_error == size
    assert (c.human_labeled, c.machine_labeled) == (worker.human, worker.machine)
    assert c.unlabeled == 0
    assert condition(status, ConditionType.SUCCEEDED) == ("True", "AllLabeled")
    assert condition(status, ConditionType.READY) == ("True", "AllLabeled")
    assert condition(status, ConditionType.RECONCILING)[0] == "False"
    assert condition(status, ConditionType.STALLED)[0] == "False"
    assert condition(status, ConditionType.FAILED)[0] == "False"
    assert status.output_manifest_uri == "file:///data/out/manifests/output/output.manifest"
    assert status.final_model_ref == "file:///data/out/models/final"
    assert status.completion_time is not None and status.start_time is not None
    assert status.completion_time > status.start_time
    assert [r.iteration for r in status.history] == list(range(status.iteration + 1))
    assert sum(r.machine_labeled or 0 for r in status.history) == worker.machine
    assert sum(r.human_batch or 0 for r in status.history) == worker.human
    assert status.accuracy_bound == pytest.approx(0.951)
    assert status.thresholds is not None and status.thresholds.target == 0.95
    assert any(e.reason == "Completed" for e in final.events)


def test_without_auto_labeling_only_humans_label(spec_dict):
    spec = make_spec(spec_dict, {"autoLabeling": {"enabled": False}})
    worker = FakeWorker(size=250, batch=100, auto=False)
    final, created = drive(spec, worker)
    assert final.status.phase is Phase.COMPLETED
    assert [a.step for a in created] == [Step.PREPARE, *[Step.HUMAN] * 3, Step.EXPORT]
    assert [a.iteration for a in created[1:-1]] == [0, 1, 2]
    assert final.status.label_counters.human_labeled == 250
    assert final.status.label_counters.machine_labeled == 0
    assert [r.label_counters.human_labeled for r in final.status.history if r.label_counters] == [
        100,
        200,
        250,
    ]
    assert final.status.thresholds is None


def test_the_run_is_deterministic(spec_dict):
    spec = make_spec(spec_dict)
    first = drive(spec, FakeWorker(size=400, batch=100))
    second = drive(spec, FakeWorker(size=400, batch=100))
    assert first == second


# --- each step ------------------------------------------------------------------------


def test_a_new_job_initializes_and_creates_prepare(spec_dict):
    decision = plan(make_spec(spec_dict), None, [], NOW, generation=3)
    s = decision.status
    assert decision.actions == (CreateJob(Step.PREPARE, None),)
    assert (s.phase, s.current_step, s.iteration) == (Phase.INITIALIZING, Step.PREPARE, 0)
    assert s.start_time == NOW and s.completion_time is None
    assert s.observed_generation == 3
    assert all(c.observed_generation == 3 for c in s.conditions)
    assert {c.type for c in s.conditions} == set(ConditionType)
    assert condition(s, ConditionType.RECONCILING)[0] == "True"
    assert condition(s, ConditionType.READY)[0] == "False"
    assert [e.reason for e in decision.events] == ["StepStarted", "Initializing"]
    assert plan(make_spec(spec_dict), LabelingJobStatus(), [], NOW).actions == decision.actions


def test_an_active_job_is_waited_for(spec_dict):
    spec = make_spec(spec_dict)
    status = plan(spec, None, [], NOW).status
    decision = plan(spec, status, [job(Step.PREPARE, state=JobState.ACTIVE)], NOW)
    assert decision.actions == ()
    assert decision.status.phase is Phase.INITIALIZING
    assert condition(decision.status, ConditionType.RECONCILING) == ("True", "StepRunning")
    assert decision.events == ()


def test_prepare_leads_to_human_zero_with_counters(spec_dict):
    spec = make_spec(spec_dict)
    status = plan(spec, None, [], NOW).status
    done = job(
        Step.PREPARE,
        result=summary(Step.PREPARE, next="human", labelCounters=counters(unlabeled=900)),
    )
    decision = plan(spec, status, [done], NOW)
    assert at(decision) == (Phase.IN_PROGRESS, Step.HUMAN, 0)
    assert decision.actions == (CreateJob(Step.HUMAN, 0),)
    assert decision.status.label_counters.unlabeled == 900
    assert {e.reason for e in decision.events} == {"StepSucceeded", "StepStarted", "InProgress"}


def test_prepare_without_summary_still_goes_on(spec_dict):
    spec = make_spec(spec_dict)
    status = plan(spec, None, [], NOW).status
    assert plan(spec, status, [job(Step.PREPARE)], NOW).actions == (CreateJob(Step.HUMAN, 0),)


@pytest.mark.parametrize(
    "step, result, expected",
    [
        (Step.HUMAN, {"next": "train"}, (Step.TRAIN, 2)),
        (Step.TRAIN, {}, (Step.INFER, 2)),
        (Step.INFER, {}, (Step.THRESHOLD, 2)),
        (Step.THRESHOLD, {"next": "human"}, (Step.HUMAN, 3)),
        (Step.THRESHOLD, {"next": "train"}, (Step.TRAIN, 3)),
        (Step.THRESHOLD, {"next": "export"}, (Step.EXPORT, 2)),
        (Step.HUMAN, {"next": "export"}, (Step.EXPORT, 2)),
    ],
)
def test_next_step_follows_the_summary(spec_dict, step, result, expected):
    spec = make_spec(spec_dict)
    status = started(spec, step, 2)
    decision = plan(spec, status, [job(step, 2, result=summary(step, 2, **result))], NOW)
    next_step, iteration = expected
    assert (decision.status.current_step, decision.status.iteration) == (next_step, iteration)
    assert decision.actions == (CreateJob(next_step, iteration if next_step.iterative else None),)


def test_threshold_records_the_iteration(spec_dict):
    spec = make_spec(spec_dict)
    status = started(spec, Step.THRESHOLD, 1)
    result = summary(
        Step.THRESHOLD,
        1,
        next="human",
        accuracyBound=0.962,
        threshold=0.71,
        machineLabeledThisIteration=321,
        labelCounters=counters(200, 321, 0, 479),
        seconds=4.5,
    )
    decision = plan(spec, status, [job(Step.THRESHOLD, 1, result=result)], NOW)
    s = decision.status
    assert s.accuracy_bound == 0.962
    assert s.thresholds is not None
    assert (s.thresholds.threshold, s.thresholds.accuracy_bound) == (0.71, 0.962)
    (record,) = s.history
    assert (record.iteration, record.machine_labeled, record.accuracy_bound) == (1, 321, 0.962)
    assert record.label_counters is not None and record.label_counters.machine_labeled == 321
    assert record.step_seconds == {"threshold": 4.5}
    assert record.completion_time == NOW


def test_step_seconds_fall_back_to_the_job_times(spec_dict):
    spec = make_spec(spec_dict)
    status = started(spec, Step.TRAIN, 0)
    done = job(Step.TRAIN, 0, start_time=NOW - timedelta(seconds=90), completion_time=NOW)
    (record,) = plan(spec, status, [done], NOW).status.history
    assert record.step_seconds == {"train": 90.0}


def test_export_completes_the_job(spec_dict):
    spec = make_spec(spec_dict)
    status = started(spec, Step.EXPORT, 4, stop_reason="NoProgress")
    result = summary(
        Step.EXPORT,
        labelCounters=counters(400, 500, 10, 90),
        outputManifestUri="file:///data/out/manifests/output/output.manifest",
        finalModelRef="file:///data/out/models/final",
    )
    decision = plan(spec, status, [job(Step.EXPORT, result=result)], NOW)
    s = decision.status
    assert decision.actions == ()
    assert s.phase is Phase.COMPLETED and s.completion_time == NOW
    assert condition(s, ConditionType.SUCCEEDED) == ("True", "NoProgress")
    assert "90 unlabeled" in s.condition(ConditionType.SUCCEEDED).message
    assert s.final_model_ref == "file:///data/out/models/final"


def test_export_without_summary_points_at_the_contract_path(spec_dict):
    spec = make_spec(spec_dict)
    decision = plan(spec, started(spec, Step.EXPORT, 0), [job(Step.EXPORT)], NOW)
    assert decision.status.output_manifest_uri == (
        "file:///data/out/manifests/output/output.manifest"
    )
    assert condition(decision.status, ConditionType.SUCCEEDED) == ("True", "Completed")


def test_a_completed_job_stays_completed(spec_dict):
    spec = make_spec(spec_dict)
    final, created = drive(spec, FakeWorker(size=200, batch=100))
    observed = [job(a.step, a.iteration) for a in created]
    later = plan(spec, final.status, observed, NOW + timedelta(days=1), generation=2)
    assert later.actions == () and later.events == ()
    assert later.status.phase is Phase.COMPLETED
    assert later.status.observed_generation == 2
    assert later.status.model_copy(update={"observed_generation": 1, "conditions": []}) == (
        final.status.model_copy(update={"conditions": []})
    )
    for before, after in zip(final.status.conditions, later.status.conditions, strict=True):
        assert (after.status, after.reason, after.last_transition_time) == (
            before.status,
            before.reason,
            before.last_transition_time,
        )
        assert after.observed_generation == 2


# --- level-based recovery -------------------------------------------------------------


def test_same_inputs_give_the_same_decision(spec_dict):
    spec = make_spec(spec_dict)
    status = started(spec, Step.HUMAN, 1)
    observed = [job(Step.HUMAN, 1, result=summary(Step.HUMAN, 1, next="train"))]
    assert plan(spec, status, observed, NOW) == plan(spec, status, observed, NOW)


def test_a_lost_status_update_is_caught_up_without_duplicates(spec_dict):
    """The operator created train(1) but died before writing status: it still says human."""
    spec = make_spec(spec_dict)
    status = started(spec, Step.HUMAN, 1)
    observed = [
        job(Step.HUMAN, 1, result=summary(Step.HUMAN, 1, next="train")),
        job(Step.TRAIN, 1, state=JobState.ACTIVE),
    ]
    decision = plan(spec, status, observed, NOW)
    assert decision.actions == ()
    assert at(decision) == (Phase.IN_PROGRESS, Step.TRAIN, 1)


def test_several_lost_updates_are_caught_up_in_one_plan(spec_dict):
    spec = make_spec(spec_dict)
    status = started(spec, Step.TRAIN, 0)
    observed = [
        job(Step.TRAIN, 0),
        job(Step.INFER, 0),
        job(Step.THRESHOLD, 0, result=summary(Step.THRESHOLD, 0, next="human")),
        job(Step.HUMAN, 0, result=summary(Step.HUMAN, 0, next="train")),
    ]
    decision = plan(spec, status, observed, NOW)
    assert at(decision) == (Phase.IN_PROGRESS, Step.HUMAN, 1)
    assert decision.actions == (CreateJob(Step.HUMAN, 1),)


def test_a_missing_running_job_is_recreated_under_the_same_name(spec_dict):
    spec = make_spec(spec_dict)
    status = started(spec, Step.TRAIN, 2)
    decision = plan(spec, status, [job(Step.HUMAN, 2)], NOW)
    assert decision.actions == (CreateJob(Step.TRAIN, 2),)
    assert job_name(NAME, Step.TRAIN, 2) == "mnist-i2-train"
    assert at(decision) == (Phase.IN_PROGRESS, Step.TRAIN, 2)


def test_jobs_of_other_iterations_do_not_count(spec_dict):
    spec = make_spec(spec_dict)
    status = started(spec, Step.TRAIN, 2)
    observed = [job(Step.TRAIN, 1), job(Step.TRAIN, 3, state=JobState.FAILED)]
    assert plan(spec, status, observed, NOW).actions == (CreateJob(Step.TRAIN, 2),)


# --- failures ---------------------------------------------------------------------------


def test_a_rule_failure_fails_the_job_with_its_reason(spec_dict):
    spec = make_spec(spec_dict)
    status = started(spec, Step.HUMAN, 0)
    result = parse_summary(
        json.dumps(
            {
                "step": "human",
                "iteration": 0,
                "status": "Failed",
                "reason": "TooManyFailedObjects",
                "message": "14.0% of the 100 objects failed (limit 10%)",
            }
        )
    )
    failing = job(
        Step.HUMAN,
        0,
        state=JobState.FAILED,
        result=result,
        exit_code=3,
        failure_reason="PodFailurePolicy",
        failure_message="exit code 3",
    )
    decision = plan(spec, status, [failing], NOW)
    s = decision.status
    assert decision.actions == ()
    assert s.phase is Phase.FAILED and s.completion_time == NOW
    assert condition(s, ConditionType.FAILED) == ("True", "TooManyFailedObjects")
    assert condition(s, ConditionType.STALLED) == ("True", "TooManyFailedObjects")
    assert condition(s, ConditionType.READY)[0] == "False"
    assert condition(s, ConditionType.RECONCILING)[0] == "False"
    assert "14.0% of the 100 objects failed" in s.condition(ConditionType.FAILED).message
    assert "human (iteration 0)" in s.condition(ConditionType.FAILED).message
    assert s.failure_reason == (
        "TooManyFailedObjects: human (iteration 0): 14.0% of the 100 objects failed (limit 10%)"
    )
    (event,) = decision.events
    assert (event.type, event.reason) == ("Warning", "TooManyFailedObjects")


def test_a_rule_failure_without_summary_still_fails_at_once(spec_dict):
    spec = make_spec(spec_dict)
    status = plan(spec, None, [], NOW).status
    failing = job(
        Step.PREPARE,
        state=JobState.FAILED,
        failure_reason="PodFailurePolicy",
        failure_message="Container worker failed with exit code 3",
    )
    s = plan(spec, status, [failing], NOW).status
    assert condition(s, ConditionType.FAILED) == ("True", "StepRuleFailed")
    assert "exit code 3" in s.condition(ConditionType.FAILED).message


def test_a_crash_after_backoff_names_step_reason_exit_code_and_pod(spec_dict):
    spec = make_spec(spec_dict)
    status = started(spec, Step.TRAIN, 3)
    crashing = job(
        Step.TRAIN,
        3,
        state=JobState.FAILED,
        exit_code=137,
        container_reason="OOMKilled",
        pod="mnist-i3-train-x7k2p",
        failure_reason="BackoffLimitExceeded",
        failure_message="Job has reached the specified backoff limit",
    )
    decision = plan(spec, status, [crashing], NOW)
    failure = decision.status.condition(ConditionType.FAILED)
    assert failure is not None and failure.status is ConditionStatus.TRUE
    assert failure.reason == "StepFailed"
    for part in (
        "train (iteration 3)",
        "BackoffLimitExceeded",
        "exit code 137 (OOMKilled)",
        "in pod mnist-i3-train-x7k2p",
        "no step summary",
        "kubectl logs mnist-i3-train-x7k2p -n ns",
    ):
        assert part in failure.message
    assert decision.status.phase is Phase.FAILED


def _failed_pod(job_name_: str, message: str, exit_code: int) -> dict[str, Any]:
    return {
        "metadata": {"name": f"{job_name_}-x7k2p", "ownerReferences": [{"uid": "j"}]},
        "status": {
            "containerStatuses": [
                {
                    "name": "worker",
                    "state": {
                        "terminated": {
                            "exitCode": exit_code,
                            "reason": "Error",
                            "message": message,
                            "finishedAt": "2025-03-01T12:00:29Z",
                        }
                    },
                }
            ]
        },
    }


def _failed_job(job_name_: str, step: Step, reason: str) -> dict[str, Any]:
    return {
        "metadata": {
            "name": job_name_,
            "namespace": "ns",
            "uid": "j",
            "labels": {"labelpilot.dev/step": str(step), "labelpilot.dev/iteration": "0"},
        },
        "status": {
            "conditions": [
                {"type": "Failed", "status": "True", "reason": reason, "message": "the Job failed"}
            ]
        },
    }


SECRET_LOG = (
    "connecting to postgresql://app:hunter2@db:5432/labels\n"
    "PGPASSWORD=hunter2 psql -c 'select 1'\n"
    "curl -H 'Authorization: Bearer hunter2hunter2' https://x\nTraceback ..."
)


@pytest.mark.parametrize(
    "step, exit_code, reason, message",
    [
        # a crash whose termination message is a log tail (FallbackToLogsOnError)
        (Step.TRAIN, 1, "BackoffLimitExceeded", SECRET_LOG),
        # a crash whose summary quotes a connection string
        (
            Step.TRAIN,
            1,
            "BackoffLimitExceeded",
            json.dumps(
                {
                    "step": "train",
                    "status": "Error",
                    "message": (
                        "OperationalError: postgresql://app:hunter2@db failed; PGPASSWORD=hunter2"
                    ),
                }
            ),
        ),
        # a rule failure whose summary quotes a token
        (
            Step.HUMAN,
            3,
            "PodFailurePolicy",
            json.dumps(
                {
                    "step": "human",
                    "status": "Failed",
                    "reason": "WorkforceUnreachable",
                    "message": "401 from https://studio: Authorization: Token hunter2hunter2",
                }
            ),
        ),
    ],
)
def test_no_secret_a_step_printed_reaches_status_or_events(
    spec_dict, step, exit_code, reason, message
):
    from labelpilot.controller.observed import observed_from

    spec = make_spec(spec_dict)
    name = job_name(NAME, step, 0)
    observed = observed_from(
        _failed_job(name, step, reason), [_failed_pod(name, message, exit_code)]
    )
    decision = plan(spec, started(spec, step, 0), [observed], NOW)
    failure = decision.status.condition(ConditionType.FAILED)
    assert decision.status.phase is Phase.FAILED and failure is not None
    said = [failure.message, *(e.message for e in decision.events)]
    assert not [text for text in said if "hunter2" in text], said
    assert "Traceback" not in failure.message
    if exit_code != 3:  # a crash points at the pod's log; a rule failure is the step's word
        assert f"kubectl logs {name}-x7k2p -n ns" in failure.message


def test_a_log_tail_an_older_operator_wrote_is_dropped_from_the_status(spec_dict):
    spec = make_spec(spec_dict)
    crashing = job(
        Step.TRAIN,
        3,
        state=JobState.FAILED,
        exit_code=1,
        pod="p",
        failure_reason="BackoffLimitExceeded",
    )
    first = plan(spec, started(spec, Step.TRAIN, 3), [crashing], NOW).status
    old = (
        "train (iteration 3) failed: BackoffLimitExceeded: Job has reached the specified "
        "backoff limit; last exit code 1; last output: PGPASSWORD=hunter2\nstill; logs: "
        "x\nTraceback; logs: kubectl logs job/mnist-i3-train -n ns"
    )
    written = first.to_k8s()
    for condition_ in written["conditions"]:
        condition_["message"] = old
    later = plan(spec, LabelingJobStatus.from_k8s(written), [crashing], NOW, generation=2)
    failure = later.status.condition(ConditionType.FAILED)
    assert failure is not None and failure.message == (
        "train (iteration 3) failed: BackoffLimitExceeded: Job has reached the specified "
        "backoff limit; last exit code 1; logs: kubectl logs job/mnist-i3-train -n ns"
    )
    assert later.events == ()


def test_a_long_step_message_is_bounded(spec_dict):
    spec = make_spec(spec_dict)
    result = parse_summary(json.dumps({"step": "train", "status": "Error", "message": "x" * 3000}))
    crashing = job(
        Step.TRAIN,
        0,
        state=JobState.FAILED,
        result=result,
        exit_code=1,
        pod="p",
        failure_reason="BackoffLimitExceeded",
    )
    failure = plan(spec, started(spec, Step.TRAIN, 0), [crashing], NOW).status.condition(
        ConditionType.FAILED
    )
    assert failure is not None and "the step said: xxx" in failure.message
    assert len(failure.message) < 1000 and failure.message.endswith("kubectl logs p -n ns")


def test_a_failed_job_stays_failed(spec_dict):
    spec = make_spec(spec_dict)
    crashing = job(Step.TRAIN, 3, state=JobState.FAILED, failure_reason="DeadlineExceeded")
    first = plan(spec, started(spec, Step.TRAIN, 3), [crashing], NOW)
    later = plan(spec, first.status, [crashing], NOW + timedelta(hours=1), generation=5)
    assert later.actions == () and later.events == ()
    assert later.status.phase is Phase.FAILED
    assert later.status.observed_generation == 5
    assert condition(later.status, ConditionType.FAILED) == ("True", "StepFailed")
    assert later.status.condition(ConditionType.FAILED).last_transition_time == NOW


@pytest.mark.parametrize(
    "step, result, reason",
    [
        (Step.THRESHOLD, None, "SummaryMissing"),
        (Step.THRESHOLD, {"next": "infer"}, "InvalidSummary"),
        (Step.PREPARE, {"next": "threshold"}, "InvalidSummary"),
    ],
)
def test_an_unusable_summary_fails_the_job(spec_dict, step, result, reason):
    spec = make_spec(spec_dict)
    status = started(spec, step, 0)
    parsed = summary(step, 0, **result) if result is not None else None
    decision = plan(spec, status, [job(step, 0, result=parsed)], NOW)
    assert decision.status.phase is Phase.FAILED
    assert condition(decision.status, ConditionType.FAILED) == ("True", reason)
    assert "kubectl logs job/" in decision.status.condition(ConditionType.FAILED).message


def test_human_without_summary_needs_one_only_without_auto_labeling(spec_dict):
    spec = make_spec(spec_dict)
    assert plan(spec, started(spec, Step.HUMAN, 0), [job(Step.HUMAN, 0)], NOW).actions == (
        CreateJob(Step.TRAIN, 0),
    )
    manual = make_spec(spec_dict, {"autoLabeling": {"enabled": False}})
    decision = plan(manual, started(manual, Step.HUMAN, 0), [job(Step.HUMAN, 0)], NOW)
    assert condition(decision.status, ConditionType.FAILED) == ("True", "SummaryMissing")


def test_failed_helper_fails_a_running_job_once(spec_dict):
    spec = make_spec(spec_dict)
    decision = failed(spec, None, NOW, "InvalidResources", "unknown profile 'x'", generation=1)
    assert decision.status.phase is Phase.FAILED
    assert condition(decision.status, ConditionType.FAILED) == ("True", "InvalidResources")
    assert decision.status.start_time == NOW
    again = failed(spec, decision.status, NOW + timedelta(minutes=1), "Other", "x")
    assert condition(again.status, ConditionType.FAILED) == ("True", "InvalidResources")
    assert again.events == ()


@pytest.mark.parametrize("reason", [JOB_REJECTED, INVALID_PROFILE, NOT_ALLOWED])
def test_a_spec_failure_is_retried_once_the_spec_changes(spec_dict, reason):
    spec = make_spec(spec_dict)
    first = plan(spec, None, [], NOW, generation=1)
    rejected = failed(spec, first.status, NOW, reason, "spec.x is invalid", generation=1)
    assert rejected.status.phase is Phase.FAILED
    assert condition(rejected.status, ConditionType.FAILED) == ("True", reason)
    assert [(e.type, e.reason) for e in rejected.events] == [("Warning", reason)]

    same = plan(spec, rejected.status, [], NOW + timedelta(minutes=1), generation=1)
    assert same.actions == () and same.events == ()
    assert same.status.phase is Phase.FAILED

    edited = plan(spec, rejected.status, [], NOW + timedelta(minutes=2), generation=2)
    assert edited.actions == (CreateJob(Step.PREPARE, None),)
    assert edited.status.phase is Phase.INITIALIZING
    assert edited.status.completion_time is None
    assert rejected.status.failure_reason == f"{reason}: spec.x is invalid"
    assert edited.status.failure_reason is None
    assert condition(edited.status, ConditionType.FAILED) == ("False", "StepStarting")
    assert condition(edited.status, ConditionType.RECONCILING) == ("True", "StepStarting")
    assert [e.reason for e in edited.events] == ["StepStarted", "Retrying"]

    again = failed(
        spec, rejected.status, NOW + timedelta(minutes=2), reason, "spec.y is invalid", generation=2
    )
    assert again.status.phase is Phase.FAILED and again.status.observed_generation == 2
    assert "spec.y" in again.status.condition(ConditionType.FAILED).message
    assert [(e.type, e.reason) for e in again.events] == [("Warning", reason)]
    settled = plan(spec, again.status, [], NOW + timedelta(minutes=3), generation=2)
    assert settled.actions == () and settled.status.phase is Phase.FAILED


def test_a_spec_failure_keeps_the_steps_already_done(spec_dict):
    spec = make_spec(spec_dict)
    status = started(spec, Step.TRAIN, 2, observed_generation=4)
    rejected = failed(spec, status, NOW, JOB_REJECTED, "nodeSelector", generation=4)
    edited = plan(spec, rejected.status, [job(Step.TRAIN, 1)], NOW, generation=5)
    assert edited.actions == (CreateJob(Step.TRAIN, 2),)
    assert edited.status.phase is Phase.IN_PROGRESS


# --- stopping conditions ----------------------------------------------------------------


def test_the_human_budget_ends_the_loop_at_the_next_human_step(spec_dict):
    spec = make_spec(spec_dict, {"stoppingConditions": {"maxHumanLabeledObjectCount": 200}})
    worker = FakeWorker(size=1000, batch=100, machine_share=0.1)
    final, created = drive(spec, worker)
    s = final.status
    assert s.phase is Phase.COMPLETED
    assert s.stop_reason == "MaxHumanLabeled"
    assert condition(s, ConditionType.SUCCEEDED) == ("True", "MaxHumanLabeled")
    assert [a.step for a in created].count(Step.HUMAN) == 2
    assert created[-2].step is Step.THRESHOLD  # the last iteration still auto-labeled
    c = s.label_counters
    assert c.human_labeled == 200 and c.unlabeled > 0
    assert c.total_labeled + c.unlabeled + c.failed_non_retryable_error == 1000


def test_the_human_budget_does_not_skip_training(spec_dict):
    spec = make_spec(spec_dict, {"stoppingConditions": {"maxHumanLabeledObjectCount": 100}})
    status = started(spec, Step.HUMAN, 0)
    done = job(
        Step.HUMAN,
        0,
        result=summary(Step.HUMAN, 0, next="train", labelCounters=counters(100, 0, 0, 900)),
    )
    assert plan(spec, status, [done], NOW).actions == (CreateJob(Step.TRAIN, 0),)


def test_the_labeled_share_ends_the_loop(spec_dict):
    spec = make_spec(spec_dict, {"stoppingConditions": {"maxPercentageOfInputDatasetLabeled": 50}})
    status = started(spec, Step.HUMAN, 3)
    done = job(
        Step.HUMAN,
        3,
        result=summary(Step.HUMAN, 3, next="train", labelCounters=counters(300, 220, 0, 480)),
    )
    decision = plan(spec, status, [done], NOW)
    assert decision.actions == (CreateJob(Step.EXPORT, None),)
    assert decision.status.stop_reason == "MaxPercentageLabeled"


def test_a_stop_reason_from_the_worker_is_kept(spec_dict):
    spec = make_spec(spec_dict)
    status = started(spec, Step.THRESHOLD, 5)
    done = job(
        Step.THRESHOLD, 5, result=summary(Step.THRESHOLD, 5, next="export", stopReason="NoProgress")
    )
    decision = plan(spec, status, [done], NOW)
    assert decision.status.stop_reason == "NoProgress"
    final = plan(spec, decision.status, [done, job(Step.EXPORT)], NOW)
    assert condition(final.status, ConditionType.SUCCEEDED) == ("True", "NoProgress")


# --- suspend and resume -----------------------------------------------------------------


def test_suspend_deletes_the_running_job_then_stops(spec_dict):
    running = make_spec(spec_dict)
    suspended = make_spec(spec_dict, {"suspend": True})
    status = started(running, Step.TRAIN, 1)
    active = job(Step.TRAIN, 1, state=JobState.ACTIVE)

    stopping = plan(suspended, status, [active], NOW)
    assert stopping.status.phase is Phase.STOPPING
    assert stopping.actions == (DeleteJob("mnist-i1-train"),)
    assert condition(stopping.status, ConditionType.RECONCILING) == ("True", "Stopping")
    assert [e.reason for e in stopping.events] == ["Stopping"]

    going = plan(suspended, stopping.status, [replace(active, deleting=True)], NOW)
    assert going.status.phase is Phase.STOPPING and going.actions == ()

    stopped = plan(suspended, going.status, [], NOW)
    assert stopped.status.phase is Phase.STOPPED and stopped.actions == ()
    assert (stopped.status.current_step, stopped.status.iteration) == (Step.TRAIN, 1)
    assert condition(stopped.status, ConditionType.READY) == ("True", "Suspended")
    assert condition(stopped.status, ConditionType.RECONCILING) == ("False", "Suspended")
    assert condition(stopped.status, ConditionType.STALLED)[0] == "False"
    assert [e.reason for e in stopped.events] == ["Stopped"]
    assert plan(suspended, stopped.status, [], NOW).events == ()

    resumed = plan(running, stopped.status, [], NOW)
    assert resumed.actions == (CreateJob(Step.TRAIN, 1),)
    assert resumed.status.phase is Phase.IN_PROGRESS
    assert [e.reason for e in resumed.events] == ["StepStarted", "Resumed"]


def test_resume_waits_until_the_deleted_job_is_gone(spec_dict):
    running = make_spec(spec_dict)
    status = started(running, Step.INFER, 0, phase=Phase.STOPPING)
    leaving = job(Step.INFER, 0, state=JobState.ACTIVE, deleting=True)
    decision = plan(running, status, [leaving], NOW)
    assert decision.actions == ()
    assert condition(decision.status, ConditionType.RECONCILING) == ("True", "WaitingForDeletion")


def test_a_job_that_finishes_while_stopping_is_kept(spec_dict):
    suspended = make_spec(spec_dict, {"suspend": True})
    status = started(suspended, Step.HUMAN, 2, phase=Phase.STOPPING)
    done = job(
        Step.HUMAN,
        2,
        result=summary(Step.HUMAN, 2, next="train", labelCounters=counters(300, 0, 0, 700)),
    )
    decision = plan(suspended, status, [done], NOW)
    assert decision.actions == ()
    assert at(decision) == (Phase.STOPPED, Step.TRAIN, 2)
    assert decision.status.label_counters.human_labeled == 300


def test_a_crash_caused_by_stopping_is_not_a_failure(spec_dict):
    suspended = make_spec(spec_dict, {"suspend": True})
    status = started(suspended, Step.TRAIN, 0, phase=Phase.STOPPING)
    killed = job(
        Step.TRAIN,
        0,
        state=JobState.FAILED,
        deleting=True,
        exit_code=143,
        failure_reason="BackoffLimitExceeded",
    )
    assert plan(suspended, status, [killed], NOW).status.phase is Phase.STOPPING


def test_a_job_created_suspended_waits_before_prepare(spec_dict):
    suspended = make_spec(spec_dict, {"suspend": True})
    decision = plan(suspended, None, [], NOW)
    assert decision.actions == ()
    assert at(decision) == (Phase.STOPPED, Step.PREPARE, 0)
    resumed = plan(make_spec(spec_dict), decision.status, [], NOW)
    assert resumed.actions == (CreateJob(Step.PREPARE, None),)
    assert resumed.status.phase is Phase.INITIALIZING


def test_suspend_between_steps_stops_at_once(spec_dict):
    suspended = make_spec(spec_dict, {"suspend": True})
    decision = plan(suspended, started(suspended, Step.THRESHOLD, 4), [job(Step.INFER, 4)], NOW)
    assert decision.actions == ()
    assert decision.status.phase is Phase.STOPPED


def test_suspend_does_not_undo_a_terminal_phase(spec_dict):
    spec = make_spec(spec_dict)
    final, created = drive(spec, FakeWorker(size=100, batch=100))
    suspended = make_spec(spec_dict, {"suspend": True})
    observed = [job(a.step, a.iteration) for a in created]
    assert plan(suspended, final.status, observed, NOW).status.phase is Phase.COMPLETED


# --- spec changes, conditions, history ---------------------------------------------------


def test_a_spec_change_is_acknowledged(spec_dict):
    spec = make_spec(spec_dict)
    status = plan(
        spec,
        started(spec, Step.TRAIN, 0),
        [job(Step.TRAIN, 0, state=JobState.ACTIVE)],
        NOW,
        generation=1,
    ).status
    changed = make_spec(spec_dict, {"stoppingConditions": {"maxHumanLabeledObjectCount": 10}})
    later = NOW + timedelta(minutes=5)
    decision = plan(
        changed, status, [job(Step.TRAIN, 0, state=JobState.ACTIVE)], later, generation=2
    )
    assert decision.status.observed_generation == 2
    assert all(c.observed_generation == 2 for c in decision.status.conditions)
    times = [c.last_transition_time for c in status.conditions]
    assert [c.last_transition_time for c in decision.status.conditions] == times
    assert decision.actions == ()


def test_conditions_keep_their_transition_time_while_unchanged(spec_dict):
    spec = make_spec(spec_dict)
    first = plan(spec, None, [], NOW)
    second = plan(
        spec, first.status, [job(Step.PREPARE, state=JobState.ACTIVE)], NOW + timedelta(minutes=1)
    )
    for before, after in zip(first.status.conditions, second.status.conditions, strict=True):
        assert after.last_transition_time == before.last_transition_time
    crashed = job(Step.PREPARE, state=JobState.FAILED, failure_reason="BackoffLimitExceeded")
    third = plan(spec, second.status, [crashed], NOW + timedelta(minutes=2))
    changed = {
        c.type
        for c in third.status.conditions
        if c.last_transition_time == NOW + timedelta(minutes=2)
    }
    assert changed == {ConditionType.RECONCILING, ConditionType.STALLED, ConditionType.FAILED}


def test_history_is_bounded(spec_dict):
    spec = make_spec(spec_dict)
    history = [IterationRecord(iteration=i) for i in range(HISTORY_MAX)]
    status = started(spec, Step.THRESHOLD, HISTORY_MAX, history=history)
    done = job(
        Step.THRESHOLD, HISTORY_MAX, result=summary(Step.THRESHOLD, HISTORY_MAX, next="human")
    )
    s = plan(spec, status, [done], NOW).status
    assert len(s.history) == HISTORY_MAX
    assert [r.iteration for r in s.history] == list(range(1, HISTORY_MAX + 1))


def test_status_survives_a_round_trip_through_the_api(spec_dict):
    spec = make_spec(spec_dict)
    final, created = drive(spec, FakeWorker(size=300, batch=100))
    body = json.loads(json.dumps(final.status_body()))
    restored = LabelingJobStatus.from_k8s(body)
    assert restored == final.status
    observed = [job(a.step, a.iteration) for a in created]
    assert plan(spec, restored, observed, NOW).actions == ()


def test_times_are_whole_seconds_in_utc(spec_dict):
    spec = make_spec(spec_dict)
    naive = datetime(2025, 3, 1, 12, 0, 0, 654321)
    status = plan(spec, None, [], naive).status
    assert status.start_time == NOW
    assert all(c.last_transition_time == NOW for c in status.conditions)


def waiting_job(
    poll: int, ended: datetime, answered: str = "3 of 10 objects answered"
) -> ObservedJob:
    result = summary(Step.HUMAN, 0, status="Waiting", message=answered)
    return replace(
        job(Step.HUMAN, 0, result=result),
        name=job_name(NAME, Step.HUMAN, 0, poll),
        poll=poll,
        completion_time=ended,
    )


def test_a_human_step_waiting_for_people_is_polled_after_the_interval(spec_dict):
    spec = make_spec(spec_dict)
    interval = spec.human_task_config.poll_interval_seconds
    status = started(spec, Step.HUMAN, 0)
    soon = plan(spec, status, [waiting_job(0, NOW)], NOW + timedelta(seconds=interval - 1))
    assert soon.actions == ()
    assert soon.status.phase is Phase.IN_PROGRESS and soon.status.current_step is Step.HUMAN
    assert condition(soon.status, ConditionType.RECONCILING) == ("True", "WaitingForHumans")
    assert "3 of 10 objects answered" in soon.status.condition(ConditionType.RECONCILING).message
    later = plan(spec, status, [waiting_job(0, NOW)], NOW + timedelta(seconds=interval))
    assert later.actions == (CreateJob(Step.HUMAN, 0, 1),)
    # the next round: its predecessor goes, and the round after it is numbered on
    rounds = [waiting_job(0, NOW), waiting_job(1, NOW + timedelta(seconds=interval))]
    third = plan(spec, status, rounds, NOW + timedelta(seconds=3 * interval))
    assert third.actions == (
        CreateJob(Step.HUMAN, 0, 2),
        DeleteJob(job_name(NAME, Step.HUMAN, 0, 0)),
    )


def test_the_last_round_that_collects_the_answers_moves_on(spec_dict):
    spec = make_spec(spec_dict)
    status = started(spec, Step.HUMAN, 0)
    done = replace(
        job(
            Step.HUMAN,
            0,
            result=summary(Step.HUMAN, 0, next="train", labelCounters=counters(10, 0, 0, 90)),
        ),
        name=job_name(NAME, Step.HUMAN, 0, 2),
        poll=2,
    )
    decision = plan(spec, status, [waiting_job(1, NOW), done], NOW + timedelta(hours=1))
    assert at(decision)[1:] == (Step.TRAIN, 0)
    assert decision.actions == (CreateJob(Step.TRAIN, 0),)
    assert decision.status.label_counters.human_labeled == 10


def test_suspend_while_people_work_stops_and_resume_polls_again(spec_dict):
    status = started(make_spec(spec_dict), Step.HUMAN, 0)
    suspended = plan(
        make_spec(spec_dict, {"suspend": True}),
        status,
        [waiting_job(0, NOW)],
        NOW + timedelta(hours=1),
    )
    assert suspended.status.phase is Phase.STOPPED and suspended.actions == ()
    resumed = plan(
        make_spec(spec_dict), suspended.status, [waiting_job(0, NOW)], NOW + timedelta(hours=2)
    )
    assert resumed.actions == (CreateJob(Step.HUMAN, 0, 1),)
    assert resumed.status.phase is Phase.IN_PROGRESS


def test_progress_names_the_step_its_start_and_what_people_answered(spec_dict):
    spec = make_spec(spec_dict)
    new = plan(spec, None, [], NOW).status
    assert new.progress is not None and new.progress.message == "prepare: starting"
    running = replace(job(Step.PREPARE, state=JobState.ACTIVE), start_time=NOW)
    progress = plan(spec, new, [running], NOW).status.progress
    assert (progress.step, progress.since, progress.message) == (
        Step.PREPARE,
        NOW,
        "prepare: running",
    )
    status = started(spec, Step.HUMAN, 0)
    polled = replace(
        waiting_job(0, NOW),
        summary=summary(Step.HUMAN, 0, status="Waiting", answered=120, humanBatch=440),
        start_time=NOW,
    )
    waiting = plan(spec, status, [polled], NOW + timedelta(seconds=1)).status
    answered = waiting.progress
    assert (answered.done, answered.total, answered.unit) == (120, 440, "objects answered")
    assert answered.message == "human iteration 0: 120/440 objects answered (27%)"
    # the next round runs: the last count holds, with the step's first start
    later = NOW + timedelta(minutes=5)
    next_round = replace(
        job(Step.HUMAN, 0, state=JobState.ACTIVE),
        name=job_name(NAME, Step.HUMAN, 0, 1),
        poll=1,
        start_time=later,
    )
    holding = plan(spec, waiting, [polled, next_round], later).status.progress
    assert holding == answered


def test_a_job_at_rest_shows_no_progress(spec_dict):
    spec = make_spec(spec_dict)
    status = plan(spec, None, [], NOW).status
    assert status.progress is not None
    gone = failed(spec, status, NOW, "JobRejected", "refused").status
    assert gone.phase is Phase.FAILED and gone.progress is None
    stopped = plan(
        make_spec(spec_dict, {"suspend": True}),
        started(spec, Step.HUMAN, 0),
        [waiting_job(0, NOW)],
        NOW + timedelta(hours=1),
    ).status
    assert stopped.phase is Phase.STOPPED and stopped.progress is None


def test_the_events_tell_each_step_with_its_counts_and_the_threshold_chosen(spec_dict):
    story: list[str] = []
    drive(make_spec(spec_dict), FakeWorker(size=1000, batch=100), story=story)
    assert story[:6] == [
        "StepStarted: prepare started",
        "Initializing: prepare starting",
        "StepSucceeded: prepare succeeded in 0.5 s: validation set 0 objects; so far human 0, "
        "machine 0, failed 0, unlabeled 1,000",
        "StepStarted: human (iteration 0) started",
        "InProgress: human (iteration 0) starting",
        "StepSucceeded: human (iteration 0) succeeded in 2.0 s: 100 objects sent; so far "
        "human 100, machine 0, failed 0, unlabeled 900",
    ]
    assert (
        "StepSucceeded: threshold (iteration 0) succeeded in 1.0 s: machine-labeled 450 with "
        "accuracy >= 0.9510 (threshold 0.8000); so far human 100, machine 450, failed 0, "
        "unlabeled 450"
    ) in story
    starts = [line for line in story if line.startswith("StepStarted")]
    ends = [line for line in story if line.startswith("StepSucceeded")]
    assert len(starts) == len(ends) and starts[-1] == "StepStarted: export started"
    assert story[-1].startswith("Completed: AllLabeled")


def test_failure_reason_is_one_redacted_line_within_ground_truths_length(spec_dict):
    spec = make_spec(spec_dict)
    started_ = plan(spec, None, [], NOW, generation=1)
    assert started_.status.failure_reason is None
    long = "the server said:\n PGPASSWORD=hunter2 " + "x" * 2000
    decision = failed(spec, started_.status, NOW, JOB_REJECTED, long, generation=1)
    reason = decision.status.failure_reason
    assert reason is not None and reason.startswith("JobRejected: the server said: PGPASSWORD=")
    assert "hunter2" not in reason and "\n" not in reason
    assert len(reason) <= FAILURE_REASON_MAX
    assert LabelingJobStatus.from_k8s(decision.status_body()).failure_reason == reason


def test_a_job_that_failed_before_failure_reason_existed_gets_it_from_its_condition(spec_dict):
    spec = make_spec(spec_dict)
    first = plan(spec, None, [], NOW, generation=1)
    rejected = failed(spec, first.status, NOW, INVALID_PROFILE, "no profile z9", generation=1)
    older = rejected.status.model_copy(update={"failure_reason": None})
    again = plan(spec, older, [], NOW + timedelta(minutes=1), generation=1)
    assert again.status.failure_reason == "InvalidProfile: no profile z9"
    assert again.events == ()
