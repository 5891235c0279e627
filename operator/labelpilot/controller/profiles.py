"""Resource profiles: Ground Truth's instance classes as Kubernetes requests, limits and placement.

A profile asks for half of its instance (requests) and may use all of it (limits), so a
step fits on its node beside the node's own daemons while still being able to burst; GPUs
are whole (requests = limits). A profile pins its instance type with the
`node.kubernetes.io/instance-type` label, GPU profiles also on NVIDIA GPU Feature
Discovery's `nvidia.com/gpu.present` and tolerate the `nvidia.com/gpu` taint.

The cluster may replace or add profiles and the per-task defaults with a YAML file (a
ConfigMap from the Helm values), `Catalog.from_yaml`:

    profiles:
      a100: {requests: {cpu: "8", memory: 60Gi, nvidia.com/gpu: 1},
             limits: {cpu: "16", memory: 120Gi, nvidia.com/gpu: 1},
             nodeSelector: {nvidia.com/gpu.product: NVIDIA-A100-SXM4-40GB},
             tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]}
    defaults:
      ImageClassification: {training: a100}

A profile named in the file replaces the built-in one of that name whole. A job then
overrides per step (`spec.resources`): requests and limits per resource name, node
selector keys added, tolerations replaced.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from kubernetes.utils import parse_quantity
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from labelpilot.api.kube import is_extended_resource
from labelpilot.api.spec import StepResources, TaskType

GPU = "nvidia.com/gpu"
GPU_PRESENT = "nvidia.com/gpu.present"
INSTANCE_TYPE = "node.kubernetes.io/instance-type"
GPU_TOLERATION = {"key": GPU, "operator": "Exists", "effect": "NoSchedule"}
SMALL = "small"


class Role(StrEnum):
    TRAINING = "training"
    INFERENCE = "inference"
    OTHER = "other"  # prepare, human, threshold, export


class ProfileError(ValueError):
    """An unknown profile or an invalid profile file."""


@dataclass(frozen=True)
class Placement:
    """A container's resources and its Pod's placement."""

    requests: dict[str, str] = field(default_factory=dict)
    limits: dict[str, str] = field(default_factory=dict)
    node_selector: dict[str, str] = field(default_factory=dict)
    tolerations: tuple[dict[str, Any], ...] = ()

    @property
    def gpus(self) -> int:
        return int(parse_quantity(self.limits.get(GPU, 0)))


def _half(quantity: str) -> str:
    value = parse_quantity(quantity) / 2
    if quantity.endswith("Gi"):
        mebibytes = value / Decimal(2**20)
        return f"{mebibytes:f}".rstrip("0").rstrip(".") + "Mi"
    millis = value * 1000
    return f"{int(millis)}m" if millis % 1000 else str(int(value))


def instance_profile(instance_type: str, cpu: int, memory_gib: int, gpus: int = 0) -> Placement:
    limits = {"cpu": str(cpu), "memory": f"{memory_gib}Gi"}
    requests = {"cpu": _half(limits["cpu"]), "memory": _half(limits["memory"])}
    selector = {INSTANCE_TYPE: instance_type}
    tolerations: tuple[dict[str, Any], ...] = ()
    if gpus:
        limits[GPU] = requests[GPU] = str(gpus)
        selector[GPU_PRESENT] = "true"
        tolerations = (dict(GPU_TOLERATION),)
    return Placement(requests, limits, selector, tolerations)


BUILTIN_PROFILES: dict[str, Placement] = {
    "p3.2xlarge": instance_profile("p3.2xlarge", 8, 61, gpus=1),
    "c5.xlarge": instance_profile("c5.xlarge", 4, 8),
    "c5.2xlarge": instance_profile("c5.2xlarge", 8, 16),
    "c5.4xlarge": instance_profile("c5.4xlarge", 16, 32),
    "m4.xlarge": instance_profile("m4.xlarge", 4, 16),
    SMALL: Placement({"cpu": "500m", "memory": "1Gi"}, {"cpu": "2", "memory": "4Gi"}),
}

BUILTIN_DEFAULTS: dict[TaskType, dict[Role, str]] = {
    TaskType.IMAGE_CLASSIFICATION: {Role.TRAINING: "p3.2xlarge", Role.INFERENCE: "c5.xlarge"},
    TaskType.OBJECT_DETECTION: {Role.TRAINING: "p3.2xlarge", Role.INFERENCE: "c5.4xlarge"},
    TaskType.TEXT_CLASSIFICATION: {Role.TRAINING: "c5.2xlarge", Role.INFERENCE: "m4.xlarge"},
    TaskType.SEMANTIC_SEGMENTATION: {Role.TRAINING: "p3.2xlarge", Role.INFERENCE: "p3.2xlarge"},
    TaskType.IMAGE_CLASSIFICATION_MULTILABEL: {
        Role.TRAINING: "p3.2xlarge",
        Role.INFERENCE: "c5.xlarge",
    },
    TaskType.TEXT_CLASSIFICATION_MULTILABEL: {
        Role.TRAINING: "c5.2xlarge",
        Role.INFERENCE: "m4.xlarge",
    },
}


class _ProfileFile(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    requests: dict[str, int | str] = Field(default_factory=dict)
    limits: dict[str, int | str] = Field(default_factory=dict)
    node_selector: dict[str, str] = Field(default_factory=dict, alias="nodeSelector")
    tolerations: list[dict[str, Any]] = Field(default_factory=list)


class _CatalogFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    profiles: dict[str, _ProfileFile] = Field(default_factory=dict)
    defaults: dict[TaskType, dict[Role, str]] = Field(default_factory=dict)


@dataclass(frozen=True)
class Catalog:
    """The profiles a cluster offers and which one each task type's steps use."""

    profiles: dict[str, Placement] = field(default_factory=lambda: dict(BUILTIN_PROFILES))
    defaults: dict[TaskType, dict[Role, str]] = field(
        default_factory=lambda: {t: dict(r) for t, r in BUILTIN_DEFAULTS.items()}
    )

    @classmethod
    def from_yaml(cls, text: str) -> Catalog:
        """The built-in catalog with the file's profiles and defaults laid over it."""
        try:
            data = _CatalogFile.model_validate(yaml.safe_load(text) or {})
        except (ValidationError, yaml.YAMLError) as error:
            raise ProfileError(f"invalid profile file: {error}") from error
        profiles = dict(BUILTIN_PROFILES)
        for name, entry in data.profiles.items():
            profiles[name] = Placement(
                {k: str(v) for k, v in entry.requests.items()},
                {k: str(v) for k, v in entry.limits.items()},
                dict(entry.node_selector),
                tuple(entry.tolerations),
            )
        defaults = {t: dict(r) for t, r in BUILTIN_DEFAULTS.items()}
        for task_type, roles in data.defaults.items():
            defaults.setdefault(task_type, {}).update(roles)
        catalog = cls(profiles, defaults)
        for roles in defaults.values():
            for name in roles.values():
                catalog.profile(name)
        return catalog

    @classmethod
    def from_file(cls, path: str | Path | None) -> Catalog:
        """The catalog of a profile file (e.g. a mounted ConfigMap); built-ins without one."""
        if path is None:
            return cls()
        try:
            text = Path(path).read_text()
        except OSError as error:
            raise ProfileError(f"cannot read profile file {path}: {error}") from error
        return cls.from_yaml(text)

    def profile(self, name: str) -> Placement:
        try:
            return self.profiles[name]
        except KeyError:
            known = ", ".join(sorted(self.profiles))
            raise ProfileError(f"unknown resource profile {name!r} (known: {known})") from None

    def default_name(self, task_type: TaskType, role: Role) -> str:
        return self.defaults.get(task_type, {}).get(role, SMALL)

    def resolve(
        self, task_type: TaskType, role: Role, override: StepResources | None = None
    ) -> Placement:
        """The placement of a step: the job's profile (or the task type's), then the job's
        explicit overrides. Requests above a limit come down to it; GPUs and other extended
        resources (`<domain>/<name>`) cannot be overcommitted: their request is their limit,
        a request alone becomes the limit too."""
        name = (override.profile if override else None) or self.default_name(task_type, role)
        base = self.profile(name)
        if override is None:
            return base
        requests = {**base.requests, **{k: str(v) for k, v in (override.requests or {}).items()}}
        limits = {**base.limits, **{k: str(v) for k, v in (override.limits or {}).items()}}
        for resource, request in requests.items():
            if is_extended_resource(resource):
                limits.setdefault(resource, request)
        for resource, limit in limits.items():
            if is_extended_resource(resource) or (
                resource in requests and parse_quantity(requests[resource]) > parse_quantity(limit)
            ):
                requests[resource] = limit
        tolerations = (
            base.tolerations
            if override.tolerations is None
            else tuple(t.to_k8s() for t in override.tolerations)
        )
        return replace(
            base,
            requests=requests,
            limits=limits,
            node_selector={**base.node_selector, **(override.node_selector or {})},
            tolerations=tolerations,
        )
