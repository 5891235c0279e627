"""`labelpilot report DIR`: report.json as a text summary and a PNG (coverage, accuracy
bound, what each iteration cost, labels per class)."""

from __future__ import annotations

import argparse
import io
from typing import Any

STEPS = ("human", "training", "threshold")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("report", help="summarise a job's report.json, and plot it as a PNG")
    p.add_argument("workspace", help="the job's output folder (holding report.json)")
    p.add_argument("--out", help="PNG path (default: <workspace>/report.png)")
    p.set_defaults(func=main, extra="worker")


def _iterations(ax: Any, x: list[int]) -> None:
    ax.set_xticks(x)
    ax.set_xlim(min(x, default=0) - 0.6, max(x, default=0) + 0.6)
    ax.set_xlabel("iteration")


def _coverage(ax: Any, report: dict[str, Any], its: list[dict[str, Any]], x: list[int]) -> None:
    total = max(1, report["objects"])
    counters = [e.get("threshold", {}).get("labelCounters") for e in its]
    if counters and counters[-1] is None:  # the loop ended with a human step
        counters[-1] = report["labelCounters"]
    human = [100 * c["humanLabeled"] / total if c else 0 for c in counters]
    machine = [100 * c["machineLabeled"] / total if c else 0 for c in counters]
    ax.bar(x, human, label="human")
    ax.bar(x, machine, bottom=human, label="machine")
    ax.set(title="labeled so far (% of objects)", ylim=(0, 100))
    ax.legend(loc="upper left")
    _iterations(ax, x)


def _bound(ax: Any, report: dict[str, Any], its: list[dict[str, Any]], x: list[int]) -> None:
    bound = [e.get("threshold", {}).get("accuracyBound") for e in its]
    xs = [a for a, b in zip(x, bound, strict=True) if b is not None]
    ax.plot(xs, [b for b in bound if b is not None], "o-", label="lower bound")
    ax.axhline(report["target"], color="red", ls="--", label="target")
    ax.set(title=f"machine-label accuracy bound (confidence {report['confidenceLevel']})")
    ax.legend()
    _iterations(ax, x)


def _cost(ax: Any, its: list[dict[str, Any]], x: list[int]) -> None:
    bottom = [0.0] * len(its)
    for step in STEPS:
        seconds = [e.get(step, {}).get("seconds", 0) for e in its]
        ax.bar(x, seconds, bottom=bottom, label=step)
        bottom = [a + b for a, b in zip(bottom, seconds, strict=True)]
    for xi, top, e in zip(x, bottom, its, strict=True):
        ax.annotate(f"{e.get('human', {}).get('objects', 0)} human", (xi, top), ha="center")
    ax.set(title="time per iteration (s) and human labels", ylabel="seconds")
    ax.legend(loc="upper right")
    _iterations(ax, x)


def _classes(ax: Any, report: dict[str, Any]) -> None:
    per_class = report.get("perClass")
    if not per_class:
        ax.set_axis_off()
        ax.text(0.5, 0.5, "no per-class counts for this task type", ha="center")
        return
    names = list(per_class)[:30]
    human = [per_class[n]["human"] for n in names]
    machine = [per_class[n]["machine"] for n in names]
    ax.barh(names, human, label="human")
    ax.barh(names, machine, left=human, label="machine")
    ax.invert_yaxis()
    ax.set(title="labels per class" + (" (first 30)" if len(per_class) > 30 else ""))
    ax.legend(loc="lower right")


def figure(report: dict[str, Any]) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    its = [e for e in report["iterations"] if "threshold" in e or "human" in e]
    x = [e["iteration"] for e in its]
    fig, axes = plt.subplots(2, 2, figsize=(13, 8))
    _coverage(axes[0][0], report, its, x)
    _bound(axes[0][1], report, its, x)
    _cost(axes[1][0], its, x)
    _classes(axes[1][1], report)
    counters = report["labelCounters"]
    title = (
        f"{report['jobName']} ({report['taskType']}): {counters['machineLabeled']:,} machine, "
        f"{counters['humanLabeled']:,} human labels"
    )
    saved = report.get("humanLabelsSaved")
    if saved:
        title += f"; {saved['vsAllByHand']:,} human answers saved against labeling by hand"
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot(report: dict[str, Any], out: str) -> None:
    import matplotlib.pyplot as plt

    from labelpilot.engine import storage

    fig = figure(report)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    storage.write_bytes(out, buffer.getvalue())


def main(args: argparse.Namespace) -> int:
    from labelpilot.engine import storage
    from labelpilot.engine.report_text import summary

    report = storage.read_json(storage.join(args.workspace, "report.json"))
    out = args.out or storage.join(args.workspace, "report.png")
    plot(report, out)
    print(summary(report))
    print(out)
    return 0
