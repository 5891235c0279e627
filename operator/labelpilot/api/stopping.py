"""The stopping conditions, as the steps and the planner apply them.

The steps decide why the loop ends (`stop_reason`) from the label state; the planner checks
the human budget and the labeled share again from the counters in status, so that a limit
lowered mid-run takes effect at once.
"""

from __future__ import annotations

import math
import sys

from labelpilot.api.steps import StopReason

UNLIMITED = sys.maxsize  # what is left of a human budget that is not set


def human_budget_left(max_human_labeled: int | None, used: int) -> int:
    """How many more objects people may label (MaxHumanLabeled): UNLIMITED without a
    budget."""
    return UNLIMITED if max_human_labeled is None else max(0, max_human_labeled - used)


def labeled_cap(objects: int, max_percentage_labeled: float) -> int:
    """The most objects a job labels (MaxPercentageLabeled): the steps never go beyond."""
    return math.floor(objects * max_percentage_labeled / 100.0)


def share_reached(labeled: int, objects: int, max_percentage_labeled: float) -> bool:
    """Whether the labeled share has reached a limit below 100% (the planner's check)."""
    return (
        bool(objects)
        and max_percentage_labeled < 100
        and labeled * 100 >= max_percentage_labeled * objects
    )


def stop_reason(
    *, unlabeled: int, labeled: int, cap: int | None, human_left: int
) -> StopReason | None:
    """Why the loop ends now, the first that holds: every object labeled, the labeled share
    reached (`cap`: labeled_cap, None when the step does not apply it), the human budget
    spent. None: it goes on."""
    if not unlabeled:
        return StopReason.ALL_LABELED
    if cap is not None and labeled >= cap:
        return StopReason.MAX_PERCENTAGE_LABELED
    if human_left <= 0:
        return StopReason.MAX_HUMAN_LABELED
    return None
