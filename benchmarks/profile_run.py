"""Where `labelpilot run`'s CPU time goes: one job under cProfile with a CPU-time clock
(so that other processes on the machine do not count), one torch thread, summed by step and
by the functions that dominate.

Run: `.venv/bin/python -m benchmarks.profile_run [--dataset mnist] [--limit 10000]
[--label NAME]`. Prints a Markdown table; with `--label`, also keeps the column in
~/.cache/labelpilot/bench/profiles.json and writes all kept columns to BENCHMARKS.md,
section `profile`.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import tempfile
import time
from pathlib import Path

from benchmarks.common import machine, write_section
from benchmarks.engine import prepare, run_args

ENTRIES = {
    "whole job": "in_process.py:run_job",
    "prepare step": "prepare.py:run",
    "human steps (simulated)": "human.py:run",
    "train steps": "train.py:run",
    "  of which the training loop": "training.py:train_classifier",
    "infer steps": "infer.py:run",
    "  of which the forward passes": "image_classifier.py:predict",
    "threshold steps": "threshold.py:run",
    "export step": "export.py:run",
    "reading and decoding objects (all steps)": "inputs.py:load_input",
    "reading the input manifest (all steps)": "formats.py:read_manifest",
    "imports": "<frozen importlib._bootstrap>:_find_and_load",
}


def _cumulative(stats: pstats.Stats) -> dict[str, float]:
    out: dict[str, float] = {}
    for (file, _, function), (_, _, _, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        key = f"{Path(file).name if file.startswith('/') else file}:{function}"
        out[key] = max(out.get(key, 0.0), cumulative)
    return out


def profile(data: Path) -> dict[str, float]:
    from labelpilot.cli import main as labelpilot

    info = json.loads((data / "dataset.json").read_text())
    os.environ["LABELPILOT_TORCH_THREADS"] = "1"
    with tempfile.TemporaryDirectory() as tmp:
        args = run_args(info, Path(tmp) / "job")
        profiler = cProfile.Profile(time.process_time)
        profiler.enable()
        try:
            labelpilot(args)
        finally:
            profiler.disable()
    found = _cumulative(pstats.Stats(profiler))
    return {name: found.get(key, 0.0) for name, key in ENTRIES.items()}


def table(columns: dict[str, dict[str, float]]) -> str:
    head = "| CPU seconds | " + " | ".join(columns) + " |"
    rule = "|---|" + "---|" * len(columns)
    rows = [
        f"| {name} | " + " | ".join(f"{c[name]:.1f}" for c in columns.values()) + " |"
        for name in ENTRIES
    ]
    return "\n".join([head, rule, *rows])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--limit", type=int, default=10000)
    parser.add_argument("--label", help="the column's name: the revision and its change")
    parser.add_argument("--work", default=str(Path.home() / ".cache/labelpilot/bench"))
    args = parser.parse_args(argv)
    column = profile(prepare(args.dataset, Path(args.work), args.limit))
    if not args.label:
        print(table({"this run": column}))
        return 0
    kept_file = Path(args.work) / "profiles.json"
    kept = json.loads(kept_file.read_text()) if kept_file.exists() else {}
    kept[args.label] = column
    kept_file.write_text(json.dumps(kept, indent=1))
    print(table(kept))
    write_section(
        "profile",
        f"""## Where the time goes: a profile of `labelpilot run`

{args.dataset} ({args.limit:,} objects), the defaults, one torch thread, cProfile with a
CPU-time clock (cumulative seconds; callers include their callees; the profiler's own
cost inflates code of many small calls, such as decoding 10,000 small PNGs one at a
time). One column per revision. Machine: {machine()}.
Command: `.venv/bin/python -m benchmarks.profile_run --dataset {args.dataset} --limit
{args.limit} --label NAME`.

{table(kept)}
""",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
