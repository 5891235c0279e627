"""LabelingJob spec -> the RunConfig each step Job reads from LABELPILOT_CONFIG."""

from __future__ import annotations

from labelpilot.api import run_config
from labelpilot.api.data_roots import bucket_of
from labelpilot.api.spec import (
    ExistingLabels,
    LabelingJobSpec,
    ObjectUrls,
    TaskType,
    ThresholdMode,
    ValidationPolicy,
)

TASK_TYPES: dict[TaskType, run_config.TaskType] = {
    TaskType.IMAGE_CLASSIFICATION: run_config.TaskType.IMAGE_CLASSIFICATION,
    TaskType.TEXT_CLASSIFICATION: run_config.TaskType.TEXT_CLASSIFICATION,
    TaskType.OBJECT_DETECTION: run_config.TaskType.OBJECT_DETECTION,
    TaskType.SEMANTIC_SEGMENTATION: run_config.TaskType.SEMANTIC_SEGMENTATION,
    TaskType.IMAGE_CLASSIFICATION_MULTILABEL: run_config.TaskType.IMAGE_CLASSIFICATION_MULTILABEL,
    TaskType.TEXT_CLASSIFICATION_MULTILABEL: run_config.TaskType.TEXT_CLASSIFICATION_MULTILABEL,
}
THRESHOLD_MODES: dict[ThresholdMode, run_config.ThresholdMode] = {
    ThresholdMode.GUARANTEED: run_config.ThresholdMode.GUARANTEED,
    ThresholdMode.GROUND_TRUTH: run_config.ThresholdMode.GROUND_TRUTH,
}
OBJECT_URLS: dict[ObjectUrls, run_config.ObjectUrls] = {
    ObjectUrls.INLINE: run_config.ObjectUrls.INLINE,
    ObjectUrls.LOCAL_FILES: run_config.ObjectUrls.LOCAL_FILES,
    ObjectUrls.PRESIGNED: run_config.ObjectUrls.PRESIGNED,
}
VALIDATION_POLICIES: dict[ValidationPolicy, run_config.ValidationPolicy] = {
    ValidationPolicy.SEED: run_config.ValidationPolicy.SEED,
    ValidationPolicy.BOUND_SIZED: run_config.ValidationPolicy.BOUND_SIZED,
    ValidationPolicy.FRESH: run_config.ValidationPolicy.FRESH,
}

EXISTING_LABELS: dict[ExistingLabels, run_config.ExistingLabels] = {
    ExistingLabels.IGNORE: run_config.ExistingLabels.IGNORE,
    ExistingLabels.TRUSTED: run_config.ExistingLabels.TRUSTED,
}


def data_roots(spec: LabelingJobSpec) -> list[str]:
    """Where the job's objects may be read: the claim's mount path, and the input
    manifest's bucket when it is in an object store. Empty (neither): the steps take the
    manifest's folder. Never an http(s) address: no spec field names one."""
    roots = []
    if spec.storage is not None and spec.storage.volume_claim_name:
        roots.append(spec.storage.mount_path)
    bucket = bucket_of(spec.input.manifest_uri)
    if bucket is not None:
        roots.append(bucket)
    return roots


def to_run_config(
    name: str, namespace: str, spec: LabelingJobSpec, uid: str | None = None
) -> run_config.RunConfig:
    """The step config of LabelingJob `namespace/name`.

    URIs pass through unchanged: with `storage.volumeClaimName` they are paths (or file://
    URIs) inside the pod, under `storage.mountPath`; otherwise remote URIs (s3://, ...)
    reached with the credentials Secret's environment.
    """
    auto = spec.auto_labeling
    human = spec.human_task_config
    simulated = human.workforce.simulated
    studio = human.workforce.label_studio
    return run_config.RunConfig(
        job_name=name,
        job_namespace=namespace,
        job_uid=uid,
        task_type=TASK_TYPES[spec.task_type],
        label_attribute_name=spec.label_attribute_name,
        labels=list(spec.labels or []),
        label_category_config_uri=spec.label_category_config_uri,
        input_manifest_uri=spec.input.manifest_uri,
        output_uri=spec.output.uri,
        export_formats=list(spec.output.export_formats),
        data_roots=data_roots(spec),
        workforce=run_config.WorkforceConfig(
            simulated=None
            if simulated is None
            else run_config.SimulatedWorkforceConfig(
                ground_truth_uri=simulated.ground_truth_manifest_uri,
                error_rate=simulated.error_rate,
                failure_rate=simulated.failure_rate,
                latency_seconds=simulated.latency_seconds,
            ),
            label_studio=None
            if studio is None
            else run_config.LabelStudioWorkforceConfig(
                url=studio.url,
                project_id=studio.project.id,
                project_title=studio.project.title,
                object_urls=OBJECT_URLS[studio.object_urls],
                local_files_root=studio.local_files_root,
                label_config=human.ui_config,
            ),
            workers_per_object=human.number_of_human_workers_per_data_object,
            task_time_limit_seconds=human.task_time_limit_in_seconds,
            task_availability_lifetime_seconds=human.task_availability_lifetime_in_seconds,
            task_title=human.task_title,
            task_description=human.task_description,
        ),
        target_accuracy=auto.target_accuracy,
        confidence_level=auto.confidence_level,
        threshold_mode=THRESHOLD_MODES[auto.threshold_mode],
        validation_policy=(
            None if auto.validation_policy is None else VALIDATION_POLICIES[auto.validation_policy]
        ),
        existing_labels=EXISTING_LABELS[auto.existing_labels],
        auto_labeling=auto.enabled,
        max_concurrent_task_count=human.max_concurrent_task_count,
        max_human_labeled=spec.stopping_conditions.max_human_labeled_object_count,
        max_percentage_labeled=float(
            spec.stopping_conditions.max_percentage_of_input_dataset_labeled
        ),
        allow_small_dataset=auto.allow_small_dataset,
        initial_model_ref=auto.initial_model_ref or None,
        seed=spec.seed,
        model_options=dict(auto.algorithm.options),
    )
