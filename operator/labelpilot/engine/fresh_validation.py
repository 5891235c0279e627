"""The `fresh` validation policy: every iteration validates on its own random sample.

Iteration 0 validates on prepare's bound-sized random split. For each later iteration i,
threshold(i - 1) picks the active-learning batch S_i first, then draws F_i, a simple random
sample of the objects left in the pool once S_i is taken out (the pool threshold(i) labels
from), sized by the bound within the human batch. Humans label S_i and F_i together at
human(i); train(i) leaves F_i out (the model must not see its validation objects), and
threshold(i) validates on F_i alone. From train(i + 1) on, F_i is training data like any
human label, and so is prepare's split from train(1) on: no human label is wasted.

delta_i = delta / 2^(i + 1) (sum <= delta: the statements of all iterations hold together).
Why, and what the statement of iteration i is: docs/ml.md, "Fresh validation samples".
"""

from __future__ import annotations

import math

import numpy as np

from labelpilot.api.run_config import ValidationPolicy
from labelpilot.engine import bounds, storage
from labelpilot.engine.threshold_search import accepted_needed
from labelpilot.engine.workspace import Workspace

EXPECTED_COVERAGE = 0.7  # the share of a sample we expect thresholds to accept (as prepare)
FRESH_KEY = "freshValidation"  # selection.json: the sample drawn for the next iteration


def iteration_delta(delta: float, iteration: int) -> float:
    """The fresh policy's share of `delta` for iteration i >= 0: delta / 2^(i + 1)."""
    return delta * 0.5 ** (iteration + 1)


def delta_for(policy: ValidationPolicy, delta: float, iteration: int) -> float:
    """Iteration i's share of delta under `policy`."""
    if policy is ValidationPolicy.FRESH:
        return iteration_delta(delta, iteration)
    return bounds.spend_delta(delta, iteration)


def wanted_size(target: float, delta: float, *, bounded_loss: bool) -> int:
    """Objects in a sample whose accepted part (EXPECTED_COVERAGE of it) lets a search at
    level `delta` accept a model with half the allowed error."""
    return math.ceil(accepted_needed(target, delta, bounded_loss=bounded_loss) / EXPECTED_COVERAGE)


def sample_size(
    candidates: int, room: int, *, target: float, delta: float, bounded_loss: bool
) -> int:
    """The fresh sample's size: `wanted_size`, at most half of `room` (the human batch) and
    never all the candidates (then humans label them all: nothing is left to validate for).
    0 when that cannot certify anything even without a single error."""
    if candidates <= room:
        return 0
    size = min(wanted_size(target, delta, bounded_loss=bounded_loss), room // 2, candidates)
    least = bounds.min_samples_for_zero_errors(1.0 - target, delta)
    return size if size >= least else 0


def draw(candidates: list[int], size: int, *, seed: int, iteration: int) -> list[int]:
    """A uniform random sample of `size` of `candidates` (sorted), seeded per iteration:
    a rerun draws the same one."""
    if size <= 0:
        return []
    rng = np.random.default_rng([seed, 3, iteration])
    pool = np.asarray(sorted(candidates), dtype=np.int64)
    return sorted(int(i) for i in rng.choice(pool, size=size, replace=False))


def held_out(ws: Workspace, iteration: int, validation: set[int]) -> set[int]:
    """What train(iteration) leaves out: prepare's `validation` at iteration 0, else the
    iteration's fresh sample."""
    return set(validation) if iteration == 0 else set(sample_for(ws, iteration))


def sample_for(ws: Workspace, iteration: int) -> list[int]:
    """The fresh sample threshold(iteration - 1) drew for `iteration` (empty when none)."""
    if iteration < 1 or not storage.exists(ws.selection(iteration - 1)):
        return []
    return [int(i) for i in storage.read_json(ws.selection(iteration - 1)).get(FRESH_KEY, [])]
