"""A job's wall time beside CPU-bound neighbours: quiet, then with N busy processes on the
same cores, each with the defaults (threads from the CPUs the process may use), and once
with OpenMP's spinning waits (OMP_WAIT_POLICY=ACTIVE, what torch did before LabelPilot set
PASSIVE) for comparison.

Run: `.venv/bin/python -m benchmarks.under_load [--dataset mnist] [--limit 2000]
[--busy 2]`. Results go to BENCHMARKS.md, section `under-load`.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.common import git_revision, machine, write_section
from benchmarks.engine import DATASETS, LABELPILOT, prepare, run_args


def _spin() -> None:
    while True:
        pass


def _job(task_type: str, data: Path, out: Path, env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one `labelpilot run` with the defaults."""
    info = json.loads((data / "dataset.json").read_text())
    cmd = [*LABELPILOT, *run_args({**info, "taskType": task_type}, out)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _under(busy: int, run: Callable[[], tuple[float, float]]) -> tuple[float, float]:
    spinners = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(busy)]
    for p in spinners:
        p.start()
    try:
        return run()
    finally:
        for p in spinners:
            p.terminate()
            p.join()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--limit", type=int, default=2000)
    parser.add_argument("--busy", type=int, default=2)
    parser.add_argument("--work", default=str(Path.home() / ".cache/labelpilot/bench"))
    args = parser.parse_args(argv)
    data = prepare(args.dataset, Path(args.work), args.limit)
    task_type = DATASETS[args.dataset].task_type
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY",)}
    env.pop("LABELPILOT_TORCH_THREADS", None)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        cases = [
            ("quiet", 0, env),
            (f"{args.busy} busy processes", args.busy, env),
            (
                f"{args.busy} busy processes, OMP_WAIT_POLICY=ACTIVE",
                args.busy,
                {**env, "OMP_WAIT_POLICY": "ACTIVE"},
            ),
        ]
        # a first run warms the page cache and imports: not measured
        _job(task_type, data, Path(tmp) / "warm-up", env)
        for i, (name, busy, case_env) in enumerate(cases):
            out = Path(tmp) / f"job-{i}"
            wall, cpu = _under(busy, lambda o=out, e=case_env: _job(task_type, data, o, e))
            rows.append((name, wall, cpu))
            print(f"{name}: {wall:.1f} s wall, {cpu:.1f} s CPU", flush=True)
    quiet = rows[0][1]
    table = "\n".join(
        f"| {name} | {wall:.1f} | {cpu:.1f} | {wall / quiet:.2f}x |" for name, wall, cpu in rows
    )
    write_section(
        "under-load",
        f"""## A job beside busy processes

`labelpilot run` with its defaults (torch threads = min(4, usable CPUs); OpenMP waits
passive) on {args.dataset} ({args.limit:,} objects), quiet and with {args.busy} CPU-bound
processes on the same cores, after one unmeasured warm-up run. Machine: {machine()};
revision {git_revision()}.
Command: `.venv/bin/python -m benchmarks.under_load --dataset {args.dataset} --limit
{args.limit} --busy {args.busy}`.

| case | wall (s) | CPU (s) | wall / quiet |
|---|---|---|---|
{table}
""",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
