"""The `fresh` validation policy: every iteration validates on its own random sample.

Iteration 0 validates on prepare's random split, sized as by the `seed` policy (Ground
Truth's share, at most half the first batch). For each later iteration i,
threshold(i - 1) picks the active-learning batch S_i first, then draws F_i, a simple random
sample of the objects left in the pool once S_i is taken out (the pool threshold(i) labels
from), sized by the bound, within the human batch (it may fill it: its labels train the
next models as well). Humans label S_i and F_i together at
human(i); train(i) leaves F_i out (the model must not see its validation objects), and
threshold(i) validates on F_i alone. From train(i + 1) on, F_i is training data like any
human label, and so is prepare's split from train(1) on: no human label is wasted.

delta_i = delta / ((i + 1)(i + 2)): the shares telescope to delta, so the statements of all
iterations hold together with probability >= 1 - delta.
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
    """The fresh policy's share of `delta` for iteration i >= 0: delta / ((i + 1)(i + 2))
    (1/2, 1/6, 1/12, 1/20, ...: the sum over all i is delta)."""
    return delta / ((iteration + 1) * (iteration + 2))


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
    """The fresh sample's size: `wanted_size`, at most `room` (the human batch), and none
    when humans label every candidate anyway (nothing is left to validate for) or when the
    sample could not certify anything even without a single error."""
    if candidates <= room:
        return 0
    size = min(wanted_size(target, delta, bounded_loss=bounded_loss), room)
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
