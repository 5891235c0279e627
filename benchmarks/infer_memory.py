"""Peak memory of `infer` on large photos: the chunk bound by decoded bytes at work.

A two-class image job of `--objects` synthetic photos of `--width` x `--height` pixels
(JPEG; a red or a blue rectangle on a gradient) is prepared, labeled by the simulated
workforce and trained in this process; then `labelpilot worker infer` runs once per given
code tree (`--tree NAME=OPERATOR_DIR`, e.g. the `operator/` folder of an older revision
unpacked with `git archive`), each in a subprocess of its own, on the same workspace with
the decoded-images cache removed (every image decoded from its JPEG, as when the cache
holds only a part of a job's images). It reports each run's peak RSS and wall time, and
how far each tree's predictions are from the first tree's.

Run: `.venv/bin/python -m benchmarks.infer_memory [--objects N] [--width W --height H]
[--tree NAME=DIR ...] [--work DIR]`; results go to BENCHMARKS.md, section `infer-memory`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.common import REPO, git_revision, machine, write_section
from labelpilot.api.run_config import RunConfig
from labelpilot.engine import storage
from labelpilot.engine.workspace import Workspace
from labelpilot.worker.cli import run_step

LABELS = ["red", "blue"]


def photos(folder: Path, n: int, width: int, height: int) -> tuple[Path, Path]:
    """`n` photos and the job's input manifest and ground truth."""
    rng = np.random.default_rng(0)
    (folder / "objects").mkdir(parents=True)
    gradient = np.linspace(40, 200, width, dtype=np.float32)[None, :, None]
    background = np.broadcast_to(gradient, (height, width, 3)).astype(np.uint8)
    inputs, truth = [], []
    for i in range(n):
        label = int(rng.integers(2))
        image = background.copy()
        x, y = int(rng.integers(width // 2)), int(rng.integers(height // 2))
        image[y : y + height // 3, x : x + width // 3] = (
            (220, 30, 30) if label == 0 else (30, 30, 220)
        )
        path = folder / "objects" / f"{i:05d}.jpg"
        Image.fromarray(image).save(path, quality=90)
        inputs.append({"source-ref": str(path)})
        truth.append(
            {
                "source-ref": str(path),
                "label": label,
                "label-metadata": {
                    "class-name": LABELS[label],
                    "confidence": 1.0,
                    "type": "groundtruth/image-classification",
                    "human-annotated": "yes",
                    "creation-date": "2026-01-01T00:00:00.000000",
                    "job-name": "labeling-job/truth",
                },
            }
        )
    manifest, ground_truth = folder / "input.manifest", folder / "ground-truth.manifest"
    storage.write_jsonl(str(manifest), inputs)
    storage.write_jsonl(str(ground_truth), truth)
    return manifest, ground_truth


def worker_once(step: str, config_path: Path, operator: str) -> tuple[float, float]:
    """Peak RSS (MiB) and wall seconds of one `labelpilot worker <step>` (iteration 0) in a
    subprocess running the code of `operator`."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([operator, str(REPO)])}
    command = [sys.executable, "-m", "labelpilot.cli", "worker", step, "--iteration", "0"]
    started = time.perf_counter()
    child = subprocess.Popen([*command, "--config", str(config_path)], env=env)
    _, status, usage = os.wait4(child.pid, 0)
    if status != 0:
        raise RuntimeError(f"{step} with {operator} exited with status {status}")
    return usage.ru_maxrss / 1024, time.perf_counter() - started


def probabilities(ws: Workspace) -> np.ndarray:
    with np.load(ws.inference_shard(0, 0, 1)) as shard:
        return np.asarray(shard["probs"])


def photo_job(
    work: Path, objects: int, width: int, height: int, human_batch: int
) -> tuple[RunConfig, Path]:
    """A two-class job of `objects` photos in `work` (iteration 0 sends `human_batch` of them
    to the simulated workforce) and its config file."""
    manifest, truth = photos(work / "data", objects, width, height)
    config = RunConfig.model_validate(
        {
            "job_name": "photo-memory",
            "task_type": "image-classification",
            "label_attribute_name": "label",
            "labels": LABELS,
            "input_manifest_uri": str(manifest),
            "output_uri": str(work / "job"),
            "workforce": {"simulated": {"ground_truth_uri": str(truth)}},
            "allow_small_dataset": True,
            "max_concurrent_task_count": human_batch,
            "model_options": {"epochs": 3, "threads": 1, "device": "cpu"},
        }
    )
    config_path = work / "config.json"
    config_path.write_text(config.to_json())
    return config, config_path


def photo_arguments(doc: str, name: str) -> tuple[argparse.Namespace, dict[str, str], Path]:
    """The photo benchmarks' arguments, the code trees to compare and the work folder."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--objects", type=int, default=240)
    parser.add_argument("--width", type=int, default=1600)
    parser.add_argument("--height", type=int, default=1200)
    parser.add_argument("--tree", action="append", default=[], help="NAME=OPERATOR_DIR")
    parser.add_argument("--work", help="a folder for the data and workspace (default: temporary)")
    args = parser.parse_args()
    trees = dict(t.split("=", 1) for t in args.tree) or {"this": str(REPO / "operator")}
    return args, trees, Path(args.work or tempfile.mkdtemp(prefix=f"{name}-"))


def heading(step: str, args: argparse.Namespace, trees: dict[str, str]) -> list[str]:
    """A photo benchmark section's title, machine, revision and command."""
    return [
        f"## {step} on large photos: peak memory",
        "",
        f"Machine: {machine()}. Revision {git_revision()}. Command: `.venv/bin/python -m "
        f"benchmarks.{step}_memory --objects {args.objects} --width {args.width} "
        f"--height {args.height} " + " ".join(f"--tree {name}=..." for name in trees) + "`.",
        "",
    ]


def main() -> None:
    args, trees, work = photo_arguments(__doc__, "infer-memory")
    config, config_path = photo_job(work, args.objects, args.width, args.height, args.objects // 4)
    ws = Workspace(config.output_uri)
    for step in ("prepare", "human", "train"):
        run_step(step, config, None if step == "prepare" else 0)
    storage.remove(ws.decoded_images)
    rows, first = [], None
    for name, operator in trees.items():
        storage.remove(ws.inference_shard(0, 0, 1))
        peak, seconds = worker_once("infer", config_path, operator)
        probs = probabilities(ws)
        first = probs if first is None else first
        difference = float(np.abs(probs - first).max())
        rows.append(f"| {name} | {len(probs)} | {peak:,.0f} | {seconds:.1f} | {difference:.1e} |")
        print(
            json.dumps({"tree": name, "objects": len(probs), "peakMiB": peak, "seconds": seconds})
        )
    decoded = args.width * args.height * 3
    body = "\n".join(
        [
            *heading("infer", args, trees),
            f"{args.objects} JPEG photos of {args.width}x{args.height} ({decoded / 2**20:.1f} MiB "
            "each decoded); `infer` predicts the validation objects and the pool, every image "
            "decoded from its file (the decoded-images cache removed). Peak RSS of the step's "
            "process (torch and the interpreter included); the last column: the largest "
            "difference of a predicted probability from the first row's.",
            "",
            "| code | objects predicted | peak RSS (MiB) | wall (s) | max prob difference |",
            "|---|---|---|---|---|",
            *rows,
        ]
    )
    write_section("infer-memory", body)


if __name__ == "__main__":
    main()
