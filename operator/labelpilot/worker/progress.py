"""How far a running step has got, where a person looks: a bar redrawn in place on an
interactive terminal, else (a pod's log) a plain line now and then."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

BAR = 24
INTERVAL_SECONDS = 15.0


class Reporter:
    """A sink for labelpilot.engine.progress. Plain lines start once the step has run
    `interval` seconds (short steps say nothing more), then come at most every `interval`
    seconds, and the last one of a count that was shown says it is done."""

    def __init__(
        self,
        what: str,
        stream: TextIO | None = None,
        *,
        interval: float = INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.what = what
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty()
        self.interval = interval
        self.clock = clock
        self.started = clock()
        self.last: float | None = None
        self.drawn = False

    def __call__(self, unit: str, done: int, total: int) -> None:
        now = self.clock()
        finished = done >= total
        if self.tty:
            self._draw(unit, done, total, finished)
            return
        due = now - self.started >= self.interval and (
            self.last is None or now - self.last >= self.interval
        )
        if due or (finished and self.last is not None):
            self.last = None if finished else now
            print(line(self.what, unit, done, total), file=self.stream, flush=True)

    def _draw(self, unit: str, done: int, total: int, finished: bool) -> None:
        filled = BAR * done // max(1, total)
        bar = "#" * filled + "." * (BAR - filled)
        end = "\n" if finished else ""
        self.stream.write(f"\r{self.what} [{bar}] {done:,}/{total:,} {unit}{end}")
        self.stream.flush()


def line(what: str, unit: str, done: int, total: int) -> str:
    share = f" ({100 * done // total}%)" if total else ""
    return f"progress {what}: {done:,}/{total:,} {unit}{share}"
