"""The worker steps of the step contract (docs/step-contract.md): their names in order, why
the labeling loop stops, how a step fails the whole job (exit code 3 with a reason, which
the operator's Jobs turn into `podFailurePolicy: FailJob`), and where a step leaves its
summary."""

from __future__ import annotations

from enum import StrEnum

# A rule of Ground Truth's (or a workspace the job cannot use) failed the whole job: no retry.
FAILED_EXIT_CODE = 3
# The file a step writes its summary to besides standard output; the Jobs set it to
# TERMINATION_LOG_PATH, the container's terminationMessagePath.
TERMINATION_LOG_ENV = "LABELPILOT_TERMINATION_LOG"
TERMINATION_LOG_PATH = "/dev/termination-log"
# Where `export` writes the output manifest, under the job's output location.
OUTPUT_MANIFEST = "manifests/output/output.manifest"


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


class StopReason(StrEnum):
    """Why the labeling loop ended: the reason of a Completed job's conditions."""

    ALL_LABELED = "AllLabeled"
    MAX_HUMAN_LABELED = "MaxHumanLabeled"
    MAX_PERCENTAGE_LABELED = "MaxPercentageLabeled"
    NO_PROGRESS = "NoProgress"


class StepFailed(Exception):
    """A rule fails the whole job: exit code 3, no retry."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message
