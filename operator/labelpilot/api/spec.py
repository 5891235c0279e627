"""`LabelingJob.spec`: what a user asks for, in Ground Truth's CreateLabelingJob words."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, WithJsonSchema, field_validator, model_validator

from labelpilot.api.base import ApiModel
from labelpilot.api.cel import immutable, rule, validations

URI_MAX = 2048
NAME_MAX = 253
LABEL_MAX = 256
LABELS_MAX = 256
TOLERATIONS_MAX = 32
# Ground Truth's LabelAttributeName pattern; `-metadata` is refused separately.
ATTRIBUTE_PATTERN = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,126}$"
DNS_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_SUBDOMAIN_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
QUANTITY_PATTERN = (
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]"
    r"|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)



def _quantity(value: int | str) -> int | str:
    if isinstance(value, str) and not re.fullmatch(QUANTITY_PATTERN, value):
        raise ValueError(f"{value!r} is not a Kubernetes quantity (e.g. 500m, 2, 4Gi)")
    return value


Quantity = Annotated[
    int | str,
    AfterValidator(_quantity),
    WithJsonSchema({
        "anyOf": [{"type": "integer"}, {"type": "string"}],
        "pattern": QUANTITY_PATTERN,
        "x-kubernetes-int-or-string": True,
    }),
]
Uri = Annotated[str, Field(min_length=1, max_length=URI_MAX)]


class TaskType(StrEnum):
    IMAGE_CLASSIFICATION = "ImageClassification"
    TEXT_CLASSIFICATION = "TextClassification"
    OBJECT_DETECTION = "ObjectDetection"
    SEMANTIC_SEGMENTATION = "SemanticSegmentation"


class ThresholdMode(StrEnum):
    GUARANTEED = "Guaranteed"
    GROUND_TRUTH = "GroundTruth"


class ValidationPolicy(StrEnum):
    SEED = "Seed"
    BOUND_SIZED = "BoundSized"


class PullPolicy(StrEnum):
    ALWAYS = "Always"
    IF_NOT_PRESENT = "IfNotPresent"
    NEVER = "Never"


class InputSpec(ApiModel):
    manifest_uri: Uri = Field(description="The input manifest (JSON Lines, `source-ref` or "
                                          "`source` per line): file://, a plain path, s3://...")


class OutputSpec(ApiModel):
    uri: Uri = Field(description="Where the job's workspace and output manifest are written.")


class StorageSpec(ApiModel):
    model_config = ApiModel.model_config | {"json_schema_extra": validations(rule(
        "has(self.volumeClaimName) || has(self.credentialsSecretName)",
        "storage needs a volumeClaimName, a credentialsSecretName or both"))}

    volume_claim_name: str | None = Field(
        None, max_length=NAME_MAX, pattern=DNS_SUBDOMAIN_PATTERN,
        description="A PersistentVolumeClaim mounted into every step at mountPath; the "
                    "job's URIs are then used as they are, inside the pod.")
    mount_path: str = Field("/data", min_length=1, max_length=1024, pattern=r"^/",
                            description="Where the claim is mounted (absolute).")
    credentials_secret_name: str | None = Field(
        None, max_length=NAME_MAX, pattern=DNS_SUBDOMAIN_PATTERN,
        description="A Secret whose keys become environment variables of every step "
                    "(e.g. AWS_ACCESS_KEY_ID for s3://).")

    @model_validator(mode="after")
    def _something_set(self) -> StorageSpec:
        if self.volume_claim_name is None and self.credentials_secret_name is None:
            raise ValueError("storage needs a volumeClaimName, a credentialsSecretName or both")
        return self


class AlgorithmSpec(ApiModel):
    """Bring your own model: images and commands that follow the step contract
    (`<command> --iteration N [--shard-index I --shard-count K]`, config in
    LABELPILOT_CONFIG, summary in the termination log). Empty: the built-in models."""

    training_image: str | None = Field(None, min_length=1, max_length=1024)
    training_command: list[Annotated[str, Field(max_length=4096)]] | None = Field(
        None, min_length=1, max_length=64,
        description="Replaces `labelpilot worker train`; the contract's flags follow it.")
    inference_image: str | None = Field(None, min_length=1, max_length=1024)
    inference_command: list[Annotated[str, Field(max_length=4096)]] | None = Field(
        None, min_length=1, max_length=64,
        description="Replaces `labelpilot worker infer`; the contract's flags follow it.")
    options: dict[str, Annotated[str, Field(max_length=256)]] = Field(
        default_factory=dict, max_length=32,
        description="Options of the built-in model, e.g. backbone: efficientnet-lite0, "
                    "epochs: \"8\", encoder: scratch (see docs/ml.md).")


class AutoLabelingSpec(ApiModel):
    enabled: bool = Field(True, description="Train, infer and auto-label; false: humans only.")
    target_accuracy: float | None = Field(
        None, gt=0.0, le=1.0,
        description="Machine-label quality target: accuracy (classification) or mean IoU "
                    "(boxes, masks). Default by task type: 0.95, 0.6, 0.7.")
    confidence_level: float = Field(0.95, gt=0.0, lt=1.0,
                                    description="Confidence of the accuracy guarantee.")
    threshold_mode: ThresholdMode = Field(
        ThresholdMode.GUARANTEED,
        description="Guaranteed: a statistical lower bound meets the target; GroundTruth: "
                    "the point estimate on the validation set does (Ground Truth's rule).")
    validation_policy: ValidationPolicy = Field(
        ValidationPolicy.SEED,
        description="Seed: 20% of the dataset under 5,000 objects, 10% above; BoundSized: "
                    "only as many validation labels as the bound needs.")
    initial_model_ref: str | None = Field(
        None, max_length=URI_MAX, description="Warm start from an earlier job's finalModelRef.")
    allow_small_dataset: bool = Field(
        False, description="Run automated labeling under 1,250 objects (demos).")
    algorithm: AlgorithmSpec = Field(default_factory=AlgorithmSpec,
                                     json_schema_extra={"default": {}})


class SimulatedWorkforceSpec(ApiModel):
    ground_truth_manifest_uri: Uri = Field(
        description="Answers of the simulated workers, in the output manifest's format.")
    error_rate: float = Field(0.0, ge=0.0, le=1.0, description="Share of wrong answers.")
    failure_rate: float = Field(0.0, ge=0.0, le=1.0,
                                description="Share of objects the workers fail to label.")
    latency_seconds: float = Field(0.0, ge=0.0, le=3600.0,
                                   description="Simulated time per human batch.")


class ObjectUrls(StrEnum):
    INLINE = "Inline"
    LOCAL_FILES = "LocalFiles"
    PRESIGNED = "Presigned"


class LabelStudioProjectSpec(ApiModel):
    model_config = ApiModel.model_config | {"json_schema_extra": validations(rule(
        "has(self.id) != has(self.title)", "set exactly one of id and title"))}

    id: int | None = Field(None, ge=1, description="An existing project's id.")
    title: str | None = Field(None, min_length=3, max_length=50,
                              description="The project with this title; created if missing.")

    @model_validator(mode="after")
    def _one(self) -> LabelStudioProjectSpec:
        if (self.id is None) == (self.title is None):
            raise ValueError("set exactly one of id and title")
        return self


class LabelStudioWorkforceSpec(ApiModel):
    url: str = Field(min_length=8, max_length=URI_MAX, pattern=r"^https?://",
                     description="Label Studio's base URL as the step Jobs reach it.")
    api_token_secret_name: str = Field(
        min_length=1, max_length=NAME_MAX, pattern=DNS_SUBDOMAIN_PATTERN,
        description="Secret (same namespace) holding the API token; only the human step "
                    "Jobs read it.")
    api_token_secret_key: str = Field("token", min_length=1, max_length=NAME_MAX)
    project: LabelStudioProjectSpec
    object_urls: ObjectUrls = Field(
        ObjectUrls.INLINE,
        description="How the browser gets images that are not http(s) URLs: Inline (data "
                    "URI in the task), LocalFiles (Label Studio serves them from a shared "
                    "volume), Presigned (object-store URLs).")
    local_files_root: str = Field(
        "/", min_length=1, max_length=URI_MAX,
        description="LocalFiles: object paths are sent relative to this folder, which is "
                    "Label Studio's LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT.")


WORKFORCE_PROVIDERS = ("simulated", "labelStudio")


class WorkforceSpec(ApiModel):
    model_config = ApiModel.model_config | {"json_schema_extra": validations(rule(
        " + ".join(f"(has(self.{p}) ? 1 : 0)" for p in WORKFORCE_PROVIDERS) + " == 1",
        "exactly one workforce provider must be set: " + ", ".join(WORKFORCE_PROVIDERS)))}

    simulated: SimulatedWorkforceSpec | None = None
    label_studio: LabelStudioWorkforceSpec | None = None

    @model_validator(mode="after")
    def _one_provider(self) -> WorkforceSpec:
        if (self.simulated is None) == (self.label_studio is None):
            raise ValueError("exactly one workforce provider must be set: "
                             + ", ".join(WORKFORCE_PROVIDERS))
        return self


class HumanTaskConfigSpec(ApiModel):
    max_concurrent_task_count: int = Field(
        1000, ge=1, le=1000, description="Objects sent to humans per iteration.")
    number_of_human_workers_per_data_object: int = Field(1, ge=1, le=9)
    task_time_limit_in_seconds: int = Field(
        300, ge=30, le=28800,
        description="An answer that took a worker longer than this is void.")
    task_availability_lifetime_in_seconds: int = Field(
        864000, ge=60, le=864000,
        description="An object not answered this long after it was sent fails.")
    poll_interval_seconds: int = Field(
        60, ge=5, le=3600,
        description="While humans work, how often a short Job checks for answers.")
    workforce: WorkforceSpec


class StoppingConditionsSpec(ApiModel):
    max_human_labeled_object_count: int | None = Field(
        None, ge=1, description="Stop once humans have labeled this many objects.")
    max_percentage_of_input_dataset_labeled: int = Field(
        100, ge=1, le=100, description="Stop once this share of the input is labeled.")


class Toleration(ApiModel):
    model_config = ApiModel.model_config | {"json_schema_extra": validations(rule(
        "!has(self.operator) || self.operator != 'Exists' || !has(self.value)",
        "a toleration with operator Exists takes no value"))}

    key: str | None = Field(None, max_length=316)
    operator: Literal["Exists", "Equal"] | None = None
    value: str | None = Field(None, max_length=63)
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    toleration_seconds: int | None = None

    @model_validator(mode="after")
    def _check(self) -> Toleration:
        if self.operator == "Exists" and self.value is not None:
            raise ValueError("a toleration with operator Exists takes no value")
        return self


class StepResources(ApiModel):
    """A profile (Ground Truth's instance classes, or the cluster's own) and overrides."""

    profile: str | None = Field(
        None, min_length=1, max_length=63,
        description="Instance profile, e.g. p3.2xlarge, c5.xlarge; default by task type.")
    requests: dict[str, Quantity] | None = Field(
        None, description="Replace the profile's requests (per resource name).")
    limits: dict[str, Quantity] | None = Field(
        None, description="Replace the profile's limits (per resource name).")
    node_selector: dict[str, str] | None = Field(
        None, description="Added to (and overriding) the profile's node selector.")
    tolerations: list[Toleration] | None = Field(
        None, max_length=TOLERATIONS_MAX, description="Replace the profile's tolerations.")


class InferenceResources(StepResources):
    parallelism: int = Field(1, ge=1, le=100,
                             description="Inference shards: an Indexed Job when above 1.")


class ResourcesSpec(ApiModel):
    training: StepResources = Field(default_factory=StepResources,
                                    json_schema_extra={"default": {}})
    inference: InferenceResources = Field(default_factory=InferenceResources,
                                          json_schema_extra={"default": {}})
    other: StepResources = Field(
        default_factory=StepResources, json_schema_extra={"default": {}},
        description="The light steps: prepare, human, threshold, export.")


class WorkerSpec(ApiModel):
    image: str | None = Field(None, min_length=1, max_length=1024,
                              description="The worker image; default: the operator's.")
    image_pull_policy: PullPolicy | None = None
    service_account_name: str | None = Field(None, max_length=NAME_MAX,
                                             pattern=DNS_SUBDOMAIN_PATTERN)
    backoff_limit: int = Field(3, ge=0, le=20,
                               description="Retries of a crashed step before the job fails.")


def _no_duplicates(values: list[str]) -> list[str]:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"duplicate label {value!r}")
        seen.add(value)
    return values


class LabelingJobSpec(ApiModel):
    """What to label, how, and with which workforce and resources."""

    task_type: TaskType = Field(json_schema_extra=validations(immutable("taskType")))
    label_attribute_name: str = Field(
        min_length=1, max_length=127, pattern=ATTRIBUTE_PATTERN,
        description="The key of the label in the output manifest.",
        json_schema_extra=validations(
            rule("!self.endsWith('-metadata')", "must not end in -metadata"),
            immutable("labelAttributeName")))
    labels: list[Annotated[str, Field(min_length=1, max_length=LABEL_MAX)]] = Field(
        min_length=1, max_length=LABELS_MAX,
        description="The classes, in order (class id = index); unique.",
        json_schema_extra={"x-kubernetes-list-type": "set",
                           **validations(immutable("labels"))})
    input: InputSpec = Field(json_schema_extra=validations(immutable("input")))
    output: OutputSpec = Field(json_schema_extra=validations(immutable("output")))
    storage: StorageSpec | None = None
    auto_labeling: AutoLabelingSpec = Field(default_factory=AutoLabelingSpec,
                                            json_schema_extra={"default": {}})
    human_task_config: HumanTaskConfigSpec
    stopping_conditions: StoppingConditionsSpec = Field(
        default_factory=StoppingConditionsSpec, json_schema_extra={"default": {}})
    resources: ResourcesSpec = Field(default_factory=ResourcesSpec,
                                     json_schema_extra={"default": {}})
    worker: WorkerSpec = Field(default_factory=WorkerSpec, json_schema_extra={"default": {}})
    seed: int = Field(0, ge=0, le=2**31 - 1, description="Seed of every random choice.")
    suspend: bool = Field(False, description="Stop the job's Jobs (Stopping, then Stopped); "
                                             "false again resumes where it was.")

    @field_validator("label_attribute_name")
    @classmethod
    def _not_metadata(cls, value: str) -> str:
        if value.endswith("-metadata"):
            raise ValueError("labelAttributeName must not end in -metadata")
        return value

    @model_validator(mode="before")
    @classmethod
    def _unique_labels(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("labels"), list):
            _no_duplicates([str(v) for v in data["labels"]])
        return data
