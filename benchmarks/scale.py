"""How the engine's time and memory grow with the data: 10k to 1M objects.

Generates synthetic data sets on disk (streamed: never held whole), then runs one job
through every step as a separate `labelpilot worker <step>` process, one at a time, the way
the step Jobs run them (prepare, human, train, infer, threshold, export). For each step it
records the wall time, the CPU time and the peak resident memory of that process alone
(`os.wait4`'s rusage of the child).

Data sets:
- `text`: short sentences from a small generator, 3 topics; each sentence mixes 2-4 topic
  words among shared filler words, and one word in eight comes from another topic (the
  signal is learnable, not perfect);
- `image`: 28x28 grayscale PNGs of 3 classes (horizontal stripes, vertical stripes, a
  ring), at a random phase / position, contrast and noise.

The job: one iteration (`--max-iterations`, default 1) with the simulated workforce, at most
`--human` human labels (default 1000: iteration 0's validation and training batch), so
training sees the same number of labels at every size and the steps that scale with the
data are prepare, infer, threshold, the output manifest writes and export.

Run: `python -m benchmarks.scale run --kind text --objects 10000 --work /tmp/scale`
(`--encoder scratch` for the text model; `--tag before` to keep a run apart), then
`python -m benchmarks.scale report --work /tmp/scale --intro FILE` for the tables in
BENCHMARKS.md (section `scale`; FILE holds the section's heading and prose: what was
measured where, and why). Each run lands in
`<work>/results/<kind>-<objects>-<encoder>-<tag>.json`; a rerun of the same replaces it.
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import math
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import git_revision, machine, write_section

LABELPILOT = [sys.executable, "-m", "labelpilot.cli"]
LABELS = ["sports", "weather", "finance"]
SHAPES = ["horizontal", "vertical", "ring"]
TOPIC_WORDS = {
    "sports": "goal match team coach league season striker referee stadium trophy"
    " penalty tournament",
    "weather": "rain storm cloud wind forecast sunny thunder humid snow frost drizzle breeze",
    "finance": "market stock bond investor profit dividend bank loan inflation shares"
    " revenue budget",
}
FILLER = (
    "the a this that today yesterday again after before people said very more some new old big"
    " small report local city news week morning evening during"
)
TRUTH_META = {"human_annotated": True, "job_name": "ground-truth"}
CREATED = "2024-01-01T00:00:00.000000"


def sentence(topic: int, rng: np.random.Generator) -> str:
    words = TOPIC_WORDS[LABELS[topic]].split()
    n_topic = int(rng.integers(2, 5))
    chosen = [words[i] for i in rng.integers(0, len(words), n_topic)]
    for i in range(n_topic):
        if rng.random() < 0.125:
            other = LABELS[(topic + int(rng.integers(1, len(LABELS)))) % len(LABELS)]
            other_words = TOPIC_WORDS[other].split()
            chosen[i] = other_words[int(rng.integers(len(other_words)))]
    fillers = FILLER.split()
    filler = [fillers[i] for i in rng.integers(0, len(fillers), int(rng.integers(4, 9)))]
    out = filler + chosen
    rng.shuffle(out)
    return " ".join(out).capitalize() + "."


def shape_image(kind: int, rng: np.random.Generator, size: int = 28) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    period = float(rng.uniform(5, 9))
    phase = float(rng.uniform(0, 2 * math.pi))
    if kind == 0:
        ink = np.sin(2 * math.pi * y / period + phase) > 0.3
    elif kind == 1:
        ink = np.sin(2 * math.pi * x / period + phase) > 0.3
    else:
        cy, cx = rng.uniform(9, 19, 2)
        radius = float(rng.uniform(5, 9))
        ink = np.abs(np.hypot(y - cy, x - cx) - radius) < 1.5
    pixels = ink * float(rng.uniform(120, 255)) + rng.normal(
        0, float(rng.uniform(5, 40)), ink.shape
    )
    return np.clip(np.round(pixels), 0, 255).astype(np.uint8)


def _png(pixels: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def records(kind: str, n: int, folder: Path, seed: int) -> Iterator[tuple[dict[str, Any], int]]:
    """(input record, class) per object, writing image files as it goes."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        label = int(rng.integers(len(LABELS)))
        if kind == "text":
            yield {"source": sentence(label, rng)}, label
        else:
            path = folder / "objects" / f"{i // 10000:03d}" / f"{i:07d}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(_png(shape_image(label, rng)))
            yield {"source-ref": str(path)}, label


def generate(kind: str, n: int, folder: Path, seed: int = 0) -> None:
    """input.manifest, ground-truth.manifest and labels.txt under `folder`, a line at a time."""
    from labelpilot.api.run_config import TaskType
    from labelpilot.engine import formats

    if (folder / "done").exists():
        return
    folder.mkdir(parents=True, exist_ok=True)
    task = TaskType.TEXT_CLASSIFICATION if kind == "text" else TaskType.IMAGE_CLASSIFICATION
    names = LABELS if kind == "text" else SHAPES
    meta = formats.LabelMeta(confidence=1.0, creation_date=CREATED, **TRUTH_META)  # type: ignore[arg-type]
    with (
        open(folder / "input.manifest", "w") as inputs,
        open(folder / "ground-truth.manifest", "w") as truth,
    ):
        for record, label in records(kind, n, folder, seed):
            inputs.write(json.dumps(record) + "\n")
            encoded = formats.encode_label(task, "label", label, meta, labels=names)
            truth.write(json.dumps({**record, **encoded}) + "\n")
    (folder / "labels.txt").write_text("".join(f"{name}\n" for name in names))
    (folder / "done").write_text("")


@dataclass
class StepRun:
    step: str
    iteration: int | None
    seconds: float
    peak_rss_mib: float
    exit_code: int
    cpu_seconds: float | None = None  # user + system: less swayed by a shared machine


@dataclass
class ScaleRun:
    kind: str
    objects: int
    encoder: str
    tag: str
    revision: str
    human_budget: int
    iterations: int
    steps: list[StepRun] = field(default_factory=list)
    machine_labeled: int | None = None
    human_labeled: int | None = None
    generate_seconds: float = 0.0
    command: str = ""


def run_step(argv: list[str], log: Path) -> tuple[StepRun, dict[str, Any]]:
    """Runs one worker step; its time and peak RSS are those of the child process alone."""
    with open(log, "a") as err, open(log.with_suffix(".out"), "w+") as out:
        started = time.perf_counter()
        child = subprocess.Popen(argv, stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        lines = [line for line in out.read().splitlines() if line.startswith("{")]
    summary = json.loads(lines[-1]) if lines else {}
    step, iteration = argv[argv.index("worker") + 1], None
    if "--iteration" in argv:
        iteration = int(argv[argv.index("--iteration") + 1])
    cpu = round(usage.ru_utime + usage.ru_stime, 2)
    rss = round(usage.ru_maxrss / 1024, 1)  # KiB on Linux
    return StepRun(step, iteration, round(seconds, 2), rss, child.returncode, cpu), summary


def config(kind: str, data: Path, output: Path, human: int, encoder: str, seed: int) -> str:
    from labelpilot.api.run_config import RunConfig

    options = {"encoder": encoder} if kind == "text" else {}
    cfg = RunConfig.model_validate(
        dict(
            job_name=f"scale-{kind}",
            task_type="text-classification" if kind == "text" else "image-classification",
            label_attribute_name="label",
            labels=(data / "labels.txt").read_text().split(),
            input_manifest_uri=str(data / "input.manifest"),
            output_uri=str(output),
            workforce={"simulated": {"ground_truth_uri": str(data / "ground-truth.manifest")}},
            max_concurrent_task_count=human,
            max_human_labeled=human,
            model_options=options,
            seed=seed,
        )
    )
    path = output.parent / f"{output.name}.config.json"
    path.write_text(cfg.to_json())
    return str(path)


def run(args: argparse.Namespace) -> ScaleRun:
    import shutil

    work = Path(args.work).resolve()
    data = work / "data" / f"{args.kind}-{args.objects}"
    started = time.perf_counter()
    generate(args.kind, args.objects, data, args.seed)
    encoder = args.encoder if args.kind == "text" else "cnn"  # the image default backbone
    name = f"{args.kind}-{args.objects}-{encoder}-{args.tag}"
    result = ScaleRun(
        args.kind,
        args.objects,
        encoder,
        args.tag,
        git_revision(),
        args.human,
        args.max_iterations,
        generate_seconds=round(time.perf_counter() - started, 1),
        command=shlex.join(["python", "-m", "benchmarks.scale", *sys.argv[1:]]),
    )
    output = work / "jobs" / name
    if output.exists():
        shutil.rmtree(output)
    output.mkdir(parents=True)
    cfg = config(args.kind, data, output, args.human, args.encoder, args.seed)
    log = work / "jobs" / f"{name}.log"
    log.write_text("")

    def step(name: str, iteration: int | None = None, *extra: str) -> dict[str, Any]:
        argv = [*LABELPILOT, "worker", name, "--config", cfg, *extra]
        if iteration is not None:
            argv += ["--iteration", str(iteration)]
        measured, summary = run_step(argv, log)
        result.steps.append(measured)
        print(f"{measured}", file=sys.stderr, flush=True)
        if measured.exit_code != 0:
            raise SystemExit(f"{name} failed: see {log}")
        return summary

    summary = step("prepare")
    for i in range(args.max_iterations if summary.get("next") == "human" else 0):
        if step("human", i).get("next") == "export":
            break
        step("train", i)
        step("infer", i, "--shard-index", "0", "--shard-count", "1")
        if step("threshold", i).get("next") == "export":
            break
    counters = step("export").get("labelCounters", {})
    result.machine_labeled = counters.get("machineLabeled")
    result.human_labeled = counters.get("humanLabeled")
    results = work / "results"
    results.mkdir(exist_ok=True)
    (results / f"{name}.json").write_text(json.dumps(asdict(result), indent=1))
    return result


# ---------------------------------------------------------------- report


def _per_step(run: dict[str, Any]) -> dict[str, tuple[float, float, float | None]]:
    """(wall seconds and CPU seconds summed over iterations, highest peak RSS) per step."""
    out: dict[str, tuple[float, float, float | None]] = {}
    for s in run["steps"]:
        seconds, rss, cpu = out.get(s["step"], (0.0, 0.0, 0.0))
        step_cpu = s.get("cpu_seconds")
        out[s["step"]] = (
            seconds + s["seconds"],
            max(rss, s["peak_rss_mib"]),
            None if cpu is None or step_cpu is None else cpu + step_cpu,
        )
    return out


def _cell(wall: float, rss: float, cpu: float | None) -> str:
    return f"{wall:.1f} s / {rss:.0f}" if cpu is None else f"{wall:.1f} s ({cpu:.1f}) / {rss:.0f}"


def exponent(x0: float, y0: float, x1: float, y1: float) -> str:
    if min(x0, y0, x1, y1) <= 0 or x0 == x1:
        return "-"
    return f"{math.log(y1 / y0) / math.log(x1 / x0):.2f}"


def per_object(n0: int, mib0: float, n1: int, mib1: float) -> str:
    """Bytes of peak RSS each object added between two sizes (the interpreter and its
    libraries, a constant, drop out)."""
    return f"{(mib1 - mib0) * 2**20 / (n1 - n0):,.0f}"


def _exponents(
    n0: int,
    at0: tuple[float, float, float | None] | None,
    n1: int,
    at1: tuple[float, float, float | None] | None,
) -> str:
    """Growth exponents of wall time, CPU time (where both runs have it) and peak RSS."""
    if at0 is None or at1 is None:
        return "-"
    parts = [f"t {exponent(n0, at0[0], n1, at1[0])}"]
    if at0[2] is not None and at1[2] is not None:
        parts.append(f"cpu {exponent(n0, at0[2], n1, at1[2])}")
    parts.append(f"m {exponent(n0, at0[1], n1, at1[1])}")
    return ", ".join(parts)


def _before_after(runs: list[dict[str, Any]], steps: list[str]) -> list[str]:
    """Peak RSS per step, `before` -> `after`, for each data set and size run with both."""
    by_key = {(r["kind"], r["encoder"], r["objects"], r["tag"]): r for r in runs}
    rows = []
    for kind, encoder, objects, tag in sorted(by_key):
        after = by_key.get((kind, encoder, objects, "after"))
        if tag != "before" or after is None:
            continue
        pb, pa = _per_step(by_key[(kind, encoder, objects, tag)]), _per_step(after)
        cells = [
            f"{pb[s][1]:.0f} -> {pa[s][1]:.0f} ({pa[s][1] / pb[s][1] - 1:+.0%})"
            if s in pb and s in pa
            else "-"
            for s in steps
        ]
        rows.append(f"| {kind}, {encoder}, {objects:,} | " + " | ".join(cells) + " |")
    if not rows:
        return []
    return [
        "**Peak RSS (MiB) before -> after the streaming fixes**",
        "",
        "| run | " + " | ".join(steps) + " |",
        "|---|" + "---|" * len(steps),
        *rows,
        "",
    ]


def report(args: argparse.Namespace) -> None:
    runs = [json.loads(p.read_text()) for p in sorted(Path(args.work, "results").glob("*.json"))]
    runs.sort(key=lambda r: (r["kind"], r["encoder"], r["tag"], r["objects"]))
    lines = []
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for r in runs:
        groups.setdefault((r["kind"], r["encoder"], r["tag"]), []).append(r)
    steps = ["prepare", "human", "train", "infer", "threshold", "export"]
    for (kind, encoder, tag), group in groups.items():
        lines += [
            f"**{kind}, {encoder} ({tag})**, revision {group[0]['revision']}: wall seconds "
            "(CPU seconds, where recorded) / peak RSS MiB, per step (one process each)",
            "",
            "| objects | " + " | ".join(steps) + " | machine-labeled |",
            "|---|" + "---|" * (len(steps) + 1),
        ]
        for r in group:
            per = _per_step(r)
            cells = [_cell(*per[s]) if s in per else "-" for s in steps]
            lines.append(
                f"| {r['objects']:,} | " + " | ".join(cells) + f" | {r['machine_labeled']} |"
            )
        for a, b in itertools.pairwise(group):
            pa, pb = _per_step(a), _per_step(b)
            cells = [_exponents(a["objects"], pa.get(s), b["objects"], pb.get(s)) for s in steps]
            lines.append(
                f"| exponent {a['objects']:,} to {b['objects']:,} | " + " | ".join(cells) + " | |"
            )
            added = [
                f"{per_object(a['objects'], pa[s][1], b['objects'], pb[s][1])} B"
                if s in pa and s in pb
                else "-"
                for s in steps
            ]
            lines.append("| peak RSS added per object | " + " | ".join(added) + " | |")
            cpu_added = [
                f"{(pb[s][2] - pa[s][2]) * 1e6 / (b['objects'] - a['objects']):,.0f} µs"
                if s in pa and s in pb and pa[s][2] is not None and pb[s][2] is not None
                else "-"
                for s in steps
            ]
            if any(cell != "-" for cell in cpu_added):
                lines.append("| CPU time added per object | " + " | ".join(cpu_added) + " | |")
        lines += ["", "Commands: " + "; ".join(f"`{r['command']}`" for r in group), ""]
    lines += _before_after(runs, steps)
    body = "\n".join(lines)
    if args.print:
        print(body)
    else:
        intro = Path(args.intro).read_text() if args.intro else ""
        write_section("scale", intro + f"\nMachine: {machine()}.\n\n" + body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(required=True)
    r = sub.add_parser("run")
    r.add_argument("--kind", choices=["text", "image"], required=True)
    r.add_argument("--objects", type=int, required=True)
    r.add_argument("--work", default="/tmp/labelpilot-scale")
    r.add_argument("--encoder", default="hybrid", help="text: hybrid | minilm | scratch")
    r.add_argument("--human", type=int, default=1000, help="human label budget")
    r.add_argument("--max-iterations", type=int, default=1)
    r.add_argument("--tag", default="current")
    r.add_argument("--seed", type=int, default=0)
    r.set_defaults(func=run)
    g = sub.add_parser("report")
    g.add_argument("--work", default="/tmp/labelpilot-scale")
    g.add_argument("--intro", help="a file with the section's text above the tables")
    g.add_argument("--print", action="store_true")
    g.set_defaults(func=report)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
