"""Peak memory of `train` on large photos: the images a classifier trains on, held at once.

The photo job of benchmarks/infer_memory.py, with every object in iteration 0's human batch
(so that most of them are training objects), is prepared and labeled in this process; then
`labelpilot worker train` runs once per given code tree (`--tree NAME=OPERATOR_DIR`), each
in a subprocess of its own, on the same workspace with the decoded-images cache removed
(every image decoded from its JPEG) and the previous run's model removed. It reports each
run's peak RSS and wall time, the training objects and the working size the model chose.

Run: `.venv/bin/python -m benchmarks.train_memory [--objects N] [--width W --height H]
[--tree NAME=DIR ...] [--work DIR]`; results go to BENCHMARKS.md, section `train-memory`.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from benchmarks.common import REPO, git_revision, machine, write_section
from benchmarks.infer_memory import photo_job, worker_once
from labelpilot.engine import storage
from labelpilot.engine.workspace import Workspace
from labelpilot.worker.cli import run_step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=240)
    parser.add_argument("--width", type=int, default=1600)
    parser.add_argument("--height", type=int, default=1200)
    parser.add_argument("--tree", action="append", default=[], help="NAME=OPERATOR_DIR")
    parser.add_argument("--work", help="a folder for the data and workspace (default: temporary)")
    args = parser.parse_args()
    trees = dict(t.split("=", 1) for t in args.tree) or {"this": str(REPO / "operator")}
    work = Path(args.work or tempfile.mkdtemp(prefix="train-memory-"))
    config, config_path = photo_job(work, args.objects, args.width, args.height, args.objects)
    ws = Workspace(config.output_uri)
    run_step("prepare", config)
    run_step("human", config, 0)
    storage.remove(ws.decoded_images)
    rows = []
    for name, operator in trees.items():
        storage.remove(ws.training_summary(0))
        peak, seconds = worker_once("train", config_path, operator)
        summary = storage.read_json(ws.training_summary(0))
        size = storage.read_json(storage.join(ws.model(0), "model.json"))["state"]["size"]
        rows.append(
            f"| {name} | {summary['trainSize']} | {size[0]}x{size[1]} | {peak:,.0f} | "
            f"{seconds:.1f} |"
        )
        print(json.dumps({"tree": name, "peakMiB": peak, "seconds": seconds}))
    decoded = args.width * args.height * 3
    body = "\n".join(
        [
            "## train on large photos: peak memory",
            "",
            f"Machine: {machine()}. Revision {git_revision()}. Command: `.venv/bin/python -m "
            f"benchmarks.train_memory --objects {args.objects} --width {args.width} "
            f"--height {args.height} " + " ".join(f"--tree {name}=..." for name in trees) + "`.",
            "",
            f"{args.objects} JPEG photos of {args.width}x{args.height} ({decoded / 2**20:.1f} MiB "
            "each decoded), all in iteration 0's human batch; `train` fits the small CNN "
            "(3 epochs) on the training objects, every image decoded from its file (the "
            "decoded-images cache removed). Peak RSS of the step's process (torch and the "
            "interpreter included).",
            "",
            "| code | training objects | working size | peak RSS (MiB) | wall (s) |",
            "|---|---|---|---|---|",
            *rows,
        ]
    )
    write_section("train-memory", body)


if __name__ == "__main__":
    main()
