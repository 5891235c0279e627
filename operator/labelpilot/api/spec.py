"""`LabelingJob.spec`: what a user asks for, in Ground Truth's CreateLabelingJob words."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field, WithJsonSchema, field_validator, model_validator

from labelpilot.api import kube, paths, run_config, ui_config
from labelpilot.api.base import ApiModel
from labelpilot.api.cel import immutable, rule, validations
from labelpilot.api.kube import DNS_SUBDOMAIN_PATTERN, IMAGE_PATTERN
from labelpilot.api.run_config import (
    ATTRIBUTE_PATTERN,
    MAX_CONCURRENT_TASKS,
    MAX_LABEL_LENGTH,
    MAX_LABELS,
    MAX_MULTILABEL_LABELS,
    MAX_SEGMENTATION_LABELS,
    RESERVED_ATTRIBUTE_NAMES,
    ExportFormat,
    attribute_name_problem,
)

URI_MAX = 2048
NAME_MAX = 253
LABEL_MAX = MAX_LABEL_LENGTH
# Labels per job, as many as the engine takes: MAX_LABELS, for semantic segmentation the
# mask palette's MAX_SEGMENTATION_LABELS classes, for multi-label classification Ground
# Truth's MAX_MULTILABEL_LABELS.
LABELS_MAX = MAX_LABELS
SEGMENTATION_LABELS_MAX = MAX_SEGMENTATION_LABELS
MULTILABEL_LABELS_MAX = MAX_MULTILABEL_LABELS
TOLERATIONS_MAX = 32
# A step Job's activeDeadlineSeconds a job may ask for, at most (the cluster's policy
# usually allows less).
DEADLINE_MAX = 30 * 24 * 3600
# Ground Truth's longest TaskAvailabilityLifetimeInSeconds: 30 days.
TASK_AVAILABILITY_MAX = 30 * 24 * 3600
# Ground Truth's TaskTitle bound; TaskDescription may be longer than its 255: it is the
# instructions annotators read.
TASK_TITLE_MAX = 128
TASK_DESCRIPTION_MAX = 4096
UI_CONFIG_MAX = ui_config.MAX_CHARS

Quantity = Annotated[
    int | str,
    WithJsonSchema(
        {
            "anyOf": [{"type": "integer"}, {"type": "string"}],
            "pattern": kube.QUANTITY_PATTERN,
            "maxLength": kube.QUANTITY_MAX,
            "x-kubernetes-int-or-string": True,
        }
    ),
]
Uri = Annotated[str, Field(min_length=1, max_length=URI_MAX)]
Image = Annotated[str, Field(min_length=1, max_length=1024, pattern=IMAGE_PATTERN)]


class TaskType(StrEnum):
    IMAGE_CLASSIFICATION = "ImageClassification"
    TEXT_CLASSIFICATION = "TextClassification"
    OBJECT_DETECTION = "ObjectDetection"
    SEMANTIC_SEGMENTATION = "SemanticSegmentation"
    IMAGE_CLASSIFICATION_MULTILABEL = "ImageClassificationMultiLabel"
    TEXT_CLASSIFICATION_MULTILABEL = "TextClassificationMultiLabel"


def export_task_types(fmt: ExportFormat) -> list[TaskType]:
    """The spec's task types whose labels `fmt` holds."""
    return [TaskType[t.name] for t in fmt.task_types]


def _held() -> str:
    return "; ".join(f"{fmt.value}: {' and '.join(export_task_types(fmt))}" for fmt in ExportFormat)


def _exports_fit_rule() -> dict[str, Any]:
    fits = " || ".join(
        f"(f == '{fmt.value}' && self.taskType in {[t.value for t in export_task_types(fmt)]})"
        for fmt in ExportFormat
    )
    return rule(
        f"!has(self.output.exportFormats) || self.output.exportFormats.all(f, {fits})",
        f"output.exportFormats: a format must hold the task type's labels ({_held()})",
        field_path=".output.exportFormats",
    )


class ThresholdMode(StrEnum):
    GUARANTEED = "Guaranteed"
    GROUND_TRUTH = "GroundTruth"


class ValidationPolicy(StrEnum):
    SEED = "Seed"
    BOUND_SIZED = "BoundSized"
    FRESH = "Fresh"


class ExistingLabels(StrEnum):
    IGNORE = "Ignore"
    TRUSTED = "Trusted"


class PullPolicy(StrEnum):
    ALWAYS = "Always"
    IF_NOT_PRESENT = "IfNotPresent"
    NEVER = "Never"


class InputSpec(ApiModel):
    manifest_uri: Uri = Field(
        description="The input manifest (JSON Lines, `source-ref` or "
        "`source` per line): file://, a plain path, s3://..."
    )


class OutputSpec(ApiModel):
    uri: Uri = Field(description="Where the job's workspace and output manifest are written.")
    export_formats: list[ExportFormat] = Field(
        default_factory=list,
        max_length=len(ExportFormat),
        description="The labels also in these formats, under exports/<format>/ beside the "
        "output manifest (labelpilot export): coco (ObjectDetection, SemanticSegmentation), "
        "yolo and voc (ObjectDetection), jsonl (the classification task types, multi-label "
        "ones included).",
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )

    @field_validator("export_formats")
    @classmethod
    def _unique_formats(cls, value: list[ExportFormat]) -> list[ExportFormat]:
        for i, fmt in enumerate(value):
            if fmt in value[:i]:
                raise ValueError(f"{fmt.value} is listed twice")
        return value


class StorageSpec(ApiModel):
    model_config = ApiModel.model_config | {
        "json_schema_extra": validations(
            rule(
                "has(self.volumeClaimName) || has(self.credentialsSecretName)",
                "storage needs a volumeClaimName, a credentialsSecretName or both",
            )
        )
    }

    volume_claim_name: str | None = Field(
        None,
        max_length=NAME_MAX,
        pattern=DNS_SUBDOMAIN_PATTERN,
        description="A PersistentVolumeClaim mounted into every step at mountPath; the "
        "job's URIs are then used as they are, inside the pod.",
    )
    mount_path: str = Field(
        paths.DEFAULT_MOUNT_PATH,
        min_length=2,
        max_length=1024,
        pattern=paths.MOUNT_PATH_PATTERN,
        description="Where the claim is mounted: an absolute path without a trailing "
        "slash, neither /tmp nor in the image's system folders ("
        + ", ".join(paths.SYSTEM_FOLDERS)
        + ").",
        json_schema_extra=validations(
            rule(paths.NO_DOT_SEGMENTS_RULE, "mountPath must not have . or .. segments"),
            rule(paths.NOT_SYSTEM_RULE, paths.SYSTEM_MESSAGE),
        ),
    )
    credentials_secret_name: str | None = Field(
        None,
        max_length=NAME_MAX,
        pattern=DNS_SUBDOMAIN_PATTERN,
        description="A Secret whose keys become environment variables of every step "
        "(e.g. AWS_ACCESS_KEY_ID for s3://).",
    )

    @model_validator(mode="after")
    def _something_set(self) -> StorageSpec:
        if self.volume_claim_name is None and self.credentials_secret_name is None:
            raise ValueError("storage needs a volumeClaimName, a credentialsSecretName or both")
        return self

    @field_validator("mount_path")
    @classmethod
    def _mountable(cls, value: str) -> str:
        paths.check_mount_path(value)
        return value


class AlgorithmSpec(ApiModel):
    """Bring your own model: images and commands that follow the step contract
    (`<command> --iteration N [--shard-index I --shard-count K]`, config in
    LABELPILOT_CONFIG, summary in the termination log). Empty: the built-in models."""

    training_image: Image | None = None
    training_command: list[Annotated[str, Field(max_length=4096)]] | None = Field(
        None,
        min_length=1,
        max_length=64,
        description="Replaces `labelpilot worker train`; the contract's flags follow it.",
    )
    inference_image: Image | None = None
    inference_command: list[Annotated[str, Field(max_length=4096)]] | None = Field(
        None,
        min_length=1,
        max_length=64,
        description="Replaces `labelpilot worker infer`; the contract's flags follow it.",
    )
    options: dict[str, Annotated[str, Field(max_length=256)]] = Field(
        default_factory=dict,
        max_length=32,
        description="Options of the built-in model, e.g. backbone: efficientnet-lite0, "
        'epochs: "8", encoder: scratch (see docs/ml.md).',
    )


GUARANTEE_FIELDS = ("targetAccuracy", "confidenceLevel", "thresholdMode", "validationPolicy")


class AutoLabelingSpec(ApiModel):
    """The guarantee's terms (GUARANTEE_FIELDS) are fixed when the job is created: a target,
    confidence, mode or validation design edited mid-job would leave the earlier
    iterations' machine labels certified under other terms than the job reports."""

    model_config = ApiModel.model_config | {
        "json_schema_extra": validations(
            *(
                rule(
                    f"has(self.{field}) == has(oldSelf.{field})",
                    f"autoLabeling.{field} is immutable once the job exists",
                    field_path=f".{field}",
                )
                for field in GUARANTEE_FIELDS
            )
        )
    }

    enabled: bool = Field(True, description="Train, infer and auto-label; false: humans only.")
    target_accuracy: float | None = Field(
        None,
        gt=0.0,
        le=1.0,
        description="Machine-label quality target: accuracy (classification) or mean IoU "
        "(boxes, masks). Default by task type: 0.95, 0.6, 0.7.",
        json_schema_extra=validations(immutable("autoLabeling.targetAccuracy")),
    )
    confidence_level: float = Field(
        0.95,
        gt=0.0,
        lt=1.0,
        description="Confidence of the accuracy guarantee.",
        json_schema_extra=validations(immutable("autoLabeling.confidenceLevel")),
    )
    threshold_mode: ThresholdMode = Field(
        ThresholdMode.GUARANTEED,
        description="Guaranteed: a statistical lower bound meets the target; GroundTruth: "
        "the point estimate on the validation set does (Ground Truth's rule).",
        json_schema_extra=validations(immutable("autoLabeling.thresholdMode")),
    )
    validation_policy: ValidationPolicy | None = Field(
        None,
        description="Seed: 20% of the dataset under 5,000 objects, 10% above; BoundSized: "
        "only as many validation labels as the bound needs; Fresh: Seed's split, and every "
        "later iteration's human batch adds a new random sample of the unlabeled pool, "
        "sized by the bound, that alone validates that iteration's thresholds. Default: "
        "Fresh in Guaranteed mode, Seed in GroundTruth mode.",
        json_schema_extra=validations(immutable("autoLabeling.validationPolicy")),
    )
    existing_labels: ExistingLabels = Field(
        ExistingLabels.IGNORE,
        description="Objects whose input line already carries the label attribute (a chained "
        "job) are never sent to humans and keep their label. Ignore: the model does not use "
        "them; Trusted: they are training data too (never validation data).",
    )
    initial_model_ref: str | None = Field(
        None, max_length=URI_MAX, description="Warm start from an earlier job's finalModelRef."
    )
    allow_small_dataset: bool = Field(
        False, description="Run automated labeling under 1,250 objects (demos)."
    )
    algorithm: AlgorithmSpec = Field(
        default_factory=AlgorithmSpec, json_schema_extra={"default": {}}
    )


class SimulatedWorkforceSpec(ApiModel):
    ground_truth_manifest_uri: Uri = Field(
        description="Answers of the simulated workers, in the output manifest's format."
    )
    error_rate: float = Field(0.0, ge=0.0, le=1.0, description="Share of wrong answers.")
    failure_rate: float = Field(
        0.0, ge=0.0, le=1.0, description="Share of objects the workers fail to label."
    )
    latency_seconds: float = Field(
        0.0, ge=0.0, le=3600.0, description="Simulated time per human batch."
    )


class ObjectUrls(StrEnum):
    INLINE = "Inline"
    LOCAL_FILES = "LocalFiles"
    PRESIGNED = "Presigned"


class LabelStudioProjectSpec(ApiModel):
    model_config = ApiModel.model_config | {
        "json_schema_extra": validations(
            rule("has(self.id) != has(self.title)", "set exactly one of id and title")
        )
    }

    id: int | None = Field(None, ge=1, description="An existing project's id.")
    title: str | None = Field(
        None,
        min_length=3,
        max_length=50,
        description="The project with this title; created if missing.",
    )

    @model_validator(mode="after")
    def _one(self) -> LabelStudioProjectSpec:
        if (self.id is None) == (self.title is None):
            raise ValueError("set exactly one of id and title")
        return self


class LabelStudioWorkforceSpec(ApiModel):
    url: str = Field(
        min_length=8,
        max_length=URI_MAX,
        pattern=r"^https?://\S+$",
        description="Label Studio's base URL as the step Jobs reach it.",
    )
    api_token_secret_name: str = Field(
        min_length=1,
        max_length=NAME_MAX,
        pattern=DNS_SUBDOMAIN_PATTERN,
        description="Secret (same namespace) holding the API token; only the human step "
        "Jobs read it.",
    )
    api_token_secret_key: str = Field(
        "token", min_length=1, max_length=NAME_MAX, pattern=kube.SECRET_KEY_PATTERN
    )
    project: LabelStudioProjectSpec
    object_urls: ObjectUrls = Field(
        ObjectUrls.INLINE,
        description="How the browser gets images that are not http(s) URLs: Inline (data "
        "URI in the task), LocalFiles (Label Studio serves them from a shared "
        "volume), Presigned (object-store URLs).",
    )
    local_files_root: str = Field(
        "/",
        min_length=1,
        max_length=URI_MAX,
        description="LocalFiles: object paths are sent relative to this folder, which is "
        "Label Studio's LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT.",
    )


WORKFORCE_PROVIDERS = ("simulated", "labelStudio")


class WorkforceSpec(ApiModel):
    model_config = ApiModel.model_config | {
        "json_schema_extra": validations(
            rule(
                " + ".join(f"(has(self.{p}) ? 1 : 0)" for p in WORKFORCE_PROVIDERS) + " == 1",
                "exactly one workforce provider must be set: " + ", ".join(WORKFORCE_PROVIDERS),
            )
        )
    }

    simulated: SimulatedWorkforceSpec | None = None
    label_studio: LabelStudioWorkforceSpec | None = None

    @model_validator(mode="after")
    def _one_provider(self) -> WorkforceSpec:
        if (self.simulated is None) == (self.label_studio is None):
            raise ValueError(
                "exactly one workforce provider must be set: " + ", ".join(WORKFORCE_PROVIDERS)
            )
        return self


class HumanTaskConfigSpec(ApiModel):
    model_config = ApiModel.model_config | {
        "json_schema_extra": validations(
            rule(
                "!has(self.uiConfig) || has(self.workforce.labelStudio)",
                "uiConfig is a Label Studio labeling config: it needs workforce.labelStudio",
                field_path=".uiConfig",
            ),
            *(
                rule(
                    f"has(self.{field}) == has(oldSelf.{field})",
                    f"{field} is immutable once the job exists",
                    field_path=f".{field}",
                )
                for field in ("taskTitle", "taskDescription", "uiConfig")
            ),
        )
    }

    task_title: str | None = Field(
        None,
        min_length=1,
        max_length=TASK_TITLE_MAX,
        description="Ground Truth's TaskTitle: the title of the instructions annotators see "
        "(plain text; Label Studio: the project's instructions, shown before labeling).",
        json_schema_extra=validations(immutable("taskTitle")),
    )
    task_description: str | None = Field(
        None,
        min_length=1,
        max_length=TASK_DESCRIPTION_MAX,
        description="Ground Truth's TaskDescription: the instructions annotators see (plain "
        "text; a blank line starts a paragraph).",
        json_schema_extra=validations(immutable("taskDescription")),
    )
    ui_config: str | None = Field(
        None,
        min_length=1,
        max_length=UI_CONFIG_MAX,
        description="Ground Truth's UiConfig, for Label Studio: the labeling config (XML, "
        "<View>...</View>) annotators work in. It needs one control of the task type "
        "(Choices; RectangleLabels; PolygonLabels) on an Image showing $image (Text "
        "showing $text), listing exactly the job's labels. Default: LabelPilot's.",
        json_schema_extra=validations(immutable("uiConfig")),
    )
    max_concurrent_task_count: int = Field(
        1000,
        ge=1,
        le=MAX_CONCURRENT_TASKS,
        description="At most this many objects are sent to humans per iteration "
        "(iteration 0's validation and training objects together).",
    )
    number_of_human_workers_per_data_object: int = Field(1, ge=1, le=9)
    task_time_limit_in_seconds: int = Field(
        300, ge=30, le=28800, description="An answer that took a worker longer than this is void."
    )
    task_availability_lifetime_in_seconds: int = Field(
        864000,
        ge=60,
        le=TASK_AVAILABILITY_MAX,
        description="An object not answered this long after it was sent fails.",
    )
    poll_interval_seconds: int = Field(
        60,
        ge=5,
        le=3600,
        description="While humans work, how often a short Job checks for answers.",
    )
    workforce: WorkforceSpec

    @field_validator("ui_config")
    @classmethod
    def _readable(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ui_config.parse(value)
            except ui_config.UiConfigError as exc:
                raise ValueError(f"humanTaskConfig.uiConfig: {exc}") from exc
        return value

    @model_validator(mode="after")
    def _ui_for_label_studio(self) -> HumanTaskConfigSpec:
        if self.ui_config is not None and self.workforce.label_studio is None:
            raise ValueError(
                "humanTaskConfig.uiConfig is a Label Studio labeling config: "
                "it needs workforce.labelStudio"
            )
        return self


class StoppingConditionsSpec(ApiModel):
    max_human_labeled_object_count: int | None = Field(
        None, ge=1, description="Stop once humans have labeled this many objects."
    )
    max_percentage_of_input_dataset_labeled: int = Field(
        100, ge=1, le=100, description="Stop once this share of the input is labeled."
    )


class Toleration(ApiModel):
    model_config = ApiModel.model_config | {
        "json_schema_extra": validations(
            rule(
                "!has(self.operator) || self.operator != 'Exists' || !has(self.value)",
                "a toleration with operator Exists takes no value",
            ),
            rule(
                "has(self.key) || (has(self.operator) && self.operator == 'Exists')",
                "a toleration without a key needs operator Exists",
            ),
            rule(
                "!has(self.tolerationSeconds) || (has(self.effect) && self.effect == 'NoExecute')",
                "tolerationSeconds needs effect NoExecute",
            ),
        )
    }

    key: str | None = Field(
        None,
        min_length=1,
        max_length=kube.QUALIFIED_NAME_MAX,
        pattern=kube.QUALIFIED_NAME_PATTERN,
        json_schema_extra=validations(
            rule(
                f"self.matches('{kube.QUALIFIED_NAME_LENGTHS}')",
                "a taint key's prefix has at most 253 characters, its name at most 63",
            )
        ),
    )
    operator: Literal["Exists", "Equal"] | None = None
    value: str | None = Field(
        None, max_length=kube.LABEL_VALUE_MAX, pattern=kube.LABEL_VALUE_PATTERN
    )
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    toleration_seconds: int | None = None

    @model_validator(mode="after")
    def _check(self) -> Toleration:
        if self.operator == "Exists" and self.value is not None:
            raise ValueError("a toleration with operator Exists takes no value")
        if self.key is None and self.operator != "Exists":
            raise ValueError("a toleration without a key needs operator Exists")
        if self.key is not None and not kube.is_label_key(self.key):
            raise ValueError(f"key {self.key!r}: {kube.LABEL_KEYS_MESSAGE}")
        if self.toleration_seconds is not None and self.effect != "NoExecute":
            raise ValueError("tolerationSeconds needs effect NoExecute")
        return self


def _resource_map(description: str) -> Any:
    return Field(
        None,
        max_length=kube.MAP_MAX,
        description=description,
        json_schema_extra=validations(
            rule(kube.RESOURCE_NAMES_RULE, kube.RESOURCE_NAMES_MESSAGE),
            rule(kube.EXTENDED_INTEGER_RULE, kube.EXTENDED_INTEGER_MESSAGE),
            rule(kube.NON_NEGATIVE_RULE, "quantities must not be negative"),
        ),
    )


class StepResources(ApiModel):
    """A profile (Ground Truth's instance classes, or the cluster's own) and overrides."""

    profile: str | None = Field(
        None,
        min_length=1,
        max_length=63,
        description="Instance profile, e.g. p3.2xlarge, c5.xlarge; default by task type.",
    )
    requests: dict[str, Quantity] | None = _resource_map(
        "Replace the profile's requests (per resource name)."
    )
    limits: dict[str, Quantity] | None = _resource_map(
        "Replace the profile's limits (per resource name)."
    )
    node_selector: (
        dict[
            str,
            Annotated[
                str, Field(max_length=kube.LABEL_VALUE_MAX, pattern=kube.LABEL_VALUE_PATTERN)
            ],
        ]
        | None
    ) = Field(
        None,
        max_length=kube.MAP_MAX,
        description="Added to (and overriding) the profile's node selector.",
        json_schema_extra=validations(
            rule(kube.LABEL_KEYS_RULE, "node selector " + kube.LABEL_KEYS_MESSAGE)
        ),
    )
    tolerations: list[Toleration] | None = Field(
        None, max_length=TOLERATIONS_MAX, description="Replace the profile's tolerations."
    )
    active_deadline_seconds: int | None = Field(
        None,
        ge=1,
        le=DEADLINE_MAX,
        description="How long each step Job of this kind may run before it fails (the "
        "Job's activeDeadlineSeconds); default and maximum: the cluster's.",
    )

    @field_validator("requests", "limits")
    @classmethod
    def _resources(cls, value: dict[str, int | str] | None) -> dict[str, int | str] | None:
        if value is not None:
            kube.check_resources(value)
        return value

    @field_validator("node_selector")
    @classmethod
    def _selector(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is not None:
            kube.check_label_map(value)
        return value


class InferenceResources(StepResources):
    parallelism: int = Field(
        1, ge=1, le=100, description="Inference shards: an Indexed Job when above 1."
    )


class ResourcesSpec(ApiModel):
    training: StepResources = Field(
        default_factory=StepResources, json_schema_extra={"default": {}}
    )
    inference: InferenceResources = Field(
        default_factory=InferenceResources, json_schema_extra={"default": {}}
    )
    other: StepResources = Field(
        default_factory=StepResources,
        json_schema_extra={"default": {}},
        description="The light steps: prepare, human, threshold, export.",
    )


class WorkerSpec(ApiModel):
    image: Image | None = Field(None, description="The worker image; default: the operator's.")
    image_pull_policy: PullPolicy | None = None
    service_account_name: str | None = Field(
        None,
        max_length=NAME_MAX,
        pattern=DNS_SUBDOMAIN_PATTERN,
        description="The ServiceAccount the steps run as (without its token); default: "
        "the cluster's step ServiceAccount.",
    )
    backoff_limit: int = Field(
        3, ge=0, le=20, description="Retries of a crashed step before the job fails."
    )


def _no_duplicates(values: list[str]) -> list[str]:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"duplicate label {value!r}")
        seen.add(value)
    return values


class LabelingJobSpec(ApiModel):
    """What to label, how, and with which workforce and resources."""

    model_config = ApiModel.model_config | {
        "json_schema_extra": validations(
            rule(
                "has(self.labels) != has(self.labelCategoryConfigUri)",
                "set exactly one of labels and labelCategoryConfigUri",
                field_path=".labels",
            ),
            rule(
                "has(self.labels) == has(oldSelf.labels)",
                "labels and labelCategoryConfigUri are immutable once the job exists",
                field_path=".labels",
            ),
            rule(
                f"self.taskType != 'SemanticSegmentation' || !has(self.labels) || "
                f"size(self.labels) <= {SEGMENTATION_LABELS_MAX}",
                f"semantic segmentation takes at most {SEGMENTATION_LABELS_MAX} labels "
                "(the mask palette)",
                field_path=".labels",
            ),
            rule(
                "!(self.taskType in ['ImageClassificationMultiLabel', "
                "'TextClassificationMultiLabel']) || !has(self.labels) || "
                f"size(self.labels) <= {MULTILABEL_LABELS_MAX}",
                f"multi-label classification takes at most {MULTILABEL_LABELS_MAX} labels",
                field_path=".labels",
            ),
            rule(
                paths.uri_on_claim_rule("input", "manifestUri"),
                "input.manifestUri must lie under storage.mountPath (the claim)",
                field_path=".input.manifestUri",
            ),
            rule(
                paths.uri_on_claim_rule("output", "uri"),
                "output.uri must lie under storage.mountPath (the claim)",
                field_path=".output.uri",
            ),
            rule(
                paths.uri_on_claim_rule("labelCategoryConfigUri"),
                "labelCategoryConfigUri must lie under storage.mountPath (the claim)",
                field_path=".labelCategoryConfigUri",
            ),
            rule(
                "!has(self.autoLabeling) || !has(self.autoLabeling.initialModelRef) || "
                "self.autoLabeling.initialModelRef == '' || "
                + paths.uri_on_claim_rule("autoLabeling.initialModelRef"),
                "autoLabeling.initialModelRef must lie under storage.mountPath (the claim)",
                field_path=".autoLabeling.initialModelRef",
            ),
            _exports_fit_rule(),
        )
    }

    task_type: TaskType = Field(json_schema_extra=validations(immutable("taskType")))
    label_attribute_name: str = Field(
        min_length=1,
        max_length=127,
        pattern=ATTRIBUTE_PATTERN,
        description="The key of the label in the output manifest; not source-ref or source "
        "(the input manifest's keys), not ending in -metadata.",
        json_schema_extra=validations(
            rule("!self.endsWith('-metadata')", "must not end in -metadata"),
            rule(
                f"!(self in {list(RESERVED_ATTRIBUTE_NAMES)})",
                "must not be source-ref or source: the input manifest's keys",
            ),
            immutable("labelAttributeName"),
        ),
    )
    labels: list[Annotated[str, Field(min_length=1, max_length=LABEL_MAX)]] | None = Field(
        None,
        min_length=1,
        max_length=LABELS_MAX,
        description="The classes, in order (class id = index); unique. Or labelCategoryConfigUri.",
        json_schema_extra={"x-kubernetes-list-type": "set", **validations(immutable("labels"))},
    )
    label_category_config_uri: Uri | None = Field(
        None,
        description="Instead of labels: a label category file in Ground Truth's format "
        '({"document-version": "2018-11-28", "labels": [{"label": "dog"}, ...]}), '
        "read by the prepare step under the job's data roots.",
        json_schema_extra=validations(immutable("labelCategoryConfigUri")),
    )
    input: InputSpec = Field(json_schema_extra=validations(immutable("input")))
    output: OutputSpec = Field(json_schema_extra=validations(immutable("output")))
    storage: StorageSpec | None = None
    auto_labeling: AutoLabelingSpec = Field(
        default_factory=AutoLabelingSpec, json_schema_extra={"default": {}}
    )
    human_task_config: HumanTaskConfigSpec
    stopping_conditions: StoppingConditionsSpec = Field(
        default_factory=StoppingConditionsSpec, json_schema_extra={"default": {}}
    )
    resources: ResourcesSpec = Field(
        default_factory=ResourcesSpec, json_schema_extra={"default": {}}
    )
    worker: WorkerSpec = Field(default_factory=WorkerSpec, json_schema_extra={"default": {}})
    seed: int = Field(0, ge=0, le=2**31 - 1, description="Seed of every random choice.")
    suspend: bool = Field(
        False,
        description="Stop the job's Jobs (Stopping, then Stopped); "
        "false again resumes where it was.",
    )

    @field_validator("label_attribute_name")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        problem = attribute_name_problem(value)
        if problem is not None:
            raise ValueError(f"labelAttributeName {problem}")
        return value

    @model_validator(mode="before")
    @classmethod
    def _unique_labels(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("labels"), list):
            _no_duplicates([str(v) for v in data["labels"]])
        return data

    @model_validator(mode="after")
    def _fits(self) -> LabelingJobSpec:
        if (self.labels is None) == (self.label_category_config_uri is None):
            raise ValueError("set exactly one of labels and labelCategoryConfigUri")
        if (
            self.task_type is TaskType.SEMANTIC_SEGMENTATION
            and self.labels is not None
            and len(self.labels) > SEGMENTATION_LABELS_MAX
        ):
            raise ValueError(
                f"labels: semantic segmentation takes at most "
                f"{SEGMENTATION_LABELS_MAX} labels (the mask palette)"
            )
        multilabel = run_config.TaskType[self.task_type.name].is_multilabel
        if multilabel and self.labels is not None and len(self.labels) > MULTILABEL_LABELS_MAX:
            raise ValueError(
                f"labels: multi-label classification takes at most {MULTILABEL_LABELS_MAX} labels"
            )
        for fmt in self.output.export_formats:
            if self.task_type not in export_task_types(fmt):
                raise ValueError(
                    f"output.exportFormats: {fmt.value} does not hold {self.task_type.value} "
                    f"labels ({_held()})"
                )
        config = self.human_task_config.ui_config
        if config is not None and self.labels is not None:
            try:
                ui_config.bind(config, run_config.TaskType[self.task_type.name], self.labels)
            except ui_config.UiConfigError as exc:
                raise ValueError(
                    f"humanTaskConfig.uiConfig cannot take {self.task_type.value} tasks "
                    f"of these labels: {exc}"
                ) from exc
        if self.storage is not None and self.storage.volume_claim_name is not None:
            mount = self.storage.mount_path
            for field, uri in (
                ("input.manifestUri", self.input.manifest_uri),
                ("output.uri", self.output.uri),
                ("labelCategoryConfigUri", self.label_category_config_uri),
                ("autoLabeling.initialModelRef", self.auto_labeling.initial_model_ref),
            ):
                if uri and not paths.on_claim(uri, mount):
                    raise ValueError(f"{field} must lie under storage.mountPath ({mount}): {uri!r}")
        return self
