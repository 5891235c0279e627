"""The chart's policy: the operator's policy file and the admission policy, rendered from the
same `policy` and `steps` values, allow what labelpilot.controller.policy allows. (Whether the API
server enforces the admission policy: tests/cluster/test_admission.py.)"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from labelpilot.controller.policy import DEFAULT_DEADLINES, Patterns, Policy
from tests.chart.helm import CHART, helm, one, render
from tests.chart.test_chart import container, operator_args
from tests.policy_cases import CONFIGURED

WORKER = "ghcr.io/labelpilot/worker-gpu:0.1.0"


def policy_file(docs: list[dict[str, Any]]) -> Policy:
    return Policy.from_yaml(one(docs, "ConfigMap", "labelpilot-policy")["data"]["policy.yaml"])


def cel_lists(docs: list[dict[str, Any]]) -> dict[str, Any]:
    """The admission policy's variables (CEL list literals, written as JSON)."""
    variables = one(docs, "ValidatingAdmissionPolicy")["spec"]["variables"]
    return {v["name"]: json.loads(v["expression"]) for v in variables}


def as_patterns(lists: dict[str, Any], kind: str) -> Patterns:
    return Patterns(frozenset(lists[kind + "Names"]), tuple(lists[kind + "Prefixes"]))


def test_the_default_policy_file_is_the_operators_default():
    assert policy_file(render()) == Policy()
    assert dict(Policy().deadlines) == DEFAULT_DEADLINES


def test_the_configured_allow_list_reaches_the_operator_and_the_admission_policy():
    docs = render("--set-json", f"policy.allow={json.dumps(CONFIGURED)}")
    assert policy_file(docs) == Policy.from_yaml(yaml.safe_dump(CONFIGURED))
    lists = cel_lists(docs)
    expected = Policy.from_yaml(yaml.safe_dump(CONFIGURED))
    assert as_patterns(lists, "image") == Patterns.of([WORKER, *CONFIGURED["images"]])
    assert as_patterns(lists, "account") == expected.service_accounts
    assert as_patterns(lists, "credentials") == expected.credentials_secrets
    assert as_patterns(lists, "token") == expected.label_studio_token_secrets
    assert as_patterns(lists, "claim") == expected.volume_claims
    assert as_patterns(lists, "taintKey") == expected.toleration_keys
    url = as_patterns(lists, "url")
    assert Patterns(url.exact, tuple(sorted(url.prefixes))) == Patterns(
        expected.label_studio_urls.exact, tuple(sorted(expected.label_studio_urls.prefixes))
    )
    validations = one(docs, "ValidatingAdmissionPolicy")["spec"]["validations"]
    assert not [v for v in validations if "Command" in v.get("message", "")], "commands allowed"
    assert any("<= 1209600" in v["expression"] for v in validations)


def test_by_default_commands_and_keyless_tolerations_are_refused():
    validations = one(render(), "ValidatingAdmissionPolicy")["spec"]["validations"]
    messages = [v.get("message") or v["messageExpression"] for v in validations]
    for field in (
        "spec.autoLabeling.algorithm.trainingCommand",
        "spec.autoLabeling.algorithm.inferenceCommand",
        "spec.worker.image",
        "spec.autoLabeling.algorithm.trainingImage",
        "spec.autoLabeling.algorithm.inferenceImage",
        "spec.worker.serviceAccountName",
        "spec.storage.credentialsSecretName",
        "spec.storage.volumeClaimName",
        "spec.humanTaskConfig.workforce.labelStudio.url",
        "spec.humanTaskConfig.workforce.labelStudio.apiTokenSecretName",
        "spec.resources.training.tolerations",
        "spec.resources.other.tolerations",
        "spec.resources.inference.activeDeadlineSeconds",
    ):
        assert [m for m in messages if f"{field}:" in m], field
    tolerations = [v for v in validations if "tolerations.all" in v["expression"]]
    assert len(tolerations) == 3
    assert all(v["expression"].endswith(": false)") for v in tolerations)
    starred = one(render("--set", "policy.allow.tolerationKeys={*}"), "ValidatingAdmissionPolicy")[
        "spec"
    ]["validations"]
    assert all(
        v["expression"].endswith(": true)") for v in starred if "tolerations.all" in v["expression"]
    )


def test_the_policy_judges_only_created_jobs_and_changed_specs():
    policy = one(render(), "ValidatingAdmissionPolicy")["spec"]
    assert policy["failurePolicy"] == "Fail"
    (rule,) = policy["matchConstraints"]["resourceRules"]
    assert rule["resources"] == ["labelingjobs"]  # not labelingjobs/status
    assert rule["operations"] == ["CREATE", "UPDATE"]
    (condition,) = policy["matchConditions"]
    assert condition["expression"] == (
        "request.operation == 'CREATE' || object.spec != oldObject.spec"
    )


def test_the_binding_covers_the_watched_namespaces_or_all_of_them():
    docs = render("--set", "watchNamespaces={team-a,team-b}")
    binding = one(docs, "ValidatingAdmissionPolicyBinding")
    assert (
        binding["spec"]["policyName"] == one(docs, "ValidatingAdmissionPolicy")["metadata"]["name"]
    )
    assert binding["spec"]["validationActions"] == ["Deny"]
    (selector,) = binding["spec"]["matchResources"]["namespaceSelector"]["matchExpressions"]
    assert selector == {
        "key": "kubernetes.io/metadata.name",
        "operator": "In",
        "values": ["team-a", "team-b"],
    }
    cluster_wide = one(render("--set", "rbac.clusterWide=true"), "ValidatingAdmissionPolicyBinding")
    assert "matchResources" not in cluster_wide["spec"]


def test_releases_in_other_namespaces_get_their_own_policy():
    first = one(render(namespace="team-a"), "ValidatingAdmissionPolicy")["metadata"]["name"]
    second = one(render(namespace="team-b"), "ValidatingAdmissionPolicy")["metadata"]["name"]
    assert first != second


def test_the_admission_policy_can_be_left_out():
    kinds = {d["kind"] for d in render("--set", "policy.admission=false")}
    assert not kinds & {"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}
    assert "ConfigMap" in kinds  # the operator still checks


def test_the_operator_reads_the_policy_and_rolls_when_it_changes():
    docs = render()
    args = operator_args(docs)
    assert args.policy == "/etc/labelpilot/policy.yaml"
    (mount,) = [m for m in container(docs)["volumeMounts"] if m["mountPath"] == "/etc/labelpilot"]
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    sources = [s["configMap"]["name"] for s in volume["projected"]["sources"]]
    assert sources == ["labelpilot-profiles", "labelpilot-policy"]
    before = one(docs, "Deployment")["spec"]["template"]["metadata"]["annotations"]
    after = one(render("--set", "policy.allow.commands=true"), "Deployment")["spec"]["template"][
        "metadata"
    ]["annotations"]
    assert before["checksum/policy"] != after["checksum/policy"]


def test_the_charts_claim_is_allowed_when_the_chart_creates_it():
    docs = render("--set", "storage.pvc.create=true", "--set", "storage.pvc.name=team-data")
    assert policy_file(docs).volume_claims.allows("team-data")
    assert "team-data" in cel_lists(docs)["claimNames"]
    assert not policy_file(render()).volume_claims.allows("team-data")


def test_step_deadlines_and_service_account():
    docs = render(
        "--set",
        "steps.activeDeadlineSeconds.train=3600",
        "--set",
        "steps.serviceAccount.name=lp-steps",
        "--set",
        "steps.serviceAccount.create=true",
        "--set",
        "watchNamespaces={team-a,team-b}",
    )
    policy = policy_file(docs)
    assert policy.deadlines["train"] == 3600 and policy.step_service_account == "lp-steps"
    accounts = [
        d for d in docs if d["kind"] == "ServiceAccount" and d["metadata"]["name"] == "lp-steps"
    ]
    assert sorted(a["metadata"]["namespace"] for a in accounts) == ["team-a", "team-b"]
    assert all(a["automountServiceAccountToken"] is False for a in accounts)
    assert "lp-steps" in cel_lists(docs)["accountNames"]
    cluster_wide = render(
        "--set",
        "steps.serviceAccount.name=lp-steps",
        "--set",
        "steps.serviceAccount.create=true",
        "--set",
        "rbac.clusterWide=true",
    )
    assert not [d for d in cluster_wide if d["metadata"]["name"] == "lp-steps"]


def test_a_step_service_account_to_create_needs_a_name():
    result = helm("template", "labelpilot", str(CHART), "--set", "steps.serviceAccount.create=true")
    assert result.returncode != 0
    assert "steps.serviceAccount.name is needed" in result.stderr


@pytest.mark.parametrize(
    "setting, message",
    [
        ("policy.allow.images=registry.example.com", "at '/policy/allow/images'"),
        ("policy.allow.commands=sometimes", "at '/policy/allow/commands'"),
        ("policy.allow.labelStudioUrls={ftp://ls}", "at '/policy/allow/labelStudioUrls/0'"),
        ("policy.allow.volumeClaims={Data_1}", "at '/policy/allow/volumeClaims/0'"),
        ("policy.allow.maxActiveDeadlineSeconds=0", "at '/policy/allow/maxActiveDeadlineSeconds'"),
        ("policy.allow.secrets={a}", "additional properties 'secrets' not allowed"),
        ("steps.activeDeadlineSeconds.train=0", "at '/steps/activeDeadlineSeconds/train'"),
        ("steps.activeDeadlineSeconds.training=60", "additional properties 'training'"),
        ("steps.serviceAccount.name=Steps", "at '/steps/serviceAccount/name'"),
    ],
)
def test_schema_refuses_wrong_policy_values_naming_the_field(setting, message):
    result = helm("template", "labelpilot", str(CHART), "--set", setting)
    assert result.returncode != 0
    assert message in result.stderr, result.stderr
