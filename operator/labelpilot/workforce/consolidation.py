"""Consolidating several workers' answers for one object into one label and a confidence.

- classification: majority vote (ties: the smallest class id); confidence = vote share.
- multi-label: a class is in when more than half of the workers chose it (a tie leaves it
  out); confidence = the mean, over the classes any worker chose, of the share of workers
  on the winning side for that class (1 when every worker chose no class).
- boxes: boxes of every worker matched by IoU (>= 0.5, same class) to clusters; a cluster
  that at least half of the workers drew becomes one box, the mean of its members;
  confidence = the mean share of workers who drew each kept box (1 with no boxes agreed).
- masks: per-pixel majority vote; confidence = the mean per-pixel agreement.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labelpilot.api.run_config import TaskType
from labelpilot.engine.formats import Boxes
from labelpilot.engine.quality import box_iou_matrix


def _vote(values: list[int]) -> tuple[int, float]:
    ids, counts = np.unique(np.asarray(values, dtype=np.int64), return_counts=True)
    best = int(np.argmax(counts))  # np.unique sorts: ties go to the smallest id
    return int(ids[best]), float(counts[best] / len(values))


def _class_sets(answers: list[list[int]]) -> tuple[list[int], float]:
    counts: dict[int, int] = {}
    for answer in answers:
        for c in {int(v) for v in answer}:
            counts[c] = counts.get(c, 0) + 1
    n = len(answers)
    chosen = sorted(c for c, k in counts.items() if k > n / 2)
    shares = [max(k, n - k) / n for k in counts.values()]
    return chosen, float(np.mean(shares)) if shares else 1.0


def _boxes(answers: list[Boxes]) -> tuple[Boxes, float]:
    first = answers[0]
    clusters: list[list[np.ndarray]] = []
    for answer in answers:
        for box in answer.boxes:
            best, best_iou = None, 0.5
            for c, members in enumerate(clusters):
                center = np.mean(members, axis=0)
                if int(center[0]) != int(box[0]):
                    continue
                iou = float(box_iou_matrix(center[None, 1:5], box[None, 1:5])[0, 0])
                if iou >= best_iou:
                    best, best_iou = c, iou
            if best is None:
                clusters.append([box])
            else:
                clusters[best].append(box)
    need = len(answers) / 2
    kept = [np.mean(m, axis=0) for m in clusters if len(m) >= need]
    shares = [len(m) / len(answers) for m in clusters if len(m) >= need]
    boxes = np.asarray(kept, dtype=np.float32).reshape(-1, 5)
    confidence = float(np.mean(shares)) if shares else 1.0
    return Boxes(first.width, first.height, first.depth, boxes), confidence


def _masks(answers: list[np.ndarray]) -> tuple[np.ndarray, float]:
    stack = np.stack([np.asarray(a, dtype=np.uint8) for a in answers])
    classes = int(stack.max()) + 1
    counts = np.stack([(stack == c).sum(axis=0) for c in range(classes)])
    mask = counts.argmax(axis=0).astype(np.uint8)
    return mask, float((counts.max(axis=0) / len(answers)).mean())


def consolidate(task_type: TaskType, answers: list[Any]) -> tuple[Any, float]:
    """One label and its confidence from one or more workers' labels."""
    if not answers:
        raise ValueError("nothing to consolidate")
    task_type = TaskType(task_type)
    if task_type.is_classification:
        return _vote([int(a) for a in answers])
    if task_type.is_multilabel:
        return _class_sets(answers)
    if task_type is TaskType.OBJECT_DETECTION:
        return _boxes(answers)
    return _masks(answers)
