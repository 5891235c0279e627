"""Runs inside a fresh mount namespace: bind-mounts a container's volumes, then execs it.

Invoked as `unshare --mount --propagation private -- python -m devcluster.agent.podexec
SPEC.json`; stdlib only, so it starts fast.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys

MS_RDONLY = 0x1
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000

_libc = ctypes.CDLL(None, use_errno=True)


def _mount(source: str | None, target: str, flags: int) -> None:
    src = source.encode() if source else None
    if _libc.mount(src, target.encode(), None, flags, None) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"mount {source} on {target}: {os.strerror(errno)}")


def _ensure_mount_point(target: str, is_dir: bool) -> None:
    if os.path.lexists(target):
        return
    if is_dir:
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target) or "/", exist_ok=True)
        with open(target, "a"):
            pass


def bind(source: str, target: str, read_only: bool) -> None:
    _ensure_mount_point(target, os.path.isdir(source))
    _mount(source, target, MS_BIND | MS_REC)
    if read_only:
        _mount(None, target, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC)


def join_cgroup(procs: str) -> None:
    """Moves this process, and so the container it becomes, into one of the pod's groups."""
    try:
        with open(procs, "w") as handle:
            handle.write(str(os.getpid()))
    except OSError as error:
        print(f"podexec: cannot join {procs}: {error}", file=sys.stderr)


def main(spec_path: str) -> int:
    with open(spec_path) as handle:
        spec = json.load(handle)
    for procs in spec.get("cgroups") or []:
        join_cgroup(procs)
    # Hold every source open first: a volume mounted over a parent folder of a later
    # source (an emptyDir on /tmp, with the agent's state under /tmp) must not hide it.
    handles = [os.open(m["source"], os.O_PATH | os.O_CLOEXEC) for m in spec["mounts"]]
    targets = [os.path.normpath(m["target"]) for m in spec["mounts"]]
    hidden = [
        p
        for p in spec.get("preserve", [])
        if any(p.startswith(t.rstrip("/") + "/") for t in targets)
    ]
    kept = [os.open(p, os.O_PATH | os.O_CLOEXEC) for p in hidden]
    for mount, handle in zip(spec["mounts"], handles, strict=True):
        bind(f"/proc/self/fd/{handle}", mount["target"], mount.get("readOnly", False))
    for path, handle in zip(hidden, kept, strict=True):
        bind(f"/proc/self/fd/{handle}", path, read_only=True)
    for handle in handles + kept:
        os.close(handle)
    working_dir = spec.get("workingDir")
    if working_dir:
        os.chdir(working_dir)
    argv = spec["argv"]
    try:
        os.execvpe(argv[0], argv, spec["env"])
    except OSError as error:
        print(f"podexec: cannot run {argv[0]!r}: {error}", file=sys.stderr)
        return 127
    return 0  # not reached: exec replaced the process


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
