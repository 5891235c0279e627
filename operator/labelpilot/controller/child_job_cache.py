"""The step Jobs of every LabelingJob, kept current by the Job watch the operator runs anyway.

An informer's store without a second watch: kopf's Job events update it, so a reconcile
reads a LabelingJob's Jobs from memory instead of listing them from the API server. The
first reconcile of a LabelingJob after a start lists its Jobs once (the watch may not have
delivered them all yet), and so does any reconcile once `relist_seconds` have passed since
the last list: kopf does not report deletions that happen while its watch reconnects.

Entries never go back in time: a Job is replaced only by a copy with a higher
resourceVersion, and a deleted Job's uid is remembered so a list that started before the
deletion cannot bring it back.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

Obj = dict[str, Any]
Key = tuple[str, str]  # namespace, LabelingJob name
TOMBSTONES_MAX = 10_000


def _version(job: Obj) -> int | None:
    value = str(job.get("metadata", {}).get("resourceVersion") or "")
    return int(value) if value.isdigit() else None


def _newer(candidate: Obj, current: Obj | None) -> bool:
    if current is None:
        return True
    mine, theirs = _version(candidate), _version(current)
    return mine is None or theirs is None or mine >= theirs


class ChildJobs:
    """Step Jobs by (namespace, LabelingJob); thread-safe."""

    def __init__(
        self, relist_seconds: float = 300.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.relist_seconds = relist_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._jobs: dict[Key, dict[str, Obj]] = {}  # job uid -> Job
        self._listed: dict[Key, float] = {}  # when each key was last listed
        self._deleted: dict[str, None] = {}  # uids of deleted Jobs, oldest first

    def seen(self, key: Key, job: Obj, deleted: bool = False) -> None:
        """A watch event (or our own create's answer) about one of `key`'s Jobs."""
        uid = job.get("metadata", {}).get("uid")
        if not uid:
            return
        with self._lock:
            if deleted:
                self._jobs.get(key, {}).pop(uid, None)
                self._deleted[uid] = None
                while len(self._deleted) > TOMBSTONES_MAX:
                    del self._deleted[next(iter(self._deleted))]
                return
            jobs = self._jobs.setdefault(key, {})
            if uid not in self._deleted and _newer(job, jobs.get(uid)):
                jobs[uid] = job

    def needs_list(self, key: Key) -> bool:
        with self._lock:
            listed = self._listed.get(key)
        return listed is None or self._clock() - listed >= self.relist_seconds

    def listed(self, key: Key, items: list[Obj], list_version: str | None) -> None:
        """The answer of a LIST of `key`'s Jobs: what it lacks and is not newer is gone."""
        since = int(list_version) if list_version and list_version.isdigit() else None
        with self._lock:
            jobs = self._jobs.setdefault(key, {})
            present = set()
            for job in items:
                uid = job["metadata"]["uid"]
                present.add(uid)
                if uid not in self._deleted and _newer(job, jobs.get(uid)):
                    jobs[uid] = job
            for uid in [u for u in jobs if u not in present]:
                version = _version(jobs[uid])
                if since is None or version is None or version <= since:
                    del jobs[uid]
            self._listed[key] = self._clock()

    def jobs(self, key: Key) -> list[Obj]:
        with self._lock:
            return list(self._jobs.get(key, {}).values())

    def forget(self, key: Key) -> None:
        """The LabelingJob is gone: drop its Jobs (garbage collection deletes them)."""
        with self._lock:
            self._jobs.pop(key, None)
            self._listed.pop(key, None)
