"""`labelpilot report DIR`: report.json as a PNG plot (coverage, accuracy bound, humans)."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("report", help="plot a job's report.json as a PNG")
    p.add_argument("workspace", help="the job's output folder (holding report.json)")
    p.add_argument("--out", help="PNG path (default: <workspace>/report.png)")
    p.set_defaults(func=main, extra="worker")


def plot(report: dict[str, Any], out: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from labelpilot.engine import storage

    its = [e for e in report["iterations"] if "threshold" in e or "human" in e]
    x = [e["iteration"] for e in its]
    total = max(1, report["objects"])
    counters = [e.get("threshold", {}).get("labelCounters") for e in its]
    machine = [100 * c["machineLabeled"] / total if c else 0 for c in counters]
    human_cov = [100 * c["humanLabeled"] / total if c else 0 for c in counters]
    bound = [e.get("threshold", {}).get("accuracyBound") for e in its]
    humans = [e.get("human", {}).get("objects", 0) for e in its]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    axes[0].bar(x, human_cov, label="human")
    axes[0].bar(x, machine, bottom=human_cov, label="machine")
    axes[0].set(title="coverage (% of objects)", xlabel="iteration", ylim=(0, 100))
    axes[0].legend(loc="upper left")
    xs = [a for a, b in zip(x, bound, strict=True) if b is not None]
    axes[1].plot(xs, [b for b in bound if b is not None], "o-", label="lower bound")
    axes[1].axhline(report["target"], color="red", ls="--", label="target")
    axes[1].set(
        title=f"accuracy bound (confidence {report['confidenceLevel']})", xlabel="iteration"
    )
    axes[1].legend()
    axes[2].bar(x, humans)
    axes[2].set(title="human labels per iteration", xlabel="iteration")
    fig.suptitle(
        f"{report['jobName']} ({report['taskType']}): "
        f"{report['labelCounters']['machineLabeled']} machine, "
        f"{report['labelCounters']['humanLabeled']} human labels"
    )
    for ax in axes:
        ax.xaxis.get_major_locator().set_params(integer=True)
    fig.tight_layout()
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    storage.write_bytes(out, buffer.getvalue())


def main(args: argparse.Namespace) -> int:
    from labelpilot.engine import storage

    report = storage.read_json(storage.join(args.workspace, "report.json"))
    out = args.out or storage.join(args.workspace, "report.png")
    plot(report, out)
    print(out)
    return 0
