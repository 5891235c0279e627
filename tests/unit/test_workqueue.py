"""The reconcile queue: one entry per key, urgent keys first, failures retried."""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable, Hashable

from labelpilot.controller.workqueue import WorkQueue

TAG: contextvars.ContextVar[str] = contextvars.ContextVar("tag")


class Recorder:
    def __init__(self, block_first: bool = False, fail_first: bool = False) -> None:
        self.calls: list[Hashable] = []
        self.tags: list[str] = []
        self.entered = threading.Event()
        self.release = threading.Event()
        self.done = threading.Event()
        self.block_first = block_first
        self.fail_first = fail_first
        self.expected = 0

    def __call__(self, key: Hashable) -> None:
        self.calls.append(key)
        self.tags.append(TAG.get("none"))
        if len(self.calls) == 1 and self.block_first:
            self.entered.set()
            assert self.release.wait(10)
        if len(self.calls) == 1 and self.fail_first:
            raise RuntimeError("boom")
        if len(self.calls) >= self.expected:
            self.done.set()


def test_a_key_queued_many_times_runs_once_and_urgent_keys_go_first() -> None:
    recorder = Recorder(block_first=True)
    queue = WorkQueue(recorder, workers=1)
    queue.add("blocker")
    assert recorder.entered.wait(10)
    for _ in range(3):
        queue.add("resync", urgent=False)
    for _ in range(3):
        queue.add("ended")
    assert len(queue) == 2
    recorder.expected = 3
    recorder.release.set()
    assert recorder.done.wait(10)
    queue.stop()
    assert recorder.calls == ["blocker", "ended", "resync"]


def test_a_resync_key_made_urgent_moves_up_once() -> None:
    recorder = Recorder(block_first=True)
    queue = WorkQueue(recorder, workers=1)
    queue.add("blocker")
    assert recorder.entered.wait(10)
    queue.add("a", urgent=False)
    queue.add("b", urgent=False)
    queue.add("b")
    recorder.expected = 3
    recorder.release.set()
    assert recorder.done.wait(10)
    queue.stop()
    assert recorder.calls == ["blocker", "b", "a"]


def test_the_handler_runs_in_the_context_of_whoever_queued_the_key() -> None:
    recorder = Recorder()
    recorder.expected = 1
    queue = WorkQueue(recorder, workers=2)

    def queue_with_tag() -> None:
        TAG.set("kopf")
        queue.add("k")

    contextvars.copy_context().run(queue_with_tag)
    assert recorder.done.wait(10)
    queue.stop()
    assert recorder.tags == ["kopf"]


def test_a_failed_reconcile_is_queued_again() -> None:
    recorder = Recorder(fail_first=True)
    recorder.expected = 2
    queue = WorkQueue(recorder, workers=1, retry_seconds=0.01)
    queue.add("k")
    assert recorder.done.wait(10)
    queue.stop()
    assert recorder.calls == ["k", "k"]


class Later:
    """A stand-in for the retry timer: records each delay asked for; `fire` runs the last."""

    def __init__(self) -> None:
        self.delays: list[float] = []
        self.cancelled: list[bool] = []
        self._actions: list[Callable[[], None]] = []
        self._asked = threading.Condition()

    def __call__(self, delay: float, action: Callable[[], None]) -> Callable[[], None]:
        with self._asked:
            index = len(self.delays)
            self.delays.append(delay)
            self.cancelled.append(False)
            self._actions.append(action)
            self._asked.notify_all()
        return lambda: self.cancelled.__setitem__(index, True)

    def wait(self, count: int) -> None:
        with self._asked:
            assert self._asked.wait_for(lambda: len(self.delays) >= count, 10)

    def fire(self) -> None:
        self._actions[-1]()


def wait_for(probe: Callable[[], bool], what: str) -> None:
    for _ in range(1000):
        if probe():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def _failing(fails: set[int]) -> tuple[list[Hashable], Callable[[Hashable], None]]:
    calls: list[Hashable] = []

    def handle(key: Hashable) -> None:
        calls.append(key)
        if len(calls) in fails:
            raise RuntimeError("API server unavailable")

    return calls, handle


def test_retries_of_a_failing_key_back_off_exponentially_up_to_a_cap() -> None:
    calls, handle = _failing(set(range(1, 100)))
    later = Later()
    queue = WorkQueue(handle, workers=1, retry_seconds=5, max_retry_seconds=300, later=later)
    queue.add("k")
    for count in range(1, 9):
        later.wait(count)
        later.fire()
    later.wait(9)
    queue.stop()
    assert later.delays == [5, 10, 20, 40, 80, 160, 300, 300, 300]
    assert calls == ["k"] * 9


def test_resyncs_wait_for_the_retry_and_a_success_starts_the_backoff_again() -> None:
    calls, handle = _failing({1, 2, 4})
    later = Later()
    queue = WorkQueue(handle, workers=1, retry_seconds=5, later=later)
    queue.add("k")
    later.wait(1)
    queue.add("k", urgent=False)  # the resync of a key waiting for its retry
    assert len(queue) == 0 and calls == ["k"]
    queue.add("k")  # urgent (the spec changed): at once, and it fails again
    later.wait(2)
    assert later.delays == [5, 10] and later.cancelled == [True, False]
    later.fire()  # the retry succeeds
    wait_for(lambda: len(calls) == 3, what="the retry")
    queue.add("k")  # and the next failure starts from the first delay
    later.wait(3)
    queue.stop()
    assert later.delays == [5, 10, 5]
    assert calls == ["k"] * 4
