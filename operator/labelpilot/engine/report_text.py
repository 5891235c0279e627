"""report.json as a few lines of text: what `labelpilot report` prints."""

from __future__ import annotations

from typing import Any


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def summary(report: dict[str, Any]) -> str:
    counters = report["labelCounters"]
    total = report["objects"]
    machine, human = counters["machineLabeled"], counters["humanLabeled"]
    lines = [
        f"{report['jobName']} ({report['taskType']}), {len(report['iterations'])} iteration(s), "
        f"stopped: {report.get('stopReason') or '-'}",
        f"objects {total:,}: machine {machine:,} ({_pct(machine, total)}), human {human:,} "
        f"({_pct(human, total)}), failed {counters['failedNonRetryableError']:,}, "
        f"unlabeled {counters['unlabeled']:,}"
        + (f", already labeled {counters['preLabeled']:,}" if counters.get("preLabeled") else ""),
    ]
    bound = next(
        (
            e["threshold"]["accuracyBound"]
            for e in reversed(report["iterations"])
            if e.get("threshold", {}).get("accuracyBound") is not None
        ),
        None,
    )
    if bound is not None:
        lines.append(
            f"machine labels: accuracy >= {bound:.4f} with confidence "
            f"{report['confidenceLevel']} (target {report['target']})"
        )
    saved = report.get("humanLabelsSaved")
    if saved:
        line = (
            f"human answers: {saved['humanAnswers']:,} of {saved['allByHandAnswers']:,} "
            f"by hand, {saved['vsAllByHand']:,} saved"
        )
        lines.append(line)
    fresh = report.get("freshValidation")
    if fresh and fresh["objects"]:
        lines.append(
            f"fresh validation samples: {fresh['objects']:,} objects sent to people, "
            f"{fresh['humanLabeled']:,} labeled (among the human labels)"
        )
    for e in report["iterations"]:
        rule = e.get("threshold", {}).get("groundTruthRule")
        if rule:
            estimate = "-" if rule["estimate"] is None else f"{rule['estimate']:.4f}"
            machine = e["threshold"]["machineLabeled"]
            lines.append(
                f"  iteration {e['iteration']}: machine-labeled {machine:,}; "
                f"Ground Truth's rule on the same scores: {rule['accepted']:,} "
                f"(its unbounded estimate {estimate})"
            )
    for name, entry in (report.get("perClass") or {}).items():
        line = f"  {name}: machine {entry['machine']:,}, human {entry['human']:,}"
        if "validationAccuracy" in entry:
            line += (
                f", validation {entry['validationAccuracy']:.3f} of "
                f"{entry['validationAccepted']} (>= {entry['accuracyLowerBound']:.3f})"
            )
        lines.append(line)
    timings = report.get("timings", {})
    if timings:
        lines.append(
            "time: " + ", ".join(f"{step} {seconds:,.0f} s" for step, seconds in timings.items())
        )
    return "\n".join(lines)
