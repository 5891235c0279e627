"""The output manifest: one line per input object, in input order. An object this job
labeled gets the label attribute and its metadata; a failed one the failure metadata; any
other (unlabeled, or a chained job's pre-labeled object) its input line as it was, byte for
byte.

Written by `prepare`, after every `human` and `threshold` step and by `export`, so that a job
that fails or is stopped still leaves what it has labeled so far; the steps' summaries then
carry its URI (status.outputManifestUri). Each write replaces the file atomically (a
temporary file renamed: labelpilot.engine.storage), and all of it derives from the
workspace's files, so a rerun writes the same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from labelpilot.api.run_config import TaskType
from labelpilot.engine import formats, storage
from labelpilot.engine.formats import LabelMeta
from labelpilot.engine.labels import HUMAN, LabelState, class_confidences_of, label_from_json
from labelpilot.worker.common import Context


def output_line(ctx: Context, obj: formats.DataObject, state: LabelState) -> dict[str, Any]:
    """The output record of `obj` (its input record when this job did not label it)."""
    cfg = ctx.config
    record = dict(obj.record)
    if obj.index in state.failed:
        return {
            **record,
            **formats.encode_failure(
                cfg.task_type,
                cfg.label_attribute_name,
                state.failed[obj.index],
                job_name=cfg.job_name,
                creation_date=state.failed_created.get(obj.index),
            ),
        }
    row = state.labeled.get(obj.index)
    if row is None:
        return record
    value = row["label"]
    if cfg.task_type is TaskType.SEMANTIC_SEGMENTATION:
        label: Any = value["mask"]
    elif cfg.task_type is TaskType.OBJECT_DETECTION or cfg.task_type.is_multilabel:
        label = label_from_json(cfg.task_type, value, cfg.labels)
    else:
        label = int(value)
    meta = LabelMeta(
        confidence=float(row.get("confidence", 1.0)),
        human_annotated=row["source"] == HUMAN,
        job_name=cfg.job_name,
        creation_date=row.get("created"),
        box_confidences=value.get("boxConfidences") if isinstance(value, dict) else None,
        class_confidences=class_confidences_of(value) or class_confidences_of(row),
    )
    return {
        **record,
        **formats.encode_label(
            cfg.task_type, cfg.label_attribute_name, label, meta, labels=cfg.labels
        ),
    }


def output_text(ctx: Context, obj: formats.DataObject, state: LabelState) -> str:
    """The output line of `obj`: its input line when this job neither labeled nor failed it."""
    if obj.line is not None and obj.index not in state.failed and obj.index not in state.labeled:
        return obj.line
    return storage.dumps(output_line(ctx, obj, state))


def write(ctx: Context, objects: Sequence[formats.DataObject], state: LabelState) -> str:
    """Writes the output manifest of `state`; returns its URI."""
    uri = ctx.ws.output_manifest
    storage.write_lines(uri, (output_text(ctx, o, state) + "\n" for o in objects))
    return uri


def write_all(ctx: Context) -> str:
    """Writes the output manifest of every step that completed, so that rerunning an
    earlier step never takes labels out of it; returns its URI."""
    objects = ctx.objects()
    return write(ctx, objects, LabelState.load(ctx.ws, objects=objects))
