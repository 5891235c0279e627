"""Registers the simulated Nodes and keeps them Ready: Lease renewals and status updates."""

from __future__ import annotations

import datetime as dt

from kubernetes.client.rest import ApiException

from devcluster.agent.kube import Kube, Obj, not_found

LEASE_NAMESPACE = "kube-node-lease"
LEASE_SECONDS = 40
HEARTBEAT_SECONDS = 10.0


def _micro_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ready_conditions() -> list[Obj]:
    stamp = _now()
    healthy = [
        ("MemoryPressure", "KubeletHasSufficientMemory"),
        ("DiskPressure", "KubeletHasNoDiskPressure"),
        ("PIDPressure", "KubeletHasSufficientPID"),
    ]
    conditions = [
        {
            "type": kind,
            "status": "False",
            "reason": reason,
            "lastHeartbeatTime": stamp,
            "lastTransitionTime": stamp,
            "message": "simulated node",
        }
        for kind, reason in healthy
    ]
    conditions.append(
        {
            "type": "Ready",
            "status": "True",
            "reason": "KubeletReady",
            "lastHeartbeatTime": stamp,
            "lastTransitionTime": stamp,
            "message": "labelpilot node agent is posting ready status",
        }
    )
    return conditions


def register(kube: Kube, node: Obj) -> None:
    """Creates the Node, or brings an existing one's labels, taints and capacity in line."""
    name = node["metadata"]["name"]
    node["status"]["conditions"] = ready_conditions()
    existing = kube.read(kube.core.read_node, name)
    if existing is None:
        kube.core.create_node(node)
    else:
        kube.core.patch_node(
            name,
            {
                "metadata": {"labels": node["metadata"]["labels"]},
                "spec": {"taints": node["spec"].get("taints") or None},
            },
        )
    kube.core.patch_node_status(name, {"status": node["status"]})


def renew_lease(kube: Kube, node_name: str) -> None:
    body = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": node_name, "namespace": LEASE_NAMESPACE},
        "spec": {
            "holderIdentity": node_name,
            "leaseDurationSeconds": LEASE_SECONDS,
            "renewTime": _micro_now(),
        },
    }
    try:
        kube.coordination.patch_namespaced_lease(node_name, LEASE_NAMESPACE, {"spec": body["spec"]})
    except ApiException as error:
        if not not_found(error):
            raise
        kube.coordination.create_namespaced_lease(LEASE_NAMESPACE, body)


def beat(kube: Kube, node_names: list[str]) -> None:
    for name in node_names:
        renew_lease(kube, name)
        kube.core.patch_node_status(name, {"status": {"conditions": ready_conditions()}})
