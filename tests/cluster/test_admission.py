"""Who may do what through a LabelingJob, on a real API server: the CRD and the chart's
ValidatingAdmissionPolicy refuse, naming the field, what the operator would refuse too;
what they let through, the operator's model and Job builder take, and the Job API accepts.

Every request here is a dry run, except where a job must exist before the policy changes.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from kubernetes import client

from labelpilot.api.run_config import MAX_LABELS
from labelpilot.api.spec import LabelingJobSpec
from labelpilot.api.steps import Step
from labelpilot.controller.policy import Policy, PolicyError
from labelpilot.controller.profiles import ProfileError
from labelpilot.controller.step_jobs import JobSettings, build_job
from tests.chart.helm import render
from tests.cluster.kubeutil import wait_for
from tests.cluster.operator_fixtures import GROUP, PLURAL, VERSION
from tests.job_api_cases import JOB_API_INVALID, JOB_API_VALID
from tests.policy_cases import (
    ALLOWED_BY_DEFAULT,
    ALLOWED_WHEN_CONFIGURED,
    CONFIGURED,
    REFUSED_BY_DEFAULT,
    REFUSED_WHEN_CONFIGURED,
)
from tests.specs import BASE_SPEC

# The builder with a policy that refuses nothing: what is left to refuse is the Job API's.
OPEN = JobSettings(
    policy=Policy.from_yaml(
        json.dumps(
            {
                "images": ["*"],
                "commands": True,
                "serviceAccounts": ["*"],
                "credentialsSecrets": ["*"],
                "labelStudioTokenSecrets": ["*"],
                "labelStudioUrls": ["*"],
                "volumeClaims": ["*"],
                "tolerationKeys": ["*"],
                "maxActiveDeadlineSeconds": 30 * 24 * 3600,
            }
        )
    )
)


def merged(changes: dict[str, Any], base: dict[str, Any] | None = None) -> dict[str, Any]:
    """`changes` deep-merged into the base spec; None removes a key."""
    result = copy.deepcopy(BASE_SPEC if base is None else base)
    for key, value in changes.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(value, result[key])
        else:
            result[key] = copy.deepcopy(value)
    return result


def body(spec: dict[str, Any], name: str = "job") -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "LabelingJob",
        "metadata": {"name": name},
        "spec": spec,
    }


def create(
    custom: client.CustomObjectsApi,
    namespace: str,
    spec: dict[str, Any],
    dry_run: bool = True,
    name: str = "job",
) -> tuple[dict[str, Any] | None, str]:
    """(the stored object, "") or (None, the API server's message)."""
    try:
        return custom.create_namespaced_custom_object(
            GROUP,
            VERSION,
            namespace,
            PLURAL,
            body(spec, name),
            **({"dry_run": "All"} if dry_run else {}),
        ), ""
    except client.ApiException as error:
        assert error.status in (400, 403, 422), error.body
        return None, str(json.loads(error.body)["message"])


class Admission:
    """The chart's admission policy and binding for one namespace, rendered from values."""

    def __init__(self, api: client.ApiClient, namespace: str, *values: str) -> None:
        self.api = client.AdmissionregistrationV1Api(api)
        docs = render(
            "--show-only",
            "templates/admission-policy.yaml",
            "--set",
            f"watchNamespaces={{{namespace}}}",
            *values,
            namespace=namespace,
        )
        (self.policy,) = [d for d in docs if d["kind"] == "ValidatingAdmissionPolicy"]
        (self.binding,) = [d for d in docs if d["kind"] == "ValidatingAdmissionPolicyBinding"]

    def install(self, custom: client.CustomObjectsApi, namespace: str) -> None:
        self.api.create_validating_admission_policy(self.policy)
        self.api.create_validating_admission_policy_binding(self.binding)
        probe = merged({"worker": {"image": "never.example/allowed:1"}})
        wait_for(
            lambda: create(custom, namespace, probe, name="probe")[0] is None,
            timeout=60,
            what="the admission policy to take effect",
        )

    def remove(self) -> None:
        name = self.policy["metadata"]["name"]
        for delete in (
            self.api.delete_validating_admission_policy_binding,
            self.api.delete_validating_admission_policy,
        ):
            try:
                delete(name)
            except client.ApiException as error:
                if error.status != 404:
                    raise


@pytest.fixture(scope="module")
def apis(kube_api: client.ApiClient, crd_installed: None) -> dict[str, Any]:
    return {
        "custom": client.CustomObjectsApi(kube_api),
        "core": client.CoreV1Api(kube_api),
        "batch": client.BatchV1Api(kube_api),
        "api": kube_api,
    }


@pytest.fixture(scope="module")
def namespaces(apis: dict[str, Any]) -> Iterator[dict[str, str]]:
    """default: the chart's default policy; configured: CONFIGURED; open: no policy."""
    suffix = uuid.uuid4().hex[:6]
    names = {kind: f"adm-{kind}-{suffix}" for kind in ("default", "configured", "open", "later")}
    for name in names.values():
        apis["core"].create_namespace({"metadata": {"name": name}})
    installed = [
        Admission(apis["api"], names["default"]),
        Admission(
            apis["api"], names["configured"], "--set-json", f"policy.allow={json.dumps(CONFIGURED)}"
        ),
    ]
    try:
        installed[0].install(apis["custom"], names["default"])
        installed[1].install(apis["custom"], names["configured"])
        yield names
    finally:
        for admission in installed:
            admission.remove()
        for name in names.values():
            apis["core"].delete_namespace(name)


def _ids(cases: list[tuple[Any, ...]]) -> list[str]:
    return [c[0] for c in cases]


@pytest.mark.parametrize(
    "changes, field", [c[1:] for c in REFUSED_BY_DEFAULT], ids=_ids(REFUSED_BY_DEFAULT)
)
def test_the_default_policy_refuses_naming_the_field(apis, namespaces, changes, field):
    stored, message = create(apis["custom"], namespaces["default"], merged(changes))
    assert stored is None, f"admitted {changes}"
    assert f"denied request: {field}:" in message, message
    # the operator, where the admission policy is not installed, refuses the same field
    spec = LabelingJobSpec.from_k8s(merged(changes))
    with pytest.raises(PolicyError, match=field.replace(".", r"\.")):
        build_job("job", "ns", "uid", spec, Step.TRAIN, 0, JobSettings())


@pytest.mark.parametrize(
    "changes", [c[1] for c in ALLOWED_BY_DEFAULT], ids=_ids(ALLOWED_BY_DEFAULT)
)
def test_the_default_policy_admits_plain_jobs(apis, namespaces, changes):
    assert create(apis["custom"], namespaces["default"], merged(changes))[1] == ""


@pytest.mark.parametrize(
    "changes",
    [c[1] for c in REFUSED_BY_DEFAULT + ALLOWED_WHEN_CONFIGURED],
    ids=_ids(REFUSED_BY_DEFAULT + ALLOWED_WHEN_CONFIGURED),
)
def test_what_the_admin_allowed_is_admitted(apis, namespaces, changes):
    assert create(apis["custom"], namespaces["configured"], merged(changes))[1] == ""


@pytest.mark.parametrize(
    "changes, field", [c[1:] for c in REFUSED_WHEN_CONFIGURED], ids=_ids(REFUSED_WHEN_CONFIGURED)
)
def test_near_misses_of_the_allow_list_are_refused(apis, namespaces, changes, field):
    stored, message = create(apis["custom"], namespaces["configured"], merged(changes))
    assert stored is None, f"admitted {changes}"
    assert f"denied request: {field}:" in message, message


def test_namespaces_the_release_does_not_watch_are_not_bound(apis, namespaces):
    changes = REFUSED_BY_DEFAULT[0][1]
    assert create(apis["custom"], namespaces["open"], merged(changes))[1] == ""


def test_the_policys_cel_type_checks_against_the_crd(apis, namespaces):
    admission = client.AdmissionregistrationV1Api(apis["api"])
    name = Admission(apis["api"], namespaces["default"]).policy["metadata"]["name"]

    def checked() -> Any:
        policy = admission.read_validating_admission_policy(name)
        done = policy.status and policy.status.observed_generation == policy.metadata.generation
        return policy if done else None

    policy = wait_for(checked, timeout=60, what="the policy's type checking")
    warnings = (
        policy.status.type_checking.expression_warnings or [] if policy.status.type_checking else []
    )
    assert warnings == [], warnings


def test_a_tighter_policy_refuses_spec_changes_but_never_the_operators_writes(apis, namespaces):
    custom, namespace = apis["custom"], namespaces["later"]
    image = {"worker": {"image": "registry.example.com/ml/worker:2"}}
    stored, message = create(custom, namespace, merged(image), dry_run=False)
    assert stored is not None, message
    admission = Admission(apis["api"], namespace)
    try:
        admission.install(custom, namespace)
        patch = {"metadata": {"annotations": {"kopf.zalando.org/last-handled": "x"}}}
        custom.patch_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "job", patch)
        custom.patch_namespaced_custom_object_status(
            GROUP, VERSION, namespace, PLURAL, "job", {"status": {"phase": "Initializing"}}
        )
        with pytest.raises(client.ApiException) as refused:
            custom.patch_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURAL, "job", {"spec": {"suspend": True}}
            )
        assert "spec.worker.image:" in json.loads(refused.value.body)["message"]
    finally:
        admission.remove()


@pytest.mark.parametrize(
    "auto_labeling, field",
    [
        ({"thresholdMode": "GroundTruth"}, "thresholdMode"),
        ({"targetAccuracy": 0.5}, "targetAccuracy"),
        ({"confidenceLevel": 0.5}, "confidenceLevel"),
        ({"validationPolicy": "Seed"}, "validationPolicy"),
    ],
)
def test_the_guarantee_terms_of_a_stored_job_cannot_change(apis, namespaces, auto_labeling, field):
    custom, namespace = apis["custom"], namespaces["open"]
    name = f"terms-{field.lower()}"
    stored, message = create(custom, namespace, merged({}), dry_run=False, name=name)
    assert stored is not None, message
    with pytest.raises(client.ApiException) as refused:
        custom.patch_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, name, {"spec": {"autoLabeling": auto_labeling}}
        )
    assert refused.value.status == 422
    assert f"autoLabeling.{field} is immutable" in json.loads(refused.value.body)["message"]
    custom.patch_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, name, {"spec": {"autoLabeling": {"enabled": False}}}
    )


@pytest.mark.parametrize("changes, field", JOB_API_INVALID)
def test_the_crd_refuses_what_the_job_api_would(apis, namespaces, changes, field):
    stored, message = create(apis["custom"], namespaces["open"], merged(changes))
    assert stored is None, f"the CRD took {changes}"
    assert field in message, message


def assert_jobs_accepted(apis: dict[str, Any], namespace: str, stored: dict[str, Any]) -> None:
    """Every step Job the operator would build for the stored job passes the Job API."""
    spec = LabelingJobSpec.from_k8s(stored["spec"])
    for step in Step:
        try:
            job = build_job(
                "job",
                namespace,
                "8d5c4a34-1b1e-4bd3-9f4e-0d6c8c2f4f7a",
                spec,
                step,
                3 if step.iterative else None,
                OPEN,
            )
        except ProfileError as error:
            assert "unknown resource profile" in str(error), error
            continue
        try:
            apis["batch"].create_namespaced_job(namespace, job, dry_run="All")
        except client.ApiException as error:
            raise AssertionError(
                f"the Job API refused the {step} Job of {stored['spec']}: "
                f"{json.loads(error.body)['message']}"
            ) from None


@pytest.mark.parametrize("changes", JOB_API_VALID)
def test_what_the_crd_takes_builds_jobs_the_job_api_takes(apis, namespaces, changes):
    stored, message = create(apis["custom"], namespaces["open"], merged(changes))
    assert stored is not None, message
    assert_jobs_accepted(apis, namespaces["open"], stored)


def _maybe(values: list[Any]) -> st.SearchStrategy[Any]:
    return st.sampled_from([None, *values])


# Values at the edges of what the Job API takes: most generated jobs are admitted, and every
# admitted one must make step Jobs the Job API takes. A few jobs also get one change the CRD
# must refuse (JOB_API_INVALID).
QUANTITIES = [
    "1",
    "500m",
    "1.5",
    ".5",
    "5.",
    "1e3",
    "1E+2",
    "1e-3",
    "1Ei",
    "+1",
    "0",
    "64Gi",
    "0.000000001n",
    2,
    0,
]
WHOLE = ["1", "+3", "0", "999999999999999", 4, 999999999999999]
RESOURCES = st.dictionaries(
    st.sampled_from(["cpu", "memory", "ephemeral-storage"]), st.sampled_from(QUANTITIES), max_size=3
)
EXTENDED = st.dictionaries(
    st.sampled_from(["nvidia.com/gpu", "example.com/fpga", "a." + "b" * 60 + "/" + "c" * 63]),
    st.sampled_from(WHOLE),
    max_size=2,
)
LABEL_KEYS = ["pool", "example.com/pool", "Pool_1.a", "a/" + "b" * 63, "x" * 63, "p" * 253 + "/n"]
LABEL_VALUES = ["", "a", "a" * 63, "A.b_c-1", "0"]


@st.composite
def tolerations(draw: st.DrawFn) -> dict[str, Any]:
    result: dict[str, Any] = {}
    key = draw(_maybe(["k", "nvidia.com/gpu", "example.com/" + "t" * 63]))
    if key is not None:
        result["key"] = key
    operator = "Exists" if key is None else draw(_maybe(["Exists", "Equal"]))
    if operator is not None:
        result["operator"] = operator
    if operator != "Exists":
        value = draw(_maybe(["", "v", "v" * 63]))
        if value is not None:
            result["value"] = value
    effect = draw(_maybe(["NoSchedule", "PreferNoSchedule", "NoExecute"]))
    if effect is not None:
        result["effect"] = effect
    if effect == "NoExecute" and draw(st.booleans()):
        result["tolerationSeconds"] = draw(st.sampled_from([0, 5, -1]))
    return result


@st.composite
def step_resources(draw: st.DrawFn) -> dict[str, Any]:
    fields = {
        "profile": draw(_maybe(["p3.2xlarge", "small", "c5.xlarge", "nope"])),
        "requests": draw(_maybe([{}]))
        if draw(st.booleans())
        else {**draw(RESOURCES), **draw(EXTENDED)},
        "limits": {**draw(RESOURCES), **draw(EXTENDED)} if draw(st.booleans()) else None,
        "nodeSelector": draw(
            st.dictionaries(st.sampled_from(LABEL_KEYS), st.sampled_from(LABEL_VALUES), max_size=2)
        )
        or None,
        "tolerations": draw(st.lists(tolerations(), max_size=2)) or None,
        "activeDeadlineSeconds": draw(_maybe([1, 3600, 30 * 24 * 3600])),
    }
    return {k: v for k, v in fields.items() if v is not None}


@st.composite
def specs(draw: st.DrawFn) -> dict[str, Any]:
    spec = copy.deepcopy(BASE_SPEC)
    spec["taskType"] = draw(
        st.sampled_from(
            ["ImageClassification", "TextClassification", "ObjectDetection", "SemanticSegmentation"]
        )
    )
    most = 255 if spec["taskType"] == "SemanticSegmentation" else MAX_LABELS
    spec["labels"] = [f"c{i}" for i in range(draw(st.sampled_from([1, 3, most])))]
    mount = draw(st.sampled_from(["/data", "/mnt/x", "/srv/a.b", "/tmp/lp", "/var/lp"]))
    spec["storage"] = {"volumeClaimName": "c", "mountPath": mount}
    if draw(st.booleans()):
        spec["storage"]["credentialsSecretName"] = "s3"
    uris = [f"file://{mount}/in", f"{mount}/in", "s3://bucket/in", f"file://{mount}"]
    spec["input"]["manifestUri"] = draw(st.sampled_from(uris))
    spec["output"]["uri"] = draw(st.sampled_from(uris))
    spec["resources"] = {role: draw(step_resources()) for role in ("training", "other")}
    spec["resources"]["inference"] = {
        **draw(step_resources()),
        "parallelism": draw(st.sampled_from([1, 4, 100])),
    }
    image = _maybe(["me/x:1", "x", "registry.example.com:5000/a/b@sha256:" + "0" * 64])
    spec["worker"] = {
        k: v
        for k, v in (
            ("image", draw(image)),
            ("serviceAccountName", draw(_maybe(["steps"]))),
            ("imagePullPolicy", draw(_maybe(["Never"]))),
        )
        if v is not None
    }
    algorithm = {
        "trainingImage": draw(image),
        "inferenceImage": draw(image),
        "trainingCommand": draw(_maybe([["python", "t.py"], ["a" * 4096]])),
    }
    spec["autoLabeling"] = {"algorithm": {k: v for k, v in algorithm.items() if v is not None}}
    if draw(st.booleans()):
        spec["humanTaskConfig"]["workforce"] = {
            "labelStudio": {
                "url": draw(st.sampled_from(["http://ls:8080", "https://ls.example/sub/"])),
                "apiTokenSecretName": "ls-token",
                "apiTokenSecretKey": draw(st.sampled_from(["token", "a.b_c-1", "_x"])),
                "project": {"id": 1},
            }
        }
    if draw(st.integers(0, 4)) == 0:
        spec = merged(draw(st.sampled_from([c[0] for c in JOB_API_INVALID])), spec)
    return spec


@settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(spec=specs())
def test_every_job_the_api_server_admits_is_handled_without_a_traceback(apis, namespaces, spec):
    stored, _ = create(apis["custom"], namespaces["open"], spec)
    event("admitted by the API server" if stored else "refused by the CRD")
    if stored is None:
        return
    assert_jobs_accepted(apis, namespaces["open"], stored)
