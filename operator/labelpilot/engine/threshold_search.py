"""Threshold search: which unlabeled objects the machine may label, and with what guarantee.

Guaranteed mode (default), classification
    Per-class thresholds t_k on the top probability; the machine labels an object predicted
    k when its confidence is >= t_k. The thresholds move along a *path* built without any
    validation label: for a level e, t_k(e) is the lowest confidence such that the model's
    own estimate of the error among the pool's objects predicted k above it (mean of
    1 - confidence) stays <= e. Raising e lowers every t_k, so the path is nested.
    Learn-then-Test fixed-sequence testing walks the path from high thresholds down, and at
    each point tests H0: "the error rate of accepted objects > 1 - target" with the exact
    Clopper-Pearson (binomial) p-value on the validation objects the point accepts; it stops
    at the first point it cannot reject and keeps the last rejected one. Fixed-sequence
    testing needs no correction for the number of points tried, and since the path is one
    joint sequence (not one per class) nothing is split across classes: the guarantee is on
    the error of all machine labels together. Points that accept fewer validation objects
    than a label-free minimum are skipped before testing (that reads no label, so the test
    stays valid). Since a walk stops at its first non-rejection, one that starts where few
    validation objects are accepted stops early by chance, and one that starts late may
    start past the good region: so delta is split over J starts (J ~ log2 of the
    validation size, at most 3) at n0, 2 n0, 4 n0, ... accepted validation objects, and the
    path is tested with the fallback procedure (Wiens, 2003), a Bonferroni-based graphical
    procedure that controls the family-wise error under any dependence: the level at a
    point is its own share (delta / J at a start, else 0) plus the level of the previous
    point when that one was rejected; a non-rejection loses the level carried so far, and
    testing resumes at the next start. A walk that gets past the next start thus carries
    2 delta / J, then delta, where separate walks at delta / J each (Bonferroni) would
    not; it rejects everything they would. The deepest rejected point is used.

    Two paths are searched (Bonferroni: the global one at 0.9 delta, the per-class one at
    0.1 delta, so both statements hold at once with probability >= 1 - delta and the one
    kept is covered whichever it is): a *global* path, one threshold shared by every class
    at quantiles of the pool's confidences, and the per-class path above; the one that
    machine-labels more of the pool is kept. The per-class path relies on the model's own
    error estimates being right class by class, which with few training labels they are
    not; the split is uneven because a walk's success is steep in delta (docs/ml.md, "A
    global threshold path beside the per-class one", has the measurements).
    With probability >= 1 - delta the chosen thresholds have error <= 1 - target.

Guaranteed mode, boxes and masks
    One threshold on the image confidence, the same walk, with the Hoeffding-Bentkus
    p-value for the mean of 1 - IoU (a [0, 1]-valued loss): with probability >= 1 - delta
    the mean IoU of accepted images is >= target.

`groundtruth` mode
    Ground Truth's point estimate: one threshold, the largest coverage whose validation
    accuracy (or mean IoU) among accepted objects is >= target. No guarantee.

Reusing validation labels across iterations
    The caller passes delta_i = bounds.spend_delta(delta, i) = delta 6 / (pi^2 (i+1)^2), so
    the statements of all iterations hold at once with probability >= 1 - delta, and the
    union of the machine labels of all iterations (an average of sets that each meet the
    target) meets it too. The pool also loses what each iteration machine-labels (its
    most confident objects), so the threshold step retires from later searches the
    validation objects an iteration's thresholds accepted (labelpilot.worker.threshold;
    why: docs/ml.md, "Validation objects retire with their pool counterparts"). What
    this does not cover, and we say so: the pool has also lost the objects humans labeled
    (the least confident ones, picked with a diversity term), which the validation set
    cannot mirror, and the retired set depends on earlier thresholds that saw the
    validation labels; the guarantee is stated for an object drawn like the dataset's
    remaining part, with confidence above the threshold. The `fresh` validation policy
    (labelpilot.engine.fresh_validation) avoids the reuse: each later iteration tests on
    a new random sample of the remaining pool, at delta / ((i + 1)(i + 2)).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from labelpilot.api.run_config import ThresholdMode
from labelpilot.engine import bounds

PATH_POINTS = 50
MAX_WALKS = 3


@dataclass
class ThresholdResult:
    """`thresholds`: one per class (classification) or a single one; inf accepts nothing."""

    thresholds: np.ndarray
    accepted: np.ndarray  # bool, one per pool object
    bound: float | None  # lower confidence bound on accuracy / mean IoU of accepted objects
    estimate: float | None  # the validation point estimate among accepted objects
    validation_accepted: int
    delta: float
    mode: str
    tested: int
    details: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        def num(x: float | None) -> float | None:
            return None if x is None or not np.isfinite(x) else round(float(x), 6)

        return {
            "thresholds": [num(t) for t in np.atleast_1d(self.thresholds)],
            "accepted": int(self.accepted.sum()),
            "bound": num(self.bound),
            "estimate": num(self.estimate),
            "validationAccepted": self.validation_accepted,
            "delta": self.delta,
            "mode": self.mode,
            "tested": self.tested,
            **self.details,
        }


def nothing(
    n_pool: int, n_thresholds: int, delta: float, mode: str, **details: Any
) -> ThresholdResult:
    return ThresholdResult(
        np.full(n_thresholds, np.inf),
        np.zeros(n_pool, dtype=bool),
        None,
        None,
        0,
        delta,
        mode,
        0,
        dict(details),
    )


def class_threshold_path(
    pool_probs: np.ndarray, num_classes: int, points: int = PATH_POINTS
) -> np.ndarray:
    """(P, C) nested per-class thresholds, highest first, from pool scores only."""
    conf = pool_probs.max(axis=1)
    pred = pool_probs.argmax(axis=1)
    per_class: list[tuple[np.ndarray, np.ndarray]] = []
    levels = []
    for k in range(num_classes):
        s = np.sort(conf[pred == k])[::-1]
        est = np.cumsum(1.0 - s) / np.arange(1, len(s) + 1)
        per_class.append((s, est))
        levels.append(est)
    everything = np.concatenate(levels) if levels else np.zeros(0)
    if everything.size == 0:
        return np.zeros((0, num_classes))
    grid = np.unique(np.quantile(everything, np.linspace(0.0, 1.0, points)))
    path = np.full((len(grid), num_classes), np.inf)
    for k, (s, est) in enumerate(per_class):
        if len(s) == 0:
            continue
        # the largest prefix whose estimated error is <= e (est is non-decreasing)
        last = np.searchsorted(est, grid, side="right") - 1
        ok = last >= 0
        path[ok, k] = s[last[ok]]
    return path


def global_threshold_path(
    pool_probs: np.ndarray, num_classes: int, points: int = PATH_POINTS
) -> np.ndarray:
    """(P, C) one threshold shared by every class, highest first: quantiles of the pool's
    confidences, so each step accepts about 1 / P more of the pool. Label-free too."""
    conf = pool_probs.max(axis=1) if len(pool_probs) else np.zeros(0)
    if conf.size == 0:
        return np.zeros((0, num_classes))
    grid = np.unique(np.quantile(conf, np.linspace(0.0, 1.0, points)))[::-1]
    return np.repeat(grid[:, None], num_classes, axis=1)


PathBuilder = Callable[[np.ndarray, int, int], np.ndarray]
PATHS: dict[str, PathBuilder] = {
    "per-class": lambda probs, c, points: class_threshold_path(probs, c, points),
    "global": lambda probs, c, points: global_threshold_path(probs, c, points),
}
DEFAULT_PATHS = ("global", "per-class")
# The global path's share of delta when other paths are searched too (see the docstring)
GLOBAL_SHARE = 0.9


def path_shares(paths: tuple[str, ...]) -> dict[str, float]:
    """How delta is split among the paths searched (Bonferroni: the shares sum to 1)."""
    unknown = [p for p in paths if p not in PATHS]
    if unknown or len(set(paths)) != len(paths):
        raise ValueError(f"paths must be distinct names of {sorted(PATHS)}: {paths}")
    if len(paths) == 1:
        return {paths[0]: 1.0}
    if "global" in paths:
        rest = (1.0 - GLOBAL_SHARE) / (len(paths) - 1)
        return {p: GLOBAL_SHARE if p == "global" else rest for p in paths}
    return {p: 1.0 / len(paths) for p in paths}


def accept_by_class(conf: np.ndarray, pred: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Objects whose confidence meets the threshold of their predicted class."""
    return conf >= thresholds[pred]


def classification_thresholds(
    val_probs: np.ndarray,
    val_labels: np.ndarray,
    pool_probs: np.ndarray,
    *,
    target: float,
    delta: float,
    mode: ThresholdMode | str = ThresholdMode.GUARANTEED,
    paths: tuple[str, ...] = DEFAULT_PATHS,
) -> ThresholdResult:
    """Thresholds for classification; see the module docstring. `paths`: which threshold
    paths the guaranteed mode searches (names of PATHS), delta split evenly among them."""
    mode = ThresholdMode(mode)
    num_classes = pool_probs.shape[1] if pool_probs.ndim == 2 else val_probs.shape[1]
    val_conf, val_pred = val_probs.max(axis=1), val_probs.argmax(axis=1)
    wrong = val_pred != np.asarray(val_labels)
    pool_conf, pool_pred = pool_probs.max(axis=1), pool_probs.argmax(axis=1)
    alpha = 1.0 - target
    if len(pool_probs) == 0 or len(val_probs) == 0:
        return nothing(len(pool_probs), num_classes, delta, str(mode))

    if mode is ThresholdMode.GROUND_TRUTH:
        order = np.argsort(-val_conf, kind="stable")
        accuracy = np.cumsum(~wrong[order]) / np.arange(1, len(order) + 1)
        ok = np.nonzero(accuracy >= target)[0]
        if len(ok) == 0:
            return nothing(len(pool_probs), num_classes, delta, str(mode))
        j = int(ok[-1])
        t = float(val_conf[order[j]])
        thresholds = np.full(num_classes, t)
        return ThresholdResult(
            thresholds,
            pool_conf >= t,
            None,
            float(accuracy[j]),
            j + 1,
            delta,
            str(mode),
            len(order),
        )

    if not paths:
        raise ValueError("classification_thresholds needs at least one path")
    # Bonferroni over the paths: each is searched at delta / len(paths), so all their
    # statements hold at once with probability >= 1 - delta, and so does the one kept, even
    # though which one is kept depends on the validation labels.
    shares = path_shares(paths)
    found = [
        _path_search(
            name,
            PATHS[name](pool_probs, num_classes, PATH_POINTS),
            val_conf,
            val_pred,
            wrong,
            pool_conf,
            pool_pred,
            alpha,
            delta * share,
        )
        for name, share in shares.items()
    ]
    best = max(found, key=lambda r: int(r.accepted.sum()))  # the first on a tie
    best.delta = delta
    best.details["pathAccepted"] = {r.details["path"]: int(r.accepted.sum()) for r in found}
    return best


def _path_search(
    name: str,
    path: np.ndarray,
    val_conf: np.ndarray,
    val_pred: np.ndarray,
    wrong: np.ndarray,
    pool_conf: np.ndarray,
    pool_pred: np.ndarray,
    alpha: float,
    delta: float,
) -> ThresholdResult:
    """The walks along one nested path of per-class thresholds, at level delta."""
    if len(path) == 0:
        return nothing(
            len(pool_conf), path.shape[1], delta, str(ThresholdMode.GUARANTEED), path=name
        )
    return binomial_path_search(
        name,
        path,
        val_conf[None, :] >= path[:, val_pred],
        wrong,
        lambda chosen: accept_by_class(pool_conf, pool_pred, chosen),
        len(pool_conf),
        alpha,
        delta,
    )


def binomial_path_search(
    name: str,
    path: np.ndarray,
    accepted_matrix: np.ndarray,
    wrong: np.ndarray,
    accept_pool: Callable[[np.ndarray], np.ndarray],
    n_pool: int,
    alpha: float,
    delta: float,
) -> ThresholdResult:
    """The walks along a nested path whose point j accepts the validation objects of row j
    of `accepted_matrix` (points, validation), each right or `wrong`, tested with the exact
    binomial p-value at level delta; `accept_pool(thresholds)` gives the pool it accepts."""
    mode = str(ThresholdMode.GUARANTEED)
    n = accepted_matrix.sum(axis=1)
    m = (accepted_matrix & wrong[None, :]).sum(axis=1)
    pvalues = bounds.binomial_pvalues(m, n, alpha)
    chosen_at, tested, level = walk_path(n, pvalues, alpha, delta, accepted_matrix.shape[1])
    if chosen_at is None:
        return nothing(
            n_pool, path.shape[1], delta, mode, path=name, pathPoints=len(path), tested=tested
        )
    chosen, n_chosen, m_chosen = path[chosen_at], int(n[chosen_at]), int(m[chosen_at])
    upper = bounds.clopper_pearson_upper(m_chosen, n_chosen, level)
    return ThresholdResult(
        chosen,
        accept_pool(chosen),
        1.0 - upper,
        1.0 - m_chosen / n_chosen,
        n_chosen,
        delta,
        mode,
        tested,
        {"path": name, "pathPoints": len(path), "validationErrors": m_chosen},
    )


def walk_starts(
    alpha: float, delta: float, n_validation: int, max_walks: int | None = None
) -> tuple[np.ndarray, float]:
    """Label-free start sizes of the walks and each walk's share of delta.

    Walk j starts at the first path point accepting >= n0 2^j validation objects, where n0
    is the fewest at which a perfect score could reject at delta / J; J grows with the
    validation set (log2 of it over n0), at most `max_walks`.
    """
    max_walks = MAX_WALKS if max_walks is None else max_walks
    n0 = bounds.min_samples_for_zero_errors(alpha, delta / max_walks)
    walks = int(np.clip(np.floor(np.log2(max(n_validation, 1) / n0)) + 1, 1, max_walks))
    share = delta / walks
    n0 = bounds.min_samples_for_zero_errors(alpha, share)
    return n0 * 2 ** np.arange(walks), share


def walk_path(
    n: np.ndarray, pvalues: np.ndarray, alpha: float, delta: float, n_validation: int
) -> tuple[int | None, int, float]:
    """The fallback procedure along the nested path (see the module docstring): delta / J
    enters at each walk's label-free start, a rejection passes its level on to the next
    point, a non-rejection drops it. Returns the deepest rejected point, how many points
    were tested, and the level that point was rejected at (for its bound)."""
    starts, share = walk_starts(alpha, delta, n_validation)
    entering = np.zeros(len(n))
    for start in starts:
        points = np.nonzero(n >= start)[0]
        if len(points):
            entering[points[0]] += share
    best: int | None = None
    best_level, level, tested = share, 0.0, 0
    for j in range(len(n)):
        level += entering[j]
        if level <= 0.0:
            continue
        tested += 1
        if pvalues[j] <= level:
            best, best_level = j, level
        else:
            level = 0.0
    return best, tested, best_level


def quality_thresholds(
    val_conf: np.ndarray,
    val_quality: np.ndarray,
    pool_conf: np.ndarray,
    *,
    target: float,
    delta: float,
    mode: ThresholdMode | str = ThresholdMode.GUARANTEED,
    points: int = PATH_POINTS,
) -> ThresholdResult:
    """One confidence threshold so that the mean quality (IoU in [0, 1]) of accepted
    objects is >= target; see the module docstring."""
    mode = ThresholdMode(mode)
    val_conf = np.asarray(val_conf, dtype=np.float64)
    loss = 1.0 - np.clip(np.asarray(val_quality, dtype=np.float64), 0.0, 1.0)
    pool_conf = np.asarray(pool_conf, dtype=np.float64)
    alpha = 1.0 - target
    if len(pool_conf) == 0 or len(val_conf) == 0:
        return nothing(len(pool_conf), 1, delta, str(mode))

    if mode is ThresholdMode.GROUND_TRUTH:
        order = np.argsort(-val_conf, kind="stable")
        mean_quality = 1.0 - np.cumsum(loss[order]) / np.arange(1, len(order) + 1)
        ok = np.nonzero(mean_quality >= target)[0]
        if len(ok) == 0:
            return nothing(len(pool_conf), 1, delta, str(mode))
        j = int(ok[-1])
        t = float(val_conf[order[j]])
        return ThresholdResult(
            np.array([t]),
            pool_conf >= t,
            None,
            float(mean_quality[j]),
            j + 1,
            delta,
            str(mode),
            len(order),
        )

    grid = np.unique(np.quantile(pool_conf, np.linspace(0.0, 1.0, points)))[::-1]
    accepted_matrix = val_conf[None, :] >= grid[:, None]
    n = accepted_matrix.sum(axis=1)
    mean_loss = (accepted_matrix * loss[None, :]).sum(axis=1) / np.maximum(n, 1)
    pvalues = bounds.hoeffding_bentkus_pvalues(mean_loss, n, alpha)
    chosen_at, tested, level = walk_path(n, pvalues, alpha, delta, len(val_conf))
    if chosen_at is None:
        return nothing(len(pool_conf), 1, delta, str(mode), pathPoints=len(grid), tested=tested)
    chosen, n_chosen = float(grid[chosen_at]), int(n[chosen_at])
    mean_chosen = float(mean_loss[chosen_at])
    upper = bounds.hoeffding_bentkus_upper(mean_chosen, n_chosen, level)
    return ThresholdResult(
        np.array([chosen]),
        pool_conf >= chosen,
        1.0 - upper,
        1.0 - mean_chosen,
        n_chosen,
        delta,
        str(mode),
        tested,
        {"pathPoints": len(grid)},
    )


def bound_sized_validation(
    n_objects: int,
    *,
    target: float,
    delta: float,
    expected_coverage: float = 0.7,
    ground_truth_size: int,
    bounded_loss: bool = False,
) -> int:
    """Validation size for the `bound-sized` policy: enough accepted validation objects that
    a model whose accepted error is half the allowed one is accepted by the first
    iteration's test (`accepted_needed` at delta_0 = bounds.spend_delta(delta, 0)), divided
    by the coverage we expect; never more than Ground Truth's rule."""
    needed = accepted_needed(target, bounds.spend_delta(delta, 0), bounded_loss=bounded_loss)
    size = int(np.ceil(needed / expected_coverage))
    return max(1, min(ground_truth_size, size, n_objects))


def accepted_needed(target: float, delta: float, *, bounded_loss: bool = False) -> int:
    """How many accepted validation objects let a search at level `delta` accept a model
    whose accepted error is half the allowed one.

    `bounded_loss` (boxes, masks: the loss is 1 - IoU in [0, 1]): the same with the
    Hoeffding-Bentkus p-value the search uses for them, at the level of one walk's start
    (delta / MAX_WALKS): the binomial zero-error rule is too small for that bound
    (docs/ml.md)."""
    alpha = 1.0 - target
    if bounded_loss:
        n = 1

        def passes(n: int) -> bool:
            return bounds.hoeffding_bentkus_pvalue(alpha / 2, n, alpha) <= delta / MAX_WALKS
    else:
        n = bounds.min_samples_for_zero_errors(alpha, delta)

        def passes(n: int) -> bool:
            return bounds.binomial_pvalue(int(np.floor(n * alpha / 2)), n, alpha) <= delta

    while not passes(n) and n < 100_000:
        n = int(n * 1.1) + 1
    return n
