"""The cache of child Jobs: fed by watch events and lists, never going back in time."""

from __future__ import annotations

from typing import Any

from labelpilot.controller.child_job_cache import ChildJobs

KEY = ("ns", "digits")


def _job(uid: str, version: int, done: bool = False) -> dict[str, Any]:
    conditions = [{"type": "Complete", "status": "True"}] if done else []
    return {
        "metadata": {"uid": uid, "name": f"digits-{uid}", "resourceVersion": str(version)},
        "status": {"conditions": conditions},
    }


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_key_is_listed_first_and_again_after_relist_seconds() -> None:
    clock = Clock()
    cache = ChildJobs(relist_seconds=300, clock=clock)
    assert cache.needs_list(KEY)
    cache.listed(KEY, [], "10")
    assert not cache.needs_list(KEY)
    clock.now = 299
    assert not cache.needs_list(KEY)
    clock.now = 300
    assert cache.needs_list(KEY)


def test_watch_events_update_and_an_older_copy_never_wins() -> None:
    cache = ChildJobs()
    cache.seen(KEY, _job("a", 5))
    cache.seen(KEY, _job("a", 7, done=True))
    cache.seen(KEY, _job("a", 6))  # a late, older copy
    [job] = cache.jobs(KEY)
    assert job["metadata"]["resourceVersion"] == "7"
    cache.listed(KEY, [_job("a", 6)], "6")  # a list that started before the last event
    [job] = cache.jobs(KEY)
    assert job["metadata"]["resourceVersion"] == "7"


def test_a_deleted_job_does_not_come_back_from_an_older_list() -> None:
    cache = ChildJobs()
    cache.seen(KEY, _job("a", 5))
    cache.seen(KEY, _job("a", 8), deleted=True)
    assert cache.jobs(KEY) == []
    cache.listed(KEY, [_job("a", 5)], "7")
    assert cache.jobs(KEY) == []


def test_a_list_drops_jobs_it_lacks_unless_they_are_newer() -> None:
    cache = ChildJobs()
    cache.seen(KEY, _job("gone", 3))  # deleted while the watch was away
    cache.seen(KEY, _job("new", 12))  # created after the list's snapshot
    cache.listed(KEY, [_job("kept", 4)], "10")
    assert sorted(j["metadata"]["uid"] for j in cache.jobs(KEY)) == ["kept", "new"]


def test_forget_drops_a_labeling_jobs_entries() -> None:
    cache = ChildJobs()
    cache.listed(KEY, [_job("a", 1)], "1")
    cache.forget(KEY)
    assert cache.jobs(KEY) == []
    assert cache.needs_list(KEY)
