"""COCO JSON: boxes (object detection) or one RLE mask per class in an image (semantic
segmentation). Category ids are the job's label indices plus one, as COCO counts from 1;
an image's `file_name` is its source-ref."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from labelpilot.api.run_config import TaskType
from labelpilot.engine import storage
from labelpilot.engine.exports.common import Item, pixels
from labelpilot.engine.formats import Boxes

FILE = "annotations.json"


def rle_counts(mask: np.ndarray) -> list[int]:
    """Run lengths of a binary mask in column-major order, the first run of zeros (empty
    when the mask starts with a one), as COCO's RLE counts them."""
    flat = np.asarray(mask, dtype=bool).ravel(order="F")
    if flat.size == 0:
        return []
    edges = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    runs = np.diff(np.concatenate(([0], edges, [flat.size]))).tolist()
    return [0, *runs] if flat[0] else runs


def rle_string(counts: Sequence[int]) -> str:
    """COCO's compressed RLE text: each count (past the second, less the count two before)
    in 5-bit groups, low first, a 6th bit marking that more follow, offset by 48."""
    out = []
    for i, count in enumerate(counts):
        x = count - counts[i - 2] if i > 2 else count
        while True:
            group = x & 0x1F
            x >>= 5
            more = x != -1 if group & 0x10 else x != 0
            out.append(chr(group + (0x20 if more else 0) + 48))
            if not more:
                break
    return "".join(out)


def _box_annotations(boxes: Boxes) -> list[dict[str, Any]]:
    out = []
    for c, left, top, width, height in boxes.boxes.tolist():
        out.append(
            {
                "category_id": int(c) + 1,
                "bbox": [pixels(left), pixels(top), pixels(width), pixels(height)],
                "area": pixels(width * height),
                "iscrowd": 0,
            }
        )
    return out


def _mask_annotations(mask: np.ndarray) -> list[dict[str, Any]]:
    height, width = mask.shape
    out = []
    for class_id in np.unique(mask).tolist():
        if class_id == 0:  # the background
            continue
        region = mask == class_id
        rows = np.flatnonzero(region.any(axis=1))
        cols = np.flatnonzero(region.any(axis=0))
        x, y = int(cols[0]), int(rows[0])
        out.append(
            {
                "category_id": int(class_id),  # mask ids are the label index plus one
                "segmentation": {
                    "size": [height, width],
                    "counts": rle_string(rle_counts(region)),
                },
                "area": int(region.sum()),
                "bbox": [x, y, int(cols[-1]) - x + 1, int(rows[-1]) - y + 1],
                "iscrowd": 0,
            }
        )
    return out


def document(
    items: Iterable[Item], task_type: TaskType, labels: Sequence[str], description: str
) -> dict[str, Any]:
    """The COCO document of `items` (object detection or semantic segmentation labels)."""
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for item in items:
        image_id = len(images) + 1
        if task_type is TaskType.OBJECT_DETECTION:
            assert isinstance(item.label, Boxes)
            width, height = item.label.width, item.label.height
            found = _box_annotations(item.label)
        else:
            assert isinstance(item.label, np.ndarray)
            height, width = item.label.shape
            found = _mask_annotations(item.label)
        images.append({"id": image_id, "file_name": item.ref, "width": width, "height": height})
        for annotation in found:
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, **annotation})
    return {
        "info": {"description": description},
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": [
            {"id": i + 1, "name": name, "supercategory": ""} for i, name in enumerate(labels)
        ],
    }


def write(
    out: str,
    items: Iterable[Item],
    task_type: TaskType,
    labels: Sequence[str],
    description: str,
) -> list[str]:
    """Writes `out`/annotations.json; returns the files written."""
    path = storage.join(out, FILE)
    storage.write_json(path, document(items, task_type, labels, description))
    return [path]
