"""Per-object quality measures, as Ground Truth defines them, for tests and benchmarks."""

from __future__ import annotations

import numpy as np


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix between (n, 4) and (m, 4) boxes given as [left, top, width, height]."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    left = np.maximum(a[:, None, 0], b[None, :, 0])
    top = np.maximum(a[:, None, 1], b[None, :, 1])
    right = np.minimum(a[:, None, 0] + a[:, None, 2], b[None, :, 0] + b[None, :, 2])
    bottom = np.minimum(a[:, None, 1] + a[:, None, 3], b[None, :, 1] + b[None, :, 3])
    inter = np.clip(right - left, 0, None) * np.clip(bottom - top, 0, None)
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def image_box_iou(predicted: np.ndarray, truth: np.ndarray) -> float:
    """Mean IoU of one image's boxes: per class, greedy one-to-one matching by IoU; every
    unmatched predicted or true box counts 0; the mean over boxes of each class, then over
    the classes present in either set. 1.0 when both sets are empty.

    `predicted`: (k, 5+) [class, left, top, width, height, ...]; `truth`: (m, 5).
    """
    predicted = np.asarray(predicted, np.float64)
    predicted = predicted.reshape(-1, predicted.shape[-1]) if predicted.size else np.zeros((0, 5))
    truth = np.asarray(truth, np.float64).reshape(-1, 5)
    classes = set(predicted[:, 0].astype(int).tolist()) | set(truth[:, 0].astype(int).tolist())
    if not classes:
        return 1.0
    per_class = []
    for cls in sorted(classes):
        p = predicted[predicted[:, 0].astype(int) == cls, 1:5]
        t = truth[truth[:, 0].astype(int) == cls, 1:5]
        ious = box_iou(p, t)
        matched = []
        while ious.size and ious.max() > 0:
            i, j = np.unravel_index(ious.argmax(), ious.shape)
            matched.append(ious[i, j])
            ious[i, :] = -1
            ious[:, j] = -1
        total = len(p) + len(t) - len(matched)
        per_class.append(sum(matched) / total if total else 1.0)
    return float(np.mean(per_class))


def image_mask_iou(predicted: np.ndarray, truth: np.ndarray) -> float:
    """Mean IoU over the foreground classes (values > 0) present in either mask; 1.0 if none."""
    predicted, truth = np.asarray(predicted), np.asarray(truth)
    classes = (set(np.unique(predicted).tolist()) | set(np.unique(truth).tolist())) - {0}
    if not classes:
        return 1.0
    ious = []
    for cls in sorted(classes):
        p, t = predicted == cls, truth == cls
        ious.append(np.logical_and(p, t).sum() / np.logical_or(p, t).sum())
    return float(np.mean(ious))
