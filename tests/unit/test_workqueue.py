"""The reconcile queue: one entry per key, urgent keys first, failures retried."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Hashable

from labelpilot.workqueue import WorkQueue

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
