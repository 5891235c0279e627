"""The generated CRD: committed copies in sync, structural, and refusing invalid jobs.

The schema is checked locally with jsonschema (OpenAPI 3.0's draft-4 semantics) plus the
CEL rules evaluated by cel-python; the real API server check lives in the cluster tests.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import celpy
import pytest
import yaml
from jsonschema import Draft4Validator
from pydantic import ValidationError
from tests.job_api_cases import JOB_API_INVALID, JOB_API_VALID

from labelpilot import cli
from labelpilot.api import crd
from labelpilot.api.schema import structural_problems
from labelpilot.api.spec import LabelingJobSpec

ROOT = Path(__file__).resolve().parents[2]


def openapi() -> dict[str, Any]:
    return crd.custom_resource_definition()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


@cache
def program(rule: str) -> Any:
    env = celpy.Environment()
    return env.program(env.compile(rule))


def cel_errors(schema: dict[str, Any], value: Any, old: Any = None, path: str = "") -> list[str]:
    """Evaluates every x-kubernetes-validations rule on the object, as the API server does
    (transition rules only when an old object is given); also list-type set uniqueness."""
    errors = []
    for rule in schema.get("x-kubernetes-validations", []):
        transition = "oldSelf" in rule["rule"]
        if transition and old is None:
            continue
        activation = {"self": celpy.json_to_cel(value)}
        if transition:
            activation["oldSelf"] = celpy.json_to_cel(old)
        result = program(rule["rule"]).evaluate(activation)
        assert isinstance(result, celpy.celtypes.BoolType), (rule, result)
        if not result:
            errors.append(f"{path}: {rule['message']}")
    if isinstance(value, dict):
        for name, child in (schema.get("properties") or {}).items():
            if name in value:
                errors += cel_errors(
                    child,
                    value[name],
                    old.get(name) if isinstance(old, dict) else None,
                    f"{path}.{name}",
                )
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            errors += cel_errors(schema["items"], item, None, f"{path}[{i}]")
        if schema.get("x-kubernetes-list-type") == "set" and (
            len({json.dumps(v) for v in value}) != len(value)
        ):
            errors.append(f"{path}: Duplicate value")
    return errors


def schema_errors(spec: dict[str, Any], old_spec: dict[str, Any] | None = None) -> list[str]:
    resource = {
        "apiVersion": crd.API_VERSION,
        "kind": crd.KIND,
        "metadata": {"name": "j"},
        "spec": spec,
    }
    schema = openapi()
    errors = [
        ".".join(str(p) for p in e.absolute_path) + ": " + e.message
        for e in Draft4Validator(schema).iter_errors(resource)
    ]
    old = None if old_spec is None else {**resource, "spec": old_spec}
    return errors + cel_errors(schema, resource, old)


def test_committed_crds_match_the_generator():
    text = crd.render()
    for relative in crd.COMMITTED_PATHS:
        path = ROOT / relative
        assert path.exists(), f"{relative} is missing: run `labelpilot crd --out {relative}`"
        assert path.read_text() == text, (
            f"{relative} drifted from labelpilot.api: run `labelpilot crd --out {relative}`"
        )


def test_crd_names_and_subresources():
    body = yaml.safe_load(crd.render())
    assert body["metadata"]["name"] == "labelingjobs.labelpilot.dev"
    spec = body["spec"]
    assert spec["group"] == "labelpilot.dev"
    assert spec["scope"] == "Namespaced"
    assert spec["names"]["kind"] == "LabelingJob"
    assert spec["names"]["plural"] == "labelingjobs"
    assert spec["names"]["shortNames"] == ["lj"]
    assert spec["names"]["categories"]
    (version,) = spec["versions"]
    assert version["name"] == "v1alpha1" and version["served"] and version["storage"]
    assert version["subresources"] == {"status": {}}
    columns = [c["name"] for c in version["additionalPrinterColumns"] if not c.get("priority")]
    assert columns == ["Phase", "Iteration", "Human", "Machine", "Accuracy", "Progress", "Age"]


def test_printer_columns_point_at_status_fields():
    schema = openapi()
    for column in crd.PRINTER_COLUMNS:
        node = schema
        for part in column["jsonPath"].strip(".").split("."):
            if part == "metadata":
                break
            node = node["properties"][part]
        else:
            assert node["type"] == column["type"] or column["type"] == "date"


def test_selectable_fields_are_scalar_fields_outside_metadata():
    (version,) = yaml.safe_load(crd.render())["spec"]["versions"]
    paths = [field["jsonPath"] for field in version["selectableFields"]]
    assert paths == list(crd.SELECTABLE_FIELDS)
    assert {".spec.taskType", ".status.phase"} <= set(paths)
    assert len(paths) <= 8  # the API server's limit
    schema = openapi()
    for path in paths:
        parts = path.strip(".").split(".")
        assert parts[0] != "metadata" and "[" not in path, path
        node = schema
        for part in parts:
            node = node["properties"][part]
        assert node["type"] in ("string", "boolean", "integer"), path


def test_schema_is_structural():
    assert structural_problems(openapi()) == []
    assert "$ref" not in crd.render()


@pytest.mark.parametrize(
    "broken, problem",
    [
        ({"properties": {"a": {}}}, "no type"),
        (
            {
                "type": "object",
                "properties": {"a": {"type": "string"}},
                "additionalProperties": {"type": "string"},
            },
            "together",
        ),
        ({"type": "object", "additionalProperties": False}, "must be a schema"),
        ({"type": "string", "anyOf": [{"type": "string"}, {"type": "integer"}]}, "anyOf"),
        ({"type": "number", "exclusiveMinimum": 0}, "exclusiveMinimum"),
        ({"type": "array"}, "items"),
        ({"type": "object", "$ref": "#/x"}, "$ref"),
        ({"type": "object", "required": ["x"], "properties": {}}, "required"),
        (
            {
                "type": "array",
                "x-kubernetes-list-type": "set",
                "items": {"type": "object", "properties": {"a": {"type": "string"}}},
            },
            "scalars",
        ),
    ],
)
def test_structural_check_catches_problems(broken, problem):
    problems = structural_problems({"type": "object", "properties": {"spec": broken}})
    assert any(problem in p for p in problems), problems


def _defaults(schema: dict[str, Any], path: str = "") -> list[tuple[str, Any, dict[str, Any]]]:
    found = []
    if "default" in schema:
        found.append((path, schema["default"], schema))
    for name, child in (schema.get("properties") or {}).items():
        found += _defaults(child, f"{path}.{name}")
    if isinstance(schema.get("items"), dict):
        found += _defaults(schema["items"], f"{path}[]")
    return found


def test_defaults_validate_against_their_schema():
    defaults = _defaults(openapi())
    assert len(defaults) > 10
    for path, value, schema in defaults:
        node = {k: v for k, v in schema.items() if k != "default"}
        assert not list(Draft4Validator(node).iter_errors(value)), path


def test_every_cel_rule_compiles():
    rules = []

    def collect(node: dict[str, Any]) -> None:
        rules.extend(r["rule"] for r in node.get("x-kubernetes-validations", []))
        for child in (node.get("properties") or {}).values():
            collect(child)
        for key in ("items", "additionalProperties"):
            if isinstance(node.get(key), dict):
                collect(node[key])

    collect(openapi())
    assert len(rules) >= 8
    for rule in rules:
        program(rule)


def test_valid_specs_pass_schema_and_models(spec_dict):
    full = spec_dict(
        {
            "storage": {"credentialsSecretName": "s3-creds"},
            "autoLabeling": {
                "enabled": True,
                "targetAccuracy": 0.95,
                "confidenceLevel": 0.95,
                "thresholdMode": "Guaranteed",
                "validationPolicy": "Seed",
                "initialModelRef": "",
                "allowSmallDataset": False,
                "algorithm": {
                    "trainingImage": "me/train:1",
                    "trainingCommand": ["python", "train.py"],
                },
            },
            "humanTaskConfig": {
                "maxConcurrentTaskCount": 5000,  # Ground Truth's limits
                "taskAvailabilityLifetimeInSeconds": 30 * 24 * 3600,
                "numberOfHumanWorkersPerDataObject": 1,
                "workforce": {"simulated": {"errorRate": 0.0}},
            },
            "stoppingConditions": {
                "maxHumanLabeledObjectCount": 5000,
                "maxPercentageOfInputDatasetLabeled": 100,
            },
            "resources": {
                "training": {"profile": "p3.2xlarge"},
                "inference": {
                    "profile": "c5.xlarge",
                    "parallelism": 2,
                    "requests": {"cpu": "500m", "memory": 1073741824},
                    "tolerations": [{"key": "k", "operator": "Exists"}],
                },
            },
            "worker": {"image": "labelpilot/worker:dev", "imagePullPolicy": "Never"},
            "suspend": False,
            "output": {"uri": "s3://bucket/out", "exportFormats": ["jsonl"]},
        }
    )
    boxes = spec_dict(
        {"taskType": "ObjectDetection", "output": {"exportFormats": ["coco", "yolo", "voc"]}}
    )
    masks = spec_dict({"taskType": "SemanticSegmentation", "output": {"exportFormats": ["coco"]}})
    studio = spec_dict(
        {
            "humanTaskConfig": {
                "taskTimeLimitInSeconds": 600,
                "taskAvailabilityLifetimeInSeconds": 86400,
                "pollIntervalSeconds": 30,
                "workforce": {
                    "simulated": None,
                    "labelStudio": {
                        "url": "https://ls.example.com",
                        "apiTokenSecretName": "ls-token",
                        "project": {"id": 7},
                        "objectUrls": "LocalFiles",
                        "localFilesRoot": "/data",
                    },
                },
            }
        }
    )
    for spec in (spec_dict(), full, studio, boxes, masks):
        assert schema_errors(spec) == []
        LabelingJobSpec.from_k8s(spec)


LABEL_STUDIO = {
    "url": "http://ls:8080",
    "apiTokenSecretName": "ls-token",
    "project": {"title": "digits"},
}
UI_CONFIG = (
    '<View><Image name="digit" value="$image"/><Choices name="class" toName="digit">'
    '<Choice value="0"/><Choice value="1"/><Choice value="2"/></Choices></View>'
)
STUDIO_UI = {
    "humanTaskConfig": {
        "taskTitle": "Which digit?",
        "taskDescription": "Pick the digit the image shows.",
        "uiConfig": UI_CONFIG,
        "workforce": {"simulated": None, "labelStudio": LABEL_STUDIO},
    }
}
INVALID = [
    ({"taskType": "VideoClassification"}, "taskType"),
    ({"labels": []}, "labels"),
    ({"labels": ["a", "b", "a"]}, "labels"),
    ({"labelAttributeName": "digit-metadata"}, "labelAttributeName"),
    ({"labelAttributeName": "-x"}, "labelAttributeName"),
    ({"autoLabeling": {"targetAccuracy": 0}}, "targetAccuracy"),
    ({"autoLabeling": {"targetAccuracy": 1.5}}, "targetAccuracy"),
    ({"autoLabeling": {"confidenceLevel": 1.0}}, "confidenceLevel"),
    ({"autoLabeling": {"validationPolicy": "Half"}}, "validationPolicy"),
    ({"humanTaskConfig": {"maxConcurrentTaskCount": 0}}, "maxConcurrentTaskCount"),
    ({"humanTaskConfig": {"maxConcurrentTaskCount": 5001}}, "maxConcurrentTaskCount"),
    (
        {"humanTaskConfig": {"taskAvailabilityLifetimeInSeconds": 30 * 24 * 3600 + 1}},
        "taskAvailabilityLifetimeInSeconds",
    ),
    ({"humanTaskConfig": {"workforce": {"simulated": None}}}, "workforce"),
    ({"humanTaskConfig": {"workforce": {"simulated": {"errorRate": 2}}}}, "errorRate"),
    ({"humanTaskConfig": None}, "humanTaskConfig"),
    ({"stoppingConditions": {"maxHumanLabeledObjectCount": 0}}, "maxHumanLabeledObjectCount"),
    (
        {"stoppingConditions": {"maxPercentageOfInputDatasetLabeled": 0}},
        "maxPercentageOfInputDatasetLabeled",
    ),
    ({"storage": {"volumeClaimName": None}}, "storage"),
    ({"storage": {"mountPath": "data"}}, "mountPath"),
    ({"resources": {"inference": {"parallelism": 101}}}, "parallelism"),
    ({"resources": {"training": {"limits": {"cpu": "lots"}}}}, "cpu"),
    (
        {
            "resources": {
                "training": {"tolerations": [{"key": "k", "operator": "Exists", "value": "v"}]}
            }
        },
        "tolerations",
    ),
    ({"input": {"manifestUri": ""}}, "manifestUri"),
    ({"output": None}, "output"),
    ({"humanTaskConfig": {"workforce": {"labelStudio": LABEL_STUDIO}}}, "workforce"),
    (
        {
            "humanTaskConfig": {
                "workforce": {
                    "simulated": None,
                    "labelStudio": {**LABEL_STUDIO, "project": {"id": 3, "title": "both"}},
                }
            }
        },
        "project",
    ),
    (
        {
            "humanTaskConfig": {
                "workforce": {"simulated": None, "labelStudio": {**LABEL_STUDIO, "url": "ftp://ls"}}
            }
        },
        "url",
    ),
    (
        {
            "humanTaskConfig": {
                "workforce": {
                    "simulated": None,
                    "labelStudio": {**LABEL_STUDIO, "objectUrls": "Email"},
                }
            }
        },
        "objectUrls",
    ),
    ({"humanTaskConfig": {"uiConfig": UI_CONFIG}}, "uiConfig"),  # the simulated workforce
    (
        {
            "humanTaskConfig": {
                "uiConfig": "<View>" + " " * 65536 + "</View>",
                "workforce": {"simulated": None, "labelStudio": LABEL_STUDIO},
            }
        },
        "uiConfig",
    ),
    ({"humanTaskConfig": {"taskTitle": "t" * 129}}, "taskTitle"),
    ({"humanTaskConfig": {"pollIntervalSeconds": 1}}, "pollIntervalSeconds"),
    ({"humanTaskConfig": {"taskTimeLimitInSeconds": 5}}, "taskTimeLimitInSeconds"),
    ({"labels": None}, "labelCategoryConfigUri"),  # neither
    ({"labelCategoryConfigUri": "file:///data/labels.json"}, "labelCategoryConfigUri"),  # both
    (
        {"labels": None, "labelCategoryConfigUri": "file:///etc/labels.json"},
        "labelCategoryConfigUri",
    ),
    ({"labels": None, "labelCategoryConfigUri": ""}, "labelCategoryConfigUri"),
    ({"output": {"exportFormats": ["coco"]}}, "exportFormats"),
    ({"output": {"exportFormats": ["jsonl", "jsonl"]}}, "exportFormats"),
    ({"output": {"exportFormats": ["csv"]}}, "exportFormats"),
    (
        {"taskType": "SemanticSegmentation", "output": {"exportFormats": ["yolo"]}},
        "exportFormats",
    ),
]


@pytest.mark.parametrize("changes, field", INVALID + JOB_API_INVALID)
def test_schema_and_models_refuse_invalid_specs(spec_dict, changes, field):
    spec = spec_dict(changes)
    errors = schema_errors(spec)
    assert errors, f"schema accepted {changes}"
    assert any(field in e for e in errors), errors
    with pytest.raises(ValidationError):
        LabelingJobSpec.from_k8s(spec)


def test_what_the_job_api_takes_passes(spec_dict):
    for changes in JOB_API_VALID:
        spec = spec_dict(changes)
        assert schema_errors(spec) == [], changes
        LabelingJobSpec.from_k8s(spec)


@pytest.mark.parametrize(
    "changes",
    [
        {"taskType": "TextClassification"},
        {"labelAttributeName": "other"},
        {"labels": ["0", "1"]},
        {"input": {"manifestUri": "file:///elsewhere"}},
        {"output": {"uri": "file:///elsewhere"}},
    ],
)
def test_identity_fields_are_immutable(spec_dict, changes):
    errors = schema_errors(spec_dict(changes), old_spec=spec_dict())
    assert any("immutable" in e for e in errors), errors


CATEGORY_FILE = {"labels": None, "labelCategoryConfigUri": "file:///data/mnist/labels.json"}


def test_a_label_category_file_may_replace_the_labels(spec_dict):
    for uri in ("file:///data/mnist/labels.json", "/data/labels.json", "s3://b/labels.json"):
        spec = spec_dict({**CATEGORY_FILE, "labelCategoryConfigUri": uri})
        assert schema_errors(spec) == [], uri
        assert LabelingJobSpec.from_k8s(spec).label_category_config_uri == uri
    segmentation = spec_dict({**CATEGORY_FILE, "taskType": "SemanticSegmentation"})
    assert schema_errors(segmentation) == []


@pytest.mark.parametrize(
    "old, new",
    [
        ({}, CATEGORY_FILE),
        (CATEGORY_FILE, {}),
        (CATEGORY_FILE, {**CATEGORY_FILE, "labelCategoryConfigUri": "file:///data/other.json"}),
    ],
)
def test_the_label_source_is_immutable(spec_dict, old, new):
    errors = schema_errors(spec_dict(new), old_spec=spec_dict(old))
    assert any("immutable" in e for e in errors), errors


def test_a_label_studio_job_takes_its_own_interface_and_instructions(spec_dict):
    spec = spec_dict(STUDIO_UI)
    assert schema_errors(spec) == []
    human = LabelingJobSpec.from_k8s(spec).human_task_config
    assert (human.task_title, human.ui_config) == ("Which digit?", UI_CONFIG)


def studio_spec(spec_dict: Any, **human: Any) -> dict[str, Any]:
    """STUDIO_UI with humanTaskConfig fields set (None: left out)."""
    spec = spec_dict(STUDIO_UI)
    for key, value in human.items():
        if value is None:
            spec["humanTaskConfig"].pop(key)
        else:
            spec["humanTaskConfig"][key] = value
    return spec


@pytest.mark.parametrize(
    "old, new",
    [
        ({"uiConfig": None}, {}),
        ({}, {"uiConfig": None}),
        ({}, {"uiConfig": UI_CONFIG.replace("digit", "d")}),
        ({}, {"taskTitle": "Another title"}),
        ({}, {"taskDescription": None}),
    ],
    ids=["added", "removed", "changed", "title", "description-removed"],
)
def test_the_interface_and_instructions_are_immutable(spec_dict, old, new):
    errors = schema_errors(studio_spec(spec_dict, **new), old_spec=studio_spec(spec_dict, **old))
    assert any("immutable" in e for e in errors), errors


@pytest.mark.parametrize(
    "old, new, field",
    [
        ({"thresholdMode": "Guaranteed"}, {"thresholdMode": "GroundTruth"}, "thresholdMode"),
        ({"targetAccuracy": 0.95}, {"targetAccuracy": 0.9}, "targetAccuracy"),
        ({}, {"targetAccuracy": 0.9}, "targetAccuracy"),
        ({"targetAccuracy": 0.95}, {}, "targetAccuracy"),
        ({"confidenceLevel": 0.95}, {"confidenceLevel": 0.8}, "confidenceLevel"),
        ({}, {"validationPolicy": "Seed"}, "validationPolicy"),
        ({"validationPolicy": "Fresh"}, {"validationPolicy": "Seed"}, "validationPolicy"),
    ],
)
def test_the_guarantee_terms_are_immutable(spec_dict, old, new, field):
    errors = schema_errors(
        spec_dict({"autoLabeling": new}), old_spec=spec_dict({"autoLabeling": old})
    )
    assert any(f"autoLabeling.{field} is immutable" in e for e in errors), errors


def test_automated_labeling_may_be_switched_off_mid_job(spec_dict):
    old = spec_dict({"autoLabeling": {"thresholdMode": "Guaranteed", "enabled": True}})
    new = spec_dict({"autoLabeling": {"thresholdMode": "Guaranteed", "enabled": False}})
    assert schema_errors(new, old_spec=old) == []


def test_operational_fields_may_change(spec_dict):
    changed = spec_dict(
        {
            "suspend": True,
            "stoppingConditions": {"maxHumanLabeledObjectCount": 9},
            "resources": {"inference": {"parallelism": 4}},
        }
    )
    assert schema_errors(changed, old_spec=spec_dict()) == []


def test_cli_writes_and_checks(tmp_path, capsys):
    target = tmp_path / "out" / crd.FILE_NAME
    assert cli.main(["crd", "--check", "--out", str(target)]) == 1
    assert cli.main(["crd", "--out", str(target)]) == 0
    assert target.read_text() == crd.render()
    assert cli.main(["crd", "--check", "--out", str(target)]) == 0
    assert cli.main(["crd"]) == 0
    assert capsys.readouterr().out.endswith(crd.render())


def test_schema_root_keeps_metadata_open():
    root = openapi()
    assert root["properties"]["metadata"] == {"type": "object"}
    assert root["required"] == ["spec"]
    assert copy.deepcopy(root) == root
