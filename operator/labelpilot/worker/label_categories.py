"""A job's labels when they come from a label category file (`labelCategoryConfigUri`,
`labelpilot run --label-category-config`): `prepare` reads the file under the data roots
and records its labels in its plan; every later step takes them from there, so the file is
read by the step that reads the job's data, and a file edited after prepare changes
nothing until prepare runs again. Each step gets a RunConfig whose `labels` are filled in,
as with inline labels.
"""

from __future__ import annotations

from labelpilot.api.run_config import RunConfig
from labelpilot.api.steps import Step, StepFailed
from labelpilot.api.ui_config import UiConfigError, bind
from labelpilot.engine import label_categories, storage
from labelpilot.engine.confinement import DataRoots
from labelpilot.engine.workspace import Workspace

INVALID = "InvalidLabelCategoryConfig"


def resolve(step: Step, config: RunConfig) -> RunConfig:
    """`config` with its labels; raises StepFailed (InvalidLabelCategoryConfig) for a file
    that cannot be read or is not a label category file."""
    uri = config.label_category_config_uri
    if uri is None:
        return config
    if step is Step.PREPARE:
        roots = DataRoots.for_job(config.data_roots, config.input_manifest_uri)
        try:
            labels = label_categories.read(uri, roots, config.task_type)
        except label_categories.LabelCategoryError as error:
            raise StepFailed(INVALID, str(error)) from error
        check_interface(config, labels, uri)
    else:
        labels = recorded(Workspace(config.output_uri))
    return RunConfig.model_validate({**config.model_dump(), "labels": labels})


def check_interface(config: RunConfig, labels: list[str], uri: str) -> None:
    """Prepare refuses a labeling interface (humanTaskConfig.uiConfig) that cannot take the
    file's labels, before anyone is asked anything (UiConfigIncompatible)."""
    from labelpilot.workforce.labelstudio.project import INCOMPATIBLE

    studio = config.workforce.label_studio
    if studio is None or studio.label_config is None:
        return
    try:
        bind(studio.label_config, config.task_type, labels)
    except UiConfigError as error:
        raise StepFailed(
            INCOMPATIBLE,
            f"humanTaskConfig.uiConfig cannot take the labels of {uri} "
            f"(labelCategoryConfigUri): {error}",
        ) from error


def recorded(ws: Workspace) -> list[str]:
    """The labels prepare recorded in its plan."""
    plan = storage.read_json(ws.prepare_plan) if storage.exists(ws.prepare_plan) else {}
    labels = plan.get("labels")
    if not isinstance(labels, list) or not labels:
        raise RuntimeError(f"{ws.prepare_plan} records no labels: prepare has not run")
    return [str(label) for label in labels]
