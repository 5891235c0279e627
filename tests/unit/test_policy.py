"""The cluster's policy (labelpilot.controller.policy): what a LabelingJob may use, checked by the
operator before every step Job; the same cases run against the admission policy in
tests/cluster/test_admission.py."""

from __future__ import annotations

import pytest
import yaml
from tests.policy_cases import (
    ALLOWED_BY_DEFAULT,
    ALLOWED_WHEN_CONFIGURED,
    CONFIGURED,
    REFUSED_BY_DEFAULT,
    REFUSED_WHEN_CONFIGURED,
)

from labelpilot.api.spec import LabelingJobSpec
from labelpilot.api.steps import Step
from labelpilot.controller.policy import DEFAULT_DEADLINES, Patterns, Policy, PolicyError
from labelpilot.controller.step_jobs import DEFAULT_IMAGE

CONFIGURED_POLICY = Policy.from_yaml(yaml.safe_dump(CONFIGURED))


def violations(policy, spec_dict, changes):
    return policy.violations(LabelingJobSpec.from_k8s(spec_dict(changes)), DEFAULT_IMAGE)


@pytest.mark.parametrize(
    "changes, field", [c[1:] for c in REFUSED_BY_DEFAULT], ids=[c[0] for c in REFUSED_BY_DEFAULT]
)
def test_the_default_policy_refuses_naming_the_field(spec_dict, changes, field):
    found = violations(Policy(), spec_dict, changes)
    assert any(v.startswith(field + ":") for v in found), found
    with pytest.raises(PolicyError, match=field.replace(".", r"\.")):
        Policy().check(LabelingJobSpec.from_k8s(spec_dict(changes)), DEFAULT_IMAGE)


@pytest.mark.parametrize(
    "changes",
    [c[1] for c in REFUSED_BY_DEFAULT + ALLOWED_WHEN_CONFIGURED],
    ids=[c[0] for c in REFUSED_BY_DEFAULT + ALLOWED_WHEN_CONFIGURED],
)
def test_what_the_admin_allowed_passes(spec_dict, changes):
    assert violations(CONFIGURED_POLICY, spec_dict, changes) == []


@pytest.mark.parametrize(
    "changes, field",
    [c[1:] for c in REFUSED_WHEN_CONFIGURED],
    ids=[c[0] for c in REFUSED_WHEN_CONFIGURED],
)
def test_near_misses_of_the_allow_list_are_refused(spec_dict, changes, field):
    found = violations(CONFIGURED_POLICY, spec_dict, changes)
    assert [v for v in found if v.startswith(field + ":")], found


@pytest.mark.parametrize(
    "changes", [c[1] for c in ALLOWED_BY_DEFAULT], ids=[c[0] for c in ALLOWED_BY_DEFAULT]
)
def test_the_default_policy_allows_plain_jobs(spec_dict, changes):
    assert violations(Policy(), spec_dict, changes) == []


def test_the_operators_worker_image_is_always_allowed(spec_dict):
    spec = LabelingJobSpec.from_k8s(spec_dict({"worker": {"image": "reg/worker:9"}}))
    assert Policy().violations(spec, "reg/worker:9") == []
    assert Policy().violations(spec, "reg/worker:8") != []


def test_the_step_service_account_is_allowed(spec_dict):
    policy = Policy.from_yaml("stepServiceAccountName: labelpilot-step\n")
    assert (
        violations(policy, spec_dict, {"worker": {"serviceAccountName": "labelpilot-step"}}) == []
    )
    assert violations(policy, spec_dict, {"worker": {"serviceAccountName": "default"}})


def test_a_star_allows_anything_even_keyless_tolerations(spec_dict):
    policy = Policy.from_yaml(
        yaml.safe_dump({"images": ["*"], "tolerationKeys": ["*"], "labelStudioUrls": ["*"]})
    )
    assert violations(
        policy,
        spec_dict,
        {
            "worker": {"image": "anything:1"},
            "resources": {"training": {"tolerations": [{"operator": "Exists"}]}},
            **{
                "humanTaskConfig": {
                    "workforce": {
                        "simulated": None,
                        "labelStudio": {
                            "url": "https://x.example",
                            "apiTokenSecretName": "t",
                            "project": {"id": 1},
                        },
                    }
                }
            },
        },
    ) == [
        "spec.humanTaskConfig.workforce.labelStudio.apiTokenSecretName: Secret 't' is not allowed"
    ]


@pytest.mark.parametrize(
    "entries, value, allowed",
    [
        (["reg.example/ml/*"], "reg.example/ml/a:1", True),
        (["reg.example/ml/*"], "reg.example/mlx/a:1", False),
        (["reg.example/ml/a:1"], "reg.example/ml/a:1", True),
        (["reg.example/ml/a:1"], "reg.example/ml/a:10", False),
        ([], "anything", False),
    ],
)
def test_patterns(entries, value, allowed):
    assert Patterns.of(entries).allows(value) is allowed


@pytest.mark.parametrize(
    "entry, url, allowed",
    [
        ("http://ls:8080", "http://ls:8080", True),
        ("http://ls:8080", "http://ls:8080/", True),
        ("http://ls:8080/", "http://ls:8080", True),
        ("http://ls:8080", "http://ls:8080/sub/path", True),
        ("http://ls:8080", "http://ls:80801", False),
        ("http://ls:8080", "http://ls:8080.evil.example", False),
        ("http://ls:8080", "http://ls:8080@evil.example", False),
        ("https://ls.example/team-a", "https://ls.example/team-b", False),
        ("https://ls.example/team-a", "https://ls.example/team-a-evil", False),
        ("https://ls.example*", "https://ls.example.evil", True),
    ],
)
def test_url_entries_cover_their_paths_only(entry, url, allowed):
    assert Patterns.of_urls([entry]).allows(url) is allowed


def test_deadlines_default_per_step_and_the_job_may_choose_within_the_maximum():
    policy = Policy.from_yaml(
        "activeDeadlineSeconds: {train: 7200}\nmaxActiveDeadlineSeconds: 9000\n"
    )
    assert policy.deadline(Step.TRAIN, None) == 7200
    assert policy.deadline(Step.INFER, None) == DEFAULT_DEADLINES[Step.INFER]
    assert policy.deadline(Step.TRAIN, 60) == 60
    assert Policy().deadline(Step.HUMAN, None) == DEFAULT_DEADLINES[Step.HUMAN]


@pytest.mark.parametrize(
    "text, message",
    [
        ("images: registry.example.com\n", "images"),
        ("commands: sometimes\n", "commands"),
        ("imagez: []\n", "imagez"),
        ("activeDeadlineSeconds: {training: 60}\n", "activeDeadlineSeconds.training"),
        ("maxActiveDeadlineSeconds: 0\n", "maxActiveDeadlineSeconds"),
        ("activeDeadlineSeconds: {train: 0}\n", "activeDeadlineSeconds.train"),
        ("images: [\n", "invalid policy file"),
    ],
)
def test_bad_policy_files_are_refused_naming_the_field(text, message):
    with pytest.raises(PolicyError, match=message):
        Policy.from_yaml(text)


def test_policy_files_are_read_from_disk(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(CONFIGURED))
    assert Policy.from_file(path) == CONFIGURED_POLICY
    assert Policy.from_file(None) == Policy() == Policy.from_yaml("")
    with pytest.raises(PolicyError, match="cannot read"):
        Policy.from_file(tmp_path / "absent.yaml")
