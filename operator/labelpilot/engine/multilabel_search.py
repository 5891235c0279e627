"""Threshold search for multi-label classification: which objects' whole label sets the
machine may write, with the same guarantee as single-label classification.

The model gives each label k an independent probability p_k; its label set is {k: p_k >=
0.5}, each label's confidence is c_k = max(p_k, 1 - p_k) and the set's confidence is their
product (the set's probability when the labels are independent). Thresholds are a vector
[t_set, t_1, ..., t_K]: an object is machine-labeled when its set confidence is >= t_set
and every c_k >= t_k.

Guaranteed mode: an object's label is right when its whole set is (every label present
and absent as it should be). The search is threshold_search's: label-free nested paths,
walks with the fallback procedure, the exact Clopper-Pearson p-value of H0: "the error
rate of accepted sets > 1 - target". Two paths, Bonferroni-split like the single-label
ones (threshold_search.GLOBAL_SHARE to the first): the *set* path, one threshold on the
set confidence at quantiles of the pool's, and the *per-label* path, a threshold per label
t_k(e) (the lowest c_k at which the pool's own error estimate for label k, the mean of
1 - c_k above it, stays <= e), raising e lowers every t_k. With probability >= 1 - delta
the sets the chosen thresholds accept are right at a rate >= target; a label's accuracy
among them is at least its set's, so every label's accuracy meets the target too.

`groundtruth` mode: Ground Truth's point-estimate rule on the set confidence (Ground Truth
itself does not machine-label multi-label jobs). No guarantee.
"""

from __future__ import annotations

import numpy as np

from labelpilot.api.run_config import ThresholdMode
from labelpilot.engine.threshold_search import (
    GLOBAL_SHARE,
    PATH_POINTS,
    ThresholdResult,
    binomial_path_search,
    nothing,
)


def label_confidences(probs: np.ndarray) -> np.ndarray:
    """(N, K) confidence of each label's decision: max(p, 1 - p)."""
    probs = np.asarray(probs, dtype=np.float64)
    return np.maximum(probs, 1.0 - probs)


def set_confidence(probs: np.ndarray) -> np.ndarray:
    """(N,) the product of an object's label confidences."""
    conf = label_confidences(probs).reshape(len(probs), -1)
    return np.exp(np.log(np.clip(conf, 1e-12, 1.0)).sum(axis=1))


def predicted_sets(probs: np.ndarray) -> np.ndarray:
    """(N, K) bool: the labels the model says apply."""
    return np.asarray(probs) >= 0.5


def predicted_labels(probs: np.ndarray) -> list[int]:
    """One object's label set as ascending class ids."""
    return [int(k) for k in np.flatnonzero(predicted_sets(probs))]


def accept(probs: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """(N,) bool: the objects whose set and every label meet `thresholds` [t_set, t_1..t_K]."""
    probs = np.asarray(probs, dtype=np.float64).reshape(len(probs), -1)
    t = np.asarray(thresholds, dtype=np.float64)
    return (set_confidence(probs) >= t[0]) & (label_confidences(probs) >= t[1:]).all(axis=1)


def set_path(pool_probs: np.ndarray, points: int = PATH_POINTS) -> np.ndarray:
    """(P, K + 1): one threshold on the set confidence, highest first; labels unconstrained."""
    conf = set_confidence(pool_probs)
    if conf.size == 0:
        return np.zeros((0, pool_probs.shape[1] + 1))
    grid = np.unique(np.quantile(conf, np.linspace(0.0, 1.0, points)))[::-1]
    path = np.zeros((len(grid), pool_probs.shape[1] + 1))
    path[:, 0] = grid
    return path


def label_path(pool_probs: np.ndarray, points: int = PATH_POINTS) -> np.ndarray:
    """(P, K + 1): a threshold per label, nested, highest first; the set unconstrained."""
    conf = label_confidences(pool_probs)
    if conf.size == 0:
        return np.zeros((0, pool_probs.shape[1] + 1))
    columns = []
    for k in range(conf.shape[1]):
        s = np.sort(conf[:, k])[::-1]
        columns.append((s, np.cumsum(1.0 - s) / np.arange(1, len(s) + 1)))
    everything = np.concatenate([est for _, est in columns])
    grid = np.unique(np.quantile(everything, np.linspace(0.0, 1.0, points)))
    path = np.zeros((len(grid), conf.shape[1] + 1))
    for k, (s, est) in enumerate(columns):
        last = np.searchsorted(est, grid, side="right") - 1
        path[:, k + 1] = np.where(last >= 0, s[np.maximum(last, 0)], np.inf)
    return path


PATHS = {"set": set_path, "per-label": label_path}


def multilabel_thresholds(
    val_probs: np.ndarray,
    val_truth: np.ndarray,
    pool_probs: np.ndarray,
    *,
    target: float,
    delta: float,
    mode: ThresholdMode | str = ThresholdMode.GUARANTEED,
) -> ThresholdResult:
    """Thresholds [t_set, t_1..t_K] for multi-label sets; `val_truth` (N, K) bool."""
    mode = ThresholdMode(mode)
    num_labels = pool_probs.shape[1] if pool_probs.ndim == 2 else val_probs.shape[1]
    if len(pool_probs) == 0 or len(val_probs) == 0:
        return nothing(len(pool_probs), num_labels + 1, delta, str(mode))
    wrong = (predicted_sets(val_probs) != np.asarray(val_truth, dtype=bool)).any(axis=1)
    if mode is ThresholdMode.GROUND_TRUTH:
        return _point_estimate(val_probs, wrong, pool_probs, target, delta)
    found = [
        _search(name, build(pool_probs), val_probs, wrong, pool_probs, target, delta * share)
        for (name, build), share in zip(
            PATHS.items(), (GLOBAL_SHARE, 1.0 - GLOBAL_SHARE), strict=True
        )
    ]
    best = max(found, key=lambda r: int(r.accepted.sum()))
    best.delta = delta
    best.details["pathAccepted"] = {r.details["path"]: int(r.accepted.sum()) for r in found}
    return best


def _point_estimate(
    val_probs: np.ndarray, wrong: np.ndarray, pool_probs: np.ndarray, target: float, delta: float
) -> ThresholdResult:
    mode, num_labels = str(ThresholdMode.GROUND_TRUTH), pool_probs.shape[1]
    val_conf = set_confidence(val_probs)
    order = np.argsort(-val_conf, kind="stable")
    accuracy = np.cumsum(~wrong[order]) / np.arange(1, len(order) + 1)
    ok = np.nonzero(accuracy >= target)[0]
    if len(ok) == 0:
        return nothing(len(pool_probs), num_labels + 1, delta, mode)
    j = int(ok[-1])
    thresholds = np.zeros(num_labels + 1)
    thresholds[0] = val_conf[order[j]]
    return ThresholdResult(
        thresholds,
        accept(pool_probs, thresholds),
        None,
        float(accuracy[j]),
        j + 1,
        delta,
        mode,
        len(order),
    )


def _search(
    name: str,
    path: np.ndarray,
    val_probs: np.ndarray,
    wrong: np.ndarray,
    pool_probs: np.ndarray,
    target: float,
    delta: float,
) -> ThresholdResult:
    if len(path) == 0:
        mode = str(ThresholdMode.GUARANTEED)
        return nothing(len(pool_probs), pool_probs.shape[1] + 1, delta, mode, path=name)
    return binomial_path_search(
        name,
        path,
        np.stack([accept(val_probs, t) for t in path]),
        wrong,
        lambda chosen: accept(pool_probs, chosen),
        len(pool_probs),
        1.0 - target,
        delta,
    )
