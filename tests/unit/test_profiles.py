from __future__ import annotations

import pytest
from kubernetes.utils import parse_quantity

from labelpilot.api.spec import StepResources, TaskType
from labelpilot.controller.profiles import (
    BUILTIN_PROFILES,
    GPU,
    INSTANCE_TYPE,
    Catalog,
    ProfileError,
    Role,
)

# Ground Truth's instance classes: vCPU, memory (GiB), GPUs.
INSTANCES = {
    "p3.2xlarge": (8, 61, 1),
    "c5.xlarge": (4, 8, 0),
    "c5.2xlarge": (8, 16, 0),
    "c5.4xlarge": (16, 32, 0),
    "m4.xlarge": (4, 16, 0),
}


@pytest.mark.parametrize("name", sorted(INSTANCES))
def test_instance_profiles_request_half_and_limit_the_instance(name):
    cpu, memory, gpus = INSTANCES[name]
    profile = BUILTIN_PROFILES[name]
    assert parse_quantity(profile.limits["cpu"]) == cpu
    assert parse_quantity(profile.limits["memory"]) == memory * 2**30
    assert parse_quantity(profile.requests["cpu"]) * 2 == cpu
    assert parse_quantity(profile.requests["memory"]) * 2 == memory * 2**30
    assert profile.node_selector[INSTANCE_TYPE] == name
    assert profile.gpus == gpus
    if gpus:
        assert profile.requests[GPU] == profile.limits[GPU]
        assert profile.node_selector["nvidia.com/gpu.present"] == "true"
        assert profile.tolerations == ({"key": GPU, "operator": "Exists", "effect": "NoSchedule"},)


def test_every_task_type_has_training_and_inference_defaults():
    catalog = Catalog()
    for task_type in TaskType:
        for role in (Role.TRAINING, Role.INFERENCE):
            catalog.resolve(task_type, role)
    assert catalog.default_name(TaskType.TEXT_CLASSIFICATION, Role.OTHER) == "small"


def test_gpu_requests_follow_the_limit():
    override = StepResources.model_validate({"limits": {GPU: 2}})
    placement = Catalog().resolve(TaskType.IMAGE_CLASSIFICATION, Role.TRAINING, override)
    assert placement.requests[GPU] == placement.limits[GPU] == "2"
    assert placement.gpus == 2


def test_explicit_resources_without_profile_start_from_the_default():
    override = StepResources.model_validate({"requests": {"cpu": "1", "memory": "2Gi"}})
    placement = Catalog().resolve(TaskType.TEXT_CLASSIFICATION, Role.TRAINING, override)
    assert placement.requests["cpu"] == "1"
    assert placement.limits["cpu"] == "8"
    assert placement.node_selector[INSTANCE_TYPE] == "c5.2xlarge"


@pytest.mark.parametrize(
    "text, message",
    [
        ("profiles: {x: {cpu: 1}}", "invalid profile file"),
        ("defaults: {ImageClassification: {training: nowhere}}", "nowhere"),
        ("defaults: {VideoClassification: {training: small}}", "invalid profile file"),
        ("profiles: [", "invalid profile file"),
    ],
)
def test_bad_profile_files_are_refused(text, message):
    with pytest.raises(ProfileError, match=message):
        Catalog.from_yaml(text)


def test_an_empty_file_keeps_the_built_ins():
    assert Catalog.from_yaml("") == Catalog()


def test_profile_files_are_read_from_disk(tmp_path):
    path = tmp_path / "profiles.yaml"
    path.write_text(
        "profiles: {tiny: {requests: {cpu: 100m}, limits: {cpu: 200m}}}\n"
        "defaults: {TextClassification: {inference: tiny}}\n"
    )
    catalog = Catalog.from_file(path)
    placement = catalog.resolve(TaskType.TEXT_CLASSIFICATION, Role.INFERENCE)
    assert placement.requests == {"cpu": "100m"}
    assert Catalog.from_file(None) == Catalog()
    with pytest.raises(ProfileError, match="cannot read"):
        Catalog.from_file(tmp_path / "absent.yaml")
