"""The output manifest to export, and what the export needs to know of its job.

A job's output folder (its workspace) holds the output manifest and report.json, which
names the task type, the label attribute and the labels. A manifest given alone (another
job's, or Ground Truth's own) needs the task type and attribute from the command line; its
labels are then read from its metadata (`class-name`, `class-map`, `internal-color-map`)
when not given.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from labelpilot.api.run_config import TaskType
from labelpilot.engine import formats, reasons, storage
from labelpilot.engine.confinement import DataRoots
from labelpilot.engine.exports.common import (
    FAILED,
    INVALID,
    UNLABELED,
    ExportError,
    Item,
    Left,
)
from labelpilot.engine.workspace import Workspace

REPORT = "report.json"


@dataclass(frozen=True)
class Job:
    task_type: TaskType
    attribute: str
    labels: tuple[str, ...]


@dataclass(frozen=True)
class Source:
    manifest: str
    objects: list[formats.DataObject]
    job: Job


def workspace_of(manifest: str) -> Workspace | None:
    """The workspace an output manifest sits in, when it sits where `export` writes it."""
    root = manifest
    for _ in range(3):
        root = storage.parent(root)
    ws = Workspace(root)
    return ws if ws.output_manifest == manifest.rstrip("/") else None


def read_report(ws: Workspace) -> dict[str, Any]:
    """report.json's fields; {} when there is none."""
    if not storage.exists(ws.report):
        return {}
    try:
        report = storage.read_json(ws.report)
    except (OSError, ValueError) as error:
        raise ExportError(f"{ws.report} cannot be read: {reasons.describe(error)}") from error
    if not isinstance(report, dict):
        raise ExportError(f"{ws.report} is not a JSON object")
    return report


def open_source(
    *,
    workspace: str | None = None,
    manifest: str | None = None,
    task_type: str | None = None,
    attribute: str | None = None,
    labels: Sequence[str] | None = None,
) -> Source:
    """The manifest of a job's output folder (`workspace`) or the `manifest` given, with
    its job: the flags given win over report.json, report.json over the manifest's
    metadata. Raises ExportError naming what is missing."""
    if (workspace is None) == (manifest is None):
        raise ExportError("give one of the job's output folder (JOB_OUTPUT) and --manifest")
    if workspace is not None:
        ws: Workspace | None = Workspace(workspace)
        uri = Workspace(workspace).output_manifest
    else:
        uri = str(manifest)
        ws = workspace_of(uri)
    report = read_report(ws) if ws is not None else {}
    if workspace is not None and not report:
        raise ExportError(
            f"{workspace} holds no {REPORT}: is it a finished job's output folder? "
            "(for a manifest alone, give --manifest with --task-type and --attribute)"
        )
    kind = task_type or report.get("taskType")
    attr = attribute or report.get("labelAttributeName")
    if kind is None or attr is None:
        raise ExportError(
            f"{uri}: no {REPORT} beside it names the task type and the label attribute; "
            "give --task-type and --attribute"
        )
    try:
        kind = TaskType(kind)
    except ValueError as error:
        choices = ", ".join(t.value for t in TaskType)
        raise ExportError(f"task type {kind!r} is not one of {choices}") from error
    try:
        objects = formats.read_manifest(uri)
    except OSError as error:
        raise ExportError(f"{uri} cannot be read: {reasons.describe(error)}") from error
    named = labels or report.get("labels") or labels_of(objects, kind, attr, uri)
    if not named:
        raise ExportError(f"{uri} names no labels in its metadata; give --labels")
    return Source(uri, objects, Job(kind, attr, tuple(named)))


def labels_of(
    objects: Sequence[formats.DataObject], task_type: TaskType, attr: str, uri: str
) -> list[str]:
    """The labels the manifest's metadata names, ordered by class id. Raises ExportError
    when two objects give one class id different names."""
    names: dict[int, tuple[str, int]] = {}  # class id: (name, line index that named it)
    for obj in objects:
        record = obj.record
        meta = record.get(formats.metadata_key(task_type, attr))
        if obj.failed or not isinstance(meta, dict):
            continue
        for cid, name in _named_classes(task_type, record.get(attr), meta):
            first = names.setdefault(cid, (name, obj.index))
            if first[0] != name:
                raise ExportError(
                    f"{uri}: class id {cid} is {first[0]!r} on line {first[1] + 1} but "
                    f"{name!r} on line {obj.index + 1}; give --labels"
                )
    ordered = [names[cid][0] for cid in sorted(names)]
    return list(dict.fromkeys(ordered))


def _named_classes(task_type: TaskType, value: Any, meta: dict[str, Any]) -> list[tuple[int, str]]:
    if task_type.is_classification:
        name = meta.get("class-name")
        if isinstance(name, str) and isinstance(value, int) and not isinstance(value, bool):
            return [(value, name)]
        return []
    if task_type is TaskType.OBJECT_DETECTION or task_type.is_multilabel:
        entries = meta.get("class-map")
        pairs = entries.items() if isinstance(entries, dict) else []
        return [(int(k), v) for k, v in pairs if _is_id(k) and isinstance(v, str)]
    entries = meta.get("internal-color-map")
    pairs = entries.items() if isinstance(entries, dict) else []
    return [
        (int(k) - 1, v["class-name"])
        for k, v in pairs
        if _is_id(k)
        and int(k) > 0
        and isinstance(v, dict)
        and isinstance(v.get("class-name"), str)
        and v["class-name"] != formats.BACKGROUND
    ]


def _is_id(key: Any) -> bool:
    return isinstance(key, str) and key.isascii() and key.isdecimal()


def items(source: Source, left: list[Left], *, roots: DataRoots | None = None) -> Iterator[Item]:
    """The labeled objects, one at a time (a segmentation item holds its mask, read only
    under `roots` when given); each other object goes to `left` with the reason."""
    job = source.job
    base = storage.parent(source.manifest)
    meta_key = formats.metadata_key(job.task_type, job.attribute)
    for obj in source.objects:
        meta = obj.record.get(meta_key)
        failure = meta.get("failure-reason") if isinstance(meta, dict) else None
        labeled = formats.has_label(job.task_type, job.attribute, obj.record)
        if failure is not None and not labeled:
            left.append(Left(obj.index, obj.key, FAILED, str(failure)))
            continue
        if obj.failed:
            left.append(Left(obj.index, obj.key, INVALID, str(obj.error)))
            continue
        if not labeled:
            label_key = formats.label_key(job.task_type, job.attribute)
            left.append(Left(obj.index, obj.key, UNLABELED, f"no {label_key!r}"))
            continue
        if not job.task_type.is_text and obj.source_ref is None:
            left.append(Left(obj.index, obj.key, INVALID, "an image needs a 'source-ref'"))
            continue
        try:
            label = formats.decode_label(
                job.task_type,
                job.attribute,
                obj.record,
                base=base,
                labels=job.labels,
                roots=roots,
            )
        except formats.FormatError as error:
            left.append(Left(obj.index, obj.key, INVALID, str(error)))
            continue
        yield Item(obj.index, obj.source_ref, obj.source, label)
