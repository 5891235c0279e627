"""The simulated nodes: Ground Truth's instance classes, as Kubernetes Node objects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}
INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type"


class InstanceClass(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cpu: int = Field(gt=0)
    memory_gib: int = Field(gt=0)
    gpus: int = Field(0, ge=0)
    gpu_product: str = "Tesla-V100-SXM2-16GB"
    gpu_memory_mib: int = 16384


INSTANCE_CLASSES: dict[str, InstanceClass] = {
    "p3.2xlarge": InstanceClass(cpu=8, memory_gib=61, gpus=1),
    "c5.xlarge": InstanceClass(cpu=4, memory_gib=8),
    "c5.2xlarge": InstanceClass(cpu=8, memory_gib=16),
    "c5.4xlarge": InstanceClass(cpu=16, memory_gib=32),
    "m4.xlarge": InstanceClass(cpu=4, memory_gib=16),
}


class NodeSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    instance_type: str
    labels: dict[str, str] = Field(default_factory=dict)


class NodeSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    instance_classes: dict[str, InstanceClass] = Field(
        default_factory=lambda: dict(INSTANCE_CLASSES)
    )
    nodes: list[NodeSpec]

    @classmethod
    def default(cls) -> NodeSet:
        nodes = [NodeSpec(name=f"gpu-p3-2xlarge-{i}", instance_type="p3.2xlarge") for i in (1, 2)]
        for instance_type in ("c5.xlarge", "c5.2xlarge", "c5.4xlarge", "m4.xlarge"):
            name = "cpu-" + instance_type.replace(".", "-") + "-1"
            nodes.append(NodeSpec(name=name, instance_type=instance_type))
        return cls(nodes=nodes)

    @classmethod
    def load(cls, path: Path | None) -> NodeSet:
        """Reads a node set from YAML (`nodes:` list, optional `instance_classes:`)."""
        if path is None:
            return cls.default()
        data = yaml.safe_load(path.read_text()) or {}
        merged = dict(INSTANCE_CLASSES)
        merged.update(data.get("instance_classes") or {})
        return cls.model_validate({"instance_classes": merged, "nodes": data.get("nodes", [])})

    def node_objects(self, kubelet_version: str) -> list[dict[str, Any]]:
        return [
            node_object(n, self.instance_classes[n.instance_type], kubelet_version)
            for n in self.nodes
        ]


def node_object(spec: NodeSpec, cls: InstanceClass, kubelet_version: str) -> dict[str, Any]:
    labels = {
        "kubernetes.io/hostname": spec.name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        INSTANCE_TYPE_LABEL: spec.instance_type,
        "labelpilot.dev/simulated-node": "true",
    }
    capacity = {
        "cpu": str(cls.cpu),
        "memory": f"{cls.memory_gib}Gi",
        "pods": "110",
        "ephemeral-storage": "100Gi",
    }
    taints = []
    if cls.gpus:
        labels.update(
            {
                "nvidia.com/gpu.present": "true",
                "nvidia.com/gpu.product": cls.gpu_product,
                "nvidia.com/gpu.memory": str(cls.gpu_memory_mib),
                "nvidia.com/gpu.count": str(cls.gpus),
            }
        )
        capacity["nvidia.com/gpu"] = str(cls.gpus)
        taints.append(dict(GPU_TAINT))
    labels.update(spec.labels)
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": spec.name, "labels": labels},
        "spec": {"taints": taints} if taints else {},
        "status": {
            "capacity": capacity,
            "allocatable": dict(capacity),
            "addresses": [
                {"type": "InternalIP", "address": "127.0.0.1"},
                {"type": "Hostname", "address": spec.name},
            ],
            "nodeInfo": {
                "kubeletVersion": kubelet_version,
                "kubeProxyVersion": "",
                "containerRuntimeVersion": "labelpilot-agent://" + kubelet_version,
                "operatingSystem": "linux",
                "architecture": "amd64",
                "osImage": "LabelPilot simulated node",
                "kernelVersion": "",
                "machineID": spec.name,
                "systemUUID": spec.name,
                "bootID": spec.name,
            },
        },
    }
