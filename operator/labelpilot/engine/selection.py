"""Active learning: which unlabeled objects humans should label next.

Uncertainty first: the candidates are the least confident objects (smallest margin between
the top two class probabilities; for boxes and masks the lowest image confidence), a pool
`pool_factor` times the batch. Diversity second: from those, k-means++ seeding (distance
squared sampling, as in BADGE) over L2-normalised features (the model's embeddings when it
has them, else its probability vectors) picks the batch, so near-duplicates rarely share a
batch. Deterministic for a given seed.
"""

from __future__ import annotations

import numpy as np


def margins(probs: np.ndarray) -> np.ndarray:
    """Top-1 minus top-2 probability per row (1 for a single class)."""
    if probs.shape[1] < 2:
        return np.ones(len(probs))
    top2 = np.partition(probs, -2, axis=1)[:, -2:]
    return top2[:, 1] - top2[:, 0]


def kmeanspp_seeding(features: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of k rows chosen by k-means++ seeding (first: the most uncertain, row 0)."""
    n = len(features)
    if k >= n:
        return np.arange(n)
    chosen = [0]
    dist = np.sum((features - features[0]) ** 2, axis=1)
    for _ in range(1, k):
        total = float(dist.sum())
        if total <= 1e-12:
            rest = np.setdiff1d(np.arange(n), chosen)
            chosen.extend(rest[: k - len(chosen)].tolist())
            break
        nxt = int(rng.choice(n, p=dist / total))
        chosen.append(nxt)
        dist = np.minimum(dist, np.sum((features - features[nxt]) ** 2, axis=1))
        dist[nxt] = 0.0
    return np.asarray(chosen)


def select_batch(
    uncertainty: np.ndarray,
    features: np.ndarray | None,
    batch_size: int,
    *,
    seed: int,
    pool_factor: int = 3,
) -> np.ndarray:
    """Positions (into `uncertainty`) of the next human batch.

    `uncertainty`: higher = less sure (e.g. 1 - margin). `features`: (N, d) or None.
    """
    n = len(uncertainty)
    if batch_size <= 0 or n == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(-np.asarray(uncertainty), kind="stable")
    if batch_size >= n:
        return np.sort(order)
    candidates = order[: min(n, pool_factor * batch_size)]
    if features is None:
        return np.sort(candidates[:batch_size])
    f = np.asarray(features, dtype=np.float64)[candidates]
    f = f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)
    picked = kmeanspp_seeding(f, batch_size, np.random.default_rng(seed))
    return np.sort(candidates[picked])
