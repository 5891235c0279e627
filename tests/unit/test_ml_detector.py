import numpy as np
import pytest
from ml_synthetic import FAST, squares

from labelpilot.api.run_config import TaskType
from labelpilot.engine.quality import boxes_mean_iou
from labelpilot.ml import build_model, load_model

LABELS = ["filled", "hollow"]
OPTIONS = {**FAST, "epochs": 25, "lr": 1e-2}


@pytest.fixture(scope="module")
def trained():
    x, boxes, _ = squares(96, seed=0)
    model = build_model(TaskType.OBJECT_DETECTION, LABELS, seed=0, options=OPTIONS)
    metrics = model.fit(x, boxes)
    return model, metrics


def test_detects_squares(trained):
    model, metrics = trained
    x, boxes, _ = squares(40, seed=1)
    predictions = model.predict(x)
    assert len(predictions.boxes) == 40
    assert all(b.shape[1] == 6 for b in predictions.boxes)
    ious = np.array([boxes_mean_iou(p, t) for p, t in zip(predictions.boxes, boxes, strict=True)])
    assert ious.mean() > 0.4, ious.mean()
    conf = predictions.image_confidence
    assert conf.shape == (40,) and ((conf >= 0) & (conf <= 1)).all()
    assert metrics["epochs"] == 25


def test_boxes_map_back_to_image_pixels(trained):
    model, _ = trained
    x, _boxes, _ = squares(20, seed=1)
    big = [np.kron(im, np.ones((2, 2, 1), np.uint8)) for im in x]
    small, large = model.predict(x).boxes, model.predict(big).boxes
    for a, b in zip(small, large, strict=True):
        if len(a) and len(a) == len(b):
            a, b = a[np.argsort(a[:, 1])], b[np.argsort(b[:, 1])]
            np.testing.assert_allclose(a[:, 1:5] * 2, b[:, 1:5], atol=4.0)


def test_round_trip_and_determinism(trained, tmp_path):
    model, _ = trained
    x, boxes, _ = squares(10, seed=2)
    model.save(tmp_path / "m")
    a, b = model.predict(x), load_model(str(tmp_path / "m"), options=FAST).predict(x)
    np.testing.assert_array_equal(a.image_confidence, b.image_confidence)
    for p, q in zip(a.boxes, b.boxes, strict=True):
        np.testing.assert_array_equal(p, q)
    runs = []
    for _ in range(2):
        m = build_model(TaskType.OBJECT_DETECTION, LABELS, seed=1, options={**FAST, "epochs": 1})
        m.fit(x, boxes)
        runs.append(m.predict(x).image_confidence)
    np.testing.assert_array_equal(runs[0], runs[1])


def test_warm_start(trained, tmp_path):
    model, _ = trained
    model.save(tmp_path / "init")
    x, boxes, _ = squares(8, seed=3)
    warm = build_model(
        TaskType.OBJECT_DETECTION, LABELS, seed=0, options={**FAST, "epochs": 1, "lr": 1e-5}
    )
    assert warm.fit(x, boxes, init_from=str(tmp_path / "init"))["warmStart"]
    xt, bt, _ = squares(20, seed=4)
    ious = [boxes_mean_iou(p, t) for p, t in zip(warm.predict(xt).boxes, bt, strict=True)]
    assert np.mean(ious) > 0.4


def test_box_iou_metric():
    truth = np.array([[0, 10, 10, 10, 10], [1, 30, 30, 5, 5]], np.float32)
    assert boxes_mean_iou(np.c_[truth, np.ones(2)], truth) == pytest.approx(1.0)
    assert boxes_mean_iou(np.zeros((0, 6)), truth) == 0.0
    assert boxes_mean_iou(np.zeros((0, 6)), np.zeros((0, 5))) == 1.0
    shifted = truth.copy()
    shifted[0, 1] += 5  # half overlap: IoU 1/3 for class 0, 1 for class 1
    assert boxes_mean_iou(shifted, truth) == pytest.approx((1 / 3 + 1) / 2)
