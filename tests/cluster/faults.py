"""SIGKILL of a step's process at a chosen moment of its work, on the dev cluster's node.

A moment is a state of the workspace (say: machine-labels.jsonl and selection.json
written, thresholds.json not yet). To hit it every time, not by luck, `strace` stops the
step (SIGSTOP) after each file system call that names the watched folder: every write into
a folder first looks the folder up, and the first one creates it. At each stop the test
reads the workspace, then sends SIGKILL if the state is there, else SIGCONT; it also kills
at once when it sees the state between stops (a step waiting for its workforce). The
kill is the test's own `kill -9`, never strace's.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kubernetes import client

from tests.cluster import podprocess
from tests.cluster.kubeutil import wait_for

CONTAINER = "worker"  # labelpilot.controller.job_labels.CONTAINER


@dataclass(frozen=True)
class StepFault:
    job: str  # the step's Job, e.g. "storm-i0-threshold"
    step: str  # its `labelpilot worker <step>`
    watch: Path  # the folder whose lookups hold the step still
    ready: Callable[[], bool]  # the workspace is in the state to kill in
    moment: str  # that state, in words


@dataclass(frozen=True)
class InjectedKill:
    fault: StepFault
    pod: str
    pod_uid: str


def _first_pod(
    core: client.CoreV1Api, namespace: str, job: str, pods: Path
) -> tuple[client.V1Pod, int] | None:
    selector = f"batch.kubernetes.io/job-name={job}"
    for pod in core.list_namespaced_pod(namespace, label_selector=selector).items:
        pid = podprocess.container_pid(pods, pod, CONTAINER)
        if pid is not None:
            return pod, pid
    return None


def _strace(pid: int, watch: Path, log: Path) -> subprocess.Popen[bytes]:
    strace = shutil.which("strace")
    assert strace, "the fault tests need strace on the PATH (Debian: apt-get install strace)"
    return subprocess.Popen(
        [
            strace,
            "-qq",
            "-f",
            "-o",
            str(log),
            "-p",
            str(pid),
            "-P",
            str(watch),
            "-e",
            "trace=%file",
            "-e",
            "inject=%file:signal=STOP",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )


def _stops(log: Path, pid: int) -> int:
    """How often the process has stopped so far (strace writes a line per stop and thread;
    its main thread's lines count each stop once)."""
    try:
        text = log.read_text()
    except FileNotFoundError:
        return 0
    return len(re.findall(rf"^{pid}\s+--- stopped by SIGSTOP ---$", text, re.M))


def inject(
    fault: StepFault,
    core: client.CoreV1Api,
    namespace: str,
    pods: Path,
    logs: Path,
    ended: Callable[[], str | None],
    timeout: float = 180,
) -> InjectedKill:
    """Waits for the fault's step to start, kills it at the fault's moment, and checks
    that the kill left the workspace in that state (the step did not get further).
    `ended` says why the step will never start (its LabelingJob ended), else None."""

    def started() -> tuple[client.V1Pod, int] | None:
        why = ended()
        if why:
            raise AssertionError(f"{fault.job} never started: {why}")
        return _first_pod(core, namespace, fault.job, pods)

    pod, pid = wait_for(started, timeout, interval=0.05, what=f"a pod of {fault.job} to start")
    log = logs / f"{fault.job}.strace"
    tracer = _strace(pid, fault.watch, log)
    released = 0
    try:
        wait_for(
            lambda: podprocess.traced(pid) or not podprocess.alive(pid),
            30,
            interval=0.01,
            what=f"strace to attach to {fault.job}'s process {pid}",
        )

        def at_moment() -> bool:
            nonlocal released
            if not podprocess.alive(pid):
                raise AssertionError(f"{fault.job}: the step ended before {fault.moment}")
            stops = _stops(log, pid)  # read before the workspace: a stop holds it still
            if podprocess.runs_worker_step(pid, pod.metadata.name, fault.step) and fault.ready():
                return True
            if stops > released:
                released = stops
                os.kill(pid, signal.SIGCONT)
            return False

        wait_for(at_moment, timeout, interval=0.01, what=f"{fault.job}: {fault.moment}")
        os.kill(pid, signal.SIGKILL)
        tracer.wait(30)
    finally:
        if tracer.poll() is None:  # the test failed: let the step go on untraced
            tracer.terminate()
            tracer.wait(30)
            if podprocess.alive(pid):
                os.kill(pid, signal.SIGCONT)
    wait_for(lambda: not podprocess.alive(pid), 30, what=f"{fault.job}'s process to die")
    assert fault.ready(), f"{fault.job}: the workspace left {fault.moment!r} after the kill"
    trace = log.read_text()
    assert "+++ killed by SIGKILL +++" in trace, f"{fault.job}: strace saw no SIGKILL:\n{trace}"
    return InjectedKill(fault, pod.metadata.name, pod.metadata.uid)
