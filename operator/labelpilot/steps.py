"""The worker steps of the step contract (docs/step-contract.md), in their order."""

from __future__ import annotations

from enum import StrEnum


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
