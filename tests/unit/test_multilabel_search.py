"""Multi-label thresholds: the sets they accept, their paths, and the guarantee over seeds."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from labelpilot.engine import multilabel_search as ml
from labelpilot.engine.bounds import spend_delta


def test_sets_and_confidences():
    probs = np.array([[0.9, 0.2, 0.5], [0.01, 0.99, 0.7]])
    assert ml.predicted_labels(probs[0]) == [0, 2]
    assert ml.predicted_labels(probs[1]) == [1, 2]
    np.testing.assert_allclose(ml.label_confidences(probs)[0], [0.9, 0.8, 0.5])
    np.testing.assert_allclose(ml.set_confidence(probs), [0.9 * 0.8 * 0.5, 0.99 * 0.99 * 0.7])


def test_accept_needs_the_set_and_every_label():
    probs = np.array([[0.95, 0.05], [0.95, 0.4], [0.6, 0.01]])
    # set threshold only
    assert ml.accept(probs, np.array([0.85, 0.0, 0.0])).tolist() == [True, False, False]
    # per-label thresholds only: label 0 needs 0.9, label 1 needs 0.55
    assert ml.accept(probs, np.array([0.0, 0.9, 0.55])).tolist() == [True, True, False]
    assert not ml.accept(probs, np.array([np.inf, 0.0, 0.0])).any()


def test_paths_are_nested_from_strict_to_loose():
    rng = np.random.default_rng(0)
    pool = rng.beta(0.3, 0.3, (500, 4))
    for build in ml.PATHS.values():
        path = build(pool)
        accepted = [int(ml.accept(pool, t).sum()) for t in path]
        assert accepted == sorted(accepted)
        sets = [ml.accept(pool, t) for t in path]
        for before, after in itertools.pairwise(sets):
            assert not (before & ~after).any()


def _calibrated(n: int, labels: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Scores whose every label is right with probability max(p, 1 - p) (calibrated)."""
    probs = rng.beta(0.05, 0.05, (n, labels))
    truth = rng.random((n, labels)) < probs
    return probs, truth


def test_a_calibrated_model_gets_machine_labels_whose_sets_meet_the_target():
    rng = np.random.default_rng(1)
    val_probs, val_truth = _calibrated(1500, 3, rng)
    pool_probs, pool_truth = _calibrated(5000, 3, rng)
    result = ml.multilabel_thresholds(val_probs, val_truth, pool_probs, target=0.95, delta=0.05)
    accepted = result.accepted
    assert accepted.sum() > 500
    right = (ml.predicted_sets(pool_probs[accepted]) == pool_truth[accepted]).all(axis=1)
    assert right.mean() >= 0.95
    assert result.bound is not None and result.bound >= 0.95
    assert len(result.thresholds) == 4
    assert result.details["path"] in ml.PATHS


def test_an_overconfident_model_is_caught_over_seeds():
    """Scores that claim far more than they deliver: over 200 seeds the accepted sets' true
    accuracy falls below the target at most about delta of the time."""
    target, delta, violations, seeds = 0.9, 0.1, 0, 200
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        n_val, n_pool = 300, 3000
        probs = rng.beta(0.2, 0.2, (n_val + n_pool, 2))
        honest = np.clip(0.5 + (probs - 0.5) * 0.8, 0, 1)  # each label right w.p. max(h, 1-h)
        truth = rng.random(probs.shape) < honest
        result = ml.multilabel_thresholds(
            probs[:n_val], truth[:n_val], probs[n_val:], target=target, delta=delta
        )
        accepted = result.accepted
        if accepted.sum() == 0:
            continue
        sets = ml.predicted_sets(probs[n_val:][accepted]) == truth[n_val:][accepted]
        violations += int(sets.all(axis=1).mean() < target)
    # Binomial(200, 0.1) exceeds 32 with probability < 0.01
    assert violations <= 32


def test_groundtruth_mode_is_the_point_estimate_on_the_set_confidence():
    rng = np.random.default_rng(2)
    val_probs, val_truth = _calibrated(400, 2, rng)
    pool_probs, _ = _calibrated(1000, 2, rng)
    result = ml.multilabel_thresholds(
        val_probs, val_truth, pool_probs, target=0.9, delta=0.05, mode="groundtruth"
    )
    assert result.bound is None and result.estimate is not None and result.estimate >= 0.9
    assert result.thresholds[1:].tolist() == [0.0, 0.0]
    conf = ml.set_confidence(pool_probs)
    assert result.accepted.tolist() == (conf >= result.thresholds[0]).tolist()


@pytest.mark.parametrize("empty", ["validation", "pool"])
def test_nothing_to_search_accepts_nothing(empty):
    probs = np.full((5, 3), 0.99)
    truth = np.ones((5, 3), bool)
    val = probs[:0] if empty == "validation" else probs
    pool = probs[:0] if empty == "pool" else probs
    result = ml.multilabel_thresholds(
        val, truth[: len(val)], pool, target=0.9, delta=spend_delta(0.05, 0)
    )
    assert not result.accepted.any() and result.bound is None
