"""A pod's container on the dev cluster, as the local process the node agent runs.

The agent records each running container's process id in `<pods>/<namespace>_<pod>_<uid>/
<container>.pid` (devcluster/agent/runtime.py); the process is first
the agent's `podexec`, which then execs the container's command in place.
"""

from __future__ import annotations

from pathlib import Path

from kubernetes import client


def container_pid(pods: Path, pod: client.V1Pod, container: str) -> int | None:
    meta = pod.metadata
    pidfile = pods / f"{meta.namespace}_{meta.name}_{meta.uid}" / f"{container}.pid"
    try:
        return int(pidfile.read_text())
    except (FileNotFoundError, ValueError):
        return None


def _status(pid: int) -> dict[str, str]:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return {}
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


def alive(pid: int) -> bool:
    """Running: neither gone nor a zombie the agent has not reaped yet."""
    state = _status(pid).get("State", "")
    return bool(state) and not state.startswith(("Z", "X"))


def traced(pid: int) -> bool:
    return _status(pid).get("TracerPid", "0").strip() != "0"


def command_line(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def environment(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return {}
    pairs = (part.decode(errors="replace").partition("=") for part in raw.split(b"\0") if part)
    return {key: value for key, _, value in pairs}


def runs_worker_step(pid: int, pod: str, step: str) -> bool:
    """Whether `pid` is pod `pod`'s container running `labelpilot worker <step>` (the
    agent names the pod in the container's HOSTNAME)."""
    argv = command_line(pid)
    ran = any(
        argv[i : i + 2] == ["worker", step] and argv[i - 1].endswith("labelpilot")
        for i in range(1, len(argv))
    )
    return ran and environment(pid).get("HOSTNAME") == pod
