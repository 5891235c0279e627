"""The run configuration every worker step reads: one labeling job, flattened.

`labelpilot run` builds it from its flags; the operator builds it from a LabelingJob's
spec and hands it to each step Job as JSON in the `LABELPILOT_CONFIG` environment variable
(compressed when large: labelpilot.api.config_env), or a file given with `--config`.
"""

from __future__ import annotations

import json
import os
import re
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from labelpilot.api import config_env

CONFIG_ENV = "LABELPILOT_CONFIG"
LABEL_STUDIO_TOKEN_ENV = "LABEL_STUDIO_API_TOKEN"
# What the engine can label: class ids are one byte in segmentation masks (0 is the
# background, so at most 255 classes) and in the PNG palette; the other task types take as
# many classes as a LabelingJob may list.
MAX_LABELS = 256
MAX_SEGMENTATION_LABELS = 255
# Ground Truth's multi-label classification tasks (image and text) take up to 50 labels.
MAX_MULTILABEL_LABELS = 50
MAX_LABEL_LENGTH = 256
# Ground Truth's limit on MaxConcurrentTaskCount: objects sent to humans per iteration.
MAX_CONCURRENT_TASKS = 5000
# Bounds of one data object (bytes read, decoded pixels): an object over them fails.
DEFAULT_MAX_IMAGE_BYTES = 50_000_000
DEFAULT_MAX_IMAGE_PIXELS = 40_000_000
DEFAULT_MAX_TEXT_BYTES = 1_000_000
# Ground Truth's LabelAttributeName pattern (at most 127 characters).
ATTRIBUTE_PATTERN = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,126}$"
# The input manifest's keys: a label under one would overwrite the object's reference (a
# segmentation label of `source` is kept under `source-ref`).
RESERVED_ATTRIBUTE_NAMES = ("source-ref", "source")


def attribute_name_problem(name: str) -> str | None:
    """Why `name` cannot be a label attribute name, or None."""
    if not re.fullmatch(ATTRIBUTE_PATTERN, name):
        return f"must match {ATTRIBUTE_PATTERN} (Ground Truth's LabelAttributeName)"
    if name in RESERVED_ATTRIBUTE_NAMES:
        return (
            f"must not be {name!r}: 'source-ref' and 'source' are the input manifest's keys "
            "(and a segmentation label of 'source' is kept under 'source-ref')"
        )
    if name.endswith("-metadata"):
        return "must not end in -metadata (the label's metadata key is <name>-metadata)"
    return None


class TaskType(StrEnum):
    IMAGE_CLASSIFICATION = "image-classification"
    TEXT_CLASSIFICATION = "text-classification"
    OBJECT_DETECTION = "object-detection"
    SEMANTIC_SEGMENTATION = "semantic-segmentation"
    IMAGE_CLASSIFICATION_MULTILABEL = "image-classification-multilabel"
    TEXT_CLASSIFICATION_MULTILABEL = "text-classification-multilabel"

    @property
    def is_classification(self) -> bool:
        """Single-label classification: one class per object."""
        return self in (TaskType.IMAGE_CLASSIFICATION, TaskType.TEXT_CLASSIFICATION)

    @property
    def is_multilabel(self) -> bool:
        """Multi-label classification: a set of classes per object (possibly empty)."""
        return self in (
            TaskType.IMAGE_CLASSIFICATION_MULTILABEL,
            TaskType.TEXT_CLASSIFICATION_MULTILABEL,
        )

    @property
    def measured_by_accuracy(self) -> bool:
        """A label is right or wrong (classification, multi-label: the whole set), where
        boxes and masks are measured by IoU."""
        return self.is_classification or self.is_multilabel

    @property
    def is_text(self) -> bool:
        """Objects are texts (`source`), not images."""
        return self in (TaskType.TEXT_CLASSIFICATION, TaskType.TEXT_CLASSIFICATION_MULTILABEL)

    @property
    def default_target(self) -> float:
        """Ground Truth's fixed quality targets: accuracy, or mean IoU for boxes and masks."""
        return {
            TaskType.OBJECT_DETECTION: 0.6,
            TaskType.SEMANTIC_SEGMENTATION: 0.7,
        }.get(self, 0.95)


def label_limit(task_type: TaskType) -> int:
    """How many labels a job of `task_type` may list."""
    task_type = TaskType(task_type)
    if task_type is TaskType.SEMANTIC_SEGMENTATION:
        return MAX_SEGMENTATION_LABELS
    return MAX_MULTILABEL_LABELS if task_type.is_multilabel else MAX_LABELS


class ExportFormat(StrEnum):
    """What `labelpilot export` and the export step write besides the output manifest."""

    COCO = "coco"
    YOLO = "yolo"
    VOC = "voc"
    JSONL = "jsonl"

    @property
    def task_types(self) -> tuple[TaskType, ...]:
        """The task types whose labels the format holds."""
        if self is ExportFormat.COCO:
            return (TaskType.OBJECT_DETECTION, TaskType.SEMANTIC_SEGMENTATION)
        if self is ExportFormat.JSONL:
            return (
                TaskType.IMAGE_CLASSIFICATION,
                TaskType.TEXT_CLASSIFICATION,
                TaskType.IMAGE_CLASSIFICATION_MULTILABEL,
                TaskType.TEXT_CLASSIFICATION_MULTILABEL,
            )
        return (TaskType.OBJECT_DETECTION,)

    def refusal(self, task_type: TaskType) -> str | None:
        """Why the format cannot hold `task_type`'s labels (None when it can)."""
        if task_type in self.task_types:
            return None
        fits = [f.value for f in ExportFormat if task_type in f.task_types]
        return (
            f"{self.value} holds {' and '.join(self.task_types)} labels, not "
            f"{task_type.value}: export them as {' or '.join(fits)}"
        )


class ThresholdMode(StrEnum):
    GUARANTEED = "guaranteed"
    GROUND_TRUTH = "groundtruth"


class ValidationPolicy(StrEnum):
    SEED = "seed"  # Ground Truth's rule: 20% of the dataset under 5,000 objects, 10% above
    BOUND_SIZED = "bound-sized"  # only as many validation labels as the bound needs
    # seed's split, and each later iteration validates on a new random sample of the pool
    FRESH = "fresh"


class ExistingLabels(StrEnum):
    """What a chained job does with the labels its input manifest already carries (the
    line has the label attribute and its metadata): such objects are never sent again."""

    IGNORE = "ignore"  # kept in the output as they are; not used by the model
    TRUSTED = "trusted"  # also training data (never validation: docs/ml.md)


class SimulatedWorkforceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ground_truth_uri: str
    error_rate: float = Field(0.0, ge=0.0, le=1.0)
    failure_rate: float = Field(0.0, ge=0.0, le=1.0)
    latency_seconds: float = Field(0.0, ge=0.0)


class ObjectUrls(StrEnum):
    """How Label Studio's browser gets an object that is not already an http(s) URL."""

    INLINE = "inline"  # a data: URI inside the task (small images; no shared storage)
    LOCAL_FILES = "local-files"  # Label Studio's /data/local-files/?d=... on a shared volume
    PRESIGNED = "presigned"  # a presigned URL of the object store (s3://, gs://, ...)


class LabelStudioWorkforceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(pattern=r"^https?://")
    token_env: str = LABEL_STUDIO_TOKEN_ENV  # the variable holding the API token
    project_id: int | None = Field(None, ge=1)
    project_title: str | None = Field(None, min_length=1, max_length=50)
    object_urls: ObjectUrls = ObjectUrls.INLINE
    local_files_root: str = "/"  # object paths are made relative to this for local-files
    presign_seconds: int = Field(7 * 24 * 3600, ge=60)
    # The job's own labeling config (XML; labelpilot.api.ui_config); None: LabelPilot's for
    # the task type, or the project's when it fits the job.
    label_config: str | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _one_project(self) -> LabelStudioWorkforceConfig:
        if (self.project_id is None) == (self.project_title is None):
            raise ValueError("labelStudio: set exactly one of project id and project title")
        return self


class WorkforceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    simulated: SimulatedWorkforceConfig | None = None
    label_studio: LabelStudioWorkforceConfig | None = None
    workers_per_object: int = Field(1, ge=1, le=9)
    # Ground Truth's TaskTimeLimitInSeconds: an answer that took a worker longer is void.
    task_time_limit_seconds: int = Field(300, ge=1)
    # Ground Truth's TaskAvailabilityLifetimeInSeconds: an object not answered this long
    # after it was sent is a failed object.
    task_availability_lifetime_seconds: int = Field(864000, ge=1)
    # Ground Truth's TaskTitle and TaskDescription: the instructions people see (plain text).
    task_title: str | None = Field(None, min_length=1)
    task_description: str | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _one_provider(self) -> WorkforceConfig:
        if (self.simulated is None) == (self.label_studio is None):
            raise ValueError(
                "workforce: exactly one provider must be set (simulated, label_studio)"
            )
        return self


class RunConfig(BaseModel):
    """Everything a step needs to know about its labeling job."""

    model_config = ConfigDict(extra="forbid")

    job_name: str = Field(min_length=1)
    # The LabelingJob's namespace and uid: the workspace and the human tasks are bound to
    # them, so a re-created or same-named job never takes another's labels.
    job_namespace: str | None = None
    job_uid: str | None = None
    task_type: TaskType
    label_attribute_name: str = Field(min_length=1)
    # The classes in order (class id = index). With label_category_config_uri they may be
    # left out: prepare reads them from that file and records them in its plan, where the
    # later steps find them (labelpilot.worker.label_categories).
    labels: list[str] = Field(default_factory=list)
    label_category_config_uri: str | None = Field(None, min_length=1)
    input_manifest_uri: str
    output_uri: str
    # Where objects may be read (labelpilot.api.data_roots); empty: the input manifest's folder,
    # or its bucket.
    data_roots: list[str] = Field(default_factory=list)
    max_image_bytes: int = Field(DEFAULT_MAX_IMAGE_BYTES, ge=1)
    max_image_pixels: int = Field(DEFAULT_MAX_IMAGE_PIXELS, ge=1)
    max_text_bytes: int = Field(DEFAULT_MAX_TEXT_BYTES, ge=1)
    workforce: WorkforceConfig
    target_accuracy: float | None = Field(None, gt=0.0, le=1.0)
    confidence_level: float = Field(0.95, gt=0.0, lt=1.0)
    threshold_mode: ThresholdMode = ThresholdMode.GUARANTEED
    validation_policy: ValidationPolicy | None = None  # None: the threshold mode's default
    existing_labels: ExistingLabels = ExistingLabels.IGNORE
    auto_labeling: bool = True
    max_concurrent_task_count: int = Field(1000, ge=1, le=MAX_CONCURRENT_TASKS)
    max_human_labeled: int | None = Field(None, ge=1)
    max_percentage_labeled: float = Field(100.0, gt=0.0, le=100.0)
    allow_small_dataset: bool = False
    initial_model_ref: str | None = None
    seed: int = 0
    # Passed to labelpilot.ml.build_model (architecture, epochs, threads, device...).
    model_options: dict[str, Any] = Field(default_factory=dict)
    # Written by the export step under the workspace's exports/<format>/.
    export_formats: list[ExportFormat] = Field(default_factory=list)

    @field_validator("label_attribute_name")
    @classmethod
    def _attribute_name(cls, name: str) -> str:
        problem = attribute_name_problem(name)
        if problem is not None:
            raise ValueError(f"label attribute name {name!r} {problem}")
        return name

    @field_validator("labels")
    @classmethod
    def _labels_fit(cls, labels: list[str]) -> list[str]:
        seen: set[str] = set()
        for i, label in enumerate(labels):
            if not 1 <= len(label) <= MAX_LABEL_LENGTH:
                raise ValueError(f"label {i} must be 1 to {MAX_LABEL_LENGTH} characters")
            if label in seen:
                raise ValueError(f"duplicate label {label!r}")
            seen.add(label)
        return labels

    @field_validator("export_formats")
    @classmethod
    def _formats_fit(cls, formats: list[ExportFormat], info: ValidationInfo) -> list[ExportFormat]:
        task_type = info.data.get("task_type")
        for i, fmt in enumerate(formats):
            if fmt in formats[:i]:
                raise ValueError(f"{fmt.value} is listed twice")
            why = None if task_type is None else fmt.refusal(task_type)
            if why is not None:
                raise ValueError(why)
        return formats

    @field_validator("data_roots")
    @classmethod
    def _roots_parse(cls, roots: list[str]) -> list[str]:
        from labelpilot.api.data_roots import parse_root

        for root in roots:
            parse_root(root)
        return roots

    @field_validator("labels")
    @classmethod
    def _engine_takes_the_labels(cls, labels: list[str], info: ValidationInfo) -> list[str]:
        task_type = info.data.get("task_type")
        limit = MAX_LABELS if task_type is None else label_limit(task_type)
        if len(labels) > limit:
            raise ValueError(
                f"{task_type or 'a job'} takes at most {limit} labels, got {len(labels)}"
            )
        return labels

    @model_validator(mode="after")
    def _labels_given(self) -> RunConfig:
        if not self.labels and self.label_category_config_uri is None:
            raise ValueError("labels: give the labels, or a label category config file")
        return self

    @property
    def target(self) -> float:
        return (
            self.target_accuracy
            if self.target_accuracy is not None
            else (self.task_type.default_target)
        )

    @property
    def effective_validation_policy(self) -> ValidationPolicy:
        """The policy asked for; by default Fresh in guaranteed mode, and Ground Truth's
        Seed in its own mode."""
        if self.validation_policy is not None:
            return self.validation_policy
        if self.threshold_mode is ThresholdMode.GUARANTEED:
            return ValidationPolicy.FRESH
        return ValidationPolicy.SEED

    def to_json(self) -> str:
        return self.model_dump_json(exclude_none=True)

    @classmethod
    def load(cls, path: str | None = None) -> RunConfig:
        """Reads the config from `path`, or else from the LABELPILOT_CONFIG variable."""
        if path:
            return cls.model_validate(json.loads(Path(path).read_text()))
        text = os.environ.get(CONFIG_ENV)
        if not text:
            raise ValueError(f"no run config: pass --config PATH or set {CONFIG_ENV}")
        return cls.model_validate(json.loads(config_env.decode(text)))
