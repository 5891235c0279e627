"""`labelpilot run` against the plain reference loop (benchmarks.reference_loop), side by
side: the same data, the same torch thread count, alternating runs in fresh processes after
one unmeasured warm-up of each. Reports each loop's wall time, machine-labeled share and
accuracy, and the ratio of the medians (labelpilot run / the loop: the ratio column).

Run: `.venv/bin/python -m benchmarks.speed_ratio [--dataset mnist] [--limit 10000]
[--threads 2] [--repeats 3]`. Results go to BENCHMARKS.md, section `speed-ratio`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks import reference_loop
from benchmarks.common import REPO, git_revision, machine, write_section
from benchmarks.engine import DATASETS, LABELPILOT, measure, prepare, run_args
from labelpilot.api.run_config import TaskType

SAMPLE_BUDGET = 25_000  # labelpilot.ml.training.default_epochs


def _labelpilot(data: Path, out: Path, threads: int) -> dict[str, float]:
    info = json.loads((data / "dataset.json").read_text())
    cmd = [*LABELPILOT, *run_args(info, out)]
    env = {**os.environ, "LABELPILOT_TORCH_THREADS": str(threads)}
    started = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    objects, human, _, quality = measure(
        TaskType(info["taskType"]),
        info["labelAttributeName"],
        out / "manifests" / "output" / "output.manifest",
        Path(info["groundTruthManifest"]),
    )
    return {
        "seconds": seconds,
        "objects": objects,
        "machine_labeled": len(quality),
        "accuracy": statistics.fmean(quality) if quality else 1.0,
        "human_labeled": human,
    }


def _reference(data: Path, threads: int, budget: int | None) -> dict[str, float]:
    cmd = [sys.executable, "-m", "benchmarks.reference_loop", str(data), "--threads", str(threads)]
    if budget is not None:
        cmd += ["--sample-budget", str(budget)]
    started = time.perf_counter()
    result = subprocess.run(cmd, check=True, cwd=REPO, capture_output=True, text=True)
    seconds = time.perf_counter() - started  # the process's, imports included, as for ours
    return {**json.loads(result.stdout.splitlines()[-1]), "seconds": seconds}


def _row(name: str, runs: list[dict[str, float]], ratio: float) -> str:
    seconds = [r["seconds"] for r in runs]
    last = runs[-1]
    share = last["machine_labeled"] / last["objects"]
    return (
        f"| {name} | {statistics.median(seconds):.1f} ({', '.join(f'{s:.0f}' for s in seconds)}) "
        f"| {ratio:.2f}x | {share:.1%} | {last['accuracy']:.2%} | {int(last['human_labeled']):,} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", default="mnist", choices=sorted(DATASETS))
    parser.add_argument("--limit", type=int, default=10000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--work", default=str(Path.home() / ".cache/labelpilot/bench"))
    args = parser.parse_args(argv)
    data = prepare(args.dataset, Path(args.work), args.limit)
    with tempfile.TemporaryDirectory() as tmp:
        loops: dict[str, Callable[[int], dict[str, float]]] = {
            "labelpilot run": lambda i: _labelpilot(data, Path(tmp) / f"job-{i}", args.threads),
            f"reference, {reference_loop.EPOCHS} epochs": lambda _: _reference(
                data, args.threads, None
            ),
            f"reference, {SAMPLE_BUDGET:,}-sample budget": lambda _: _reference(
                data, args.threads, SAMPLE_BUDGET
            ),
        }
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in loops}
        for loop in loops.values():
            loop(-1)  # warm-up: page cache and imports, not measured
        for i in range(args.repeats):
            for name, loop in loops.items():
                runs[name].append(loop(i))
                print(f"run {i}, {name}: {runs[name][-1]['seconds']:.1f} s", flush=True)
    medians = {name: statistics.median(r["seconds"] for r in rs) for name, rs in runs.items()}
    ours = medians["labelpilot run"]
    rows = "\n".join(_row(name, rs, ours / medians[name]) for name, rs in runs.items())
    write_section(
        "speed-ratio",
        f"""## Side by side with a plain loop

`labelpilot run` with its defaults against benchmarks/reference_loop.py: decode once, a
small CNN, a Clopper-Pearson threshold, batches of 1,000, everything in memory; once with
{reference_loop.EPOCHS} epochs a fit, once with `labelpilot run`'s schedule
({SAMPLE_BUDGET:,} samples a fit, 4 to 40 epochs), so that both train on as many samples.
Data: {args.dataset} ({args.limit:,} objects); {args.threads} torch threads each;
alternating fresh processes after one unmeasured warm-up of each. Machine: {machine()};
revision {git_revision()}. Command: `.venv/bin/python -m benchmarks.speed_ratio --dataset
{args.dataset} --limit {args.limit} --threads {args.threads} --repeats {args.repeats}`.

| loop | wall (s): median (runs) | ratio | machine-labeled | accuracy | human labels |
|---|---|---|---|---|---|
{rows}
""",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
