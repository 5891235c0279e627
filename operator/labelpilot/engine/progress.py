"""Where the models say how far a long fit or prediction has got: a callback the running
step sets (labelpilot.worker.progress); without one, nothing is said."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

# (what is counted, done, total): ("epochs", 3, 8), ("objects", 512, 10000)
Sink = Callable[[str, int, int], None]

_sink: ContextVar[Sink | None] = ContextVar("labelpilot_progress", default=None)


def report(unit: str, done: int, total: int) -> None:
    sink = _sink.get()
    if sink is not None:
        sink(unit, done, total)


@contextmanager
def reporting_to(sink: Sink) -> Iterator[None]:
    token = _sink.set(sink)
    try:
        yield
    finally:
        _sink.reset(token)
