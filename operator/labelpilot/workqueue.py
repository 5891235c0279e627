"""LabelingJobs waiting for a reconcile, and the threads that reconcile them.

Like controller-runtime's workqueue: a key is queued at most once however many events
name it, urgent keys (a step Job ended, the spec changed) go before periodic resyncs, and a
pool of threads works through them, so kopf's own event processing never waits for a
reconcile. A failed reconcile is queued again after `retry_seconds`.
"""

from __future__ import annotations

import contextvars
import heapq
import itertools
import logging
import threading
from collections.abc import Callable, Hashable

log = logging.getLogger("labelpilot.operator")
URGENT, RESYNC = 0, 1


class WorkQueue:
    def __init__(self, handle: Callable[[Hashable], object], workers: int = 16,
                 retry_seconds: float = 5.0) -> None:
        self._handle = handle
        self._workers = workers
        self.retry_seconds = retry_seconds
        self._ready = threading.Condition()
        self._heap: list[tuple[int, int, Hashable]] = []
        self._queued: dict[Hashable, int] = {}  # key -> its best priority in the heap
        self._contexts: dict[Hashable, contextvars.Context] = {}
        self._order = itertools.count()
        self._threads: list[threading.Thread] = []
        self._stopped = False

    def add(self, key: Hashable, urgent: bool = True,
            context: contextvars.Context | None = None) -> None:
        """Queues `key` (once), carrying the caller's context variables (kopf's event
        poster lives in them) to the thread that reconciles it."""
        priority = URGENT if urgent else RESYNC
        with self._ready:
            self._contexts[key] = context or contextvars.copy_context()
            if self._queued.get(key, RESYNC + 1) <= priority:
                return
            self._queued[key] = priority
            heapq.heappush(self._heap, (priority, next(self._order), key))
            self._ready.notify()
            if len(self._threads) < self._workers:
                self._spawn()

    def __len__(self) -> int:
        with self._ready:
            return len(self._queued)

    def stop(self) -> None:
        with self._ready:
            self._stopped = True
            self._ready.notify_all()

    def _spawn(self) -> None:
        thread = threading.Thread(target=self._work, name=f"reconcile-{len(self._threads)}",
                                  daemon=True)
        self._threads.append(thread)
        thread.start()

    def _next(self) -> tuple[Hashable, contextvars.Context] | None:
        with self._ready:
            while True:
                if self._stopped:
                    return None
                while self._heap:
                    priority, _, key = heapq.heappop(self._heap)
                    if self._queued.get(key) == priority:  # else a stale, demoted entry
                        del self._queued[key]
                        return key, self._contexts.pop(key)
                self._ready.wait()

    def _work(self) -> None:
        while (item := self._next()) is not None:
            key, context = item
            try:
                context.run(self._handle, key)
            except Exception:
                log.exception("reconcile of %s failed; again in %.0f s", key,
                              self.retry_seconds)
                timer = threading.Timer(self.retry_seconds, self.add,
                                        args=(key, False, context.copy()))
                timer.daemon = True
                timer.start()
