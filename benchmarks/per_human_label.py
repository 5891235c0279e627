"""Machine labels per human label: Ground Truth's method against LabelPilot's guarantee.

Ground Truth's method is the `groundtruth` threshold mode with its validation rule, the
`seed` validation policy (20% / 10% of the data, a point estimate); LabelPilot's is the
guaranteed mode with bound-sized validation. Both on the engine benchmark's data sets,
several seeds, the jobs kept under `--work/runs/per-human-label` and reused unless
`--fresh`.

Run: `.venv/bin/python -m benchmarks.per_human_label [--seeds 5] [--work DIR]
[--names mnist sotu-party ...]` (any classification data set of the engine benchmark).
"""

from __future__ import annotations

import argparse
import statistics
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks.common import git_revision, machine, write_section
from benchmarks.engine import DATASETS, RunResult, cached_run, prepare

METHODS = {
    "Ground Truth's method (groundtruth, seed validation)": ("groundtruth", "seed"),
    "LabelPilot (guaranteed, bound-sized validation)": ("guaranteed", "bound-sized"),
}
NAMES = ("mnist", "spamassassin")
COLUMNS = (
    "dataset",
    "method",
    "machine labels per human label, median (min-max)",
    "machine-labeled, median",
    "human labels, median",
    "accuracy of machine labels, median (min)",
    "seeds below 0.95",
)
HEADER = "| " + " | ".join(COLUMNS) + " |\n" + "|---" * len(COLUMNS) + "|"


def _row(name: str, method: str, runs: list[RunResult]) -> str:
    per_label = [r.machine_labeled / max(1, r.human_labeled) for r in runs]
    accuracy = [r.machine_quality or 0.0 for r in runs]
    return (
        f"| {name} | {method} | {statistics.median(per_label):.2f} "
        f"({min(per_label):.2f}-{max(per_label):.2f}) | "
        f"{statistics.median(r.machine_labeled for r in runs):.0f} | "
        f"{statistics.median(r.human_labeled for r in runs):.0f} | "
        f"{statistics.median(accuracy):.2%} ({min(accuracy):.2%}) | "
        f"{sum(a < DATASETS[name].target for a in accuracy)} of {len(runs)} |"
    )


def run(work: Path, seeds: int, fresh: bool, names: tuple[str, ...] = NAMES) -> str:
    jobs = [(name, method, seed) for name in names for method in METHODS for seed in range(seeds)]

    def one(job: tuple[str, str, int]) -> RunResult:
        name, method, seed = job
        mode, policy = METHODS[method]
        result = cached_run(
            DATASETS[name],
            prepare(name, work, None),
            work,
            mode=mode,
            policy=policy,
            seed=seed,
            model_options={},
            threads=1,
            tag="per-human-label",
            fresh=fresh,
        )
        assert result is not None
        return result

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(one, jobs))
    rows = [
        _row(
            name,
            method,
            [r for (n, m, _), r in zip(jobs, results, strict=True) if (n, m) == (name, method)],
        )
        for name in names
        for method in METHODS
    ]
    named = "" if names == NAMES else " --names " + " ".join(names)
    return (
        f"""## Machine labels per human label: Ground Truth's method and LabelPilot

Machine: {machine()}; revision {git_revision()}.
Command: `.venv/bin/python -m benchmarks.per_human_label --seeds {seeds}{named}`

Seeds 0-{seeds - 1} per row, every job run to its end (every object labeled), 1 torch thread,
2 jobs at once. Machine labels per human label: machine-labeled objects / human labels
(validation included); accuracy of machine labels measured against the ground truth.

{HEADER}
"""
        + "\n".join(rows)
        + "\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--work", type=Path, default=Path("/tmp/labelpilot-bench"))
    parser.add_argument("--fresh", action="store_true", help="rerun jobs with a kept result")
    parser.add_argument("--no-write", action="store_true", help="print, leave BENCHMARKS.md")
    parser.add_argument(
        "--names",
        nargs="+",
        default=list(NAMES),
        choices=[n for n, d in DATASETS.items() if d.task_type.endswith("classification")],
    )
    args = parser.parse_args()
    body = run(args.work, args.seeds, args.fresh, tuple(args.names))
    if not args.no_write:
        more = tuple(args.names) != NAMES
        write_section("per-human-label-more" if more else "per-human-label", body)
    print(body)


if __name__ == "__main__":
    main()
