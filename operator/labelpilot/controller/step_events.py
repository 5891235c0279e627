"""What a LabelingJob's StepSucceeded Events say, so that `kubectl describe lj` reads as the
job's story (with StepStarted before each step, and the phase's Events): each step's end
with what it counted and decided. Built from the numbers of the step's summary; a step's
free text never gets here."""

from __future__ import annotations

from labelpilot.api.step_summary import StepSummary
from labelpilot.api.steps import Step


def _n(value: int | None) -> str:
    return f"{value or 0:,}"


def succeeded(step: Step, where: str, summary: StepSummary | None) -> str:
    took = f" in {summary.seconds:.1f} s" if summary and summary.seconds else ""
    head = f"{where} succeeded{took}"
    if summary is None:
        return head
    facts = _facts(step, summary)
    counters = summary.label_counters
    if counters is not None and step is not Step.EXPORT:
        facts.append(
            f"so far human {_n(counters.human_labeled)}, machine "
            f"{_n(counters.machine_labeled)}, failed {_n(counters.failed_non_retryable_error)}, "
            f"unlabeled {_n(counters.unlabeled)}"
        )
    if summary.stop_reason is not None:
        facts.append(f"stop: {summary.stop_reason}")
    return head + (": " + "; ".join(facts) if facts else "")


def _facts(step: Step, summary: StepSummary) -> list[str]:
    if step is Step.PREPARE:
        facts = [f"validation set {_n(summary.validation_size)} objects"]
        if summary.failed_reasons:
            failed = sum(summary.failed_reasons.values())
            facts.append(f"{failed:,} objects failed ({len(summary.failed_reasons)} reasons)")
        return facts
    if step is Step.HUMAN:
        facts = [f"{_n(summary.human_batch)} objects sent"] if summary.human_batch else []
        if summary.failed:
            facts.append(f"{summary.failed:,} failed")
        return facts
    if step is Step.TRAIN:
        return [f"trained on {_n(summary.train_size)} labels"]
    if step is Step.INFER:
        shards = f" in {summary.shard_count} shards" if (summary.shard_count or 1) > 1 else ""
        return [f"predicted {_n(summary.objects)} objects{shards}"]
    if step is Step.THRESHOLD:
        machine = f"machine-labeled {_n(summary.machine_labeled_this_iteration)}"
        if summary.accuracy_bound is not None:
            machine += f" with accuracy >= {summary.accuracy_bound:.4f}"
        if summary.threshold is not None:
            machine += f" (threshold {summary.threshold:.4f})"
        facts = [machine]
        if summary.human_batch:
            facts.append(f"next human batch {summary.human_batch:,}")
        return facts
    return []
