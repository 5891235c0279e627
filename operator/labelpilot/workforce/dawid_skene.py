"""Dawid-Skene consolidation of classification answers across a whole batch.

Several workers label each object; each worker w is modelled by a confusion matrix
``pi[w, true, answered]`` and the batch by class priors ``p[true]``. Expectation-maximisation
(Dawid & Skene, 1979, as SageMaker Ground Truth does for classification):

1. Initialise each object's class posterior from its (soft) majority vote: vote shares.
2. M-step (maximum a posteriori): priors and per-worker confusion matrices from the
   posteriors plus Dirichlet pseudo-counts, so a worker seen on few objects never gets rates
   of exactly 0 or 1. Each confusion row gets ``smoothing * K`` pseudo-answers of a worker
   who is right with ``prior_accuracy`` (default 0.7) and wrong uniformly otherwise; with
   ``prior_accuracy = 1/K`` this is plain Laplace smoothing. The mild pull toward "better
   than chance" keeps small batches (a handful of objects) from drifting to the
   uninformative fixed point where every posterior is uniform.
3. E-step: ``log T[i, k] = log p[k] + sum over i's answers (w, a) of log pi[w, k, a]``,
   normalised with log-sum-exp (numerically stable for many answers per object).
4. Repeat 2-3 until no posterior moves by more than ``tolerance`` or ``max_iterations``.

The label is the posterior's argmax (ties, within 1e-9: the smallest class id), the
confidence its posterior probability. A worker's accuracy is ``sum_k p[k] * pi[w, k, k]``.

With one answer per object the model cannot tell workers' errors from disagreement, so a
batch where every object has exactly one answer keeps the answers as they are (confidence
1.0, like a unanimous vote) and reports accuracies from one smoothed M-step, without EM.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

_TIE = 1e-9


@dataclass(frozen=True)
class DawidSkeneResult:
    """Consolidated labels of a batch, in the order of the objects given."""

    labels: list[int]
    confidences: list[float]
    worker_accuracy: dict[str, float]
    iterations: int


def _index(
    answers: Sequence[Sequence[tuple[str, int]]], classes: int
) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Workers (sorted) and flat arrays: object, worker and class of every answer."""
    workers = sorted({str(w) for obj in answers for w, _ in obj})
    position = {w: i for i, w in enumerate(workers)}
    objects: list[int] = []
    who: list[int] = []
    what: list[int] = []
    for i, obj in enumerate(answers):
        if len(obj) == 0:
            raise ValueError(f"object {i} has no answers")
        for worker, class_id in obj:
            if not 0 <= int(class_id) < classes:
                raise ValueError(
                    f"object {i}: worker {worker!r} answered class {class_id}, "
                    f"outside 0..{classes - 1}"
                )
            objects.append(i)
            who.append(position[str(worker)])
            what.append(int(class_id))
    return (
        workers,
        np.asarray(objects, dtype=np.int64),
        np.asarray(who, dtype=np.int64),
        np.asarray(what, dtype=np.int64),
    )


def _pseudo_counts(classes: int, smoothing: float, prior_accuracy: float) -> np.ndarray:
    """Dirichlet prior of every confusion row: ``smoothing * classes`` pseudo-answers of a
    worker right with ``prior_accuracy``, wrong uniformly otherwise."""
    if classes == 1:
        return np.full((1, 1), smoothing)
    total = smoothing * classes
    wrong = total * (1.0 - prior_accuracy) / (classes - 1)
    counts = np.full((classes, classes), wrong)
    np.fill_diagonal(counts, total * prior_accuracy)
    return counts


def _m_step(
    posterior: np.ndarray,
    objects: np.ndarray,
    who: np.ndarray,
    what: np.ndarray,
    n_workers: int,
    smoothing: float,
    prior_accuracy: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Log priors (K) and log confusion matrices (W x K x K) from the posteriors."""
    n, k = posterior.shape
    priors = (posterior.sum(axis=0) + smoothing) / (n + k * smoothing)
    counts = np.tile(_pseudo_counts(k, smoothing, prior_accuracy), (n_workers, 1, 1))
    # counts[w, :, a] += posterior[i, :] for every answer (i, w, a)
    np.add.at(counts, (who, slice(None), what), posterior[objects])  # type: ignore[arg-type]  # numpy's stubs take no slice here
    confusion = counts / counts.sum(axis=2, keepdims=True)
    return np.log(priors), np.log(confusion)


def _e_step(
    log_priors: np.ndarray,
    log_confusion: np.ndarray,
    objects: np.ndarray,
    who: np.ndarray,
    what: np.ndarray,
    n: int,
) -> np.ndarray:
    log_post = np.tile(log_priors, (n, 1))
    np.add.at(log_post, objects, log_confusion[who, :, what])
    log_post -= log_post.max(axis=1, keepdims=True)
    post = np.exp(log_post)
    return post / post.sum(axis=1, keepdims=True)


def _accuracy(
    workers: list[str], log_priors: np.ndarray, log_confusion: np.ndarray
) -> dict[str, float]:
    priors = np.exp(log_priors)
    diagonal = np.exp(np.diagonal(log_confusion, axis1=1, axis2=2))  # W x K
    return {w: float(diagonal[i] @ priors) for i, w in enumerate(workers)}


def dawid_skene(
    answers: Sequence[Sequence[tuple[str, int]]],
    classes: int,
    *,
    max_iterations: int = 50,
    tolerance: float = 1e-6,
    smoothing: float = 1.0,
    prior_accuracy: float = 0.7,
) -> DawidSkeneResult:
    """Consolidate a batch: ``answers[i]`` holds object i's ``(worker_id, class_id)`` pairs.

    Returns one label and confidence per object (same order) and each worker's estimated
    accuracy. Deterministic: workers are indexed in sorted order and nothing is random.
    Raises ValueError for an object without answers (naming its position), a class id
    outside ``0..classes-1``, ``classes < 1``, ``smoothing <= 0`` or ``prior_accuracy``
    outside (0, 1).
    """
    if classes < 1:
        raise ValueError(f"classes must be at least 1, got {classes}")
    if smoothing <= 0:
        raise ValueError(f"smoothing must be positive, got {smoothing}")
    if not 0.0 < prior_accuracy < 1.0:
        raise ValueError(f"prior_accuracy must be in (0, 1), got {prior_accuracy}")
    n = len(answers)
    if n == 0:
        return DawidSkeneResult([], [], {}, 0)
    workers, objects, who, what = _index(answers, classes)

    votes = np.zeros((n, classes), dtype=np.float64)
    np.add.at(votes, (objects, what), 1.0)
    posterior = votes / votes.sum(axis=1, keepdims=True)

    iterations = 0
    several = len(what) > n  # EM needs at least one object with several answers
    while several and iterations < max_iterations:
        iterations += 1
        log_priors, log_confusion = _m_step(
            posterior, objects, who, what, len(workers), smoothing, prior_accuracy
        )
        updated = _e_step(log_priors, log_confusion, objects, who, what, n)
        change = float(np.abs(updated - posterior).max())
        posterior = updated
        if change < tolerance:
            break

    log_priors, log_confusion = _m_step(
        posterior, objects, who, what, len(workers), smoothing, prior_accuracy
    )
    near_best = posterior >= posterior.max(axis=1, keepdims=True) - _TIE
    labels = near_best.argmax(axis=1)  # first near-maximum: ties go to the smallest class id
    confidences = posterior[np.arange(n), labels]
    return DawidSkeneResult(
        labels=[int(c) for c in labels],
        confidences=[float(min(1.0, max(0.0, c))) for c in confidences],
        worker_accuracy=_accuracy(workers, log_priors, log_confusion),
        iterations=iterations,
    )
