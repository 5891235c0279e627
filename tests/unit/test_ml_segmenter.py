import numpy as np
import pytest
from ml_synthetic import FAST, squares

from labelpilot.api.run_config import TaskType
from labelpilot.engine.quality import mask_mean_iou
from labelpilot.ml import build_model, load_model

LABELS = ["filled", "hollow"]


@pytest.fixture(scope="module")
def trained():
    x, _, masks = squares(96, seed=0)
    model = build_model(
        TaskType.SEMANTIC_SEGMENTATION, LABELS, seed=0, options={**FAST, "epochs": 12, "lr": 1e-2}
    )
    model.fit(x, masks)
    return model


def test_segments_squares(trained):
    x, _, masks = squares(40, seed=1)
    predictions = trained.predict(x)
    assert all(m.shape == (32, 32) and m.dtype == np.uint8 for m in predictions.masks)
    ious = np.array([mask_mean_iou(p, t) for p, t in zip(predictions.masks, masks, strict=True)])
    assert ious.mean() > 0.5, ious.mean()
    conf = predictions.image_confidence
    assert conf.shape == (40,) and ((conf >= 0) & (conf <= 1)).all()
    # each class's mean probability over its pixels: for the classes the mask holds only
    by_class = predictions.class_confidence
    assert by_class.shape == (40, len(LABELS) + 1)
    for row, mask in zip(by_class, predictions.masks, strict=True):
        assert set(np.flatnonzero(np.isfinite(row))) == set(np.unique(mask).tolist())
        assert ((row[np.isfinite(row)] > 0) & (row[np.isfinite(row)] <= 1)).all()


def test_class_confidence_is_the_mean_probability_over_the_class_pixels():
    from labelpilot.ml.segmenter import class_confidence

    probs = np.zeros((3, 1, 4), np.float32)
    probs[0] = [[0.9, 0.3, 0.2, 0.5]]
    probs[2] = [[0.1, 0.7, 0.8, 0.5]]
    pred = probs.argmax(0).astype(np.uint8)  # [0, 2, 2, 0]
    out = class_confidence(probs, pred)
    np.testing.assert_allclose(out[[0, 2]], [0.7, 0.75], rtol=1e-6)
    assert np.isnan(out[1])


def test_masks_come_back_at_each_image_size(trained):
    x, _, _ = squares(3, seed=1)
    big = np.kron(x[0], np.ones((3, 2, 1), np.uint8))
    assert trained.predict([big]).masks[0].shape == (96, 64)


def test_round_trip_determinism_and_warm_start(trained, tmp_path):
    x, _, masks = squares(10, seed=2)
    trained.save(tmp_path / "m")
    a, b = trained.predict(x), load_model(str(tmp_path / "m"), options=FAST).predict(x)
    np.testing.assert_array_equal(a.image_confidence, b.image_confidence)
    for p, q in zip(a.masks, b.masks, strict=True):
        np.testing.assert_array_equal(p, q)
    runs = []
    for _ in range(2):
        m = build_model(
            TaskType.SEMANTIC_SEGMENTATION, LABELS, seed=1, options={**FAST, "epochs": 1}
        )
        m.fit(x, masks)
        runs.append(m.predict(x).image_confidence)
    np.testing.assert_array_equal(runs[0], runs[1])
    warm = build_model(
        TaskType.SEMANTIC_SEGMENTATION, LABELS, seed=0, options={**FAST, "epochs": 1, "lr": 1e-5}
    )
    assert warm.fit(x, masks, init_from=str(tmp_path / "m"))["warmStart"]
    xt, _, mt = squares(20, seed=4)
    assert (
        np.mean([mask_mean_iou(p, t) for p, t in zip(warm.predict(xt).masks, mt, strict=True)])
        > 0.5
    )


def test_rejects_out_of_range_masks():
    x, _, masks = squares(4)
    model = build_model(TaskType.SEMANTIC_SEGMENTATION, LABELS, seed=0, options=FAST)
    with pytest.raises(ValueError):
        model.fit(x, [m * 3 for m in masks])


def test_mask_iou_metric():
    truth = np.zeros((8, 8), np.uint8)
    truth[:4, :4] = 1
    assert mask_mean_iou(truth, truth) == 1.0
    assert mask_mean_iou(np.zeros_like(truth), np.zeros_like(truth)) == 1.0
    assert mask_mean_iou(np.zeros_like(truth), truth) == 0.0
