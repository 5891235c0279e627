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

`--data synthetic` labels benchmarks/scale.py's synthetic images instead (`--objects` of
them, generated once under `--work`), with scale.py's job: `--max-iterations` (default 1)
and at most `--human` human labels, so what grows with the data is prepare, infer,
threshold and the output manifest. Each step then runs as its own `labelpilot worker`
process, as the step Jobs do, and its peak RSS is that process's alone; the output
manifest the job wrote to the bucket is read back and its lines counted.

Run: `.venv/bin/python -m benchmarks.s3_throughput [--objects N] [--work DIR]`; results go
to BENCHMARKS.md, section `s3-throughput`; with `--data synthetic`, section
`s3-synthetic-<objects>`.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.s3.seaweedfs import S3Server, bucket_ready, serve

from benchmarks import scale
from benchmarks.common import git_revision, machine, write_section
from labelpilot.api.run_config import RunConfig
from labelpilot.api.step_summary import StepSummary
from labelpilot.api.steps import Step
from labelpilot.datasets.prepare import prepare
from labelpilot.engine import storage
from labelpilot.worker.cli import run_step

BUCKET = "bench"
STEPS = [Step.PREPARE, Step.HUMAN, Step.TRAIN, Step.INFER, Step.THRESHOLD, Step.EXPORT]
READS_EVERY_OBJECT = {Step.PREPARE, Step.INFER}

# runs one step (its arguments after the step: iteration, shard index, shard count);
# gives its summary and, when it ran as its own process, that process's peak RSS in MiB
# and CPU seconds (user + system)
Runner = Callable[..., tuple[StepSummary, tuple[float, float] | None]]


def upload(server: S3Server, local: Path, prefix: str) -> tuple[dict[str, str], float]:
    """The data set's objects and manifests under `prefix`: their URIs, and the seconds the
    upload took."""
    began = time.perf_counter()
    fs = server.filesystem()
    fs.put(str(local / "objects"), f"{prefix}/objects", recursive=True)
    for name in ("input.manifest", "ground-truth.manifest"):
        text = (local / name).read_text().replace(f'"{local}/', f'"{prefix}/')
        fs.pipe_file(f"{prefix}/{name}", text.encode())
    seconds = time.perf_counter() - began
    print(f"uploaded {local} in {seconds:.1f} s", flush=True)
    uris = {"manifest": f"{prefix}/input.manifest", "truth": f"{prefix}/ground-truth.manifest"}
    return uris, seconds


def config(
    manifest: str, truth: str, output: str, labels: list[str], human: int | None = None
) -> RunConfig:
    """The job; `human` caps the human labels (and each batch) as scale.py's job does."""
    return RunConfig.model_validate(
        {
            "job_name": "s3-throughput",
            "task_type": "image-classification",
            "label_attribute_name": "label",
            "labels": labels,
            "input_manifest_uri": manifest,
            "output_uri": output,
            "workforce": {"simulated": {"ground_truth_uri": truth}},
            "max_concurrent_task_count": human or 1000,
            "max_human_labeled": human,
            "allow_small_dataset": True,
            "seed": 0,
        }
    )


def in_process(cfg: RunConfig) -> Runner:
    def run(step: Step, *args: Any) -> tuple[StepSummary, tuple[float, float] | None]:
        return run_step(step, cfg, *args), None

    return run


def own_process(cfg: RunConfig, folder: Path) -> Runner:
    """Each step a `labelpilot worker` process (with this process's AWS_* variables)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.json"
    path.write_text(cfg.to_json())
    log = folder / "steps.log"
    log.write_text("")

    def run(step: Step, *args: int) -> tuple[StepSummary, tuple[float, float] | None]:
        argv = [*scale.LABELPILOT, "worker", str(step), "--config", str(path)]
        for flag, value in zip(
            ("--iteration", "--shard-index", "--shard-count"), args, strict=False
        ):
            argv += [flag, str(value)]
        measured, summary = scale.run_step(argv, log)
        if measured.exit_code != 0:
            raise SystemExit(f"{step} failed ({measured.exit_code}): see {log}")
        return StepSummary.model_validate(summary), (
            measured.peak_rss_mib,
            measured.cpu_seconds or 0.0,
        )

    return run


def count_lines(uri: str) -> int:
    return sum(1 for line in storage.iter_lines(uri) if line.strip())


def run_timed(cfg: RunConfig, runner: Runner, max_iterations: int = 100) -> dict[str, Any]:
    """The job, step by step as labelpilot run goes; seconds, objects and peak RSS per step."""
    seconds: dict[Step, float] = defaultdict(float)
    objects: dict[Step, int] = defaultdict(int)
    peak_rss: dict[Step, float] = defaultdict(float)
    cpu: dict[Step, float] = defaultdict(float)
    total = count_lines(cfg.input_manifest_uri)
    started = time.perf_counter()

    def timed(step: Step, *args: Any) -> StepSummary:
        begin = time.perf_counter()
        summary, process = runner(step, *args)
        seconds[step] += time.perf_counter() - begin
        objects[step] += (summary.objects or 0) if step is Step.INFER else total
        took = f"{time.perf_counter() - begin:.1f} s"
        if process is not None:
            peak_rss[step] = max(peak_rss[step], process[0])
            cpu[step] += process[1]
            took += f" ({process[1]:.1f} s CPU), {process[0]:.0f} MiB"
        print(f"  {step} {args} {took}", flush=True)
        return summary

    prepared = timed(Step.PREPARE)
    for i in range(max_iterations if prepared.next is Step.HUMAN else 0):
        if timed(Step.HUMAN, i).next is Step.EXPORT:
            break
        timed(Step.TRAIN, i)
        timed(Step.INFER, i, 0, 1)
        if timed(Step.THRESHOLD, i).next is Step.EXPORT:
            break
    summary = timed(Step.EXPORT)
    counters = summary.label_counters
    assert counters is not None, "export reported no label counters"
    return {
        "wall": time.perf_counter() - started,
        "seconds": seconds,
        "objects": objects,
        "peak_rss": peak_rss,
        "cpu": cpu,
        "labeled": (counters.human_labeled, counters.machine_labeled),
        "output_manifest": summary.output_manifest_uri,
    }


def row(step: Step, local: dict[str, Any], s3: dict[str, Any], memory: bool = False) -> str:
    cells = [str(step)]
    for run in (local, s3):
        cpu = f" ({run['cpu'][step]:.1f})" if memory else ""
        cells.append(f"{run['seconds'][step]:.1f}{cpu}")
        rate = run["objects"][step] / run["seconds"][step] if run["seconds"][step] else 0
        cells.append(f"{rate:,.0f}" if step in READS_EVERY_OBJECT else "-")
        if memory:
            cells.append(f"{run['peak_rss'][step]:.0f}")
    ratio = s3["seconds"][step] / local["seconds"][step] if local["seconds"][step] else 0
    cells.append(f"{ratio:.2f}x")
    return "| " + " | ".join(cells) + " |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", choices=["mnist", "synthetic"], default="mnist")
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--work", default=str(Path.home() / ".cache/labelpilot/bench-s3"))
    parser.add_argument("--human", type=int, default=1000, help="synthetic: human label budget")
    parser.add_argument("--max-iterations", type=int, default=1, help="synthetic: iterations")
    parser.add_argument("--note", default="", help="a line of caveats for BENCHMARKS.md")
    args = parser.parse_args(argv)
    if args.data == "synthetic":
        return synthetic(args)
    work = Path(args.work)
    local = work / "mnist"
    info = prepare("mnist", local, limit=args.objects, seed=0)
    labels = info["labels"]
    with tempfile.TemporaryDirectory() as tmp, serve(Path(tmp) / "seaweedfs") as server:
        bucket_ready(server, BUCKET)
        remote, uploaded = upload(server, local, f"s3://{BUCKET}/mnist")
        print("local disk", flush=True)
        local_cfg = config(
            str(local / "input.manifest"),
            str(local / "ground-truth.manifest"),
            str(Path(tmp) / "job"),
            labels,
        )
        on_disk = run_timed(local_cfg, in_process(local_cfg))
        print("S3", flush=True)
        os.environ.update(server.environment())
        s3_cfg = config(remote["manifest"], remote["truth"], f"s3://{BUCKET}/job", labels)
        in_s3 = run_timed(s3_cfg, in_process(s3_cfg))
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


def synthetic(args: argparse.Namespace) -> int:
    """scale.py's synthetic images, each step its own process: seconds, objects/s and peak
    RSS per step, local and from S3, and the output manifest read back from the bucket."""
    work = Path(args.work).resolve()
    local = work / f"synthetic-{args.objects}"
    began = time.perf_counter()
    scale.generate("image", args.objects, local, seed=0)
    generated = time.perf_counter() - began
    labels = (local / "labels.txt").read_text().split()
    with tempfile.TemporaryDirectory(dir=work) as tmp, serve(Path(tmp) / "seaweedfs") as server:
        bucket_ready(server, BUCKET)
        remote, uploaded = upload(server, local, f"s3://{BUCKET}/synthetic")
        print("local disk", flush=True)
        local_cfg = config(
            str(local / "input.manifest"),
            str(local / "ground-truth.manifest"),
            str(Path(tmp) / "job"),
            labels,
            args.human,
        )
        on_disk = run_timed(
            local_cfg, own_process(local_cfg, Path(tmp) / "local"), args.max_iterations
        )
        print("S3", flush=True)
        os.environ.update(server.environment())
        s3_cfg = config(
            remote["manifest"], remote["truth"], f"s3://{BUCKET}/job", labels, args.human
        )
        in_s3 = run_timed(s3_cfg, own_process(s3_cfg, Path(tmp) / "s3"), args.max_iterations)
        written = in_s3["output_manifest"]
        lines = count_lines(written) if written else 0
        print(f"output manifest {written}: {lines} lines", flush=True)
        version = server_version()
    table = "\n".join(row(step, on_disk, in_s3, memory=True) for step in STEPS)
    local_wall, s3_wall = on_disk["wall"], in_s3["wall"]
    header = (
        "| step | local s (CPU) | local obj/s | local RSS MiB"
        " | S3 s (CPU) | S3 obj/s | S3 RSS MiB | S3 / local |\n" + "|---" * 8 + "|"
    )
    wall = f"| wall | {local_wall:.1f} | | | {s3_wall:.1f} | | | {s3_wall / local_wall:.2f}x |"
    command = (
        f"python -m benchmarks.s3_throughput --data synthetic --objects {args.objects}"
        f" --human {args.human} --max-iterations {args.max_iterations}"
    )
    write_section(
        f"s3-synthetic-{args.objects}",
        f"""### From S3 at scale: {args.objects:,} synthetic images

benchmarks/scale.py's images ({args.objects:,} 28x28 PNGs of 3 shapes; this run spent
{generated:.0f} s generating them, 0 when found generated), labeled first from local disk,
then with the input manifest, the objects, the ground truth and the workspace in a bucket
of a SeaweedFS {version} server on loopback. The job is scale.py's: at most
{args.human:,} human labels, {args.max_iterations} iteration(s), seed 0, so what grows
with the data is prepare, infer, threshold and the output manifest. Each step runs as its
own `labelpilot worker` process, one after another, as the step Jobs do; CPU seconds
(user + system, in brackets) and peak RSS (the RSS columns) are that process's alone
(`os.wait4`'s rusage; the server's CPU is not in them), the interpreter and its libraries
included (about 1 GiB with torch in train and infer). obj/s: objects/s as above. Upload of
the objects (`s3fs.put`, batched): {uploaded:.1f} s ({args.objects / uploaded:,.0f}
objects/s). The output manifest the job wrote to the bucket, read back: {lines:,} lines.
Machine: {machine()}; revision {git_revision()}.
Command: `{command}`.
{args.note + chr(10) if args.note else ""}
{header}
{table}
{wall}

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
