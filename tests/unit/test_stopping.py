"""The stopping conditions, one set of rules for the steps and the planner."""

from __future__ import annotations

from labelpilot.api.steps import StopReason
from labelpilot.api.stopping import (
    UNLIMITED,
    human_budget_left,
    labeled_cap,
    share_reached,
    stop_reason,
)


def test_the_human_budget():
    assert human_budget_left(None, 10**15) == UNLIMITED
    assert human_budget_left(1000, 400) == 600
    assert human_budget_left(1000, 1200) == 0


def test_the_labeled_share():
    assert labeled_cap(1001, 50) == 500  # the steps never label beyond it
    assert labeled_cap(1000, 100) == 1000
    assert not share_reached(500, 1001, 50)  # 500 of 1001 is short of half
    assert share_reached(501, 1001, 50)
    assert not share_reached(1000, 1000, 100)  # 100%: the loop ends by AllLabeled instead
    assert not share_reached(0, 0, 10)


def test_the_first_condition_that_holds_is_the_reason():
    def reason(
        unlabeled: int = 5, labeled: int = 5, cap: int | None = 10, human_left: int = 3
    ) -> StopReason | None:
        return stop_reason(unlabeled=unlabeled, labeled=labeled, cap=cap, human_left=human_left)

    assert reason() is None
    assert reason(unlabeled=0, labeled=10, human_left=0) is StopReason.ALL_LABELED
    assert reason(labeled=10, human_left=0) is StopReason.MAX_PERCENTAGE_LABELED
    assert reason(labeled=10, cap=None, human_left=0) is StopReason.MAX_HUMAN_LABELED
    assert reason(human_left=0) is StopReason.MAX_HUMAN_LABELED
