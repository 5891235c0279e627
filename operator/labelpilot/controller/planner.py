"""The pure decision: (spec, status, observed child Jobs, now) -> actions and the new status.

Level-based: the same inputs give the same decision, and everything it needs is in the
LabelingJob's status and the child Jobs, so an operator restart re-derives the next action.

The state is `status.currentStep` at `status.iteration`: the step whose Job should exist.
- Its Job is missing: create it (deterministic name; an AlreadyExists answer means done).
  This also recreates a Job that status says was running but that someone deleted.
- Its Job is active: wait.
- Its Job succeeded: take its summary (counters, `next`), move to the next step, and look
  again (the next Job may already exist when a status update was lost).
- Its Job failed: a rule failure (exit 3) copies the summary's reason; a crash (backoff
  exhausted) names the step, the Job's reason, the exit code, the pod and the command that
  shows its log (the log itself stays out: status and Events are widely readable). Phase
  Failed. Free text a step wrote (its summary's message) is redacted and bounded.

`spec.suspend` deletes the running Job (steps are idempotent, so rerunning it on resume
loses no label): phase Stopping while the Job still exists, then Stopped. A Job that
finished before the deletion is taken as usual. Resuming recreates the current step's Job.

The loop ends with `export`: phase Completed, the Succeeded condition's reason being why
the loop ended (AllLabeled, MaxHumanLabeled, MaxPercentageLabeled, NoProgress). Phase Failed
sets `status.failureReason` (the Failed condition's reason and message). Completed
and Failed are final; a later spec change is only acknowledged (observedGeneration), except
after a failure the spec itself caused (SPEC_FAILURES: the API server rejected a step Job,
the spec names an unknown profile or something the cluster's policy does not allow): a new
generation tries the current step again (and clears failureReason).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from labelpilot.api.spec import LabelingJobSpec
from labelpilot.api.status import (
    FAILURE_REASON_MAX,
    HISTORY_MAX,
    ConditionType,
    IterationRecord,
    LabelCounters,
    LabelingJobStatus,
    Phase,
    Thresholds,
)
from labelpilot.api.step_summary import StepStatus, StepSummary
from labelpilot.api.steps import OUTPUT_MANIFEST, Step, StopReason
from labelpilot.api.stopping import human_budget_left, share_reached
from labelpilot.controller import step_events
from labelpilot.controller.conditions import Outcome, merge, reason_word
from labelpilot.controller.observed import JobState, ObservedJob
from labelpilot.controller.progress import progress as step_progress
from labelpilot.controller.redact import redact, safe_text
from labelpilot.controller.run_config_from_spec import TASK_TYPES

JOB_REJECTED = "JobRejected"  # the API server refused a step Job as invalid (HTTP 422)
INVALID_PROFILE = "InvalidProfile"
NOT_ALLOWED = "NotAllowed"  # the cluster's LabelPilot policy refuses something the spec names
# Failures of the spec, not of a step: the user fixes the spec, and its next generation
# tries again.
SPEC_FAILURES = (JOB_REJECTED, INVALID_PROFILE, NOT_ALLOWED)
# The log tail that operators before this one copied into a StepFailed message: dropped
# from the Failed condition of a job that ended then.
OLD_LOG_TAIL = re.compile(r"; last output: .*(; logs: kubectl logs job/\S+(?: -n \S+)?)$", re.S)


@dataclass(frozen=True)
class CreateJob:
    """Create the Job of `step` (at `iteration`, None for prepare and export; `poll`: the
    round of a human step that checks the workforce again)."""

    step: Step
    iteration: int | None
    poll: int = 0


@dataclass(frozen=True)
class DeleteJob:
    """Delete the Job `name` with its Pods (propagationPolicy Foreground)."""

    name: str


Action = CreateJob | DeleteJob


@dataclass(frozen=True)
class Event:
    type: str  # Normal | Warning
    reason: str
    message: str


@dataclass(frozen=True)
class Decision:
    status: LabelingJobStatus
    actions: tuple[Action, ...] = ()
    events: tuple[Event, ...] = ()

    def status_body(self) -> dict[str, object]:
        """The status to write (camelCase JSON), e.g. kopf's `patch.status.update(...)`."""
        return self.status.to_k8s()


class StepError(Exception):
    """A step's outcome the planner cannot continue from."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass
class _Draft:
    spec: LabelingJobSpec
    status: LabelingJobStatus
    now: datetime
    actions: list[Action] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    outcome: Outcome = field(default_factory=lambda: Outcome("InProgress", ""))

    def event(self, reason: str, message: str, warning: bool = False) -> None:
        self.events.append(Event("Warning" if warning else "Normal", reason, message))


def plan(
    spec: LabelingJobSpec,
    status: LabelingJobStatus | None,
    observed: list[ObservedJob],
    now: datetime,
    *,
    generation: int | None = None,
) -> Decision:
    """The next actions and the new status of one LabelingJob.

    `status` is the resource's current status (None or empty for a new one), `observed`
    its child Jobs, `now` the time to stamp, `generation` its `metadata.generation`.
    """
    decision = _step(spec, status, now, generation, lambda draft: _advance(draft, observed))
    current = decision.status
    step = current.current_step
    job = (
        None
        if step is None
        else _find(observed, step, current.iteration if step.iterative else None)
    )
    current.progress = step_progress(current, job)
    return decision


def failed(
    spec: LabelingJobSpec,
    status: LabelingJobStatus | None,
    now: datetime,
    reason: str,
    message: str,
    *,
    generation: int | None = None,
) -> Decision:
    """Fails the job for a reason found outside the planner (e.g. an unknown profile, or a
    step Job the API server rejected: reasons in SPEC_FAILURES are retried on a spec edit)."""
    decision = _step(
        spec,
        status,
        now,
        generation,
        lambda draft: _fail(draft, reason_word(reason, "Failed"), message),
    )
    decision.status.progress = step_progress(decision.status, None)
    return decision


def _step(
    spec: LabelingJobSpec,
    status: LabelingJobStatus | None,
    now: datetime,
    generation: int | None,
    act: Callable[[_Draft], None],
) -> Decision:
    """Acknowledges the generation, leaves a final status as it is, else applies `act`."""
    old = status or LabelingJobStatus()
    draft = _Draft(spec, old.model_copy(deep=True), _second(now))
    if generation is not None:
        draft.status.observed_generation = generation
    retry = _spec_fixed(old, generation)
    if old.terminal and not retry:
        draft.outcome = _terminal_outcome(old)
    else:
        if old.phase is None:
            _initialize(draft)
        elif retry:
            _reopen(draft)
        act(draft)
    return _decide(draft, old, retry)


def _spec_fixed(old: LabelingJobStatus, generation: int | None) -> bool:
    """Whether the job failed for its spec and the spec has changed since."""
    failure = old.condition(ConditionType.FAILED)
    return (
        old.phase is Phase.FAILED
        and failure is not None
        and failure.reason in SPEC_FAILURES
        and generation is not None
        and old.observed_generation is not None
        and generation > old.observed_generation
    )


def _reopen(draft: _Draft) -> None:
    """Back to the current step, whose Job never got created."""
    draft.status.phase = _running_phase(draft.status.current_step or Step.PREPARE)
    draft.status.completion_time = None


def _second(now: datetime) -> datetime:
    """Condition times have whole seconds; a naive time is taken as UTC."""
    return (now if now.tzinfo else now.replace(tzinfo=UTC)).replace(microsecond=0)


def _decide(draft: _Draft, old: LabelingJobStatus, retried: bool = False) -> Decision:
    phase = _phase(draft)
    draft.outcome = Outcome(draft.outcome.reason, redact(draft.outcome.message))
    draft.status.failure_reason = (
        safe_text(f"{draft.outcome.reason}: {draft.outcome.message}", FAILURE_REASON_MAX)
        if phase is Phase.FAILED
        else None
    )
    if phase is not old.phase or (retried and phase is Phase.FAILED):
        _phase_event(draft, old.phase, phase)
    draft.status.conditions = merge(
        old.conditions, phase, draft.outcome, draft.now, draft.status.observed_generation
    )
    return Decision(draft.status, tuple(draft.actions), tuple(draft.events))


def _phase_event(draft: _Draft, before: Phase | None, after: Phase) -> None:
    message = draft.outcome.message
    if after is Phase.FAILED:
        draft.event(draft.outcome.reason, message, warning=True)
    elif after is Phase.COMPLETED:
        draft.event("Completed", f"{draft.outcome.reason}: {message}")
    elif before in (Phase.STOPPED, Phase.STOPPING) and after in (
        Phase.INITIALIZING,
        Phase.IN_PROGRESS,
    ):
        draft.event("Resumed", message)
    elif before is Phase.FAILED:
        draft.event("Retrying", f"the spec changed: {message}")
    else:
        draft.event(str(after), message)


def _phase(draft: _Draft) -> Phase:
    assert draft.status.phase is not None
    return draft.status.phase


def _terminal_outcome(status: LabelingJobStatus) -> Outcome:
    kind = ConditionType.READY if status.phase is Phase.COMPLETED else ConditionType.FAILED
    condition = status.condition(kind)
    if condition is None:
        return Outcome(str(status.phase), "")
    return Outcome(condition.reason, OLD_LOG_TAIL.sub(r"\1", condition.message))


def _initialize(draft: _Draft) -> None:
    status = draft.status
    status.phase = Phase.INITIALIZING
    status.iteration = 0
    status.current_step = Step.PREPARE
    status.start_time = draft.now
    auto = draft.spec.auto_labeling
    if auto.enabled:
        status.thresholds = Thresholds(
            mode=auto.threshold_mode,
            target=auto.target_accuracy or TASK_TYPES[draft.spec.task_type].default_target,
            confidence_level=auto.confidence_level,
        )


def _find(observed: list[ObservedJob], step: Step, iteration: int | None) -> ObservedJob | None:
    """The step's Job: its latest polling round, one not being deleted first."""
    matches = [
        job
        for job in observed
        if job.step is step and (job.iteration if step.iterative else None) == iteration
    ]
    matches.sort(key=lambda job: (job.deleting, -job.poll, job.name))
    return matches[0] if matches else None


def _waiting(draft: _Draft, job: ObservedJob, observed: list[ObservedJob], where: str) -> None:
    """A human Job ended with the workforce still at work: after the poll interval, the
    next round's Job (which finds the batch recorded in the workspace, so it never sends
    it twice); the previous rounds' Jobs go."""
    status = draft.status
    status.phase = Phase.IN_PROGRESS
    said = safe_text(job.summary.message) if job.summary and job.summary.message else "waiting"
    interval = draft.spec.human_task_config.poll_interval_seconds
    ended = job.completion_time or draft.now
    if draft.spec.suspend:
        status.phase = Phase.STOPPED
        draft.outcome = Outcome(
            "Suspended",
            f"suspended while humans work on {where} ({said}); spec.suspend: false resumes",
        )
        return
    if (draft.now - ended).total_seconds() < interval:
        draft.outcome = Outcome("WaitingForHumans", f"{where}: {said}")
        return
    draft.actions.append(CreateJob(Step.HUMAN, job.iteration, job.poll + 1))
    draft.actions.extend(
        DeleteJob(other.name)
        for other in observed
        if other.step is Step.HUMAN
        and other.iteration == job.iteration
        and other.poll < job.poll
        and not other.deleting
    )
    draft.outcome = Outcome("WaitingForHumans", f"{where}: {said}; checking again")


def _running_phase(step: Step) -> Phase:
    return Phase.INITIALIZING if step is Step.PREPARE else Phase.IN_PROGRESS


def _describe(step: Step, iteration: int | None) -> str:
    return f"{step} (iteration {iteration})" if step.iterative else str(step)


def _advance(draft: _Draft, observed: list[ObservedJob]) -> None:
    status = draft.status
    for _ in range(len(observed) + 2):  # each pass consumes one finished Job
        step = status.current_step or Step.PREPARE
        iteration = status.iteration if step.iterative else None
        where = _describe(step, iteration)
        job = _find(observed, step, iteration)
        if job is None or (
            job.deleting and job.state is not JobState.SUCCEEDED and not job.rule_failure
        ):
            _no_job_yet(draft, step, iteration, job)
            return
        if job.state is JobState.ACTIVE:
            if draft.spec.suspend:
                status.phase = Phase.STOPPING
                draft.actions.append(DeleteJob(job.name))
                draft.outcome = Outcome("Stopping", f"suspended: deleting {job.name} ({where})")
            else:
                status.phase = _running_phase(step)
                draft.outcome = Outcome("StepRunning", f"{where} running: job {job.name}")
            return
        if job.state is JobState.FAILED:
            _job_failed(draft, job, where)
            return
        if job.summary is not None and job.summary.status is StepStatus.WAITING:
            _waiting(draft, job, observed, where)
            return
        try:
            done = _job_succeeded(draft, job, step, iteration)
        except StepError as error:
            _fail(draft, error.reason, f"{where}: {error.message}; logs: {job.logs_hint}")
            return
        if done:
            return
    # Unreachable: each pass moves the current step past one of the observed Jobs.
    raise RuntimeError("planner did not settle")


def _no_job_yet(
    draft: _Draft, step: Step, iteration: int | None, leaving: ObservedJob | None
) -> None:
    status = draft.status
    where = _describe(step, iteration)
    if draft.spec.suspend:
        if leaving is not None:
            status.phase = Phase.STOPPING
            draft.outcome = Outcome("Stopping", f"suspended: waiting for {leaving.name} to go")
        else:
            status.phase = Phase.STOPPED
            draft.outcome = Outcome(
                "Suspended", f"suspended before {where}; spec.suspend: false resumes"
            )
        return
    status.phase = _running_phase(step)
    if leaving is not None:
        draft.outcome = Outcome(
            "WaitingForDeletion", f"{where}: waiting for {leaving.name} to be deleted"
        )
        return
    draft.actions.append(CreateJob(step, iteration))
    draft.event("StepStarted", f"{where} started")
    draft.outcome = Outcome("StepStarting", f"{where} starting")


def _job_failed(draft: _Draft, job: ObservedJob, where: str) -> None:
    summary = job.summary
    said = safe_text(summary.message) if summary and summary.message else None
    if job.rule_failure:
        reason = reason_word(summary.reason if summary else None, "StepRuleFailed")
        message = said or safe_text(job.failure_message or "the step refused to continue")
        _fail(draft, reason, f"{where}: {message}")
        return
    details = [
        f"{job.failure_reason or 'Failed'}: " + safe_text(job.failure_message or "the Job failed")
    ]
    if job.exit_code is not None:
        ended = f" ({job.container_reason})" if job.container_reason else ""
        pod = f" in pod {job.pod}" if job.pod else ""
        details.append(f"last exit code {job.exit_code}{ended}{pod}")
    if said:
        details.append(f"the step said: {said}")
    elif job.exit_code is not None:
        details.append("it left no step summary (its output stays in the pod's log)")
    _fail(
        draft,
        "StepFailed",
        f"{where} failed: " + "; ".join(details) + f"; logs: {job.pod_logs_hint}",
    )


def _fail(draft: _Draft, reason: str, message: str) -> None:
    draft.status.phase = Phase.FAILED
    draft.status.completion_time = draft.now
    draft.outcome = Outcome(reason, message)
    draft.actions.clear()


def _job_succeeded(draft: _Draft, job: ObservedJob, step: Step, iteration: int | None) -> bool:
    """Takes a finished step into the status; True when the job is now Completed."""
    status = draft.status
    summary = job.summary
    if summary is not None and summary.label_counters is not None:
        status.label_counters = summary.label_counters.model_copy()
    if summary is not None and summary.output_manifest_uri:
        status.output_manifest_uri = summary.output_manifest_uri
    _record(draft, job, step, iteration, summary)
    draft.event("StepSucceeded", step_events.succeeded(step, _describe(step, iteration), summary))
    if step is Step.EXPORT:
        _complete(draft, summary)
        return True
    following = _successor(draft.spec, step, iteration, summary)
    if step in (Step.PREPARE, Step.HUMAN, Step.THRESHOLD):
        stop = _stopping_condition(draft.spec, status.label_counters, following[0])
        if stop is not None:
            status.stop_reason = stop
            following = (Step.EXPORT, None)
    if following[0] is Step.EXPORT and status.stop_reason is None and summary is not None:
        status.stop_reason = summary.stop_reason
    status.current_step, next_iteration = following
    if next_iteration is not None:
        status.iteration = next_iteration
    return False


def _successor(
    spec: LabelingJobSpec, step: Step, iteration: int | None, summary: StepSummary | None
) -> tuple[Step, int | None]:
    """The step after `step` from the summary's `next` (docs/step-contract.md)."""
    current = iteration or 0
    wanted = summary.next if summary is not None else None
    if step is Step.TRAIN:
        return Step.INFER, current
    if step is Step.INFER:
        return Step.THRESHOLD, current
    if wanted is None:
        if step is Step.PREPARE:
            return Step.HUMAN, 0
        if step is Step.HUMAN and spec.auto_labeling.enabled:
            return Step.TRAIN, current
        raise StepError(
            "SummaryMissing", "the step succeeded without a summary saying what comes next"
        )
    choices: dict[Step, dict[Step, tuple[Step, int | None]]] = {
        Step.PREPARE: {Step.HUMAN: (Step.HUMAN, 0), Step.EXPORT: (Step.EXPORT, None)},
        Step.HUMAN: {
            Step.TRAIN: (Step.TRAIN, current),
            Step.HUMAN: (Step.HUMAN, current + 1),
            Step.EXPORT: (Step.EXPORT, None),
        },
        Step.THRESHOLD: {
            Step.HUMAN: (Step.HUMAN, current + 1),
            Step.TRAIN: (Step.TRAIN, current + 1),
            Step.EXPORT: (Step.EXPORT, None),
        },
    }
    options = choices[step]
    if wanted not in options:
        raise StepError(
            "InvalidSummary",
            f"next step {safe_text(repr(str(wanted)), 80)} cannot "
            f"follow {step} "
            f"(expected one of {', '.join(options)})",
        )
    return options[wanted]


def _stopping_condition(
    spec: LabelingJobSpec, counters: LabelCounters, following: Step
) -> StopReason | None:
    """The steps enforce the stopping conditions; the planner checks them too, so that one
    lowered mid-run takes effect at once. The human budget stops only more human labeling
    (the iteration's training and auto-labeling still run); the labeled share stops all."""
    if following is Step.EXPORT:
        return None
    conditions = spec.stopping_conditions
    if (
        following is Step.HUMAN
        and human_budget_left(conditions.max_human_labeled_object_count, counters.human_labeled)
        <= 0
    ):
        return StopReason.MAX_HUMAN_LABELED
    size = counters.total_labeled + counters.unlabeled + counters.failed_non_retryable_error
    if share_reached(
        counters.total_labeled, size, conditions.max_percentage_of_input_dataset_labeled
    ):
        return StopReason.MAX_PERCENTAGE_LABELED
    return None


def _record(
    draft: _Draft, job: ObservedJob, step: Step, iteration: int | None, summary: StepSummary | None
) -> None:
    status = draft.status
    seconds = (
        summary.seconds
        if summary and summary.seconds is not None
        else (
            (job.completion_time - job.start_time).total_seconds()
            if job.completion_time and job.start_time
            else None
        )
    )
    if step is Step.THRESHOLD and summary is not None:
        if summary.accuracy_bound is not None:
            status.accuracy_bound = summary.accuracy_bound
        if status.thresholds is not None:
            status.thresholds.accuracy_bound = summary.accuracy_bound
            status.thresholds.threshold = summary.threshold
    if iteration is None:
        return
    records = {entry.iteration: entry for entry in status.history}
    record = records.get(iteration) or IterationRecord(iteration=iteration)
    if seconds is not None:
        record.step_seconds[str(step)] = round(seconds, 3)
    if summary is not None:
        if step is Step.HUMAN and summary.human_batch is not None:
            record.human_batch = summary.human_batch
        if step is Step.THRESHOLD:
            record.machine_labeled = summary.machine_labeled_this_iteration
            record.accuracy_bound = summary.accuracy_bound
            record.threshold = summary.threshold
    if step is Step.THRESHOLD or (step is Step.HUMAN and not draft.spec.auto_labeling.enabled):
        record.label_counters = status.label_counters.model_copy()
        record.completion_time = draft.now
    records[iteration] = record
    status.history = [records[number] for number in sorted(records)][-HISTORY_MAX:]


def _complete(draft: _Draft, summary: StepSummary | None) -> None:
    status = draft.status
    status.phase = Phase.COMPLETED
    status.completion_time = draft.now
    if summary is not None:
        status.output_manifest_uri = summary.output_manifest_uri
        status.final_model_ref = summary.final_model_ref
        status.stop_reason = status.stop_reason or summary.stop_reason
    if not status.output_manifest_uri:
        status.output_manifest_uri = draft.spec.output.uri.rstrip("/") + "/" + OUTPUT_MANIFEST
    counters = status.label_counters
    reason = reason_word(status.stop_reason, "Completed")
    message = (
        f"{counters.total_labeled} objects labeled ({counters.human_labeled} by "
        f"humans, {counters.machine_labeled} by machine), {counters.unlabeled} "
        f"unlabeled, {counters.failed_non_retryable_error} failed"
        + (f", {counters.pre_labeled} already labeled kept" if counters.pre_labeled else "")
        + f"; output: {status.output_manifest_uri}"
    )
    draft.outcome = Outcome(reason, message)
