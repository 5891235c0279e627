"""The provider interface a real labeling service will implement too."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


@dataclass(frozen=True)
class TaskItem:
    """One object to label: its index in the job, its key (source-ref / source), record,
    and the current model's prediction to show as a pre-annotation (None: start blank)."""

    index: int
    key: str
    record: dict[str, Any] = field(default_factory=dict)
    prediction: Any = None
    prediction_score: float | None = None


@dataclass
class Answer:
    """One object's answers: one label per worker who answered (`workers` names them, in
    the same order), or a failure reason. `edited`: how many of the answers changed the
    pre-annotation (None when none was shown). `answered_at`: when the last of them was
    given, as the workforce reports it (formats.now_iso's form, UTC; None: it does not)."""

    index: int
    labels: list[Any] = field(default_factory=list)
    failure: str | None = None
    workers: list[str] = field(default_factory=list)
    edited: int | None = None
    answered_at: str | None = None


class BatchStatus(StrEnum):
    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"


class WorkforceProvider(ABC):
    name: str = ""

    @abstractmethod
    def submit(
        self, batch_id: str, items: list[TaskItem], workers_per_object: int
    ) -> dict[str, Any]:
        """Starts labeling `items`; returns a JSON-able handle. Submitting the same batch id
        again must not create a second batch."""

    @abstractmethod
    def poll(self, handle: dict[str, Any]) -> BatchStatus:
        """Whether the batch is done."""

    def progress(self, handle: dict[str, Any]) -> tuple[int, int] | None:
        """(objects done, objects sent) as of the last poll, when the provider knows."""
        return None

    @abstractmethod
    def collect(self, handle: dict[str, Any], items: list[TaskItem]) -> list[Answer]:
        """The answers of a completed batch, one per item, in the items' order."""

    @abstractmethod
    def withdraw(self, handle: dict[str, Any]) -> None:
        """Takes back what a collected batch still shows workers (expired, unanswered
        tasks), so nobody works on them for nothing. Called once the answers are recorded;
        must tolerate tasks that are already gone."""
