"""A chained job's pre-labeled objects: input lines that already carry the label attribute
and its metadata (an earlier job's output manifest). Like Ground Truth, the job labels only
the objects that lack the attribute; the others keep their label, byte for byte.

With `existing_labels: trusted` their labels also become training data: `prepare` decodes
each into a label row (source `pre`) in the workspace's pre-labels.jsonl. They never join
the validation set (docs/ml.md, "Chained jobs"). A trusted label that cannot be decoded
fails the job (InvalidExistingLabel) naming the object and the field; an object that cannot
be read stays pre-labeled but is left out of training.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from labelpilot.api.run_config import RunConfig, TaskType
from labelpilot.api.steps import StepFailed
from labelpilot.engine import formats, storage
from labelpilot.engine.confinement import DataRoots
from labelpilot.engine.formats import DataObject
from labelpilot.engine.labels import PRE, label_to_json, object_id
from labelpilot.engine.workspace import Workspace

INVALID = "InvalidExistingLabel"


def find(cfg: RunConfig, objects: Sequence[DataObject]) -> list[int]:
    """The objects (valid lines only) whose line carries the job's label attribute."""
    return [
        o.index
        for o in objects
        if not o.failed and formats.carries_label(cfg.task_type, cfg.label_attribute_name, o.record)
    ]


def rows(cfg: RunConfig, ws: Workspace, objects: Sequence[DataObject]) -> list[dict[str, Any]]:
    """The label rows of trusted pre-labeled `objects` (masks written into the workspace);
    raises StepFailed (InvalidExistingLabel) for a label that cannot be decoded."""
    roots = DataRoots.for_job(cfg.data_roots, cfg.input_manifest_uri)
    base = storage.parent(cfg.input_manifest_uri)
    out = []
    for obj in objects:
        try:
            label = formats.decode_label(
                cfg.task_type,
                cfg.label_attribute_name,
                obj.record,
                base=base,
                labels=cfg.labels,
                roots=roots,
            )
        except formats.FormatError as error:
            raise StepFailed(INVALID, _refusal(cfg, obj, error)) from error
        out.append(
            {
                "index": obj.index,
                "object": object_id(obj),
                "label": _stored(cfg, ws, obj.index, label),
                "source": PRE,
            }
        )
    return out


def _stored(cfg: RunConfig, ws: Workspace, index: int, label: Any) -> Any:
    if cfg.task_type is not TaskType.SEMANTIC_SEGMENTATION:
        return label_to_json(cfg.task_type, label)
    uri = ws.pre_label_mask(index)
    formats.write_mask_png(uri, label, formats.color_map(cfg.labels))
    return label_to_json(cfg.task_type, label, mask_uri=uri)


def _refusal(cfg: RunConfig, obj: DataObject, error: Exception) -> str:
    key = formats.label_key(cfg.task_type, cfg.label_attribute_name)
    what = obj.key if obj.key is not None else "(no source)"
    return (
        f"object {obj.index} ({what[:200]!r}): its existing label {key!r} cannot be used "
        f"as training data: {error}; fix the line, or set existingLabels: Ignore "
        "(--existing-labels ignore) to keep it without training on it"
    )
