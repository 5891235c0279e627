"""The provider interface a real labeling service will implement too."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


@dataclass(frozen=True)
class TaskItem:
    """One object to label: its index in the job, its key (source-ref / source), record."""

    index: int
    key: str
    record: dict[str, Any] = field(default_factory=dict)


@dataclass
class Answer:
    """One object's answers: one label per worker who answered, or a failure reason."""

    index: int
    labels: list[Any] = field(default_factory=list)
    failure: str | None = None


class BatchStatus(StrEnum):
    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"


class WorkforceProvider(ABC):
    name: str = ""

    @abstractmethod
    def submit(self, batch_id: str, items: list[TaskItem], workers_per_object: int
               ) -> dict[str, Any]:
        """Starts labeling `items`; returns a JSON-able handle. Submitting the same batch id
        again must not create a second batch."""

    @abstractmethod
    def poll(self, handle: dict[str, Any]) -> BatchStatus:
        """Whether the batch is done."""

    @abstractmethod
    def collect(self, handle: dict[str, Any], items: list[TaskItem]) -> list[Answer]:
        """The answers of a completed batch, one per item, in the items' order."""
