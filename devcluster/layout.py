"""Where a dev cluster keeps its state, and which loopback ports it listens on."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PORT = 16443
STATE_ENV = "LABELPILOT_DEV_CLUSTER_DIR"
PORT_ENV = "LABELPILOT_DEV_CLUSTER_PORT"


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "labelpilot" / "dev-cluster"


@dataclass(frozen=True)
class ClusterLayout:
    state_dir: Path
    apiserver_port: int = DEFAULT_PORT

    @classmethod
    def from_env(cls, state_dir: Path | None = None, port: int | None = None) -> ClusterLayout:
        directory = state_dir or Path(os.environ.get(STATE_ENV) or default_state_dir())
        return cls(directory.resolve(), port or int(os.environ.get(PORT_ENV) or DEFAULT_PORT))

    @property
    def etcd_port(self) -> int:
        return self.apiserver_port + 1

    @property
    def etcd_peer_port(self) -> int:
        return self.apiserver_port + 2

    @property
    def controller_manager_port(self) -> int:
        return self.apiserver_port + 3

    @property
    def scheduler_port(self) -> int:
        return self.apiserver_port + 4

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.apiserver_port}"

    @property
    def pki(self) -> Path:
        return self.state_dir / "pki"

    @property
    def logs(self) -> Path:
        return self.state_dir / "logs"

    @property
    def pids(self) -> Path:
        return self.state_dir / "pids"

    @property
    def etcd_data(self) -> Path:
        return self.state_dir / "etcd"

    @property
    def pods(self) -> Path:
        """One folder per pod: its volumes, termination logs and container logs."""
        return self.state_dir / "pods"

    @property
    def volumes(self) -> Path:
        """Host folders that back dynamically provisioned PersistentVolumes."""
        return self.state_dir / "volumes"

    @property
    def audit_policy(self) -> Path:
        return self.state_dir / "audit-policy.yaml"

    @property
    def admin_kubeconfig(self) -> Path:
        return self.kubeconfig("admin")

    def kubeconfig(self, identity: str) -> Path:
        return self.state_dir / "kubeconfig" / f"{identity}.kubeconfig"

    def log(self, component: str) -> Path:
        return self.logs / f"{component}.log"

    def pidfile(self, component: str) -> Path:
        return self.pids / f"{component}.pid"
