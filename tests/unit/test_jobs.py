from __future__ import annotations

import json
import re

import numpy as np
import pytest

from labelpilot.api import config_env
from labelpilot.api.run_config import RunConfig
from labelpilot.api.spec import LabelingJobSpec
from labelpilot.api.steps import Step
from labelpilot.controller.policy import DEFAULT_DEADLINES, Policy, PolicyError
from labelpilot.controller.profiles import GPU, Catalog, ProfileError
from labelpilot.controller.step_jobs import JobSettings, build_job, job_name, labels, selector

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


# A cluster that allows the images, commands, Secrets and taints these tests use.
OPEN = JobSettings(
    policy=Policy.from_yaml(
        "images: ['*']\ncommands: true\ncredentialsSecrets: ['*']\nlabelStudioTokenSecrets: ['*']\n"
        "labelStudioUrls: ['*']\ntolerationKeys: ['*']\n"
    )
)


def build(spec_dict, changes=None, step=Step.TRAIN, iteration=2, name="mnist", settings=None):
    spec = LabelingJobSpec.from_k8s(spec_dict(changes))
    return build_job(name, "team-a", "uid-123", spec, step, iteration, settings)


def container(job):
    (result,) = job["spec"]["template"]["spec"]["containers"]
    return result


@pytest.mark.parametrize(
    "step, iteration, expected",
    [
        (Step.PREPARE, None, "mnist-prepare"),
        (Step.HUMAN, 0, "mnist-i0-human"),
        (Step.TRAIN, 12, "mnist-i12-train"),
        (Step.INFER, 3, "mnist-i3-infer"),
        (Step.THRESHOLD, 7, "mnist-i7-threshold"),
        (Step.EXPORT, None, "mnist-export"),
    ],
)
def test_names_are_deterministic(step, iteration, expected):
    assert job_name("mnist", step, iteration) == expected


def test_long_names_are_cut_and_hashed_apart():
    base = "a-very-long-labeling-job-name-that-goes-on-and-on-and-on"
    first = job_name(base + "-one", Step.THRESHOLD, 123)
    second = job_name(base + "-two", Step.THRESHOLD, 123)
    assert first != second
    for name in (first, second):
        assert len(name) <= 57 and DNS_LABEL.match(name)
        assert name.endswith("-i123-threshold")
    assert job_name(base + "-one", Step.THRESHOLD, 123) == first
    for value in labels(base * 2, Step.INFER, 1).values():
        assert len(value) <= 63 and LABEL_VALUE.match(value)


def test_metadata_labels_and_owner(spec_dict):
    job = build(spec_dict)
    meta = job["metadata"]
    assert (job["apiVersion"], job["kind"]) == ("batch/v1", "Job")
    assert (meta["name"], meta["namespace"]) == ("mnist-i2-train", "team-a")
    assert meta["labels"]["labelpilot.dev/job"] == "mnist"
    assert meta["labels"]["labelpilot.dev/step"] == "train"
    assert meta["labels"]["labelpilot.dev/iteration"] == "2"
    assert meta["labels"]["app.kubernetes.io/name"] == "labelpilot"
    assert meta["labels"]["app.kubernetes.io/instance"] == "mnist"
    assert job["spec"]["template"]["metadata"]["labels"] == meta["labels"]
    assert selector("mnist") == "labelpilot.dev/job=mnist"
    (owner,) = meta["ownerReferences"]
    assert owner == {
        "apiVersion": "labelpilot.dev/v1alpha1",
        "kind": "LabelingJob",
        "name": "mnist",
        "uid": "uid-123",
        "controller": True,
        "blockOwnerDeletion": True,
    }
    assert (
        "labelpilot.dev/iteration"
        not in build(spec_dict, step=Step.EXPORT, iteration=None)["metadata"]["labels"]
    )


def test_failure_policy_and_backoff(spec_dict):
    spec = build(spec_dict, {"worker": {"backoffLimit": 5}})["spec"]
    assert spec["backoffLimit"] == 5
    assert "ttlSecondsAfterFinished" not in spec
    fail_job, ignore = spec["podFailurePolicy"]["rules"]
    assert fail_job == {
        "action": "FailJob",
        "onExitCodes": {"containerName": "worker", "operator": "In", "values": [3]},
    }
    assert ignore["action"] == "Ignore"
    assert spec["template"]["spec"]["restartPolicy"] == "Never"  # podFailurePolicy needs it


def test_restricted_security(spec_dict):
    pod = build(spec_dict)["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    security = container(build(spec_dict))["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["runAsNonRoot"] is True
    assert security["readOnlyRootFilesystem"] is True
    env = {e["name"]: e["value"] for e in container(build(spec_dict))["env"]}
    scratch = {m["mountPath"]: m["name"] for m in container(build(spec_dict))["volumeMounts"]}
    assert env["HOME"] in scratch, "HOME must be writable under a read-only root"
    assert {"name": scratch[env["HOME"]], "emptyDir": {}} in pod["volumes"]


def test_command_env_and_termination_message(spec_dict):
    c = container(build(spec_dict, step=Step.THRESHOLD, iteration=4))
    assert c["command"] == ["labelpilot", "worker", "threshold"]
    assert c["args"] == ["--iteration", "4"]
    env = {e["name"]: e["value"] for e in c["env"]}
    assert env["LABELPILOT_TERMINATION_LOG"] == "/dev/termination-log"
    run = RunConfig.model_validate(json.loads(env["LABELPILOT_CONFIG"]))
    assert run.job_name == "mnist" and run.labels == ["0", "1", "2"]
    assert c["terminationMessagePath"] == "/dev/termination-log"
    assert c["terminationMessagePolicy"] == "FallbackToLogsOnError"
    prepare = container(build(spec_dict, step=Step.PREPARE, iteration=None))
    assert (prepare["command"], prepare["args"]) == (["labelpilot", "worker", "prepare"], [])


def test_storage_volume_and_credentials(spec_dict):
    job = build(
        spec_dict,
        {
            "storage": {"mountPath": "/mnt/lp", "credentialsSecretName": "s3"},
            "input": {"manifestUri": "/mnt/lp/in.manifest"},
            "output": {"uri": "file:///mnt/lp/out"},
        },
        settings=OPEN,
    )
    pod = job["spec"]["template"]["spec"]
    (volume,) = [v for v in pod["volumes"] if "persistentVolumeClaim" in v]
    assert volume["persistentVolumeClaim"] == {"claimName": "labelpilot-data"}
    assert {"name": volume["name"], "mountPath": "/mnt/lp"} in container(job)["volumeMounts"]
    assert container(job)["envFrom"] == [{"secretRef": {"name": "s3"}}]
    bare = build(spec_dict, {"storage": None}, settings=OPEN)
    assert not [
        v for v in bare["spec"]["template"]["spec"]["volumes"] if "persistentVolumeClaim" in v
    ]
    assert "envFrom" not in container(bare)
    assert [m["mountPath"] for m in container(bare)["volumeMounts"]] == ["/tmp"]


@pytest.mark.parametrize(
    "task_type, step, instance, gpus",
    [
        ("ImageClassification", Step.TRAIN, "p3.2xlarge", 1),
        ("ImageClassification", Step.INFER, "c5.xlarge", 0),
        ("ObjectDetection", Step.TRAIN, "p3.2xlarge", 1),
        ("ObjectDetection", Step.INFER, "c5.4xlarge", 0),
        ("TextClassification", Step.TRAIN, "c5.2xlarge", 0),
        ("TextClassification", Step.INFER, "m4.xlarge", 0),
        ("SemanticSegmentation", Step.TRAIN, "p3.2xlarge", 1),
        ("SemanticSegmentation", Step.INFER, "p3.2xlarge", 1),
    ],
)
def test_profiles_by_task_type(spec_dict, task_type, step, instance, gpus):
    job = build(spec_dict, {"taskType": task_type}, step=step)
    pod = job["spec"]["template"]["spec"]
    resources = container(job)["resources"]
    assert pod["nodeSelector"]["node.kubernetes.io/instance-type"] == instance
    if gpus:
        assert resources["limits"][GPU] == resources["requests"][GPU] == str(gpus)
        assert pod["nodeSelector"]["nvidia.com/gpu.present"] == "true"
        assert {"key": GPU, "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    else:
        assert GPU not in resources["limits"]
        assert "tolerations" not in pod


def test_light_steps_use_the_small_profile(spec_dict):
    for step in (Step.PREPARE, Step.HUMAN, Step.THRESHOLD, Step.EXPORT):
        job = build(spec_dict, step=step, iteration=None if not step.iterative else 0)
        pod = job["spec"]["template"]["spec"]
        assert "nodeSelector" not in pod and "tolerations" not in pod
        assert GPU not in container(job)["resources"]["limits"]


def test_job_overrides_profile(spec_dict):
    job = build(
        spec_dict,
        {
            "resources": {
                "training": {
                    "profile": "c5.4xlarge",
                    "limits": {"cpu": "2"},
                    "nodeSelector": {"pool": "labeling"},
                    "tolerations": [
                        {
                            "key": "dedicated",
                            "operator": "Equal",
                            "value": "lp",
                            "effect": "NoSchedule",
                        }
                    ],
                }
            }
        },
        settings=OPEN,
    )
    pod = job["spec"]["template"]["spec"]
    resources = container(job)["resources"]
    assert resources["limits"]["cpu"] == "2"
    assert resources["requests"]["cpu"] == "2"  # came down to the limit
    assert resources["limits"]["memory"] == "32Gi"
    assert pod["nodeSelector"] == {
        "node.kubernetes.io/instance-type": "c5.4xlarge",
        "pool": "labeling",
    }
    assert pod["tolerations"] == [
        {"key": "dedicated", "operator": "Equal", "value": "lp", "effect": "NoSchedule"}
    ]


def test_an_unknown_profile_is_an_error(spec_dict):
    with pytest.raises(ProfileError, match=r"x9\.large"):
        build(spec_dict, {"resources": {"training": {"profile": "x9.large"}}})


def test_cluster_profiles_replace_the_defaults(spec_dict):
    catalog = Catalog.from_yaml("""
profiles:
  a100:
    requests: {cpu: "8", memory: 60Gi, nvidia.com/gpu: 1}
    limits: {cpu: "16", memory: 120Gi, nvidia.com/gpu: 1}
    nodeSelector: {nvidia.com/gpu.product: NVIDIA-A100}
    tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]
defaults:
  ImageClassification: {training: a100}
""")
    job = build(spec_dict, settings=JobSettings(catalog=catalog, image="reg/worker:2"))
    pod = job["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-A100"}
    assert container(job)["resources"]["limits"]["memory"] == "120Gi"
    assert container(job)["image"] == "reg/worker:2"
    inference = build(spec_dict, step=Step.INFER, settings=JobSettings(catalog=catalog))
    assert (
        inference["spec"]["template"]["spec"]["nodeSelector"]["node.kubernetes.io/instance-type"]
        == "c5.xlarge"
    )


def test_sharded_inference_is_an_indexed_job(spec_dict):
    job = build(spec_dict, {"resources": {"inference": {"parallelism": 4}}}, step=Step.INFER)
    assert job["spec"]["completionMode"] == "Indexed"
    assert job["spec"]["completions"] == job["spec"]["parallelism"] == 4
    assert container(job)["args"] == ["--iteration", "2", "--shard-count", "4"]
    single = build(spec_dict, step=Step.INFER)
    assert "completionMode" not in single["spec"]
    assert single["spec"]["completions"] == 1
    trained = build(spec_dict, {"resources": {"inference": {"parallelism": 4}}})
    assert "completionMode" not in trained["spec"]
    assert job["metadata"]["name"] == single["metadata"]["name"]  # same Job either way


def test_bring_your_own_algorithm(spec_dict):
    changes = {
        "autoLabeling": {
            "algorithm": {
                "trainingImage": "me/train:1",
                "trainingCommand": ["python", "/app/train.py"],
                "inferenceImage": "me/infer:1",
            }
        },
        "worker": {"image": "labelpilot/worker:dev"},
    }
    train = container(build(spec_dict, changes, step=Step.TRAIN, settings=OPEN))
    assert train["image"] == "me/train:1"
    assert train["command"] == ["python", "/app/train.py"]
    assert train["args"] == ["--iteration", "2"]
    infer = container(build(spec_dict, changes, step=Step.INFER, settings=OPEN))
    assert infer["image"] == "me/infer:1"
    assert "command" not in infer  # the image's entrypoint gets the contract's flags
    assert infer["args"] == ["--iteration", "2"]
    human = container(build(spec_dict, changes, step=Step.HUMAN, settings=OPEN))
    assert human["image"] == "labelpilot/worker:dev"
    assert human["command"] == ["labelpilot", "worker", "human"]
    env = {e["name"]: e["value"] for e in train["env"]}
    assert "LABELPILOT_CONFIG" in env and "LABELPILOT_TERMINATION_LOG" in env


LABEL_STUDIO = {
    "humanTaskConfig": {
        "workforce": {
            "simulated": None,
            "labelStudio": {
                "url": "http://label-studio.tools:8080",
                "apiTokenSecretName": "ls-token",
                "project": {"title": "MNIST digits"},
            },
        }
    }
}


def env_of(job):
    return {e["name"]: e for e in container(job)["env"]}


def test_a_human_job_waits_briefly_and_a_later_round_has_its_own_name(spec_dict):
    first = build(spec_dict, step=Step.HUMAN, iteration=4)
    args = container(first)["args"]
    assert args[args.index("--max-wait-seconds") + 1] == "20"
    again = build_job(
        "mnist", "team-a", "uid-123", LabelingJobSpec.from_k8s(spec_dict()), Step.HUMAN, 4, poll=3
    )
    assert again["metadata"]["name"] == "mnist-i4-human-3" == job_name("mnist", Step.HUMAN, 4, 3)
    assert again["metadata"]["labels"]["labelpilot.dev/poll"] == "3"
    assert "labelpilot.dev/poll" not in first["metadata"]["labels"]


def test_only_the_human_job_gets_the_label_studio_token_and_only_by_reference(spec_dict):
    human = build(spec_dict, LABEL_STUDIO, step=Step.HUMAN, iteration=0, settings=OPEN)
    token = env_of(human)["LABEL_STUDIO_API_TOKEN"]
    assert token == {
        "name": "LABEL_STUDIO_API_TOKEN",
        "valueFrom": {"secretKeyRef": {"name": "ls-token", "key": "token"}},
    }
    config = RunConfig.model_validate_json(env_of(human)["LABELPILOT_CONFIG"]["value"])
    assert config.workforce.label_studio is not None
    assert config.workforce.label_studio.project_title == "MNIST digits"
    assert "ls-token" not in env_of(human)["LABELPILOT_CONFIG"]["value"]
    for step in (Step.PREPARE, Step.TRAIN, Step.INFER, Step.THRESHOLD, Step.EXPORT):
        other = build(spec_dict, LABEL_STUDIO, step=step, iteration=0, settings=OPEN)
        assert "LABEL_STUDIO_API_TOKEN" not in env_of(other)


def test_only_the_human_job_gets_the_labeling_interface(spec_dict):
    ui = (
        '<View><Image name="i" value="$image"/><Choices name="c" toName="i">'
        '<Choice value="0"/><Choice value="1"/><Choice value="2"/></Choices></View>'
    )
    changes = {
        **LABEL_STUDIO,
        "humanTaskConfig": {**LABEL_STUDIO["humanTaskConfig"], "uiConfig": ui},
    }
    human = build(spec_dict, changes, step=Step.HUMAN, iteration=0, settings=OPEN)
    config = RunConfig.model_validate_json(env_of(human)["LABELPILOT_CONFIG"]["value"])
    assert config.workforce.label_studio is not None
    assert config.workforce.label_studio.label_config == ui
    for step in (Step.PREPARE, Step.TRAIN, Step.EXPORT):
        other = build(spec_dict, changes, step=step, iteration=0, settings=OPEN)
        config = RunConfig.model_validate_json(env_of(other)["LABELPILOT_CONFIG"]["value"])
        assert config.workforce.label_studio is not None
        assert config.workforce.label_studio.label_config is None


def test_prepare_gets_the_interface_when_the_labels_come_from_a_file(spec_dict):
    ui = '<View><Image name="i" value="$image"/><Choices name="c" toName="i"/></View>'
    changes = {
        **LABEL_STUDIO,
        "labels": None,
        "labelCategoryConfigUri": "s3://bucket/categories.json",
        "humanTaskConfig": {**LABEL_STUDIO["humanTaskConfig"], "uiConfig": ui},
    }
    for step, gets in ((Step.PREPARE, True), (Step.TRAIN, False), (Step.HUMAN, True)):
        job = build(spec_dict, changes, step=step, iteration=0, settings=OPEN)
        config = RunConfig.model_validate_json(env_of(job)["LABELPILOT_CONFIG"]["value"])
        assert config.workforce.label_studio is not None
        assert (config.workforce.label_studio.label_config == ui) is gets


def test_a_job_the_policy_refuses_gets_no_job_and_the_error_names_the_field(spec_dict):
    with pytest.raises(PolicyError, match=r"spec\.storage\.credentialsSecretName: Secret 'db'"):
        build(
            spec_dict,
            {"storage": {"credentialsSecretName": "db"}},
            step=Step.PREPARE,
            iteration=None,
        )
    with pytest.raises(PolicyError, match=r"spec\.autoLabeling\.algorithm\.trainingImage"):
        build(
            spec_dict,
            {"autoLabeling": {"algorithm": {"trainingImage": "me/train:1"}}},
            step=Step.EXPORT,
            iteration=None,
        )  # every step of the job, not only training
    assert issubclass(PolicyError, ProfileError)  # the reconciler's "bad spec" path


@pytest.mark.parametrize("step", list(Step))
def test_every_step_job_has_a_deadline(spec_dict, step):
    job = build(spec_dict, step=step, iteration=1 if step.iterative else None)
    assert job["spec"]["activeDeadlineSeconds"] == DEFAULT_DEADLINES[step]


def test_deadlines_come_from_the_policy_and_the_jobs_own_within_its_maximum(spec_dict):
    settings = JobSettings(
        policy=Policy.from_yaml(
            "activeDeadlineSeconds: {train: 3600, human: 300}\nmaxActiveDeadlineSeconds: 7200\n"
        )
    )
    assert build(spec_dict, settings=settings)["spec"]["activeDeadlineSeconds"] == 3600
    human = build(spec_dict, step=Step.HUMAN, iteration=0, settings=settings)
    assert human["spec"]["activeDeadlineSeconds"] == 300
    own = {
        "resources": {
            "training": {"activeDeadlineSeconds": 5400},
            "other": {"activeDeadlineSeconds": 900},
        }
    }
    assert build(spec_dict, own, settings=settings)["spec"]["activeDeadlineSeconds"] == 5400
    assert (
        build(spec_dict, own, step=Step.THRESHOLD, iteration=0, settings=settings)["spec"][
            "activeDeadlineSeconds"
        ]
        == 900
    )
    assert (
        build(spec_dict, own, step=Step.INFER, settings=settings)["spec"]["activeDeadlineSeconds"]
        == DEFAULT_DEADLINES[Step.INFER]
    )
    with pytest.raises(PolicyError, match=r"spec\.resources\.training\.activeDeadlineSeconds"):
        build(
            spec_dict,
            {"resources": {"training": {"activeDeadlineSeconds": 7201}}},
            settings=settings,
        )


def test_steps_run_as_the_step_service_account_unless_the_job_names_an_allowed_one(spec_dict):
    pod = build(spec_dict)["spec"]["template"]["spec"]
    assert "serviceAccountName" not in pod  # the namespace's default, without a token
    settings = JobSettings(
        policy=Policy.from_yaml(
            "stepServiceAccountName: labelpilot-step\nserviceAccounts: [s3-reader]\n"
        )
    )
    pod = build(spec_dict, settings=settings)["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "labelpilot-step"
    assert pod["automountServiceAccountToken"] is False
    own = build(spec_dict, {"worker": {"serviceAccountName": "s3-reader"}}, settings=settings)
    assert own["spec"]["template"]["spec"]["serviceAccountName"] == "s3-reader"
    with pytest.raises(PolicyError, match=r"spec\.worker\.serviceAccountName"):
        build(spec_dict, {"worker": {"serviceAccountName": "default"}}, settings=settings)


def test_extended_resources_request_what_they_limit(spec_dict):
    job = build(
        spec_dict,
        {
            "resources": {
                "training": {"requests": {"example.com/fpga": 2}, "limits": {"nvidia.com/gpu": "4"}}
            }
        },
    )
    resources = container(job)["resources"]
    assert resources["requests"]["example.com/fpga"] == resources["limits"]["example.com/fpga"]
    assert resources["requests"][GPU] == resources["limits"][GPU] == "4"


def test_a_large_run_config_travels_compressed_and_reads_back(spec_dict, monkeypatch):
    labels = [f"{'a long label name ' * 13}{i:03d}" for i in range(256)]  # 250 characters
    choices = "".join(f'<Choice value="{label}"/>' for label in labels)
    ui = (
        f'<View><Image name="i" value="$image"/><Choices name="c" toName="i">{choices}'
        "</Choices></View>"
    )
    changes = {
        **LABEL_STUDIO,
        "labels": labels,
        "humanTaskConfig": {**LABEL_STUDIO["humanTaskConfig"], "uiConfig": ui},
    }
    human = build(spec_dict, changes, step=Step.HUMAN, iteration=0, settings=OPEN)
    value = env_of(human)["LABELPILOT_CONFIG"]["value"]
    assert value.startswith(config_env.PREFIX) and len(value) <= config_env.MAX
    monkeypatch.setenv("LABELPILOT_CONFIG", value)
    config = RunConfig.load()
    assert config.labels == labels
    assert config.workforce.label_studio is not None
    assert config.workforce.label_studio.label_config == ui


def test_a_run_config_too_large_even_compressed_is_refused_naming_the_fields():
    small = '{"labels": ["a"]}'
    assert config_env.encode(small) == small and config_env.decode(small) == small
    noise = np.random.default_rng(0).integers(0x4E00, 0x9FFF, 60_000)
    large = json.dumps({"uiConfig": "".join(map(chr, noise))}, ensure_ascii=False)
    with pytest.raises(config_env.ConfigTooLarge, match=r"spec\.humanTaskConfig\.uiConfig"):
        config_env.encode(large)
    assert config_env.ConfigTooLarge.reason == "ConfigTooLarge"
