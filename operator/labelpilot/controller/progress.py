"""status.progress: the current step as the operator sees it (its Job's start, and the
human step's answered objects from its last polling round). Built from numbers and names
only: nothing a step printed reaches it."""

from __future__ import annotations

from labelpilot.api.status import LabelingJobStatus, Phase, Progress
from labelpilot.api.step_summary import StepStatus
from labelpilot.controller.observed import JobState, ObservedJob

AT_REST = (Phase.COMPLETED, Phase.FAILED, Phase.STOPPED)
ANSWERED = "objects answered"


def _where(status: LabelingJobStatus) -> tuple[str, int | None]:
    step = status.current_step
    assert step is not None
    iteration = status.iteration if step.iterative else None
    return (str(step) if iteration is None else f"{step} iteration {iteration}"), iteration


def progress(status: LabelingJobStatus, job: ObservedJob | None) -> Progress | None:
    """The progress to show for `status`, whose current step's Job is `job` (None: not
    created yet or not seen)."""
    if status.phase in AT_REST or status.current_step is None:
        return None
    where, iteration = _where(status)
    step = status.current_step
    if job is None or job.step is not step or (step.iterative and job.iteration != iteration):
        return Progress(step=step, iteration=iteration, message=f"{where}: starting")
    summary = job.summary
    if (
        job.state is not JobState.ACTIVE
        and summary is not None
        and summary.status is StepStatus.WAITING
        and summary.answered is not None
        and summary.human_batch
    ):
        done, total = summary.answered, summary.human_batch
        return Progress(
            step=step,
            iteration=iteration,
            since=job.start_time,
            done=done,
            total=total,
            unit=ANSWERED,
            message=f"{where}: {done:,}/{total:,} {ANSWERED} ({100 * done // total}%)",
        )
    earlier = status.progress
    if (
        earlier is not None
        and earlier.unit == ANSWERED
        and (earlier.step, earlier.iteration) == (step, iteration)
    ):
        # a later polling round runs: what the last one counted still holds
        return earlier.model_copy(update={"since": earlier.since or job.start_time})
    return Progress(
        step=step, iteration=iteration, since=job.start_time, message=f"{where}: running"
    )
