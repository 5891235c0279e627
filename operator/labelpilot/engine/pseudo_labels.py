"""Pseudo-labels: the machine labels of earlier iterations as training data (model option
`pseudo_labels`).

Off by default. `{"pseudo_labels": true}` lets train(i) learn from the objects that
threshold steps 0 .. i - 1 machine-labeled too, at most as many as the human training
labels; a number r allows at most r times as many (0: off). When more are certified than
the cap allows, a seeded uniform sample of them trains (a rerun picks the same ones).
Held-out validation objects never train: the selection excludes them as the human labels
do. Why the guarantee holds: docs/ml.md, "Pseudo-labels".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from labelpilot.engine.labels import LabelState

OPTION = "pseudo_labels"


def ratio(options: Mapping[str, Any]) -> float:
    """At most how many machine labels train per human training label (0: none)."""
    value = options.get(OPTION, False)
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    share = float(value)
    if share < 0:
        raise ValueError(f"{OPTION} must be true, false or a ratio >= 0, not {value!r}")
    return share


def chosen(
    state: LabelState,
    held_out: set[int] | None,
    human_training: int,
    options: Mapping[str, Any],
    *,
    seed: int,
    iteration: int,
) -> list[int]:
    """The machine-labeled objects train(iteration) adds to its `human_training` labels:
    none when the option is off, else those outside `held_out` (None: the validation
    set), capped by the option's ratio (sorted)."""
    share = ratio(options)
    if share == 0:
        return []
    candidates = state.machine_training_indices(held_out)
    cap = int(share * human_training)
    if len(candidates) <= cap:
        return candidates
    rng = np.random.default_rng([seed, 5, iteration])
    return sorted(int(i) for i in rng.choice(candidates, size=cap, replace=False))
