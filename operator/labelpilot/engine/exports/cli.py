"""`labelpilot export`: a finished job's labels as COCO, YOLO, Pascal VOC or Hugging Face
JSON Lines. Only objects with a label are exported; the others (failed, unlabeled, a label
that cannot be read, one the format cannot hold) are counted in the summary it prints and
listed in `not-exported.jsonl` under the output folder."""

from __future__ import annotations

import argparse
import sys

from labelpilot.api.run_config import ExportFormat


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
        choices=[f.value for f in ExportFormat],
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
            labels=[name.strip() for name in args.labels.split(",")] if args.labels else None,
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
    """Exports the job's labels to the new or empty folder `out` in format `fmt`; returns
    the summary. Raises ExportError for what cannot be exported at all."""
    from labelpilot.engine import storage
    from labelpilot.engine.exports import run, source
    from labelpilot.engine.exports.common import ExportError

    src = source.open_source(
        workspace=workspace,
        manifest=manifest,
        task_type=task_type,
        attribute=attribute,
        labels=labels,
    )
    if storage.listdir(out):
        raise ExportError(f"{out} is not empty: give a new or empty folder")
    return run.export(ExportFormat(fmt), src, out).summary()
