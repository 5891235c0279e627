"""`labelpilot run`: a whole labeling job in-process, with the same steps the Jobs run."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from labelpilot.api.run_config import (
    ExistingLabels,
    ExportFormat,
    TaskType,
    ThresholdMode,
    ValidationPolicy,
)
from labelpilot.api.step_summary import StepSummary
from labelpilot.api.steps import FAILED_EXIT_CODE, Step, StepFailed
from labelpilot.engine import reasons


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("run", help="run a whole labeling job in-process")
    p.add_argument("--task-type", required=True, choices=[str(t) for t in TaskType])
    p.add_argument("--input-manifest", required=True)
    labels = p.add_mutually_exclusive_group(required=True)
    labels.add_argument("--labels-file", help="one label per line")
    labels.add_argument(
        "--label-category-config",
        metavar="FILE",
        help='a label category file in Ground Truth\'s format ({"document-version": '
        '"2018-11-28", "labels": [{"label": "dog"}, ...]}), under the data roots',
    )
    p.add_argument("--label-attribute-name", required=True)
    p.add_argument("--output", required=True, help="the job's workspace (path or URI)")
    p.add_argument("--workforce", default="simulated", choices=["simulated", "label-studio"])
    p.add_argument(
        "--ground-truth", help="ground-truth manifest for the simulated workforce and evaluation"
    )
    p.add_argument(
        "--label-studio-url",
        help="label-studio: the server's base URL (API token in $LABEL_STUDIO_API_TOKEN)",
    )
    p.add_argument(
        "--label-studio-project", help="label-studio: project title (created when missing)"
    )
    p.add_argument(
        "--ui-config",
        help="label-studio: a file holding the job's labeling config (XML; spec "
        "humanTaskConfig.uiConfig)",
    )
    p.add_argument("--task-title", help="the instructions' title annotators see")
    p.add_argument("--task-description", help="the instructions annotators see")
    p.add_argument("--job-name", default="labelpilot-run")
    p.add_argument("--job-uid", help="the job identity the workspace is bound to")
    p.add_argument("--target-accuracy", type=float)
    p.add_argument("--confidence-level", type=float, default=0.95)
    p.add_argument(
        "--threshold-mode", default="guaranteed", choices=[str(m) for m in ThresholdMode]
    )
    p.add_argument(
        "--validation-policy",
        choices=[str(v) for v in ValidationPolicy],
        help="default: fresh in guaranteed mode, seed in groundtruth mode",
    )
    p.add_argument(
        "--existing-labels",
        default="ignore",
        choices=[str(v) for v in ExistingLabels],
        help="objects whose input line already carries the label attribute are never sent "
        "again; trusted: the model also trains on their labels (never validates on them)",
    )
    p.add_argument("--max-concurrent-task-count", type=int, default=1000)
    p.add_argument("--max-human-labeled", type=int)
    p.add_argument("--max-percentage-labeled", type=float, default=100.0)
    p.add_argument("--allow-small-dataset", action="store_true")
    p.add_argument("--no-auto-labeling", action="store_true")
    p.add_argument("--workers-per-object", type=int, default=1)
    p.add_argument("--error-rate", type=float, default=0.0)
    p.add_argument("--failure-rate", type=float, default=0.0)
    p.add_argument("--latency", type=float, default=0.0)
    p.add_argument("--initial-model-ref")
    p.add_argument("--model-options", default="{}", help="JSON passed to the models")
    p.add_argument(
        "--data-root",
        action="append",
        default=[],
        dest="data_roots",
        help="where objects may be read: a folder or a URI prefix (repeatable; "
        "default: the input manifest's folder, or its bucket)",
    )
    p.add_argument("--max-image-bytes", type=int, help="largest image object, in bytes")
    p.add_argument("--max-image-pixels", type=int, help="largest decoded image, in pixels")
    p.add_argument("--max-text-bytes", type=int, help="largest text object, in bytes")
    p.add_argument(
        "--export-format",
        action="append",
        default=[],
        dest="export_formats",
        choices=[str(f) for f in ExportFormat],
        help="also write the labels in this format under <output>/exports/<format>/ "
        "(repeatable; as labelpilot export)",
    )
    p.add_argument("--max-iterations", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=main, extra="worker")


# RunConfig fields by the flag that sets them, for errors that name what to fix.
FLAGS = {
    "job_name": "--job-name",
    "job_uid": "--job-uid",
    "task_type": "--task-type",
    "label_attribute_name": "--label-attribute-name",
    "labels": "--labels-file",
    "label_category_config_uri": "--label-category-config",
    "input_manifest_uri": "--input-manifest",
    "output_uri": "--output",
    "data_roots": "--data-root",
    "max_image_bytes": "--max-image-bytes",
    "max_image_pixels": "--max-image-pixels",
    "max_text_bytes": "--max-text-bytes",
    "target_accuracy": "--target-accuracy",
    "confidence_level": "--confidence-level",
    "existing_labels": "--existing-labels",
    "max_concurrent_task_count": "--max-concurrent-task-count",
    "max_human_labeled": "--max-human-labeled",
    "max_percentage_labeled": "--max-percentage-labeled",
    "initial_model_ref": "--initial-model-ref",
    "seed": "--seed",
    "model_options": "--model-options",
    "export_formats": "--export-format",
    "workers_per_object": "--workers-per-object",
    "ground_truth_uri": "--ground-truth",
    "error_rate": "--error-rate",
    "failure_rate": "--failure-rate",
    "latency_seconds": "--latency",
    "url": "--label-studio-url",
    "project_title": "--label-studio-project",
    "label_config": "--ui-config",
    "task_title": "--task-title",
    "task_description": "--task-description",
}


def _one_line(text: str) -> str:
    return reasons.clean(text)


def _flag_errors(error: Any) -> str:
    """A pydantic ValidationError as `--flag: message; ...`."""
    parts = []
    for item in error.errors():
        field = next((str(p) for p in reversed(item["loc"]) if str(p) in FLAGS), None)
        message = str(item["msg"]).removeprefix("Value error, ")
        parts.append(f"{FLAGS[field]}: {message}" if field else message)
    return _one_line("; ".join(parts))


def _labels(path: str) -> list[str]:
    from labelpilot.engine import storage

    try:
        text = storage.read_text(path)
    except (OSError, ValueError) as error:  # UnicodeDecodeError is a ValueError
        raise SystemExit(
            _one_line(f"--labels-file {path}: cannot read: {reasons.describe(error)}")
        ) from error
    labels = [line.strip() for line in text.splitlines() if line.strip()]
    if not labels:
        raise SystemExit(_one_line(f"--labels-file {path}: holds no label (one per line)"))
    return labels


def _check_ground_truth(uri: str) -> None:
    """Raises SystemExit naming `uri` when it is missing or the store refuses it (wrong
    credentials, a missing bucket)."""
    from labelpilot.engine import storage

    try:
        found = storage.exists(uri)
    except OSError as error:
        raise SystemExit(
            _one_line(f"--ground-truth {uri}: cannot read: {reasons.describe(error)}")
        ) from error
    if not found:
        raise SystemExit(_one_line(f"--ground-truth {uri}: no such file"))


def _ui_config(path: str | None) -> str | None:
    """The labeling config in `path`, read and checked now (what it lacks for the task
    type and labels is found when the human step opens the project)."""
    from labelpilot.api.ui_config import UiConfigError, parse
    from labelpilot.engine import storage

    if path is None:
        return None
    try:
        text = storage.read_text(path)
        parse(text)
    except (OSError, ValueError) as error:  # UiConfigError and UnicodeDecodeError too
        why = str(error) if isinstance(error, UiConfigError) else reasons.describe(error)
        raise SystemExit(_one_line(f"--ui-config {path}: {why}")) from error
    return text


def _category_file(path: str | None) -> str | None:
    """The file prepare reads: its labels come from there (labelpilot.worker.label_categories)."""
    return None if path is None else _absolute(path)


def _model_options(text: str) -> dict[str, Any]:
    try:
        options = json.loads(text)
    except json.JSONDecodeError as error:
        raise SystemExit(
            _one_line(f"--model-options: not JSON ({error.msg} at column {error.colno})")
        ) from error
    if not isinstance(options, dict):
        raise SystemExit(f"--model-options: must be a JSON object, got {type(options).__name__}")
    return options


def _absolute(uri: str) -> str:
    """A local path made absolute (a URI as it is): the workspace URIs the job writes into
    its output manifest, masks among them, then name the same files from any folder."""
    return uri if "://" in uri else os.path.abspath(uri)


def build_config(args: argparse.Namespace) -> Any:
    """The RunConfig of the flags; raises SystemExit with one line naming the flag."""
    from pydantic import ValidationError

    from labelpilot.api.run_config import RunConfig

    labels = _labels(args.labels_file) if args.labels_file else []
    model_options = _model_options(args.model_options)
    if args.workforce == "label-studio":
        if not (args.label_studio_url and args.label_studio_project):
            raise SystemExit(
                "--workforce label-studio needs --label-studio-url and --label-studio-project"
            )
        provider: dict[str, Any] = {
            "label_studio": {
                "url": args.label_studio_url,
                "project_title": args.label_studio_project,
                "label_config": _ui_config(args.ui_config),
            }
        }
    elif args.ui_config:
        raise SystemExit(
            "--ui-config is a Label Studio labeling config: it needs --workforce label-studio"
        )
    elif not args.ground_truth:
        raise SystemExit("--workforce simulated needs --ground-truth")
    else:
        _check_ground_truth(args.ground_truth)
        provider = {
            "simulated": {
                "ground_truth_uri": args.ground_truth,
                "error_rate": args.error_rate,
                "failure_rate": args.failure_rate,
                "latency_seconds": args.latency,
            }
        }
    limits = {
        name: getattr(args, name)
        for name in ("max_image_bytes", "max_image_pixels", "max_text_bytes")
        if getattr(args, name) is not None
    }
    try:
        return RunConfig.model_validate(
            dict(
                job_name=args.job_name,
                job_uid=args.job_uid,
                task_type=args.task_type,
                label_attribute_name=args.label_attribute_name,
                labels=labels,
                label_category_config_uri=_category_file(args.label_category_config),
                input_manifest_uri=args.input_manifest,
                output_uri=_absolute(args.output),
                data_roots=[_absolute(root) for root in args.data_roots],
                **limits,
                workforce={
                    **provider,
                    "workers_per_object": args.workers_per_object,
                    "task_title": args.task_title,
                    "task_description": args.task_description,
                },
                target_accuracy=args.target_accuracy,
                confidence_level=args.confidence_level,
                threshold_mode=args.threshold_mode,
                validation_policy=args.validation_policy,
                existing_labels=args.existing_labels,
                auto_labeling=not args.no_auto_labeling,
                max_concurrent_task_count=args.max_concurrent_task_count,
                max_human_labeled=args.max_human_labeled,
                max_percentage_labeled=args.max_percentage_labeled,
                allow_small_dataset=args.allow_small_dataset,
                initial_model_ref=args.initial_model_ref,
                model_options=model_options,
                export_formats=args.export_formats,
                seed=args.seed,
            )
        )
    except ValidationError as error:
        raise SystemExit(_flag_errors(error)) from error


def run_job(config: Any, *, max_iterations: int = 100, progress: bool = True) -> StepSummary:
    """Runs prepare, the iterations and export; returns export's summary.
    Raises StepFailed when a rule fails the job."""
    from labelpilot.worker.cli import run_step

    started = time.perf_counter()

    def say(summary: StepSummary) -> None:
        if progress:
            print(
                _progress_line(time.perf_counter() - started, summary), file=sys.stderr, flush=True
            )

    prepared = run_step(Step.PREPARE, config)
    say(prepared)
    for i in range(max_iterations if prepared.next is Step.HUMAN else 0):
        human = run_step(Step.HUMAN, config, i)
        say(human)
        if human.next is Step.EXPORT:
            break
        if not config.auto_labeling:
            continue
        say(run_step(Step.TRAIN, config, i))
        run_step(Step.INFER, config, i, 0, 1)
        th = run_step(Step.THRESHOLD, config, i)
        say(th)
        if th.next is Step.EXPORT:
            break
    summary = run_step(Step.EXPORT, config)
    say(summary)
    return summary


def _progress_line(elapsed: float, summary: StepSummary) -> str:
    parts = [f"[{elapsed:7.1f}s] {summary.step:<9}"]
    if summary.iteration is not None:
        parts.append(f"iteration {summary.iteration}")
    counters = summary.label_counters
    if counters is not None:
        parts.append(
            f"human {counters.human_labeled} machine {counters.machine_labeled} "
            f"failed {counters.failed_non_retryable_error} "
            f"unlabeled {counters.unlabeled}"
        )
    if summary.accuracy_bound is not None:
        parts.append(f"bound {summary.accuracy_bound:.4f}")
    if summary.stop_reason:
        parts.append(f"stop {summary.stop_reason}")
    return "  ".join(parts)


def main(args: argparse.Namespace) -> int:
    from labelpilot.engine.evaluate import evaluate
    from labelpilot.engine.formats import GroundTruthError
    from labelpilot.worker import label_categories
    from labelpilot.worker.cli import emit

    config = build_config(args)
    try:
        summary = run_job(config, max_iterations=args.max_iterations, progress=not args.quiet)
    except StepFailed as error:
        emit(StepSummary.failure("run", None, error), None)
        print(_one_line(f"labelpilot run: {error.reason}: {error.message}"), file=sys.stderr)
        return FAILED_EXIT_CODE
    if not args.ground_truth:  # real people: nothing to score against
        emit(summary, None)
        return 0
    try:
        result = evaluate(label_categories.resolve(Step.EXPORT, config), args.ground_truth)
    except GroundTruthError as error:
        print(_one_line(f"labelpilot run: --ground-truth: {error}"), file=sys.stderr)
        return FAILED_EXIT_CODE
    if not args.quiet:
        quality = result["machineQuality"]
        print(
            f"machine-labeled {result['machineLabeled']} "
            f"({result['machineFraction']:.1%}), measured {result['metric']} "
            f"{'n/a' if quality is None else f'{quality:.4f}'} (target {config.target})",
            file=sys.stderr,
        )
    summary.evaluation = {
        k: result[k] for k in ("metric", "machineQuality", "machineFraction", "meetsTarget")
    }
    emit(summary, None)
    return 0
