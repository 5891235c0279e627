"""The reconciler's concurrency and event filter, without a cluster."""

from __future__ import annotations

import threading

from labelpilot.controller.reconciler import Reconciler, decisive
from labelpilot.controller.step_jobs import JobSettings


class CountingReconciler(Reconciler):
    def __init__(self) -> None:
        super().__init__(apis=None, settings=JobSettings(), events=lambda body, event: None)  # type: ignore[arg-type]
        self.calls = 0
        self.entered = threading.Event()
        self.release = threading.Event()

    def _timed_reconcile(self, namespace: str, name: str) -> None:
        self.calls += 1
        if self.calls == 1:
            self.entered.set()
            assert self.release.wait(10)
        return None


def test_events_during_a_reconcile_coalesce_into_one_rerun() -> None:
    reconciler = CountingReconciler()
    first = threading.Thread(target=reconciler.reconcile, args=("ns", "job"))
    first.start()
    assert reconciler.entered.wait(10)
    for _ in range(5):
        assert reconciler.reconcile("ns", "job") is None
    reconciler.release.set()
    first.join(10)
    assert reconciler.calls == 2
    reconciler.reconcile("ns", "job")
    assert reconciler.calls == 3


def test_other_jobs_are_not_held_up() -> None:
    reconciler = CountingReconciler()
    first = threading.Thread(target=reconciler.reconcile, args=("ns", "a"))
    first.start()
    assert reconciler.entered.wait(10)
    reconciler.reconcile("ns", "b")
    assert reconciler.calls == 2
    reconciler.release.set()
    first.join(10)
    assert reconciler.calls == 2


def test_only_endings_of_step_jobs_are_decisive() -> None:
    running = {"status": {"active": 1}}
    complete = {"status": {"conditions": [{"type": "Complete", "status": "True"}]}}
    failed = {"status": {"conditions": [{"type": "Failed", "status": "True"}]}}
    criteria = {"status": {"conditions": [{"type": "SuccessCriteriaMet", "status": "True"}]}}
    assert not decisive("ADDED", running)
    assert not decisive("MODIFIED", running)
    assert not decisive("MODIFIED", criteria)
    assert decisive("MODIFIED", complete)
    assert decisive(None, failed)
    assert decisive("DELETED", running)
