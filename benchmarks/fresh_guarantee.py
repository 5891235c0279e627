"""Guarantee check of a validation policy over many seeds, fast: the real steps, a
simulated model.

Each seed is a job on N inline text objects (10 classes) run through the real `prepare`,
`human` (simulated workforce, no errors) and `threshold` steps, with `train` and `infer`
replaced by a simulated model whose scores are written as the inference files. The model
knows an object's latent difficulty u ~ U(0, 1) better as human labels H grow (skill
s = 0.5 + 0.35 (1 - exp(-H / 800))); it is wrong with probability 0.005 + 0.5 sigmoid(10 (u
- s)) and reports a top probability 0.1 + 0.9 sigmoid(5 (s - u) + N(0, 0.6)): miscalibrated,
so its own error estimates are wrong, and the error of the accepted objects rises slowly
through 1 - target along the threshold path (a hard case for the walk).
Counted: the (seed, iteration) searches whose machine labels are below the target, and the
seeds where any is (the union statement: at most delta of the seeds).

    python -m benchmarks.fresh_guarantee --policy fresh --seeds 200
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from labelpilot.api.run_config import RunConfig
from labelpilot.engine import storage
from labelpilot.engine.labels import LabelState
from labelpilot.engine.predictions import pack
from labelpilot.engine.workspace import Workspace
from labelpilot.ml.base import Predictions
from labelpilot.worker import human as human_step
from labelpilot.worker.cli import run_step
from labelpilot.worker.infer import objects_to_predict

CLASSES = 10


def write_dataset(folder: Path, n: int) -> tuple[Path, Path, np.ndarray]:
    truth = np.arange(n) % CLASSES
    lines, gt = [], []
    for j in range(n):
        source = f"object {j:06d}"
        lines.append(json.dumps({"source": source}))
        meta = {"class-name": str(truth[j]), "type": "groundtruth/text-classification"}
        gt.append(json.dumps({"source": source, "label": int(truth[j]), "label-metadata": meta}))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "input.manifest").write_text("\n".join(lines) + "\n")
    (folder / "ground-truth.manifest").write_text("\n".join(gt) + "\n")
    return folder / "input.manifest", folder / "ground-truth.manifest", truth


def simulated_inference(
    ws: Workspace, iteration: int, seed: int, truth: np.ndarray, difficulty: np.ndarray
) -> None:
    state = LabelState.load(ws, human_upto=iteration, machine_upto=iteration - 1)
    fresh = (
        [int(i) for i in storage.read_json(ws.selection(iteration - 1)).get("freshValidation", [])]
        if iteration
        else []
    )
    indices = objects_to_predict(state, fresh)
    rng = np.random.default_rng([seed, 99, iteration])
    skill = 0.5 + 0.35 * (1 - np.exp(-len(state.human) / 800))
    u = difficulty[indices]
    right = rng.random(len(u)) >= 0.005 + 0.5 / (1 + np.exp(-10 * (u - skill)))
    top = 0.1 + 0.9 / (1 + np.exp(-(5 * (skill - u) + rng.normal(0, 0.6, len(u)))))
    t = truth[indices]
    predicted = np.where(right, t, (t + 1 + rng.integers(0, CLASSES - 1, len(u))) % CLASSES)
    probs = np.repeat(((1 - top) / (CLASSES - 1))[:, None], CLASSES, axis=1)
    probs[np.arange(len(u)), predicted] = top
    storage.write_bytes(
        ws.inference_shard(iteration, 0, 1),
        pack(Predictions(probs=probs.astype(np.float32)), indices, [(1, 1, 1)] * len(u), {}),
    )


def one_job(
    seed: int, policy: str, n: int, batch: int, target: float, work: Path
) -> dict[str, Any]:
    data = work / "data"
    manifest, gt, truth = write_dataset(data, n)
    out = work / f"{policy}-s{seed}"
    config = RunConfig.model_validate(
        {
            "job_name": "guarantee",
            "task_type": "text-classification",
            "label_attribute_name": "label",
            "labels": [str(k) for k in range(CLASSES)],
            "input_manifest_uri": str(manifest),
            "output_uri": str(out),
            "workforce": {"simulated": {"ground_truth_uri": str(gt)}},
            "allow_small_dataset": True,
            "max_concurrent_task_count": batch,
            "target_accuracy": target,
            "validation_policy": policy,
            "seed": seed,
        }
    )
    difficulty = np.random.default_rng([seed, 98]).random(n)
    ws = Workspace(str(out))
    run_step("prepare", config)
    searches = []
    for i in range(50):
        run_step("human", config, i)
        simulated_inference(ws, i, seed, truth, difficulty)
        summary = run_step("threshold", config, i)
        rows = [r for r in storage.read_jsonl(ws.machine_labels(i)) if "label" in r]
        right = int(sum(int(r["label"]) == truth[r["index"]] for r in rows))
        searches.append({"iteration": i, "accepted": len(rows), "right": right})
        if summary.next != "human":
            break
    state = LabelState.load(ws)
    return {
        "seed": seed,
        "searches": searches,
        "human": len(state.human),
        "machine": len(state.machine),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--policy", default="fresh")
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--objects", type=int, default=4000)
    parser.add_argument("--batch", type=int, default=400)
    parser.add_argument("--target", type=float, default=0.95)
    parser.add_argument("--out", type=Path, help="the per-seed results (JSON Lines)")
    args = parser.parse_args()
    human_step.POLL_SECONDS = 0.0  # the simulated workforce answers at once
    jobs = []
    for seed in range(args.seeds):
        with tempfile.TemporaryDirectory() as tmp:
            jobs.append(
                one_job(seed, args.policy, args.objects, args.batch, args.target, Path(tmp))
            )
    if args.out:
        args.out.write_text("".join(json.dumps(j) + "\n" for j in jobs))
    searches = [s for j in jobs for s in j["searches"]]
    accepting = [s for s in searches if s["accepted"]]
    below = [s for s in accepting if s["right"] < args.target * s["accepted"]]
    seeds_below = {
        j["seed"]
        for j in jobs
        for s in j["searches"]
        if s["accepted"] and s["right"] < args.target * s["accepted"]
    }
    later = [s for s in accepting if s["iteration"] > 0]
    machine = [int(j["machine"]) for j in jobs]
    human = [int(j["human"]) for j in jobs]
    print(
        json.dumps(
            {
                "policy": args.policy,
                "seeds": args.seeds,
                "objects": args.objects,
                "batch": args.batch,
                "searches": len(searches),
                "searchesAccepting": len(accepting),
                "searchesBelowTarget": len(below),
                "seedsWithASearchBelowTarget": len(seeds_below),
                "laterSearchesAccepting": len(later),
                "iterationsMedian": statistics.median(len(j["searches"]) for j in jobs),
                "machineShareMedian": statistics.median(machine) / args.objects,
                "humanMedian": statistics.median(human),
                "accuracyOfAccepted": sum(s["right"] for s in accepting)
                / max(1, sum(s["accepted"] for s in accepting)),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
