"""How many CPUs this process may use: its affinity, bounded by its cgroup's CPU quota
(cgroup v2 `cpu.max`, v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us`), which is what a
container's CPU limit sets and what `os.cpu_count()` does not see."""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _quota(root: Path) -> float | None:
    """CPUs the cgroup's quota allows, None when unlimited or unknown."""
    v2 = _read(root / "cpu.max")
    if v2 is not None:
        limit, _, every = v2.partition(" ")
        if limit != "max" and every:
            return int(limit) / int(every)
        return None
    for folder in (root / "cpu", root / "cpu,cpuacct", root):
        quota = _read(folder / "cpu.cfs_quota_us")
        period = _read(folder / "cpu.cfs_period_us")
        if quota is not None and period is not None:
            return int(quota) / int(period) if int(quota) > 0 else None
    return None


def usable_cpus(root: Path = CGROUP_ROOT) -> int:
    """CPUs to run on: the affinity mask's count, at most the quota (rounded up: a limit
    of 1.5 CPUs runs two threads for part of each period), at least 1."""
    try:
        available = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        available = os.cpu_count() or 1
    try:
        quota = _quota(root)
    except ValueError:
        quota = None
    if quota is not None:
        available = min(available, math.ceil(quota))
    return max(1, available)
