"""The `batch/v1` Job of one step of a LabelingJob, as a plain dict the API accepts.

- Name `<job>-i<N>-<step>` (`<job>-prepare`, `<job>-export`), at most 57 characters so
  an Indexed Job's pod hostnames (`<name>-<index>`) stay within 63: a longer job name is
  cut and a hash of it keeps names apart. The name never depends on the spec, so the
  same step always maps onto the same Job and creating it twice cannot duplicate it.
- Owned by the LabelingJob (controller, blockOwnerDeletion): deleted with it.
- `podFailurePolicy`: exit code 3 (a rule failed the whole job) fails the Job at once; a disrupted
  Pod (preemption, node drain) is retried without counting; any other crash is retried up
  to `backoffLimit`. No TTL: finished Jobs stay as the record of the run.
- Restricted Pod Security: non-root, no privilege escalation, all capabilities dropped,
  RuntimeDefault seccomp, no service account token (steps never call the API).
- Only what the cluster's policy allows (labelpilot.controller.policy): a job that names
  anything else gets no Job at all. `activeDeadlineSeconds` per step (the policy's, or the job's own
  within the policy's maximum): a hung step does not hold its node, or GPU, for ever.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from labelpilot.api import config_env
from labelpilot.api.crd import API_VERSION, KIND
from labelpilot.api.job_labels import LABEL_ITERATION, LABEL_JOB, LABEL_POLL, LABEL_STEP
from labelpilot.api.run_config import CONFIG_ENV, LABEL_STUDIO_TOKEN_ENV
from labelpilot.api.spec import LabelingJobSpec, StepResources
from labelpilot.api.steps import (
    FAILED_EXIT_CODE,
    TERMINATION_LOG_ENV,
    TERMINATION_LOG_PATH,
    Step,
)
from labelpilot.controller.policy import Policy
from labelpilot.controller.profiles import Catalog, Placement, Role
from labelpilot.controller.run_config_from_spec import to_run_config

Obj = dict[str, Any]
NAME_MAX = 57
LABEL_VALUE_MAX = 63
DEFAULT_IMAGE = "labelpilot/worker:0.1.0"
CONTAINER = "worker"
DATA_VOLUME = "data"
# The root filesystem is read-only; HOME, MPLCONFIGDIR and every library's scratch files
# live in this emptyDir.
SCRATCH_VOLUME, SCRATCH_PATH = "scratch", "/tmp"
ROLES = {Step.TRAIN: Role.TRAINING, Step.INFER: Role.INFERENCE}
# A human Job waits this long for the workforce, then reports Waiting and ends; the
# operator starts the next round after humanTaskConfig.pollIntervalSeconds.
HUMAN_WAIT_SECONDS = 20


@dataclass(frozen=True)
class JobSettings:
    """The operator's cluster-wide choices (from its flags and Helm values)."""

    image: str = DEFAULT_IMAGE
    image_pull_policy: str = "IfNotPresent"
    catalog: Catalog = field(default_factory=Catalog)
    policy: Policy = field(default_factory=Policy)
    run_as_user: int = 1000
    run_as_group: int = 1000
    fs_group: int | None = 1000
    extra_env: tuple[tuple[str, str], ...] = ()


def _short(value: str, limit: int, reserve: int = 0) -> str:
    """`value` within `limit - reserve` characters; cut ones end in a hash of the whole."""
    room = limit - reserve
    if len(value) <= room:
        return value
    digest = hashlib.sha256(value.encode()).hexdigest()[:8]
    return value[: room - len(digest) - 1].rstrip("-.") + "-" + digest


def job_name(labeling_job: str, step: Step, iteration: int | None, poll: int = 0) -> str:
    """The deterministic name of a step's Job (`-<poll>` for a human step's later rounds)."""
    suffix = f"-i{iteration}-{step}" if step.iterative else f"-{step}"
    suffix += f"-{poll}" if poll else ""
    return _short(labeling_job, NAME_MAX, len(suffix)) + suffix


def labels(labeling_job: str, step: Step, iteration: int | None, poll: int = 0) -> dict[str, str]:
    instance = _short(labeling_job, LABEL_VALUE_MAX)
    result = {
        "app.kubernetes.io/name": "labelpilot",
        "app.kubernetes.io/instance": instance,
        "app.kubernetes.io/component": str(step),
        "app.kubernetes.io/part-of": "labelpilot",
        "app.kubernetes.io/managed-by": "labelpilot-operator",
        LABEL_JOB: instance,
        LABEL_STEP: str(step),
    }
    if step.iterative and iteration is not None:
        result[LABEL_ITERATION] = str(iteration)
    if poll:
        result[LABEL_POLL] = str(poll)
    return result


def selector(labeling_job: str) -> str:
    """The label selector of a LabelingJob's step Jobs (and their Pods)."""
    return f"{LABEL_JOB}={_short(labeling_job, LABEL_VALUE_MAX)}"


def owner_reference(labeling_job: str, uid: str) -> Obj:
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "name": labeling_job,
        "uid": uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def shard_count(spec: LabelingJobSpec, step: Step) -> int:
    return spec.resources.inference.parallelism if step is Step.INFER else 1


def command_and_args(
    spec: LabelingJobSpec, step: Step, iteration: int | None
) -> tuple[list[str] | None, list[str]]:
    """The container's command (None: the image's entrypoint) and the contract's flags."""
    args: list[str] = []
    if step.iterative:
        args += ["--iteration", str(iteration or 0)]
    if step is Step.HUMAN:
        args += ["--max-wait-seconds", str(HUMAN_WAIT_SECONDS)]
    shards = shard_count(spec, step)
    if shards > 1:
        args += ["--shard-count", str(shards)]  # the index comes from JOB_COMPLETION_INDEX
    algorithm = spec.auto_labeling.algorithm
    own_image, own_command = {
        Step.TRAIN: (algorithm.training_image, algorithm.training_command),
        Step.INFER: (algorithm.inference_image, algorithm.inference_command),
    }.get(step, (None, None))
    if own_command:
        return list(own_command), args
    if own_image:
        return None, args
    return ["labelpilot", "worker", str(step)], args


def image(spec: LabelingJobSpec, step: Step, settings: JobSettings) -> str:
    algorithm = spec.auto_labeling.algorithm
    own = {Step.TRAIN: algorithm.training_image, Step.INFER: algorithm.inference_image}
    return own.get(step) or spec.worker.image or settings.image


def step_resources(spec: LabelingJobSpec, step: Step) -> StepResources:
    """The job's `spec.resources` part that applies to `step`."""
    return {
        Role.TRAINING: spec.resources.training,
        Role.INFERENCE: spec.resources.inference,
        Role.OTHER: spec.resources.other,
    }[ROLES.get(step, Role.OTHER)]


def placement(spec: LabelingJobSpec, step: Step, settings: JobSettings) -> Placement:
    """Raises profiles.ProfileError for a profile the cluster does not offer."""
    return settings.catalog.resolve(
        spec.task_type, ROLES.get(step, Role.OTHER), step_resources(spec, step)
    )


def step_config(name: str, namespace: str, uid: str, spec: LabelingJobSpec, step: Step) -> str:
    """The run config `step` reads, as its environment variable's value (config_env: JSON,
    compressed when large; ConfigTooLarge when even that does not fit). Only the human
    step (and prepare, for a label category file's labels) reads the job's labeling
    interface: the others go without it."""
    config = to_run_config(name, namespace, spec, uid)
    studio = config.workforce.label_studio
    # prepare checks the interface against the labels of a label category file
    reads_interface = step is Step.HUMAN or (
        step is Step.PREPARE and config.label_category_config_uri is not None
    )
    if not reads_interface and studio is not None and studio.label_config is not None:
        config.workforce.label_studio = studio.model_copy(update={"label_config": None})
    return config_env.encode(config.to_json())


def _container(
    name: str,
    namespace: str,
    uid: str,
    spec: LabelingJobSpec,
    step: Step,
    iteration: int | None,
    settings: JobSettings,
    where: Placement,
) -> Obj:
    command, args = command_and_args(spec, step, iteration)
    env: list[Obj] = [
        {"name": CONFIG_ENV, "value": step_config(name, namespace, uid, spec, step)},
        {"name": TERMINATION_LOG_ENV, "value": TERMINATION_LOG_PATH},
        {"name": "HOME", "value": SCRATCH_PATH},  # an arbitrary non-root uid has no home
        {"name": "PYTHONUNBUFFERED", "value": "1"},
        *({"name": k, "value": v} for k, v in settings.extra_env),
    ]
    studio = spec.human_task_config.workforce.label_studio
    if studio is not None and step is Step.HUMAN:
        env.append(
            {
                "name": LABEL_STUDIO_TOKEN_ENV,
                "valueFrom": {
                    "secretKeyRef": {
                        "name": studio.api_token_secret_name,
                        "key": studio.api_token_secret_key,
                    }
                },
            }
        )
    mounts: list[Obj] = [{"name": SCRATCH_VOLUME, "mountPath": SCRATCH_PATH}]
    if spec.storage and spec.storage.volume_claim_name:
        mounts.append({"name": DATA_VOLUME, "mountPath": spec.storage.mount_path})
    container: Obj = {
        "name": CONTAINER,
        "image": image(spec, step, settings),
        "imagePullPolicy": str(spec.worker.image_pull_policy or settings.image_pull_policy),
        **({"command": command} if command else {}),
        "args": args,
        "env": env,
        "resources": {"requests": dict(where.requests), "limits": dict(where.limits)},
        "volumeMounts": mounts,
        "terminationMessagePath": TERMINATION_LOG_PATH,
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    if spec.storage and spec.storage.credentials_secret_name:
        container["envFrom"] = [{"secretRef": {"name": spec.storage.credentials_secret_name}}]
    return container


def build_job(
    name: str,
    namespace: str,
    uid: str,
    spec: LabelingJobSpec,
    step: Step,
    iteration: int | None,
    settings: JobSettings | None = None,
    *,
    poll: int = 0,
) -> Obj:
    """The Job running `step` (at `iteration`, polling round `poll`) of LabelingJob
    `namespace/name` (uid `uid`).

    Raises profiles.ProfileError when the spec names a profile the cluster lacks, and
    policy.PolicyError (one) when it uses what the cluster's policy does not allow."""
    settings = settings or JobSettings()
    settings.policy.check(spec, settings.image)
    where = placement(spec, step, settings)
    meta_labels = labels(name, step, iteration, poll)
    shards = shard_count(spec, step)
    volumes: list[Obj] = [{"name": SCRATCH_VOLUME, "emptyDir": {}}]
    if spec.storage and spec.storage.volume_claim_name:
        volumes.append(
            {
                "name": DATA_VOLUME,
                "persistentVolumeClaim": {"claimName": spec.storage.volume_claim_name},
            }
        )
    security: Obj = {
        "runAsNonRoot": True,
        "runAsUser": settings.run_as_user,
        "runAsGroup": settings.run_as_group,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    if settings.fs_group is not None:
        security["fsGroup"] = settings.fs_group
    pod_spec: Obj = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": security,
        "containers": [_container(name, namespace, uid, spec, step, iteration, settings, where)],
        "volumes": volumes,
    }
    if where.node_selector:
        pod_spec["nodeSelector"] = dict(where.node_selector)
    if where.tolerations:
        pod_spec["tolerations"] = [dict(t) for t in where.tolerations]
    account = spec.worker.service_account_name or settings.policy.step_service_account
    if account:
        pod_spec["serviceAccountName"] = account
    job_spec: Obj = {
        "activeDeadlineSeconds": settings.policy.deadline(
            step, step_resources(spec, step).active_deadline_seconds
        ),
        "backoffLimit": spec.worker.backoff_limit,
        "completions": shards,
        "parallelism": shards,
        "podFailurePolicy": {
            "rules": [
                {
                    "action": "FailJob",
                    "onExitCodes": {
                        "containerName": CONTAINER,
                        "operator": "In",
                        "values": [FAILED_EXIT_CODE],
                    },
                },
                {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]},
            ]
        },
        "template": {"metadata": {"labels": dict(meta_labels)}, "spec": pod_spec},
    }
    if shards > 1:
        job_spec["completionMode"] = "Indexed"
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job_name(name, step, iteration, poll),
            "namespace": namespace,
            "labels": meta_labels,
            "ownerReferences": [owner_reference(name, uid)],
        },
        "spec": job_spec,
    }
