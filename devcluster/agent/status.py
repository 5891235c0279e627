"""Pod and container status objects, as kubelet reports them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]
MESSAGE_LIMIT = 4096


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class ContainerState:
    name: str
    image: str
    init: bool = False
    pid: int | None = None
    started_at: str | None = None
    restart_count: int = 0
    exit_code: int | None = None
    reason: str | None = None
    message: str | None = None
    finished_at: str | None = None
    waiting_reason: str | None = "ContainerCreating"
    last_termination: Obj | None = field(default=None)

    @property
    def running(self) -> bool:
        return self.pid is not None and self.exit_code is None

    @property
    def terminated(self) -> bool:
        return self.exit_code is not None

    def as_status(self) -> Obj:
        state: Obj
        if self.running:
            state = {"running": {"startedAt": self.started_at}}
        elif self.terminated:
            state = {"terminated": self.terminated_state()}
        else:
            state = {"waiting": {"reason": self.waiting_reason or "ContainerCreating"}}
        result: Obj = {
            "name": self.name,
            "image": self.image,
            "imageID": "",
            "containerID": f"labelpilot://{self.pid}" if self.pid else None,
            "ready": self.running and not self.init,
            "started": self.running,
            "restartCount": self.restart_count,
            "state": state,
        }
        if self.last_termination:
            result["lastState"] = {"terminated": self.last_termination}
        return result

    def terminated_state(self) -> Obj:
        state: Obj = {
            "exitCode": self.exit_code,
            "reason": self.reason or ("Completed" if self.exit_code == 0 else "Error"),
            "startedAt": self.started_at,
            "finishedAt": self.finished_at,
            "containerID": f"labelpilot://{self.pid}",
        }
        if self.message:
            state["message"] = self.message[:MESSAGE_LIMIT]
        return state


def _condition(kind: str, ok: bool, reason: str | None = None) -> Obj:
    condition: Obj = {
        "type": kind,
        "status": "True" if ok else "False",
        "lastProbeTime": None,
        "lastTransitionTime": now(),
    }
    if reason:
        condition["reason"] = reason
    return condition


def pod_status(
    phase: str,
    start_time: str,
    init: list[ContainerState],
    main: list[ContainerState],
    *,
    reason: str | None = None,
    message: str | None = None,
) -> Obj:
    initialized = all(c.terminated and c.exit_code == 0 for c in init)
    ready = phase == "Running" and all(c.running for c in main)
    terminal = phase in ("Succeeded", "Failed")
    not_ready_reason = "PodCompleted" if terminal else "ContainersNotReady"
    status: Obj = {
        "phase": phase,
        "hostIP": "127.0.0.1",
        "hostIPs": [{"ip": "127.0.0.1"}],
        "podIP": "127.0.0.1",
        "podIPs": [{"ip": "127.0.0.1"}],
        "startTime": start_time,
        "conditions": [
            _condition("PodReadyToStartContainers", not terminal),
            _condition(
                "Initialized",
                initialized or terminal,
                None if initialized or terminal else "ContainersNotInitialized",
            ),
            _condition("ContainersReady", ready, None if ready else not_ready_reason),
            _condition("Ready", ready, None if ready else not_ready_reason),
        ],
        "containerStatuses": [c.as_status() for c in main],
    }
    if init:
        status["initContainerStatuses"] = [c.as_status() for c in init]
    if reason:
        status["reason"] = reason
    if message:
        status["message"] = message
    return status
