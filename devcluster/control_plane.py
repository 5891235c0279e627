"""Starting and stopping the control-plane processes of the dev cluster."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from devcluster.binaries import repo_root
from devcluster.layout import ClusterLayout

SERVICE_CIDR = "10.96.0.0/16"


class ComponentFailed(RuntimeError):
    def __init__(self, component: str, log: Path, detail: str) -> None:
        tail = ""
        if log.exists():
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        super().__init__(f"{component} failed: {detail}; log: {log}\n{tail}")
        self.component = component
        self.log = log


@dataclass(frozen=True)
class Component:
    name: str
    argv: list[str]
    health_url: str | None


def components(layout: ClusterLayout, bins: Path) -> list[Component]:
    pki = layout.pki
    etcd = Component(
        "etcd",
        [
            str(bins / "etcd"),
            "--name=labelpilot-dev",
            f"--data-dir={layout.etcd_data}",
            f"--listen-client-urls=https://127.0.0.1:{layout.etcd_port}",
            f"--advertise-client-urls=https://127.0.0.1:{layout.etcd_port}",
            f"--listen-peer-urls=http://127.0.0.1:{layout.etcd_peer_port}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{layout.etcd_peer_port}",
            f"--initial-cluster=labelpilot-dev=http://127.0.0.1:{layout.etcd_peer_port}",
            f"--cert-file={pki / 'etcd.crt'}",
            f"--key-file={pki / 'etcd.key'}",
            f"--trusted-ca-file={pki / 'ca.crt'}",
            "--client-cert-auth=true",
            "--quota-backend-bytes=2147483648",
            "--log-level=warn",
        ],
        None,
    )
    apiserver = Component(
        "kube-apiserver",
        [
            str(bins / "kube-apiserver"),
            f"--etcd-servers=https://127.0.0.1:{layout.etcd_port}",
            f"--etcd-cafile={pki / 'ca.crt'}",
            f"--etcd-certfile={pki / 'etcd.crt'}",
            f"--etcd-keyfile={pki / 'etcd.key'}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={layout.apiserver_port}",
            f"--tls-cert-file={pki / 'apiserver.crt'}",
            f"--tls-private-key-file={pki / 'apiserver.key'}",
            f"--client-ca-file={pki / 'ca.crt'}",
            f"--kubelet-client-certificate={pki / 'apiserver-kubelet-client.crt'}",
            f"--kubelet-client-key={pki / 'apiserver-kubelet-client.key'}",
            "--authorization-mode=Node,RBAC",
            "--enable-admission-plugins=NodeRestriction,ServiceAccount",
            f"--service-account-key-file={pki / 'sa.pub'}",
            f"--service-account-signing-key-file={pki / 'sa.key'}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--endpoint-reconciler-type=none",
            f"--audit-policy-file={layout.audit_policy}",
            f"--audit-log-path={layout.log('audit')}",
            "--audit-log-maxsize=200",
            "--audit-log-maxbackup=1",
            "--profiling=false",
            "--v=0",
        ],
        f"{layout.server}/readyz",
    )
    kubeconfig = layout.kubeconfig
    serving = [
        f"--tls-cert-file={pki / 'apiserver.crt'}",
        f"--tls-private-key-file={pki / 'apiserver.key'}",
    ]
    controller_manager = Component(
        "kube-controller-manager",
        [
            str(bins / "kube-controller-manager"),
            f"--kubeconfig={kubeconfig('controller-manager')}",
            f"--authentication-kubeconfig={kubeconfig('controller-manager')}",
            f"--authorization-kubeconfig={kubeconfig('controller-manager')}",
            "--bind-address=127.0.0.1",
            f"--secure-port={layout.controller_manager_port}",
            *serving,
            "--leader-elect=false",
            "--use-service-account-credentials=true",
            f"--service-account-private-key-file={pki / 'sa.key'}",
            f"--root-ca-file={pki / 'ca.crt'}",
            f"--cluster-signing-cert-file={pki / 'ca.crt'}",
            f"--cluster-signing-key-file={pki / 'ca.key'}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--allocate-node-cidrs=false",
            "--concurrent-job-syncs=10",
            "--profiling=false",
        ],
        f"https://127.0.0.1:{layout.controller_manager_port}/healthz",
    )
    scheduler = Component(
        "kube-scheduler",
        [
            str(bins / "kube-scheduler"),
            f"--kubeconfig={kubeconfig('scheduler')}",
            f"--authentication-kubeconfig={kubeconfig('scheduler')}",
            f"--authorization-kubeconfig={kubeconfig('scheduler')}",
            "--bind-address=127.0.0.1",
            f"--secure-port={layout.scheduler_port}",
            *serving,
            "--leader-elect=false",
            "--profiling=false",
        ],
        f"https://127.0.0.1:{layout.scheduler_port}/healthz",
    )
    agent = Component(
        "node-agent",
        [
            sys.executable,
            "-m",
            "devcluster.agent",
            f"--state-dir={layout.state_dir}",
            f"--port={layout.apiserver_port}",
        ],
        None,
    )
    return [etcd, apiserver, controller_manager, scheduler, agent]


def read_pid(layout: ClusterLayout, name: str) -> int | None:
    try:
        pid = int(layout.pidfile(name).read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if process_alive(pid) else None


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def start(layout: ClusterLayout, component: Component) -> int:
    layout.logs.mkdir(parents=True, exist_ok=True)
    layout.pids.mkdir(parents=True, exist_ok=True)
    log = layout.log(component.name).open("ab")
    env = dict(os.environ)
    # The node agent and the podexec it starts import this package from the checkout.
    env["PYTHONPATH"] = os.pathsep.join(
        [str(repo_root()), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    process = subprocess.Popen(
        component.argv,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        env=env,
        close_fds=True,
    )
    log.close()
    layout.pidfile(component.name).write_text(f"{process.pid}\n")
    return process.pid


def healthy(url: str, ca: Path, timeout: float = 2.0) -> bool:
    context = ssl.create_default_context(cafile=str(ca))
    try:
        with urllib.request.urlopen(url, context=context, timeout=timeout) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ssl.SSLError):
        return False


def wait_until(check: Callable[[], bool], timeout: float, interval: float = 0.25) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return check()


def stop_pid(pid: int, timeout: float = 10.0) -> None:
    """SIGTERM the process group, then SIGKILL whatever is left after `timeout`."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        except PermissionError:
            os.kill(pid, sig)
        if wait_until(lambda: not process_alive(pid), timeout, 0.1):
            return
