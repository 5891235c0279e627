"""The worker steps of the step contract (docs/step-contract.md): their names in order,
and how a step fails the whole job (exit code 3 with a reason), which the operator's Jobs
turn into `podFailurePolicy: FailJob`."""

from __future__ import annotations

from enum import StrEnum

FAILED_EXIT_CODE = 3  # a rule of the seed failed the whole job: no retry


class Step(StrEnum):
    PREPARE = "prepare"
    HUMAN = "human"
    TRAIN = "train"
    INFER = "infer"
    THRESHOLD = "threshold"
    EXPORT = "export"

    @property
    def iterative(self) -> bool:
        """Whether the step runs once per iteration (and takes `--iteration N`)."""
        return self not in (Step.PREPARE, Step.EXPORT)

    @property
    def reports_counters(self) -> bool:
        return self in (Step.PREPARE, Step.HUMAN, Step.THRESHOLD, Step.EXPORT)


class StepFailed(Exception):
    """A rule of the seed fails the whole job: exit code 3, no retry."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message
