"""The node agent's pod cgroups: kubelet's arithmetic, written into a cgroup tree."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from devcluster.agent.cgroups import PodCgroups, PodResources, pod_resources, weight


def _pod(*resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "spec": {"containers": [{"name": f"c{i}", "resources": r} for i, r in enumerate(resources)]}
    }


def test_shares_follow_requests_and_caps_follow_limits() -> None:
    pod = _pod(
        {"requests": {"cpu": "500m"}, "limits": {"cpu": "2", "memory": "1Gi"}},
        {"requests": {"cpu": "0.25"}, "limits": {"cpu": "250m", "memory": "512Mi"}},
    )
    assert pod_resources(pod) == PodResources(768, 225_000, 1536 * 2**20)


def test_best_effort_gets_two_shares_and_no_caps() -> None:
    assert pod_resources(_pod({})) == PodResources(2, None, None)


def test_a_container_without_a_limit_leaves_the_pod_uncapped() -> None:
    pod = _pod(
        {"requests": {"cpu": "1"}, "limits": {"cpu": "1", "memory": "1Gi"}},
        {"requests": {"cpu": "1"}},
    )
    assert pod_resources(pod) == PodResources(2048, None, None)


def test_tiny_limits_keep_a_usable_quota() -> None:
    assert pod_resources(_pod({"limits": {"cpu": "1m"}})).quota_us == 1000


def test_weight_maps_the_share_range_onto_cgroup_v2() -> None:
    assert (weight(2), weight(1024), weight(262_144)) == (1, 39, 10_000)


def test_v1_trees_get_all_pods_groups_and_pod_children(tmp_path: Path) -> None:
    (tmp_path / "cpu").mkdir()
    (tmp_path / "memory").mkdir()
    groups = PodCgroups.create(Path("/state/a"), root=tmp_path)
    assert groups is not None and not groups.unified
    assert set(groups.bases) == {"cpu", "memory"}
    assert (groups.bases["cpu"] / "cpu.shares").read_text() == "1024"
    assert (groups.bases["memory"] / "memory.limit_in_bytes").read_text() == "-1"
    procs = groups.pod_procs("uid-1", PodResources(512, 50_000, 2**30))
    assert procs == [groups.bases[c] / "uid-1" / "cgroup.procs" for c in ("cpu", "memory")]
    cpu, memory = (p.parent for p in procs)
    assert (cpu / "cpu.shares").read_text() == "512"
    assert (cpu / "cpu.cfs_quota_us").read_text() == "50000"
    assert (cpu / "cpu.cfs_period_us").read_text() == "100000"
    assert (memory / "memory.limit_in_bytes").read_text() == str(2**30)
    assert not (cpu / "memory.limit_in_bytes").exists()
    other = PodCgroups.create(Path("/state/b"), root=tmp_path)
    assert other is not None and other.bases["cpu"] != groups.bases["cpu"]


def test_v1_oom_kill_is_read_from_the_pods_memory_group(tmp_path: Path) -> None:
    (tmp_path / "memory").mkdir()
    groups = PodCgroups.create(Path("/state/a"), root=tmp_path)
    assert groups is not None and set(groups.bases) == {"memory"}
    (procs,) = groups.pod_procs("uid-1", PodResources(2, None, 2**26))
    control = procs.parent / "memory.oom_control"
    control.write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 0\n")
    assert not groups.oom_killed("uid-1")
    control.write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 1\n")
    assert groups.oom_killed("uid-1")
    assert not groups.oom_killed("uid-2")


def test_v2_tree_enables_controllers_and_writes_weight_and_caps(tmp_path: Path) -> None:
    (tmp_path / "cgroup.controllers").write_text("cpu memory pids")
    (tmp_path / "cgroup.subtree_control").write_text("")
    groups = PodCgroups.create(Path("/state/a"), root=tmp_path)
    assert groups is not None and groups.unified
    assert (tmp_path / "cgroup.subtree_control").read_text() == "+cpu +memory"
    base = groups.bases["unified"]
    assert (base / "cpu.weight").read_text() == "39"
    assert (base / "cpu.max").read_text() == "max 100000"
    assert (base / "memory.max").read_text() == "max"
    (procs,) = groups.pod_procs("uid-1", PodResources(2, 20_000, 2**26))
    assert (procs.parent / "cpu.max").read_text() == "20000 100000"
    assert (procs.parent / "memory.max").read_text() == str(2**26)
    (procs.parent / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
    assert groups.oom_killed("uid-1")


def test_no_writable_controller_means_unmanaged_pods(tmp_path: Path) -> None:
    assert PodCgroups.create(Path("/state/a"), root=tmp_path / "missing") is None
