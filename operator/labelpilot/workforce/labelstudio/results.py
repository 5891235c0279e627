"""LabelPilot labels <-> Label Studio result items (annotations and predictions).

- classification: one `choices` item naming the class;
- multi-label: one `choices` item naming the classes, none for an empty set (a submitted
  annotation with nothing chosen has an empty `result`): no class applies;
- boxes: one `rectanglelabels` item per box, x / y / width / height in percent of the image;
- masks: one `polygonlabels` item per region, points in percent (outer boundaries: a hole
  in a region is not drawn in the pre-annotation, and a drawn polygon fills its inside).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labelpilot.api.run_config import TaskType
from labelpilot.api.ui_config import Binding
from labelpilot.engine.formats import Boxes
from labelpilot.engine.quality import boxes_mean_iou, mask_mean_iou
from labelpilot.workforce import polygons
from labelpilot.workforce.labelstudio.interface import default_binding, result_type

Result = list[dict[str, Any]]
# A pre-annotation counts as kept when the person's answer is this close to it.
SAME_LABEL_IOU = 0.95


class ResultError(ValueError):
    """An annotation that does not hold a label of the job's task type and labels."""


def _item(
    task_type: TaskType, value: dict[str, Any], size: tuple[int, int] | None, binding: Binding
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "from_name": binding.control,
        "to_name": binding.object,
        "type": result_type(task_type),
        "value": value,
    }
    if size is not None:
        item["original_width"], item["original_height"] = size
        item["image_rotation"] = 0
    return item


def to_result(
    task_type: TaskType,
    label: Any,
    labels: list[str],
    size: tuple[int, int] | None = None,
    binding: Binding | None = None,
) -> Result:
    """A label as Label Studio result items of `binding`'s control (default: LabelPilot's
    config); `size` (width, height) for boxes and masks."""
    task_type = TaskType(task_type)
    binding = binding or default_binding(task_type)
    if task_type.is_classification:
        return [_item(task_type, {"choices": [labels[int(label)]]}, None, binding)]
    if task_type.is_multilabel:
        names = [labels[int(c)] for c in sorted(set(label))]
        return [_item(task_type, {"choices": names}, None, binding)] if names else []
    if size is None:
        raise ValueError("boxes and masks need the image size")
    width, height = size
    if task_type is TaskType.OBJECT_DETECTION:
        return [
            _item(
                task_type,
                {
                    "x": 100.0 * left / width,
                    "y": 100.0 * top / height,
                    "width": 100.0 * w / width,
                    "height": 100.0 * h / height,
                    "rotation": 0,
                    "rectanglelabels": [labels[int(cls)]],
                },
                size,
                binding,
            )
            for cls, left, top, w, h in np.asarray(label.boxes, dtype=np.float64)
        ]
    return [
        _item(
            task_type,
            {
                "points": [list(p) for p in polygons.to_percent(points, width, height)],
                "closed": True,
                "polygonlabels": [labels[int(cls) - 1]],
            },
            size,
            binding,
        )
        for cls, points in polygons.mask_to_polygons(np.asarray(label))
    ]


def _class_of(value: dict[str, Any], key: str, labels: list[str]) -> int:
    names = value.get(key) or []
    if len(names) != 1 or names[0] not in labels:
        raise ResultError(f"{key} {names!r} is not one of the job's labels")
    return labels.index(names[0])


def _classes_of(items: Result, labels: list[str]) -> list[int]:
    names = {str(n) for item in items for n in item["value"].get("choices") or []}
    foreign = names - set(labels)
    if foreign:
        raise ResultError(f"choices {sorted(foreign)!r} are not among the job's labels")
    return sorted(labels.index(n) for n in names)


def from_result(
    task_type: TaskType,
    result: Result,
    labels: list[str],
    size: tuple[int, int] | None = None,
    binding: Binding | None = None,
) -> Any:
    """The label a person gave with `binding`'s control (default: LabelPilot's config);
    raises ResultError for a foreign answer, or an empty one (but for multi-label tasks:
    no class chosen is the empty set)."""
    task_type = TaskType(task_type)
    control = (binding or default_binding(task_type)).control
    items = [
        r
        for r in result or []
        if r.get("from_name") == control and r.get("type") == result_type(task_type)
    ]
    if task_type.is_classification:
        if not items:
            raise ResultError("no class chosen")
        return _class_of(items[-1]["value"], "choices", labels)
    if task_type.is_multilabel:
        return _classes_of(items, labels)
    if size is None:
        raise ValueError("boxes and masks need the image size")
    width, height = size
    if task_type is TaskType.OBJECT_DETECTION:
        rows = []
        for item in items:
            v = item["value"]
            if float(v.get("rotation") or 0.0) != 0.0:
                raise ResultError("rotated boxes are not supported")
            rows.append(
                [
                    _class_of(v, "rectanglelabels", labels),
                    v["x"] * width / 100.0,
                    v["y"] * height / 100.0,
                    v["width"] * width / 100.0,
                    v["height"] * height / 100.0,
                ]
            )
        return Boxes(width, height, 3, np.asarray(rows, dtype=np.float32).reshape(-1, 5))
    drawn = [
        (
            _class_of(item["value"], "polygonlabels", labels) + 1,
            polygons.from_percent([tuple(p) for p in item["value"]["points"]], width, height),
        )
        for item in items
    ]
    return polygons.polygons_to_mask(drawn, height, width)


def same_label(task_type: TaskType, a: Any, b: Any) -> bool:
    """Whether two labels agree: the same class (or class set), or IoU >= SAME_LABEL_IOU."""
    task_type = TaskType(task_type)
    if task_type.is_classification:
        return int(a) == int(b)
    if task_type.is_multilabel:
        return {int(c) for c in a} == {int(c) for c in b}
    if task_type is TaskType.OBJECT_DETECTION:
        return boxes_mean_iou(a.boxes, b.boxes) >= SAME_LABEL_IOU
    return mask_mean_iou(np.asarray(a), np.asarray(b)) >= SAME_LABEL_IOU
