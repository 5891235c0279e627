"""The node agent's main loop: watch the pods bound to its nodes and run them."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from pathlib import Path

from kubernetes import watch
from kubernetes.client.rest import ApiException

from devcluster.agent import heartbeat, provisioner
from devcluster.agent.cgroups import PodCgroups
from devcluster.agent.kube import Kube, Obj
from devcluster.agent.periodic import Periodic
from devcluster.agent.runtime import PodRunner, finalize_deletion, pod_key
from devcluster.agent.status import now
from devcluster.layout import ClusterLayout
from devcluster.nodes import NodeSet

log = logging.getLogger("labelpilot.node-agent")
TERMINAL = ("Succeeded", "Failed")
SHUTDOWN_GRACE = 3.0


class NodeAgent:
    def __init__(self, layout: ClusterLayout, node_set: NodeSet, kubelet_version: str) -> None:
        self.layout = layout
        self.node_set = node_set
        self.node_names = {n.name for n in node_set.nodes}
        self.kubelet_version = kubelet_version
        self.kube = Kube(str(layout.kubeconfig("node-agent")))
        self.runners: dict[str, PodRunner] = {}
        self.stop = threading.Event()
        self.cgroups: PodCgroups | None = None

    def run(self) -> None:
        signal.signal(signal.SIGTERM, lambda *_: self.stop.set())
        signal.signal(signal.SIGINT, lambda *_: self.stop.set())
        provisioner.ensure_storage_class(self.kube)
        for node in self.node_set.node_objects(self.kubelet_version):
            heartbeat.register(self.kube, node)
        heartbeat.beat(self.kube, sorted(self.node_names))
        self._recover()
        self.cgroups = PodCgroups.create(self.layout.state_dir)
        nodes = sorted(self.node_names)
        Periodic(
            "heartbeat",
            heartbeat.HEARTBEAT_SECONDS,
            lambda: heartbeat.beat(self.kube, nodes),
            self.stop,
        ).start()
        Periodic(
            "provisioner",
            provisioner.POLL_SECONDS,
            lambda: provisioner.provision_once(self.kube, self.layout.volumes),
            self.stop,
        ).start()
        (self.layout.state_dir / "agent-ready").write_text(now() + "\n")
        log.info("node agent ready: %s", ", ".join(sorted(self.node_names)))
        watcher = threading.Thread(target=self._watch_forever, name="pod-watch", daemon=True)
        watcher.start()
        self.stop.wait()
        self._shutdown()

    def _shutdown(self) -> None:
        (self.layout.state_dir / "agent-ready").unlink(missing_ok=True)
        for runner in list(self.runners.values()):
            runner.shutdown(SHUTDOWN_GRACE)
        for runner in list(self.runners.values()):
            runner.join(SHUTDOWN_GRACE + 5)
        if self.cgroups is not None:
            self.cgroups.remove()

    def _ours(self, pod: Obj) -> bool:
        return pod["spec"].get("nodeName") in self.node_names

    def _recover(self) -> None:
        """Pods left running by an earlier agent: their processes are gone or orphaned."""
        pods = self.kube.list(self.kube.core.list_pod_for_all_namespaces)["items"]
        for pod in pods:
            if not self._ours(pod) or (pod.get("status") or {}).get("phase") in TERMINAL:
                continue
            for pidfile in (self.layout.pods / pod_key(pod)).glob("*.pid"):
                with contextlib.suppress(ValueError, ProcessLookupError, PermissionError):
                    os.killpg(int(pidfile.read_text()), signal.SIGKILL)
                pidfile.unlink(missing_ok=True)
            running = pod["status"].get("phase") == "Running"
            if pod["spec"].get("restartPolicy") == "Never" and running:
                self.kube.core.patch_namespaced_pod_status(
                    pod["metadata"]["name"],
                    pod["metadata"]["namespace"],
                    {
                        "status": {
                            "phase": "Failed",
                            "reason": "NodeAgentRestarted",
                            "message": "the node agent restarted while the pod ran",
                        }
                    },
                )

    def _watch_forever(self) -> None:
        while not self.stop.is_set():
            try:
                listing = self.kube.list(self.kube.core.list_pod_for_all_namespaces)
                for pod in listing["items"]:
                    self._handle("ADDED", pod)
                version = listing["metadata"]["resourceVersion"]
                stream = watch.Watch().stream(
                    self.kube.core.list_pod_for_all_namespaces,
                    resource_version=version,
                    timeout_seconds=300,
                    allow_watch_bookmarks=True,
                )
                for event in stream:
                    if self.stop.is_set():
                        return
                    if event["type"] in ("ADDED", "MODIFIED", "DELETED"):
                        self._handle(event["type"], event["raw_object"])
            except ApiException as error:
                if error.status != 410:
                    log.warning("pod watch failed: %s", error.reason)
                    time.sleep(1)
            except Exception:
                log.exception("pod watch failed")
                time.sleep(1)

    def _handle(self, kind: str, pod: Obj) -> None:
        if not self._ours(pod):
            return
        meta = pod["metadata"]
        uid = meta["uid"]
        runner = self.runners.get(uid)
        if kind == "DELETED":
            self.runners.pop(uid, None)
            if runner is not None and runner.is_alive():
                runner.shutdown(0)
            return
        if meta.get("deletionTimestamp"):
            if runner is not None and runner.is_alive():
                runner.request_stop(float(meta.get("deletionGracePeriodSeconds") or 0))
            else:
                finalize_deletion(self.kube, pod, self.layout.pods / pod_key(pod))
            return
        if runner is None and (pod.get("status") or {}).get("phase") not in TERMINAL:
            runner = PodRunner(
                self.kube, pod, self.layout.pods, self.layout.apiserver_port, self.cgroups
            )
            self.runners[uid] = runner
            runner.start()


def main_loop(layout: ClusterLayout, nodes_file: Path | None, kubelet_version: str) -> None:
    NodeAgent(layout, NodeSet.load(nodes_file), kubelet_version).run()
