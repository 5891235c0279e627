"""`python -m devcluster up|down|status`: the whole cluster's life cycle."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from pathlib import Path

from devcluster import control_plane as cp
from devcluster.audit import write_audit_policy
from devcluster.binaries import bin_dir
from devcluster.kubeconfig import write_all
from devcluster.layout import ClusterLayout
from devcluster.pki import ensure_pki

START_TIMEOUT = 90.0


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _component_ready(layout: ClusterLayout, component: cp.Component) -> bool:
    if component.name == "etcd":
        return _port_open(layout.etcd_port)
    if component.name == "node-agent":
        return (layout.state_dir / "agent-ready").exists()
    assert component.health_url is not None
    return cp.healthy(component.health_url, layout.pki / "ca.crt")


def up(layout: ClusterLayout, *, build: bool = False) -> float:
    """Starts whatever is not running yet and waits until all of it is healthy."""
    started = time.monotonic()
    bins = bin_dir(build=build)
    ensure_pki(layout.pki)
    write_all(layout)
    write_audit_policy(layout.audit_policy)
    for component in cp.components(layout, bins):
        pid = cp.read_pid(layout, component.name)
        if pid is None:
            if component.name == "node-agent":
                (layout.state_dir / "agent-ready").unlink(missing_ok=True)
            pid = cp.start(layout, component)
        log = layout.log(component.name)

        def ready(component: cp.Component = component, pid: int = pid, log: Path = log) -> bool:
            if not cp.process_alive(pid):
                raise cp.ComponentFailed(component.name, log, "process exited")
            return _component_ready(layout, component)

        if not cp.wait_until(ready, START_TIMEOUT):
            raise cp.ComponentFailed(component.name, log, f"not healthy after {START_TIMEOUT:.0f}s")
    if not cp.wait_until(lambda: _nodes_schedulable(layout), START_TIMEOUT):
        raise cp.ComponentFailed(
            "kube-controller-manager",
            layout.log("kube-controller-manager"),
            "nodes still carry the not-ready taint",
        )
    return time.monotonic() - started


def _nodes_schedulable(layout: ClusterLayout) -> bool:
    """True once the node lifecycle controller has lifted every not-ready taint."""
    from kubernetes import client, config

    api = config.new_client_from_config(config_file=str(layout.admin_kubeconfig))
    with api:
        nodes = client.CoreV1Api(api).list_node().items
    return bool(nodes) and not any(
        taint.key.startswith("node.kubernetes.io/")
        for node in nodes
        for taint in (node.spec.taints or [])
    )


def down(layout: ClusterLayout) -> list[str]:
    """Stops every process the cluster started, the node agent (and its pods) first."""
    stopped = []
    for name in (
        "node-agent",
        "kube-scheduler",
        "kube-controller-manager",
        "kube-apiserver",
        "etcd",
    ):
        pid = cp.read_pid(layout, name)
        if pid is not None:
            cp.stop_pid(pid)
            stopped.append(name)
        layout.pidfile(name).unlink(missing_ok=True)
    for pidfile in layout.pods.glob("*/*.pid"):
        try:
            pid = int(pidfile.read_text())
        except ValueError:
            continue
        if cp.process_alive(pid):
            cp.stop_pid(pid, timeout=2.0)
            stopped.append(f"pod process {pid}")
    return stopped


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    pid: int | None
    healthy: bool
    log: Path


def status(layout: ClusterLayout) -> list[ComponentStatus]:
    result = []
    try:
        bins = bin_dir()
    except Exception:
        bins = Path("/nonexistent")
    for component in cp.components(layout, bins):
        pid = cp.read_pid(layout, component.name)
        ok = pid is not None and _component_ready(layout, component)
        result.append(ComponentStatus(component.name, pid, ok, layout.log(component.name)))
    return result
