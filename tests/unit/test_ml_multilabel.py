"""Multi-label classification models: one sigmoid per label, trained from 0/1 rows."""

import numpy as np
import pytest
from ml_synthetic import FAST, bars_present, topics_present

from labelpilot.api.run_config import TaskType
from labelpilot.engine import multilabel_search
from labelpilot.ml import build_model, load_model


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LABELPILOT_EMBEDDING_CACHE", str(tmp_path / "emb"))


def _set_accuracy(probs: np.ndarray, targets: np.ndarray) -> float:
    right = multilabel_search.predicted_sets(probs) == targets.astype(bool)
    return float(right.all(axis=1).mean())


def test_image_sets_are_learned_and_round_trip(tmp_path):
    x, y = bars_present(240, seed=0)
    xt, yt = bars_present(80, seed=1)
    model = build_model(
        TaskType.IMAGE_CLASSIFICATION_MULTILABEL,
        ["horizontal", "vertical", "square"],
        seed=0,
        options={**FAST, "epochs": 15},
    )
    model.fit(x, y)
    probs = model.predict(xt).probs
    assert probs.shape == (80, 3)
    assert not np.allclose(probs.sum(axis=1), 1.0)  # independent labels, not a softmax
    assert _set_accuracy(probs, yt) > 0.8
    model.save(tmp_path / "m")
    again = load_model(str(tmp_path / "m"), options=FAST).predict(xt).probs
    np.testing.assert_array_equal(probs, again)


def test_text_sets_are_learned_with_an_empty_set_among_them():
    x, y = topics_present(120, seed=0)
    xt, yt = topics_present(60, seed=1)
    assert (yt.sum(axis=1) == 0).any()
    model = build_model(
        TaskType.TEXT_CLASSIFICATION_MULTILABEL,
        ["sport", "cooking"],
        seed=0,
        options={**FAST, "encoder": "scratch", "epochs": 20},
    )
    model.fit(x, y)
    assert _set_accuracy(model.predict(xt).probs, yt) > 0.85


def test_calibration_holds_out_sets_and_fits_a_temperature():
    x, y = topics_present(200, seed=2)
    model = build_model(
        TaskType.TEXT_CLASSIFICATION_MULTILABEL,
        ["sport", "cooking"],
        seed=0,
        options={**FAST, "encoder": "scratch", "epochs": 10, "calibration_fraction": 0.2},
    )
    metrics = model.fit(x, y)
    assert metrics["calibrationSize"] == 40
    assert 0.0 <= metrics["calibrationAccuracy"] <= 1.0
    assert metrics["temperature"] > 0


@pytest.mark.parametrize(
    "targets, message",
    [
        (np.zeros((4, 2), np.float32), r"\(N, 3\) 0/1 rows"),
        (np.full((4, 3), 0.5, np.float32), r"\(N, 3\) 0/1 rows"),
        (np.zeros((3, 3), np.float32), "as many targets as inputs"),
    ],
)
def test_bad_multi_label_targets_are_refused(targets, message):
    x, _ = bars_present(4)
    model = build_model(
        TaskType.IMAGE_CLASSIFICATION_MULTILABEL, ["a", "b", "c"], seed=0, options=FAST
    )
    with pytest.raises(ValueError, match=message):
        model.fit(x, targets)
