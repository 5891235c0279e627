"""A simulated workforce: answers from a ground-truth manifest, with errors and failures.

The only reader of the ground truth besides evaluation. Each worker's answer is drawn from
a generator seeded by (job seed, object index, worker), so a batch collected twice gives the
same answers. A wrong answer is a different class (classification), the class set with one
class flipped in or out (multi-label), jittered boxes with one dropped (boxes), or a mask
shifted by a few pixels (masks). A failed object (failure_rate,
or no truth for its key) fails for all its workers. An object is answered when its answers
are drawn (`answered_at`).
"""

from __future__ import annotations

import time
import zlib
from typing import Any

import numpy as np

from labelpilot.api import run_config as cfg
from labelpilot.api.run_config import TaskType
from labelpilot.engine.formats import Boxes, GroundTruth, now_iso
from labelpilot.workforce.base import Answer, BatchStatus, TaskItem, WorkforceProvider


def flip_one(classes: list[int], n_labels: int, rng: np.random.Generator) -> list[int]:
    """The sorted class set with one random class of `n_labels` added or removed."""
    if n_labels < 1:
        return sorted(classes)
    return sorted(set(classes) ^ {int(rng.integers(n_labels))})


class SimulatedWorkforce(WorkforceProvider):
    name = "simulated"

    def __init__(
        self,
        settings: cfg.SimulatedWorkforceConfig,
        task_type: TaskType,
        attr: str,
        labels: list[str],
        *,
        seed: int = 0,
    ) -> None:
        self.settings = settings
        self.task_type = TaskType(task_type)
        self.attr = attr
        self.labels = labels
        self.seed = seed
        self._truth: GroundTruth | None = None

    @property
    def truth(self) -> GroundTruth:
        if self._truth is None:
            self._truth = GroundTruth(
                self.settings.ground_truth_uri, self.task_type, self.attr, labels=self.labels
            )
        return self._truth

    def submit(
        self, batch_id: str, items: list[TaskItem], workers_per_object: int
    ) -> dict[str, Any]:
        return {
            "provider": self.name,
            "batchId": batch_id,
            "submittedAt": time.time(),
            "workersPerObject": workers_per_object,
            "objects": len(items),
        }

    def poll(self, handle: dict[str, Any]) -> BatchStatus:
        done = time.time() >= float(handle["submittedAt"]) + self.settings.latency_seconds
        return BatchStatus.COMPLETED if done else BatchStatus.IN_PROGRESS

    def withdraw(self, handle: dict[str, Any]) -> None:
        """Simulated workers hold nothing open once a batch is collected."""

    def collect(self, handle: dict[str, Any], items: list[TaskItem]) -> list[Answer]:
        workers = int(handle.get("workersPerObject", 1))
        return [self._answer(item, workers) for item in items]

    def _rng(self, index: int, worker: int) -> np.random.Generator:
        return np.random.default_rng([abs(self.seed), index, worker, zlib.crc32(b"workforce")])

    def _answer(self, item: TaskItem, workers: int) -> Answer:
        record = self.truth.record(item.key)
        if record is None:
            return Answer(item.index, failure="WorkerFailure: no ground truth for this object")
        if self._rng(item.index, 1000).random() < self.settings.failure_rate:
            return Answer(item.index, failure="WorkerFailure: the workers did not answer in time")
        truth = self.truth.decode(item.key, record)
        answers = []
        for w in range(workers):
            rng = self._rng(item.index, w)
            wrong = rng.random() < self.settings.error_rate
            answers.append(self._corrupt(truth, rng) if wrong else truth)
        return Answer(
            item.index,
            labels=answers,
            workers=[f"simulated-{w}" for w in range(workers)],
            answered_at=now_iso(),
        )

    def _corrupt(self, truth: Any, rng: np.random.Generator) -> Any:
        if self.task_type.is_classification:
            if len(self.labels) < 2:
                return truth
            return int((truth + rng.integers(1, len(self.labels))) % len(self.labels))
        if self.task_type.is_multilabel:
            return flip_one(truth, len(self.labels), rng)
        if self.task_type is TaskType.OBJECT_DETECTION:
            boxes = truth.boxes.copy()
            if len(boxes):
                scale = np.maximum(boxes[:, 3:5], 1.0)
                boxes[:, 1:3] += rng.normal(0, 0.15, (len(boxes), 2)) * scale
                boxes = np.delete(boxes, rng.integers(len(boxes)), axis=0)
            return Boxes(truth.width, truth.height, truth.depth, boxes)
        shift = tuple(int(v) for v in rng.integers(2, 5, size=2))
        return np.roll(truth, shift, axis=(0, 1))
