"""Periodic resync of the LabelingJobs still running, without a finalizer on them.

kopf timers make kopf put its finalizer on every object, so a LabelingJob could not be
deleted while the operator is down (uninstalled first, crashed, scaled to zero). This
thread does the timer's work instead: every `interval` seconds it queues, as non-urgent,
each job that the LabelingJob watch reported and that has not ended.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable


class Resync:
    def __init__(self, enqueue: Callable[[Hashable], None], interval: float) -> None:
        self._enqueue = enqueue
        self._interval = interval
        self._keys: set[Hashable] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="resync", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def track(self, key: Hashable, active: bool) -> None:
        """Records whether `key` still needs resyncing (it exists and has not ended)."""
        with self._lock:
            if active:
                self._keys.add(key)
            else:
                self._keys.discard(key)

    def tracked(self) -> set[Hashable]:
        with self._lock:
            return set(self._keys)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            for key in sorted(self.tracked(), key=repr):
                self._enqueue(key)
