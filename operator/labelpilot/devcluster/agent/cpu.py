"""CPU for pods the way kubelet shares it: one group for all pods, one child per pod.

The group of all pods (kubelet's `kubepods`) weighs as much as one process session of
the machine's own (the control plane's processes, a local operator): however many pods
run, they cannot starve those. Inside it each pod weighs its CPU requests (BestEffort: 2
shares, as kubelet) and is capped by its CPU limits (CFS quota) when every container sets
one. cgroup v1 (`cpu` controller) and v2 (unified, `cpu` enabled at the root) are used;
without a writable cpu controller pods run unmanaged and the agent says so once.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from kubernetes.utils import parse_quantity

from labelpilot.devcluster.agent.kube import Obj

log = logging.getLogger("labelpilot.node-agent")
CGROUP_ROOT = Path("/sys/fs/cgroup")
PERIOD_US = 100_000
MIN_SHARES, MAX_SHARES = 2, 262_144
ALL_PODS_SHARES = 1024
MIN_QUOTA_US = 1000


@dataclass(frozen=True)
class PodCpu:
    shares: int
    quota_us: int | None


def pod_cpu(pod: Obj) -> PodCpu:
    """Shares from the containers' CPU requests, a quota from their limits (all or none)."""
    containers = pod["spec"]["containers"]
    requests = sum(_millicpu(c, "requests") or 0 for c in containers)
    limits = [_millicpu(c, "limits") for c in containers]
    shares = min(MAX_SHARES, max(MIN_SHARES, requests * 1024 // 1000))
    quota = None
    if limits and all(limit is not None for limit in limits):
        quota = max(MIN_QUOTA_US, sum(limits) * PERIOD_US // 1000)  # type: ignore[arg-type]
    return PodCpu(shares, quota)


def _millicpu(container: Obj, kind: str) -> int | None:
    value = ((container.get("resources") or {}).get(kind) or {}).get("cpu")
    if value is None:
        return None
    return int(parse_quantity(value) * 1000)


def weight(shares: int) -> int:
    """cgroup v2 cpu.weight for cgroup v1 cpu.shares (the mapping runc uses)."""
    return 1 + (shares - MIN_SHARES) * 9999 // (MAX_SHARES - MIN_SHARES)


class CpuGroups:
    """The all-pods group of one dev cluster and its per-pod children."""

    def __init__(self, base: Path, unified: bool) -> None:
        self.base = base
        self.unified = unified

    @classmethod
    def create(cls, state_dir: Path, root: Path = CGROUP_ROOT) -> CpuGroups | None:
        name = "labelpilot-pods-" + hashlib.sha256(str(state_dir).encode()).hexdigest()[:10]
        unified = (root / "cgroup.controllers").exists()
        parent = root if unified else root / "cpu"
        try:
            if unified:
                _enable_cpu(root)
            groups = cls(parent / name, unified)
            groups.base.mkdir(exist_ok=True)
            if unified:
                _enable_cpu(groups.base)
            groups._set(groups.base, ALL_PODS_SHARES, None)
        except OSError as error:
            log.warning("pods run without CPU groups (no writable cpu cgroup at %s: %s)",
                        parent, error)
            return None
        groups.remove_stale()
        return groups

    def pod_procs(self, key: str, cpu: PodCpu) -> Path | None:
        """The cgroup.procs file a pod's containers join; None if it cannot be made."""
        path = self.base / key
        try:
            path.mkdir(exist_ok=True)
            self._set(path, cpu.shares, cpu.quota_us)
        except OSError as error:
            log.warning("pod %s: no CPU group: %s", key, error)
            return None
        return path / "cgroup.procs"

    def remove_pod(self, key: str) -> None:
        with contextlib.suppress(OSError):
            (self.base / key).rmdir()

    def remove_stale(self) -> None:
        for child in self.base.iterdir():
            if child.is_dir():
                self.remove_pod(child.name)

    def remove(self) -> None:
        self.remove_stale()
        with contextlib.suppress(OSError):
            self.base.rmdir()

    def _set(self, path: Path, shares: int, quota_us: int | None) -> None:
        if self.unified:
            (path / "cpu.weight").write_text(str(weight(shares)))
            (path / "cpu.max").write_text(f"{quota_us or 'max'} {PERIOD_US}")
        else:
            (path / "cpu.shares").write_text(str(shares))
            (path / "cpu.cfs_period_us").write_text(str(PERIOD_US))
            (path / "cpu.cfs_quota_us").write_text(str(quota_us or -1))


def _enable_cpu(group: Path) -> None:
    control = group / "cgroup.subtree_control"
    enabled = control.read_text().split() if control.exists() else []
    if "cpu" not in enabled:
        control.write_text("+cpu")

