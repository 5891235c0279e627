"""CPU and memory for pods the way kubelet confines them: one group for all pods, one child
per pod.

The group of all pods (kubelet's `kubepods`) weighs as much as one process session of
the machine's own (the control plane's processes, a local operator): however many pods
run, they cannot starve those. Inside it each pod weighs its CPU requests (BestEffort: 2
shares, as kubelet), is capped by its CPU limits (CFS quota) and by its memory limits when
every container sets one; a container the kernel kills for memory ends OOMKilled. cgroup v1
(`cpu` and `memory` hierarchies) and v2 (unified) are used; a controller that cannot be
written is left out, and without any the agent says once that pods run unmanaged.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from kubernetes.utils import parse_quantity

from devcluster.agent.kube import Obj

log = logging.getLogger("labelpilot.node-agent")
CGROUP_ROOT = Path("/sys/fs/cgroup")
CONTROLLERS = ("cpu", "memory")
PERIOD_US = 100_000
MIN_SHARES, MAX_SHARES = 2, 262_144
ALL_PODS_SHARES = 1024
MIN_QUOTA_US = 1000


@dataclass(frozen=True)
class PodResources:
    shares: int
    quota_us: int | None
    memory_bytes: int | None = None


def pod_resources(pod: Obj) -> PodResources:
    """Shares from the containers' CPU requests; a CPU quota and a memory limit from their
    limits, each only when every container sets it (as kubelet)."""
    containers = pod["spec"]["containers"]
    requests = sum(_quantity(c, "requests", "cpu", 1000) or 0 for c in containers)
    shares = min(MAX_SHARES, max(MIN_SHARES, requests * 1024 // 1000))
    cpu = [_quantity(c, "limits", "cpu", 1000) for c in containers]
    memory = [_quantity(c, "limits", "memory", 1) for c in containers]
    quota = None
    if cpu and all(limit is not None for limit in cpu):
        quota = max(MIN_QUOTA_US, sum(cpu) * PERIOD_US // 1000)  # type: ignore[arg-type]
    total_memory = sum(memory) if memory and all(m is not None for m in memory) else None
    return PodResources(shares, quota, total_memory)  # type: ignore[arg-type]


def _quantity(container: Obj, kind: str, resource: str, scale: int) -> int | None:
    value = ((container.get("resources") or {}).get(kind) or {}).get(resource)
    if value is None:
        return None
    return int(parse_quantity(value) * scale)


def weight(shares: int) -> int:
    """cgroup v2 cpu.weight for cgroup v1 cpu.shares (the mapping runc uses)."""
    return 1 + (shares - MIN_SHARES) * 9999 // (MAX_SHARES - MIN_SHARES)


class PodCgroups:
    """The all-pods groups of one dev cluster (one per v1 hierarchy, or one unified) and
    their per-pod children."""

    def __init__(self, bases: dict[str, Path], unified: bool) -> None:
        self.bases = bases  # controller -> all-pods group ("unified" on v2)
        self.unified = unified

    @classmethod
    def create(cls, state_dir: Path, root: Path = CGROUP_ROOT) -> PodCgroups | None:
        name = "labelpilot-pods-" + hashlib.sha256(str(state_dir).encode()).hexdigest()[:10]
        unified = (root / "cgroup.controllers").exists()
        wanted = {"unified": root / name} if unified else {c: root / c / name for c in CONTROLLERS}
        bases: dict[str, Path] = {}
        for controller, base in wanted.items():
            try:
                if unified:
                    _enable(root)
                base.mkdir(exist_ok=True)
                if unified:
                    _enable(base)
                _write(base, controller, PodResources(ALL_PODS_SHARES, None))
            except OSError as error:
                log.warning("pods run without %s groups (%s: %s)", controller, base, error)
                continue
            bases[controller] = base
        if not bases:
            return None
        groups = cls(bases, unified)
        groups.remove_stale()
        return groups

    def pod_procs(self, key: str, resources: PodResources) -> list[Path]:
        """The cgroup.procs files a pod's containers join (none that cannot be made)."""
        procs = []
        for controller, base in self.bases.items():
            path = base / key
            try:
                path.mkdir(exist_ok=True)
                _write(path, controller, resources)
            except OSError as error:
                log.warning("pod %s: no %s group: %s", key, controller, error)
                continue
            procs.append(path / "cgroup.procs")
        return procs

    def oom_killed(self, key: str) -> bool:
        """Whether the kernel killed a process of the pod for its memory limit."""
        base = self.bases.get("unified") or self.bases.get("memory")
        if base is None:
            return False
        name = "memory.events" if self.unified else "memory.oom_control"
        try:
            lines = (base / key / name).read_text().splitlines()
        except OSError:
            return False
        counts = dict(line.split() for line in lines if len(line.split()) == 2)
        return int(counts.get("oom_kill", "0")) > 0

    def remove_pod(self, key: str) -> None:
        for base in self.bases.values():
            with contextlib.suppress(OSError):
                (base / key).rmdir()

    def remove_stale(self) -> None:
        for base in self.bases.values():
            for child in base.iterdir():
                if child.is_dir():
                    with contextlib.suppress(OSError):
                        child.rmdir()

    def remove(self) -> None:
        self.remove_stale()
        for base in self.bases.values():
            with contextlib.suppress(OSError):
                base.rmdir()


def _write(group: Path, controller: str, resources: PodResources) -> None:
    """One group's limits in one hierarchy ("unified": every controller of cgroup v2)."""
    if controller == "unified":
        (group / "cpu.weight").write_text(str(weight(resources.shares)))
        (group / "cpu.max").write_text(f"{resources.quota_us or 'max'} {PERIOD_US}")
        (group / "memory.max").write_text(str(resources.memory_bytes or "max"))
    elif controller == "cpu":
        (group / "cpu.shares").write_text(str(resources.shares))
        (group / "cpu.cfs_period_us").write_text(str(PERIOD_US))
        (group / "cpu.cfs_quota_us").write_text(str(resources.quota_us or -1))
    else:
        (group / "memory.limit_in_bytes").write_text(str(resources.memory_bytes or -1))


def _enable(group: Path) -> None:
    control = group / "cgroup.subtree_control"
    enabled = control.read_text().split() if control.exists() else []
    missing = [c for c in CONTROLLERS if c not in enabled]
    if missing:
        control.write_text(" ".join(f"+{c}" for c in missing))
