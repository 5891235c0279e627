import numpy as np
import pytest
from ml_synthetic import FAST, bars

from labelpilot.api.run_config import TaskType
from labelpilot.ml import build_model, load_model

LABELS = ["horizontal", "vertical", "square"]
# explicit: 180 labels are below CALIBRATE_FROM (no calibration), and 10% is under MIN_CALIBRATION
OPTIONS = {**FAST, "epochs": 6, "calibration_fraction": 0.15}


@pytest.fixture(scope="module")
def data():
    train = bars(180, seed=0)
    test = bars(90, seed=1)
    return train, test


@pytest.fixture(scope="module")
def trained(data):
    (x, y), _ = data
    model = build_model(TaskType.IMAGE_CLASSIFICATION, LABELS, seed=0, options=OPTIONS)
    metrics = model.fit(x, y)
    return model, metrics


def test_learns_well_above_chance(trained, data):
    model, metrics = trained
    _, (x, y) = data
    predictions = model.predict(x)
    assert predictions.probs.shape == (90, 3)
    assert predictions.probs.dtype == np.float32
    np.testing.assert_allclose(predictions.probs.sum(1), 1.0, atol=1e-5)
    assert (predictions.labels == y).mean() > 0.8
    assert predictions.embeddings.shape[0] == 90
    assert metrics["epochs"] == 6 and metrics["device"] == "cpu" and metrics["seconds"] > 0
    assert 0.5 <= metrics["temperature"] <= 20 and metrics["calibrationSize"] == 27


def test_few_labels_train_on_all_by_default(data):
    (x, y), _ = data
    options = {k: v for k, v in OPTIONS.items() if k != "calibration_fraction"}
    model = build_model(
        TaskType.IMAGE_CLASSIFICATION, LABELS, seed=0, options={**options, "epochs": 1}
    )
    metrics = model.fit(x, y)
    assert metrics["calibrationSize"] == 0 and metrics["trainSize"] == 180
    assert metrics["temperature"] == 1.0


def test_save_load_round_trip(trained, data, tmp_path):
    model, _ = trained
    _, (x, _) = data
    model.save(tmp_path / "m")
    loaded = load_model(str(tmp_path / "m"), options=FAST)
    np.testing.assert_array_equal(model.predict(x).probs, loaded.predict(x).probs)
    assert loaded.labels == LABELS


def test_deterministic_with_seed(data):
    (x, y), (xt, _) = data
    runs = []
    for _ in range(2):
        model = build_model(
            TaskType.IMAGE_CLASSIFICATION, LABELS, seed=3, options={**FAST, "epochs": 1}
        )
        model.fit(x[:60], y[:60])
        runs.append(model.predict(xt[:20]).probs)
    np.testing.assert_array_equal(runs[0], runs[1])


def test_warm_start_beats_cold_start(trained, data, tmp_path):
    model, _ = trained
    (x, y), (xt, yt) = data
    model.save(tmp_path / "init")
    short = {**FAST, "epochs": 1, "lr": 1e-4}
    cold = build_model(TaskType.IMAGE_CLASSIFICATION, LABELS, seed=0, options=short)
    cold.fit(x[:30], y[:30])
    warm = build_model(TaskType.IMAGE_CLASSIFICATION, LABELS, seed=0, options=short)
    metrics = warm.fit(x[:30], y[:30], init_from=str(tmp_path / "init"))
    assert metrics["warmStart"] is True
    assert (warm.predict(xt).labels == yt).mean() > (cold.predict(xt).labels == yt).mean()


def test_mixed_sizes_and_rgb():
    x, y = bars(60, seed=2, rgb=True)
    x = [im if i % 2 else np.pad(im, ((0, 8), (0, 4), (0, 0))) for i, im in enumerate(x)]
    model = build_model(
        TaskType.IMAGE_CLASSIFICATION, LABELS, seed=0, options={**FAST, "epochs": 1}
    )
    model.fit(x, y)
    assert model.predict([*x, x[0][:, :, :1]]).probs.shape == (61, 3)


def test_rejects_bad_targets():
    x, _ = bars(6)
    model = build_model(TaskType.IMAGE_CLASSIFICATION, LABELS, seed=0, options=FAST)
    with pytest.raises(ValueError):
        model.fit(x, np.full(6, 7))


def test_efficientnet_backbone_runs(tmp_path):
    x, y = bars(12, seed=0, size=32)
    options = {
        **FAST,
        "backbone": "efficientnet-lite0",
        "image_size": 64,
        "epochs": 1,
        "batch_size": 12,
    }
    model = build_model(TaskType.IMAGE_CLASSIFICATION, LABELS, seed=0, options=options)
    metrics = model.fit(x, y)
    assert metrics["architecture"] == "image-classifier/efficientnet-lite0"
    model.save(tmp_path / "eff")
    np.testing.assert_allclose(  # oneDNN may pick another kernel: equal to 1e-5
        model.predict(x[:4]).probs,
        load_model(str(tmp_path / "eff"), options=FAST).predict(x[:4]).probs,
        atol=1e-5,
    )
