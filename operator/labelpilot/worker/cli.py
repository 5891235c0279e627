"""`labelpilot worker <step>`: one step of a labeling job, per docs/step-contract.md."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from typing import TYPE_CHECKING, Any

from labelpilot.api.steps import FAILED_EXIT_CODE, TERMINATION_LOG_ENV, Step, StepFailed

if TYPE_CHECKING:
    from labelpilot.api.step_summary import StepSummary


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("worker", help="run one step of a labeling job")
    parser.add_argument("step", choices=[str(s) for s in Step])
    parser.add_argument("--config", help="RunConfig JSON file (else $LABELPILOT_CONFIG)")
    parser.add_argument("--iteration", type=int)
    parser.add_argument("--shard-index", type=int)
    parser.add_argument("--shard-count", type=int)
    parser.add_argument(
        "--max-wait-seconds",
        type=float,
        help="human: report Waiting after this long instead of waiting on",
    )
    parser.add_argument(
        "--termination-log", help=f"where to write the summary (else ${TERMINATION_LOG_ENV})"
    )
    parser.set_defaults(func=main, extra="worker")


def run_step(
    step: Step | str,
    config: Any,
    iteration: int | None = None,
    shard_index: int | None = None,
    shard_count: int | None = None,
    max_wait: float | None = None,
) -> StepSummary:
    """Runs one step in-process; raises StepFailed for job-failing rules (a bad ground
    truth among them: InvalidGroundTruth)."""
    from labelpilot.engine.formats import GroundTruthError

    try:
        return _run_step(Step(step), config, iteration, shard_index, shard_count, max_wait)
    except GroundTruthError as error:
        raise StepFailed("InvalidGroundTruth", str(error)) from error


def _run_step(
    step: Step,
    config: Any,
    iteration: int | None,
    shard_index: int | None,
    shard_count: int | None,
    max_wait: float | None,
) -> StepSummary:
    from labelpilot.engine import progress
    from labelpilot.worker.progress import Reporter

    what = str(step) if iteration is None else f"{step} iteration {iteration}"
    with progress.reporting_to(Reporter(what)):
        return _dispatch(step, config, iteration, shard_index, shard_count, max_wait)


def _dispatch(
    step: Step,
    config: Any,
    iteration: int | None,
    shard_index: int | None,
    shard_count: int | None,
    max_wait: float | None,
) -> StepSummary:
    from labelpilot.worker import export, human, infer, label_categories, prepare, threshold, train
    from labelpilot.worker.common import Context

    ctx = Context(label_categories.resolve(step, config))
    if step is Step.PREPARE:
        return prepare.run(ctx)
    if step is Step.EXPORT:
        return export.run(ctx)
    if iteration is None or iteration < 0:
        raise ValueError(f"{step} needs --iteration N (N >= 0)")
    if step is Step.HUMAN:
        return human.run(ctx, iteration, max_wait)
    if step is Step.TRAIN:
        return train.run(ctx, iteration)
    if step is Step.INFER:
        return infer.run(ctx, iteration, shard_index, shard_count)
    return threshold.run(ctx, iteration)


def emit(summary: StepSummary, termination_log: str | None) -> None:
    text = summary.to_json()
    print(text, flush=True)
    if termination_log:
        try:
            with open(termination_log, "w") as f:
                f.write(text)
        except OSError as error:
            print(f"cannot write the termination log {termination_log}: {error}", file=sys.stderr)


def main(args: argparse.Namespace) -> int:
    from labelpilot.api.run_config import RunConfig
    from labelpilot.api.step_summary import StepSummary

    step = Step(args.step)
    log = args.termination_log or os.environ.get(TERMINATION_LOG_ENV)
    try:
        config = RunConfig.load(args.config)
    except (OSError, ValueError) as error:
        emit(
            StepSummary.failure(step, args.iteration, StepFailed("InvalidConfig", str(error))), log
        )
        return FAILED_EXIT_CODE
    try:
        summary = run_step(
            step, config, args.iteration, args.shard_index, args.shard_count, args.max_wait_seconds
        )
    except StepFailed as error:
        emit(StepSummary.failure(step, args.iteration, error), log)
        return FAILED_EXIT_CODE
    except Exception as error:  # a crash: the Job retries; say what happened
        traceback.print_exc()
        emit(StepSummary.crash(step, args.iteration, error), log)
        return 1
    emit(summary, log)
    return 0
