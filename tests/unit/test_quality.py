"""Label quality, one definition (labelpilot.engine.quality): what the threshold step,
the evaluation, the model tests and the benchmarks all measure with."""

from __future__ import annotations

import numpy as np
import pytest

from labelpilot.engine.quality import boxes_mean_iou, mask_mean_iou

TRUTH = np.array([[0, 0, 0, 10, 10], [1, 20, 20, 10, 10], [1, 40, 40, 5, 5]], np.float64)


def test_a_predictions_score_column_is_ignored():
    scores = np.array([[0.9], [0.8], [0.7]])
    assert boxes_mean_iou(np.hstack([TRUTH, scores]), TRUTH) == pytest.approx(1.0)
    shifted = np.hstack([TRUTH[:2], scores[:2]])  # the last true box missed
    assert boxes_mean_iou(shifted, TRUTH) == pytest.approx((1.0 + 0.5) / 2)
    assert boxes_mean_iou(np.zeros((0, 6)), TRUTH) == 0.0
    assert boxes_mean_iou(np.zeros((0, 6)), np.zeros((0, 5))) == 1.0


def test_boxes_without_their_five_columns_are_refused_by_name():
    with pytest.raises(ValueError, match=r"predicted boxes: .*shape \(3, 4\)"):
        boxes_mean_iou(TRUTH[:, 1:], TRUTH)
    with pytest.raises(ValueError, match=r"true boxes: .*shape \(2, 2, 5\)"):
        boxes_mean_iou(TRUTH, np.zeros((2, 2, 5)) + 1)


def test_masks_of_different_shapes_have_iou_zero():
    # the rule the models' tests and benchmarks now measure by too (their copy raised)
    mask = np.zeros((8, 8), np.uint8)
    mask[2:6, 2:6] = 3
    assert mask_mean_iou(mask, mask) == 1.0
    assert mask_mean_iou(mask[:, :7], mask) == 0.0
    assert mask_mean_iou(np.zeros((4, 4), np.uint8), np.zeros((5, 5), np.uint8)) == 0.0
