"""The resync thread: tracked jobs are queued every interval, ended or deleted ones are not."""

from __future__ import annotations

import threading
import time
from collections.abc import Hashable

from labelpilot.controller.resync import Resync


def test_tracked_keys_are_queued_each_interval_until_they_end() -> None:
    queued: list[Hashable] = []
    two_rounds = threading.Event()

    def enqueue(key: Hashable) -> None:
        queued.append(key)
        if queued.count(("ns", "a")) >= 2:
            two_rounds.set()

    resync = Resync(enqueue, interval=0.05)
    resync.track(("ns", "a"), active=True)
    resync.track(("ns", "b"), active=True)
    resync.track(("ns", "b"), active=False)
    resync.start()
    try:
        assert two_rounds.wait(5)
        assert set(queued) == {("ns", "a")}
        resync.track(("ns", "a"), active=False)
        time.sleep(0.1)
        before = len(queued)
        time.sleep(0.2)
        assert len(queued) == before
    finally:
        resync.stop()
    assert resync.tracked() == set()


def test_stop_ends_the_thread_before_the_next_round() -> None:
    queued: list[Hashable] = []
    resync = Resync(queued.append, interval=60)
    resync.track("k", active=True)
    resync.start()
    started = time.monotonic()
    resync.stop()
    assert time.monotonic() - started < 5 and queued == []
