"""Degenerate training sets the engine meets in early iterations: tiny, one class, empty."""

import numpy as np
import pytest
from ml_synthetic import FAST, bars, squares, topic_texts

from labelpilot.api.run_config import TaskType
from labelpilot.ml import build_model


@pytest.mark.parametrize("n", [1, 3])
def test_tiny_classification_sets(n):
    x, y = bars(n)
    model = build_model(
        TaskType.IMAGE_CLASSIFICATION, ["a", "b", "c"], seed=0, options={**FAST, "epochs": 1}
    )
    metrics = model.fit(x, y)
    assert metrics["calibrationSize"] == 0 and metrics["temperature"] == 1.0
    assert model.predict(x + x).probs.shape == (2 * n, 3)
    texts, labels = topic_texts(n)
    text_model = build_model(
        TaskType.TEXT_CLASSIFICATION,
        ["s", "c"],
        seed=0,
        options={**FAST, "encoder": "scratch", "epochs": 1},
    )
    text_model.fit(texts, labels)
    assert text_model.predict(["", "x"]).probs.shape == (2, 2)


def test_images_without_objects():
    x, _, masks = squares(4)
    empty_boxes = [np.zeros((0, 5), np.float32) for _ in x]
    empty_masks = [np.zeros_like(m) for m in masks]
    detector = build_model(
        TaskType.OBJECT_DETECTION, ["f", "h"], seed=0, options={**FAST, "epochs": 1}
    )
    detector.fit(x, empty_boxes)
    predictions = detector.predict(x)
    assert len(predictions.boxes) == 4 and predictions.image_confidence.shape == (4,)
    segmenter = build_model(
        TaskType.SEMANTIC_SEGMENTATION, ["f", "h"], seed=0, options={**FAST, "epochs": 1}
    )
    segmenter.fit(x, empty_masks)
    assert len(segmenter.predict(x).masks) == 4


def test_predict_before_fit_and_on_nothing():
    model = build_model(TaskType.IMAGE_CLASSIFICATION, ["a", "b"], seed=0, options=FAST)
    with pytest.raises(RuntimeError):
        model.predict([np.zeros((4, 4, 1), np.uint8)])
    x, y = bars(6)
    model = build_model(
        TaskType.IMAGE_CLASSIFICATION, ["a", "b", "c"], seed=0, options={**FAST, "epochs": 1}
    )
    model.fit(x, y)
    assert model.predict([]).probs.shape == (0, 3)
