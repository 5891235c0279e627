"""`labelpilot export`: a finished job's labels as COCO, YOLO, Pascal VOC or Hugging Face
JSON Lines. Only objects with a label are exported; the others (failed, unlabeled, a label
that cannot be read, one the format cannot hold) are counted in the summary it prints and
listed in `not-exported.jsonl` under the output folder."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from typing import Any

FORMATS = {  # format: the task types it holds
    "coco": ("object-detection", "semantic-segmentation"),
    "yolo": ("object-detection",),
    "voc": ("object-detection",),
    "jsonl": ("image-classification", "text-classification"),
}
NOT_EXPORTED = "not-exported.jsonl"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "export",
        help="export a job's labels as COCO, YOLO, Pascal VOC or Hugging Face JSON Lines",
        description=__doc__,
    )
    p.add_argument(
        "job_output",
        nargs="?",
        metavar="JOB_OUTPUT",
        help="the job's output folder (spec.output.uri: holds report.json and "
        "manifests/output/output.manifest)",
    )
    p.add_argument(
        "--manifest",
        help="an output manifest instead of JOB_OUTPUT (a Ground Truth job's too); without "
        "report.json beside it, give --task-type and --attribute",
    )
    p.add_argument(
        "--format",
        required=True,
        choices=sorted(FORMATS),
        help="coco: boxes or masks; yolo, voc: boxes; jsonl: classification",
    )
    p.add_argument("--out", required=True, help="folder to write (new or empty)")
    p.add_argument("--task-type", help="the job's task type (default: from report.json)")
    p.add_argument("--attribute", help="the label attribute name (default: from report.json)")
    p.add_argument(
        "--labels",
        help="the job's labels, comma-separated, in class-id order (default: from "
        "report.json, else the manifest's metadata)",
    )
    p.set_defaults(func=main, extra="worker")


def main(args: argparse.Namespace) -> int:
    from labelpilot.engine.exports.common import ExportError

    try:
        summary = export(
            args.format,
            args.out,
            workspace=args.job_output,
            manifest=args.manifest,
            task_type=args.task_type,
            attribute=args.attribute,
            labels=args.labels.split(",") if args.labels else None,
        )
    except ExportError as error:
        print(f"labelpilot export: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"labelpilot export: {error}", file=sys.stderr)
        return 1
    print(summary)
    return 0


def export(
    fmt: str,
    out: str,
    *,
    workspace: str | None = None,
    manifest: str | None = None,
    task_type: str | None = None,
    attribute: str | None = None,
    labels: list[str] | None = None,
) -> str:
    """Exports the job's labels to folder `out` in format `fmt`; returns the summary.
    Raises ExportError for what cannot be exported at all."""
    from labelpilot.engine import storage
    from labelpilot.engine.exports import coco, jsonl, source, voc, yolo
    from labelpilot.engine.exports.common import REASONS, ExportError, Left

    src = source.open_source(
        workspace=workspace,
        manifest=manifest,
        task_type=task_type,
        attribute=attribute,
        labels=labels,
    )
    job = src.job
    if job.task_type.value not in FORMATS[fmt]:
        fits = [f for f, kinds in FORMATS.items() if job.task_type.value in kinds]
        raise ExportError(
            f"{fmt} holds {' and '.join(FORMATS[fmt])} labels; {src.manifest} holds "
            f"{job.task_type.value} labels: export them as {' or '.join(fits)}"
        )
    if storage.listdir(out):
        raise ExportError(f"{out} is not empty: give a new or empty folder")
    left: list[Left] = []
    items = source.items(src, left)
    files: list[str]
    if fmt == "coco":
        description = f"labelpilot export of {src.manifest}"
        files = coco.write(out, items, job.task_type, job.labels, description)
    elif fmt == "yolo":
        files = yolo.write(out, items, job.labels, left)
    elif fmt == "voc":
        files = voc.write(out, items, job.labels, left)
    else:
        files = jsonl.write(out, items, job.task_type, job.labels, left)
    left.sort(key=lambda entry: entry.index)
    listing = storage.join(out, NOT_EXPORTED)
    storage.write_jsonl(listing, [entry.to_json() for entry in left])
    counts: Counter[str] = Counter(entry.reason for entry in left)
    total = len(src.objects)
    shown: list[Any] = [f"{counts[reason]} {reason}" for reason in REASONS]
    return (
        f"exported {total - len(left)} of {total} objects of {src.manifest} as {fmt}: "
        f"{len(files)} files under {out}\n"
        f"not exported: {', '.join(shown)} (listed in {listing})"
    )
