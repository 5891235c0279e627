"""The CPUs a step's torch may use: affinity bounded by the cgroup's quota."""

import os
import subprocess
import sys

from labelpilot.ml.cpus import usable_cpus

AFFINITY = len(os.sched_getaffinity(0))


def test_a_cgroup_v2_quota_bounds_the_cpus_and_rounds_up(tmp_path):
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert usable_cpus(tmp_path) == min(AFFINITY, 2)
    (tmp_path / "cpu.max").write_text("50000 100000\n")
    assert usable_cpus(tmp_path) == 1


def test_no_quota_leaves_the_affinity(tmp_path):
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert usable_cpus(tmp_path) == AFFINITY
    assert usable_cpus(tmp_path / "missing") == AFFINITY


def test_a_cgroup_v1_quota_is_read_from_the_cpu_controller(tmp_path):
    cpu = tmp_path / "cpu,cpuacct"
    cpu.mkdir()
    (cpu / "cpu.cfs_quota_us").write_text("100000\n")
    (cpu / "cpu.cfs_period_us").write_text("100000\n")
    assert usable_cpus(tmp_path) == 1
    (cpu / "cpu.cfs_quota_us").write_text("-1\n")
    assert usable_cpus(tmp_path) == AFFINITY


def test_openmp_threads_sleep_when_idle_unless_the_user_says_otherwise():
    probe = "import os, labelpilot.ml; print(os.environ['OMP_WAIT_POLICY'])"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "PASSIVE", out.stderr
    env["OMP_WAIT_POLICY"] = "ACTIVE"
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "ACTIVE", out.stderr
