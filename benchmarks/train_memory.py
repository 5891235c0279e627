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

import json

from benchmarks.common import write_section
from benchmarks.infer_memory import heading, photo_arguments, photo_job, worker_once
from labelpilot.engine import storage
from labelpilot.engine.workspace import Workspace
from labelpilot.worker.cli import run_step


def main() -> None:
    args, trees, work = photo_arguments(__doc__, "train-memory")
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
            *heading("train", args, trees),
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
