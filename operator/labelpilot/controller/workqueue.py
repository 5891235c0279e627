"""LabelingJobs waiting for a reconcile, and the threads that reconcile them.

Like controller-runtime's workqueue: a key is queued at most once however many events
name it, urgent keys (a step Job ended, the spec changed) go before periodic resyncs, and a
pool of threads works through them, so kopf's own event processing never waits for a
reconcile. A failed reconcile (an API error, a timeout) is queued again with a backoff per
key: `retry_seconds`, doubling with each failure in a row up to `max_retry_seconds`, back to
the start after a success. While a key waits for its retry, periodic resyncs of it are
dropped (the retry comes anyway); urgent adds (the spec changed, a step Job ended) still run
it at once.
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


Cancel = Callable[[], None]
Later = Callable[[float, Callable[[], None]], Cancel]


def timer(delay: float, action: Callable[[], None]) -> Cancel:
    """Runs `action` on a daemon thread after `delay` seconds; returns its cancel."""
    thread = threading.Timer(delay, action)
    thread.daemon = True
    thread.start()
    return thread.cancel


class WorkQueue:
    def __init__(
        self,
        handle: Callable[[Hashable], object],
        workers: int = 16,
        retry_seconds: float = 5.0,
        max_retry_seconds: float = 300.0,
        later: Later = timer,
    ) -> None:
        self._handle = handle
        self._workers = workers
        self.retry_seconds = retry_seconds
        self.max_retry_seconds = max_retry_seconds
        self._later = later
        self._failures: dict[Hashable, int] = {}  # failed reconciles in a row, per key
        self._retries: dict[Hashable, tuple[object, Cancel]] = {}  # the pending retry
        self._ready = threading.Condition()
        self._heap: list[tuple[int, int, Hashable]] = []
        self._queued: dict[Hashable, int] = {}  # key -> its best priority in the heap
        self._contexts: dict[Hashable, contextvars.Context] = {}
        self._order = itertools.count()
        self._threads: list[threading.Thread] = []
        self._stopped = False

    def add(
        self, key: Hashable, urgent: bool = True, context: contextvars.Context | None = None
    ) -> None:
        """Queues `key` (once), carrying the caller's context variables (kopf's event
        poster lives in them) to the thread that reconciles it. A resync (not urgent) of
        a key waiting for its retry is dropped."""
        priority = URGENT if urgent else RESYNC
        with self._ready:
            if self._stopped or (not urgent and key in self._retries):
                return
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

    def retry_delay(self, failures: int) -> float:
        """Seconds before the retry that follows `failures` failed reconciles in a row."""
        doublings = min(max(failures - 1, 0), 32)
        return float(min(self.retry_seconds * 2**doublings, self.max_retry_seconds))

    def stop(self) -> None:
        with self._ready:
            self._stopped = True
            pending = [cancel for _, cancel in self._retries.values()]
            self._retries.clear()
            self._ready.notify_all()
        for cancel in pending:
            cancel()

    def _spawn(self) -> None:
        thread = threading.Thread(
            target=self._work, name=f"reconcile-{len(self._threads)}", daemon=True
        )
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
                failures, delay = self._schedule_retry(key, context.copy())
                log.exception(
                    "reconcile of %s failed (%d in a row); again in %.0f s", key, failures, delay
                )
            else:
                self._succeeded(key)

    def _schedule_retry(self, key: Hashable, context: contextvars.Context) -> tuple[int, float]:
        with self._ready:
            failures = self._failures[key] = self._failures.get(key, 0) + 1
            delay = self.retry_delay(failures)
            superseded = self._retries.pop(key, None)
            token = object()
            if not self._stopped:
                cancel = self._later(delay, lambda: self._retry(key, token, context))
                self._retries[key] = (token, cancel)
        if superseded is not None:
            superseded[1]()
        return failures, delay

    def _retry(self, key: Hashable, token: object, context: contextvars.Context) -> None:
        with self._ready:
            pending = self._retries.get(key)
            if pending is None or pending[0] is not token:
                return  # the key succeeded meanwhile, or failed again (a later retry)
            del self._retries[key]
        self.add(key, urgent=False, context=context)

    def _succeeded(self, key: Hashable) -> None:
        with self._ready:
            self._failures.pop(key, None)
            pending = self._retries.pop(key, None)
        if pending is not None:
            pending[1]()
