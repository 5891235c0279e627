from __future__ import annotations

import pytest
from pydantic import ValidationError

from labelpilot.api import run_config
from labelpilot.api.spec import LabelingJobSpec, TaskType, ThresholdMode
from labelpilot.api.status import LabelingJobStatus, Phase
from labelpilot.controller.run_config_from_spec import to_run_config


def test_defaults_follow_ground_truth(spec_dict):
    spec = LabelingJobSpec.from_k8s(spec_dict())
    assert spec.auto_labeling.enabled is True
    assert spec.auto_labeling.target_accuracy is None
    assert spec.auto_labeling.threshold_mode is ThresholdMode.GUARANTEED
    assert spec.stopping_conditions.max_percentage_of_input_dataset_labeled == 100
    assert spec.resources.inference.parallelism == 1
    assert spec.suspend is False
    assert (
        LabelingJobSpec.from_k8s(
            spec_dict({"humanTaskConfig": {"maxConcurrentTaskCount": None}})
        ).human_task_config.max_concurrent_task_count
        == 1000
    )


def test_round_trip_keeps_camel_case(spec_dict):
    data = spec_dict({"autoLabeling": {"targetAccuracy": 0.9}, "suspend": True})
    body = LabelingJobSpec.from_k8s(data).to_k8s()
    assert body["autoLabeling"]["targetAccuracy"] == 0.9
    assert body["humanTaskConfig"]["workforce"]["simulated"]["groundTruthManifestUri"] == (
        "file:///data/gt.manifest"
    )
    assert LabelingJobSpec.from_k8s(body) == LabelingJobSpec.from_k8s(data)


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"taskType": "VideoClassification"}, "taskType"),
        ({"labels": []}, "labels"),
        ({"labels": ["a", "a"]}, "duplicate"),
        ({"labelAttributeName": "digit-metadata"}, "metadata"),
        ({"labelAttributeName": "source-ref"}, "input manifest's keys"),
        ({"labelAttributeName": "source"}, "input manifest's keys"),
        (
            {"taskType": "SemanticSegmentation", "labelAttributeName": "source"},
            "kept under 'source-ref'",
        ),
        ({"labelAttributeName": "bad name"}, "labelAttributeName"),
        ({"autoLabeling": {"targetAccuracy": 0}}, "targetAccuracy"),
        ({"autoLabeling": {"targetAccuracy": 1.01}}, "targetAccuracy"),
        ({"autoLabeling": {"confidenceLevel": 1}}, "confidenceLevel"),
        ({"autoLabeling": {"thresholdMode": "Loose"}}, "thresholdMode"),
        ({"humanTaskConfig": {"maxConcurrentTaskCount": 0}}, "maxConcurrentTaskCount"),
        ({"humanTaskConfig": {"maxConcurrentTaskCount": 5001}}, "maxConcurrentTaskCount"),
        ({"humanTaskConfig": {"workforce": {"simulated": None}}}, "provider"),
        ({"stoppingConditions": {"maxHumanLabeledObjectCount": 0}}, "maxHumanLabeledObjectCount"),
        (
            {"stoppingConditions": {"maxPercentageOfInputDatasetLabeled": 101}},
            "maxPercentageOfInputDatasetLabeled",
        ),
        ({"storage": {"volumeClaimName": None}}, "storage"),
        ({"resources": {"inference": {"parallelism": 0}}}, "parallelism"),
        (
            {
                "resources": {
                    "training": {"tolerations": [{"key": "k", "operator": "Exists", "value": "v"}]}
                }
            },
            "Exists",
        ),
        ({"unknownField": 1}, "unknownField"),
        ({"input": None}, "input"),
    ],
)
def test_invalid_specs_are_refused_naming_the_field(spec_dict, changes, field):
    with pytest.raises(ValidationError) as caught:
        LabelingJobSpec.from_k8s(spec_dict(changes))
    assert field in str(caught.value)


@pytest.mark.parametrize(
    "name, why",
    [
        ("source-ref", "input manifest's keys"),
        ("source", "input manifest's keys"),
        ("digit-metadata", "must not end in -metadata"),
        ("bad name", "must match"),
    ],
)
def test_the_run_config_refuses_a_reserved_label_attribute_name(name, why):
    """`labelpilot run` builds a RunConfig, not a LabelingJobSpec: it refuses them too."""
    base = {
        "job_name": "j",
        "task_type": "semantic-segmentation",
        "label_attribute_name": name,
        "labels": ["a"],
        "input_manifest_uri": "/in.manifest",
        "output_uri": "/out",
        "workforce": {"simulated": {"ground_truth_uri": "/gt.manifest"}},
    }
    with pytest.raises(ValidationError, match=f"label attribute name {name!r} .*{why}"):
        run_config.RunConfig.model_validate(base)
    run_config.RunConfig.model_validate({**base, "label_attribute_name": "digit"})


@pytest.mark.parametrize(
    "task_type, expected",
    [
        ("ImageClassification", run_config.TaskType.IMAGE_CLASSIFICATION),
        ("TextClassification", run_config.TaskType.TEXT_CLASSIFICATION),
        ("ObjectDetection", run_config.TaskType.OBJECT_DETECTION),
        ("SemanticSegmentation", run_config.TaskType.SEMANTIC_SEGMENTATION),
    ],
)
def test_run_config_maps_task_types(spec_dict, task_type, expected):
    spec = LabelingJobSpec.from_k8s(spec_dict({"taskType": task_type}))
    assert to_run_config("j", "ns", spec).task_type is expected


def test_run_config_carries_every_setting(spec_dict):
    spec = LabelingJobSpec.from_k8s(
        spec_dict(
            {
                "autoLabeling": {
                    "targetAccuracy": 0.9,
                    "confidenceLevel": 0.99,
                    "thresholdMode": "GroundTruth",
                    "validationPolicy": "BoundSized",
                    "initialModelRef": "file:///data/old/models/final",
                    "allowSmallDataset": True,
                },
                "humanTaskConfig": {
                    "maxConcurrentTaskCount": 250,
                    "numberOfHumanWorkersPerDataObject": 3,
                    "workforce": {
                        "simulated": {"errorRate": 0.1, "failureRate": 0.02, "latencySeconds": 1.5}
                    },
                },
                "stoppingConditions": {
                    "maxHumanLabeledObjectCount": 700,
                    "maxPercentageOfInputDatasetLabeled": 80,
                },
                "seed": 7,
                "output": {"uri": "file:///data/out", "exportFormats": ["jsonl"]},
            }
        )
    )
    run = to_run_config("mnist", "team-a", spec)
    assert run.export_formats == [run_config.ExportFormat.JSONL]
    assert run.job_name == "mnist"
    assert run.labels == ["0", "1", "2"]
    assert run.label_attribute_name == "digit"
    assert run.input_manifest_uri == "file:///data/mnist/input.manifest"
    assert run.output_uri == "file:///data/out"
    assert run.target == 0.9
    assert run.confidence_level == 0.99
    assert run.threshold_mode is run_config.ThresholdMode.GROUND_TRUTH
    assert run.validation_policy is run_config.ValidationPolicy.BOUND_SIZED
    assert run.initial_model_ref == "file:///data/old/models/final"
    assert run.allow_small_dataset is True
    assert run.max_concurrent_task_count == 250
    assert run.workforce.workers_per_object == 3
    assert run.workforce.simulated is not None
    assert run.workforce.simulated.ground_truth_uri == "file:///data/gt.manifest"
    assert run.workforce.simulated.error_rate == 0.1
    assert run.workforce.simulated.failure_rate == 0.02
    assert run.workforce.simulated.latency_seconds == 1.5
    assert run.max_human_labeled == 700
    assert run.max_percentage_labeled == 80.0
    assert run.seed == 7
    assert run_config.RunConfig.model_validate_json(run.to_json()) == run


def test_run_config_defaults(spec_dict):
    run = to_run_config(
        "j",
        "ns",
        LabelingJobSpec.from_k8s(
            spec_dict(
                {
                    "taskType": "ObjectDetection",
                    "autoLabeling": {"enabled": False, "initialModelRef": ""},
                }
            )
        ),
    )
    assert run.auto_labeling is False
    assert run.target == 0.6
    assert run.initial_model_ref is None
    assert run.max_human_labeled is None


@pytest.mark.parametrize(
    ("auto", "expected"),
    [
        ({}, run_config.ValidationPolicy.FRESH),
        ({"thresholdMode": "GroundTruth"}, run_config.ValidationPolicy.SEED),
        ({"validationPolicy": "Seed"}, run_config.ValidationPolicy.SEED),
        (
            {"thresholdMode": "GroundTruth", "validationPolicy": "Fresh"},
            run_config.ValidationPolicy.FRESH,
        ),
    ],
)
def test_the_validation_policy_defaults_to_fresh_in_guaranteed_mode_only(spec_dict, auto, expected):
    spec = LabelingJobSpec.from_k8s(spec_dict({"autoLabeling": auto}))
    run = to_run_config("j", "ns", spec)
    assert run.effective_validation_policy is expected
    again = run_config.RunConfig.model_validate_json(run.to_json())
    assert again.effective_validation_policy is expected


def test_run_config_carries_a_label_category_file_for_prepare_to_read(spec_dict):
    uri = "file:///data/mnist/labels.json"
    spec = LabelingJobSpec.from_k8s(spec_dict({"labels": None, "labelCategoryConfigUri": uri}))
    run = to_run_config("j", "ns", spec)
    assert run.labels == [] and run.label_category_config_uri == uri
    assert run_config.RunConfig.model_validate_json(run.to_json()) == run
    with pytest.raises(ValidationError, match="label category config"):
        run_config.RunConfig.model_validate({**run.model_dump(), "label_category_config_uri": None})


def test_status_reads_tolerantly_and_writes_camel_case():
    status = LabelingJobStatus.from_k8s(
        {
            "phase": "InProgress",
            "iteration": 2,
            "labelCounters": {"humanLabeled": 5},
            "kopf": {"progress": {}},
        }
    )
    assert status.phase is Phase.IN_PROGRESS
    assert status.label_counters.human_labeled == 5
    body = status.to_k8s()
    assert body["labelCounters"]["humanLabeled"] == 5
    assert "kopf" not in body
    assert LabelingJobStatus.from_k8s(None).phase is None


def test_every_task_type_has_a_run_config_mapping():
    from labelpilot.controller.run_config_from_spec import TASK_TYPES

    assert set(TASK_TYPES) == set(TaskType)
