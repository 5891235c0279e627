"""How good one label is against another: Ground Truth's quality measures, the one
definition the steps, the evaluation, the tests and the benchmarks use.

- classification: correct or not (1 / 0);
- boxes: the mean IoU per image over classes, boxes matched one to one greedily by IoU
  within a class, predicted boxes that match nothing and true boxes that were missed
  counting IoU 0; both sets empty: 1. Rows are [class, left, top, width, height]; a
  prediction's further columns (its score) are ignored;
- masks: the mean IoU over the classes present in either mask, excluding the background
  (0); none present: 1. Masks of different shapes have IoU 0: no pixel of one can be
  compared with the other, so the label is wrong everywhere.
"""

from __future__ import annotations

import numpy as np

from labelpilot.api.run_config import TaskType
from labelpilot.engine.formats import Boxes

BOX_COLUMNS = 5  # class, left, top, width, height


def box_iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every pair of [left, top, width, height] boxes: (len(a), len(b))."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    ax2, ay2 = a[:, 0] + a[:, 2], a[:, 1] + a[:, 3]
    bx2, by2 = b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    iw = np.minimum(ax2[:, None], bx2[None]) - np.maximum(a[:, None, 0], b[None, :, 0])
    ih = np.minimum(ay2[:, None], by2[None]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def greedy_match(iou: np.ndarray, min_iou: float = 1e-9) -> list[tuple[int, int, float]]:
    """Pairs (i, j, iou), highest IoU first, each row and column used at most once."""
    pairs: list[tuple[int, int, float]] = []
    if iou.size == 0:
        return pairs
    order = np.dstack(np.unravel_index(np.argsort(-iou, axis=None), iou.shape))[0]
    used_i: set[int] = set()
    used_j: set[int] = set()
    for i, j in order:
        value = float(iou[i, j])
        if value < min_iou:
            break
        if i in used_i or j in used_j:
            continue
        used_i.add(int(i))
        used_j.add(int(j))
        pairs.append((int(i), int(j), value))
    return pairs


def box_rows(boxes: object, name: str = "boxes") -> np.ndarray:
    """(k, 5) [class, left, top, width, height] of k rows of at least those 5 columns.
    Raises ValueError, naming `name` and the shape, for anything else."""
    array = np.asarray(boxes, dtype=np.float64)
    shape = array.shape
    if array.size == 0:
        return np.zeros((0, BOX_COLUMNS))
    array = np.atleast_2d(array)
    if array.ndim != 2 or array.shape[1] < BOX_COLUMNS:
        raise ValueError(
            f"{name}: expected rows of [class, left, top, width, height], "
            f"got an array of shape {shape}"
        )
    return array[:, :BOX_COLUMNS]


def boxes_mean_iou(pred: np.ndarray, true: np.ndarray) -> float:
    """Mean over classes (present in either) of the mean IoU of matched boxes, where
    unmatched predictions and missed true boxes count 0. Both empty: 1."""
    pred = box_rows(pred, "predicted boxes")
    true = box_rows(true, "true boxes")
    classes = sorted(set(pred[:, 0].astype(int)) | set(true[:, 0].astype(int)))
    if not classes:
        return 1.0
    scores = []
    for c in classes:
        p = pred[pred[:, 0].astype(int) == c, 1:]
        t = true[true[:, 0].astype(int) == c, 1:]
        pairs = greedy_match(box_iou_matrix(p, t))
        slots = len(p) + len(t) - len(pairs)
        scores.append(sum(v for _, _, v in pairs) / slots if slots else 1.0)
    return float(np.mean(scores))


def mask_mean_iou(pred: np.ndarray, true: np.ndarray) -> float:
    """Mean IoU over the non-background classes present in either mask; none present: 1;
    masks of different shapes: 0."""
    pred = np.asarray(pred)
    true = np.asarray(true)
    if pred.shape != true.shape:
        return 0.0
    classes = (set(np.unique(pred).tolist()) | set(np.unique(true).tolist())) - {0}
    if not classes:
        return 1.0
    scores = []
    for c in sorted(classes):
        p, t = pred == c, true == c
        union = np.logical_or(p, t).sum()
        scores.append(np.logical_and(p, t).sum() / union)
    return float(np.mean(scores))


def label_quality(task_type: TaskType, pred: object, true: object) -> float:
    """1/0 correctness for classification (multi-label: the whole set right); mean IoU for
    boxes and masks."""
    task_type = TaskType(task_type)
    if task_type.is_classification:
        return float(int(pred) == int(true))  # type: ignore[call-overload]
    if task_type.is_multilabel:
        return float({int(c) for c in pred} == {int(c) for c in true})  # type: ignore[attr-defined]
    if task_type is TaskType.OBJECT_DETECTION:
        p = pred.boxes if isinstance(pred, Boxes) else pred
        t = true.boxes if isinstance(true, Boxes) else true
        return boxes_mean_iou(np.asarray(p), np.asarray(t))
    return mask_mean_iou(np.asarray(pred), np.asarray(true))
