"""The node agent's CPU groups: kubelet's arithmetic, written into a cgroup tree."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from labelpilot.devcluster.agent.cpu import CpuGroups, PodCpu, pod_cpu, weight


def _pod(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"spec": {"containers": [{"name": f"c{i}", "resources": r}
                                    for i, r in enumerate(resources)]}}


def test_shares_follow_requests_and_quota_follows_limits() -> None:
    pod = _pod({"requests": {"cpu": "500m"}, "limits": {"cpu": "2"}},
               {"requests": {"cpu": "0.25"}, "limits": {"cpu": "250m"}})
    assert pod_cpu(pod) == PodCpu(shares=768, quota_us=225_000)


def test_best_effort_gets_two_shares_and_no_quota() -> None:
    assert pod_cpu(_pod({})) == PodCpu(shares=2, quota_us=None)


def test_a_container_without_a_limit_leaves_the_pod_uncapped() -> None:
    pod = _pod({"requests": {"cpu": "1"}, "limits": {"cpu": "1"}}, {"requests": {"cpu": "1"}})
    assert pod_cpu(pod) == PodCpu(shares=2048, quota_us=None)


def test_tiny_limits_keep_a_usable_quota() -> None:
    assert pod_cpu(_pod({"limits": {"cpu": "1m"}})).quota_us == 1000


def test_weight_maps_the_share_range_onto_cgroup_v2() -> None:
    assert (weight(2), weight(1024), weight(262_144)) == (1, 39, 10_000)


def test_v1_tree_gets_an_all_pods_group_and_pod_children(tmp_path: Path) -> None:
    (tmp_path / "cpu").mkdir()
    groups = CpuGroups.create(Path("/state/a"), root=tmp_path)
    assert groups is not None and not groups.unified
    assert groups.base.parent == tmp_path / "cpu"
    assert (groups.base / "cpu.shares").read_text() == "1024"
    procs = groups.pod_procs("uid-1", PodCpu(shares=512, quota_us=50_000))
    assert procs == groups.base / "uid-1" / "cgroup.procs"
    assert (procs.parent / "cpu.shares").read_text() == "512"
    assert (procs.parent / "cpu.cfs_quota_us").read_text() == "50000"
    assert (procs.parent / "cpu.cfs_period_us").read_text() == "100000"
    other = CpuGroups.create(Path("/state/b"), root=tmp_path)
    assert other is not None and other.base != groups.base


def test_v2_tree_enables_cpu_and_writes_weight_and_max(tmp_path: Path) -> None:
    (tmp_path / "cgroup.controllers").write_text("cpu memory pids")
    (tmp_path / "cgroup.subtree_control").write_text("")
    groups = CpuGroups.create(Path("/state/a"), root=tmp_path)
    assert groups is not None and groups.unified
    assert (tmp_path / "cgroup.subtree_control").read_text() == "+cpu"
    assert (groups.base / "cpu.weight").read_text() == "39"
    assert (groups.base / "cpu.max").read_text() == "max 100000"
    procs = groups.pod_procs("uid-1", PodCpu(shares=2, quota_us=20_000))
    assert procs is not None
    assert (procs.parent / "cpu.max").read_text() == "20000 100000"


def test_no_writable_controller_means_unmanaged_pods(tmp_path: Path) -> None:
    assert CpuGroups.create(Path("/state/a"), root=tmp_path / "missing") is None
