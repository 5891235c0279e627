"""A labeling job with its data in S3 (SeaweedFS on loopback) against the same job on
local disk: seconds and objects per second of each step, and wall time.

MNIST (`--objects` 28x28 PNGs) is prepared locally, uploaded to a bucket of a SeaweedFS
server started for the run (tests/s3/seaweedfs.py, the `weed` of the dev extra), and
labeled twice in this process, step by step as `labelpilot run` does: once from local
disk, once with the input manifest, the objects, the ground truth and the workspace in the
bucket (credentials and endpoint from AWS_* variables, as a step pod gets them from its
Secret). The simulated workforce answers at once. objects/s is given for the steps that
read each object they handle (prepare checks each object, infer reads each object it
predicts): objects handled / the step's seconds, summed
over iterations.

Run: `.venv/bin/python -m benchmarks.s3_throughput [--objects N] [--work DIR]`; results go
to BENCHMARKS.md, section `s3-throughput`.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from tests.s3.seaweedfs import S3Server, bucket_ready, serve

from benchmarks.common import git_revision, machine, write_section
from labelpilot.api.run_config import RunConfig
from labelpilot.api.steps import Step
from labelpilot.datasets.prepare import prepare
from labelpilot.engine import storage
from labelpilot.worker.cli import run_step

BUCKET = "bench"
STEPS = [Step.PREPARE, Step.HUMAN, Step.TRAIN, Step.INFER, Step.THRESHOLD, Step.EXPORT]
READS_EVERY_OBJECT = {Step.PREPARE, Step.INFER}


def upload(server: S3Server, local: Path, prefix: str) -> dict[str, str]:
    fs = server.filesystem()
    fs.put(str(local / "objects"), f"{prefix}/objects", recursive=True)
    for name in ("input.manifest", "ground-truth.manifest"):
        text = (local / name).read_text().replace(f'"{local}/', f'"{prefix}/')
        fs.pipe_file(f"{prefix}/{name}", text.encode())
    return {
        "manifest": f"{prefix}/input.manifest",
        "truth": f"{prefix}/ground-truth.manifest",
    }


def config(manifest: str, truth: str, output: str, labels: list[str]) -> RunConfig:
    return RunConfig.model_validate(
        {
            "job_name": "s3-throughput",
            "task_type": "image-classification",
            "label_attribute_name": "label",
            "labels": labels,
            "input_manifest_uri": manifest,
            "output_uri": output,
            "workforce": {"simulated": {"ground_truth_uri": truth}},
            "max_concurrent_task_count": 1000,
            "allow_small_dataset": True,
            "seed": 0,
        }
    )


def run_timed(cfg: RunConfig) -> dict[str, Any]:
    """The job, step by step as labelpilot run goes; seconds and objects per step."""
    seconds: dict[Step, float] = defaultdict(float)
    objects: dict[Step, int] = defaultdict(int)
    total = len(storage.read_jsonl(cfg.input_manifest_uri))
    started = time.perf_counter()

    def timed(step: Step, *args: Any) -> Any:
        begin = time.perf_counter()
        summary = run_step(step, cfg, *args)
        seconds[step] += time.perf_counter() - begin
        objects[step] += summary.objects if step is Step.INFER else total
        print(f"  {step} {args} {time.perf_counter() - begin:.1f} s", flush=True)
        return summary

    prepared = timed(Step.PREPARE)
    for i in range(100 if prepared.next is Step.HUMAN else 0):
        if timed(Step.HUMAN, i).next is Step.EXPORT:
            break
        timed(Step.TRAIN, i)
        timed(Step.INFER, i, 0, 1)
        if timed(Step.THRESHOLD, i).next is Step.EXPORT:
            break
    summary = timed(Step.EXPORT)
    counters = summary.label_counters
    return {
        "wall": time.perf_counter() - started,
        "seconds": seconds,
        "objects": objects,
        "labeled": (counters.human_labeled, counters.machine_labeled),
    }


def row(step: Step, local: dict[str, Any], s3: dict[str, Any]) -> str:
    cells = [str(step)]
    for run in (local, s3):
        cells.append(f"{run['seconds'][step]:.1f}")
        rate = run["objects"][step] / run["seconds"][step] if run["seconds"][step] else 0
        cells.append(f"{rate:,.0f}" if step in READS_EVERY_OBJECT else "-")
    ratio = s3["seconds"][step] / local["seconds"][step] if local["seconds"][step] else 0
    cells.append(f"{ratio:.2f}x")
    return "| " + " | ".join(cells) + " |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--work", default=str(Path.home() / ".cache/labelpilot/bench-s3"))
    parser.add_argument("--note", default="", help="a line of caveats for BENCHMARKS.md")
    args = parser.parse_args(argv)
    work = Path(args.work)
    local = work / "mnist"
    info = prepare("mnist", local, limit=args.objects, seed=0)
    labels = info["labels"]
    with tempfile.TemporaryDirectory() as tmp, serve(Path(tmp) / "seaweedfs") as server:
        bucket_ready(server, BUCKET)
        began = time.perf_counter()
        remote = upload(server, local, f"s3://{BUCKET}/mnist")
        uploaded = time.perf_counter() - began
        print(f"uploaded {args.objects} objects in {uploaded:.1f} s", flush=True)
        print("local disk", flush=True)
        on_disk = run_timed(
            config(
                str(local / "input.manifest"),
                str(local / "ground-truth.manifest"),
                str(Path(tmp) / "job"),
                labels,
            )
        )
        print("S3", flush=True)
        os.environ.update(server.environment())
        in_s3 = run_timed(config(remote["manifest"], remote["truth"], f"s3://{BUCKET}/job", labels))
    table = "\n".join(row(step, on_disk, in_s3) for step in STEPS)
    write_section(
        "s3-throughput",
        f"""## Data from S3 (SeaweedFS)

One labeling job on MNIST ({args.objects:,} 28x28 PNGs), first from local disk, then with
the input manifest, the objects, the ground truth and the workspace in a bucket of a
SeaweedFS {server_version()} server on loopback (`weed server -s3`, one process); steps
run in one process in the order `labelpilot run` runs them, the simulated workforce
answers at once, seed 0. Seconds per step are summed over the iterations; objects/s is
given for the steps that read each object they handle (prepare: every object; infer:
the objects it predicts); train reads the human-labeled objects, export none. Upload of the objects
(`s3fs.put`, batched): {uploaded:.1f} s.
Machine: {machine()}; revision {git_revision()}.
Command: `.venv/bin/python -m benchmarks.s3_throughput --objects {args.objects}`.
{args.note + chr(10) if args.note else ""}
| step | local s | local objects/s | S3 s | S3 objects/s | S3 / local |
|---|---|---|---|---|---|
{table}
| wall | {on_disk["wall"]:.1f} | | {in_s3["wall"]:.1f} | | {in_s3["wall"] / on_disk["wall"]:.2f}x |

Labeled (human, machine): local {on_disk["labeled"]}, S3 {in_s3["labeled"]}.
""",
    )
    return 0


def server_version() -> str:
    import subprocess

    from tests.s3.seaweedfs import weed_binary

    done = subprocess.run([str(weed_binary()), "version"], capture_output=True, text=True)
    return done.stdout.split()[2] if done.stdout.count(" ") >= 2 else "?"


if __name__ == "__main__":
    raise SystemExit(main())
