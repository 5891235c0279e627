import numpy as np
import pytest
from ml_synthetic import FAST, topic_texts

from labelpilot.api.run_config import TaskType
from labelpilot.ml import build_model, load_model
from labelpilot.ml.text_classifier import hashed_features

LABELS = ["sport", "cooking"]


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LABELPILOT_EMBEDDING_CACHE", str(tmp_path / "emb"))


@pytest.mark.parametrize("encoder", ["hybrid", "minilm", "scratch"])
def test_learns_and_round_trips(encoder, tmp_path):
    x, y = topic_texts(80, seed=0)
    xt, yt = topic_texts(40, seed=1)
    model = build_model(
        TaskType.TEXT_CLASSIFICATION,
        LABELS,
        seed=0,
        options={**FAST, "encoder": encoder, "epochs": 20},
    )
    metrics = model.fit(x, y)
    assert metrics["architecture"] == f"text-classifier/{encoder}"
    predictions = model.predict(xt)
    assert predictions.probs.shape == (40, 2)
    assert (predictions.labels == yt).mean() > 0.85
    model.save(tmp_path / "m")
    np.testing.assert_array_equal(
        predictions.probs, load_model(str(tmp_path / "m"), options=FAST).predict(xt).probs
    )


def test_scratch_is_deterministic_and_warm_starts(tmp_path):
    x, y = topic_texts(60, seed=0)
    xt, yt = topic_texts(30, seed=1)
    options = {**FAST, "encoder": "scratch", "epochs": 2}
    runs = []
    for _ in range(2):
        model = build_model(TaskType.TEXT_CLASSIFICATION, LABELS, seed=5, options=options)
        model.fit(x, y)
        runs.append(model.predict(xt).probs)
    np.testing.assert_array_equal(runs[0], runs[1])
    strong = build_model(
        TaskType.TEXT_CLASSIFICATION, LABELS, seed=0, options={**options, "epochs": 20}
    )
    strong.fit(x, y)
    strong.save(tmp_path / "init")
    warm = build_model(
        TaskType.TEXT_CLASSIFICATION, LABELS, seed=0, options={**options, "epochs": 1, "lr": 1e-5}
    )
    assert warm.fit(x[:4], y[:4], init_from=str(tmp_path / "init"))["warmStart"]
    assert (warm.predict(xt).labels == yt).mean() > 0.85


def test_minilm_embeddings_are_cached(tmp_path):
    from labelpilot.ml.text_classifier import EmbeddingCache

    x, y = topic_texts(10)
    model = build_model(TaskType.TEXT_CLASSIFICATION, LABELS, seed=0, options={**FAST, "epochs": 1})
    model.fit(x, y)
    assert (tmp_path / "emb").is_dir()
    EmbeddingCache._memory.clear()
    before = model.predict(x).probs
    EmbeddingCache._memory.clear()
    np.testing.assert_array_equal(before, model.predict(x).probs)


def test_few_labels_train_on_all_by_default():
    x, y = topic_texts(300, seed=0)
    options = {**FAST, "encoder": "scratch", "epochs": 1}
    model = build_model(TaskType.TEXT_CLASSIFICATION, LABELS, seed=0, options=options)
    metrics = model.fit(x, y)
    assert metrics["calibrationSize"] == 0 and metrics["trainSize"] == 300
    assert metrics["temperature"] == 1.0
    held = build_model(
        TaskType.TEXT_CLASSIFICATION,
        LABELS,
        seed=0,
        options={**options, "calibration_fraction": 0.1},
    )
    metrics = held.fit(x, y)
    assert metrics["calibrationSize"] == 30 and metrics["trainSize"] == 270


def test_hashed_features_are_stable_and_cover_any_script():
    assert hashed_features("Hello world") == hashed_features("hello WORLD")
    assert len(hashed_features("日本語のテキスト")) > 1
    assert hashed_features("") == hashed_features("  ")


def test_default_encoder_is_the_hybrid():
    model = build_model(TaskType.TEXT_CLASSIFICATION, LABELS, seed=0, options=FAST)
    assert model.architecture == "text-classifier/hybrid"


def test_hashed_features_take_a_range_of_character_ngrams():
    assert set(hashed_features("anna")) < set(hashed_features("anna", chars=(1, 5)))
    # the word, then the 1- to 5-grams of "<anna>"
    assert len(hashed_features("anna", chars=(1, 5))) == 1 + 6 + 5 + 4 + 3 + 2
    ending = set(hashed_features("a>", chars=(2, 2))[-1:])  # the 2-gram "a>" of a word "a"
    assert ending <= set(hashed_features("maria", chars=(1, 5)))
    assert not ending <= set(hashed_features("mario", chars=(1, 5)))


def test_hybrid_fits_on_one_to_five_grams_and_old_models_keep_three_grams(tmp_path):
    x, y = topic_texts(40, seed=0)
    model = build_model(TaskType.TEXT_CLASSIFICATION, LABELS, seed=0, options={**FAST, "epochs": 2})
    model.fit(x, y)
    assert model.state["charNgrams"] == [1, 5]
    model.save(tmp_path / "m")
    loaded = load_model(str(tmp_path / "m"), options=FAST)
    np.testing.assert_array_equal(model.predict(x).probs, loaded.predict(x).probs)
    del loaded.state["charNgrams"]  # as in a model saved before the option existed
    three = loaded.predict(x).probs
    assert not np.array_equal(model.predict(x).probs, three)
    loaded.state["charNgrams"] = [3, 3]
    np.testing.assert_array_equal(three, loaded.predict(x).probs)


def test_a_weighted_bag_of_distinct_ids_is_the_mean_of_all_ids():
    import torch

    from labelpilot.ml.text_classifier import weighted_bag

    ids = hashed_features("the cat and the hat and the bat", buckets=64, chars=(1, 5))
    unique, weights = weighted_bag(ids)
    assert len(unique) < len(ids) and abs(float(weights.sum()) - 1.0) < 1e-6
    table = torch.nn.EmbeddingBag(64, 8, mode="mean")
    weighted = torch.nn.EmbeddingBag(64, 8, mode="sum")
    weighted.load_state_dict(table.state_dict())
    mean = table(torch.tensor(ids), torch.tensor([0]))
    summed = weighted(
        torch.from_numpy(unique), torch.tensor([0]), per_sample_weights=torch.from_numpy(weights)
    )
    torch.testing.assert_close(summed, mean)


def test_the_in_memory_embedding_cache_keeps_the_vectors_used_last(monkeypatch):
    from labelpilot.ml.text_classifier import EmbeddingCache

    monkeypatch.setattr(EmbeddingCache, "MEMORY_ENTRIES", 3)
    EmbeddingCache._memory.clear()
    cache = EmbeddingCache("test", disk=False)
    vector = np.zeros(4, np.float32)
    cache.put_many({"a": vector, "b": vector, "c": vector})
    assert set(cache.get_many(["a"])) == {"a"}  # a is now the most recently used
    cache.put_many({"d": vector, "e": vector})
    assert list(EmbeddingCache._memory) == ["a", "d", "e"]
    EmbeddingCache._memory.clear()


def _fitted(options, x, y):
    model = build_model(TaskType.TEXT_CLASSIFICATION, LABELS, seed=0, options=options)
    model.fit(x, y)
    return model


def test_an_ensemble_predicts_the_mean_of_its_members_probabilities(tmp_path):
    import torch

    from labelpilot.ml.training import predict_logits

    x, y = topic_texts(60, seed=0)
    xt, _ = topic_texts(30, seed=1)
    options = {**FAST, "epochs": 3, "ensemble": 3, "calibration_fraction": 0}
    model = _fitted(options, x, y)
    assert model.state["ensemble"] == 3 and model.state["temperature"] == 1.0
    features = model._featurize(xt)

    def member_probs(member):
        logits, _ = predict_logits(
            member, model.runtime, len(xt), lambda i, _t: model._batch(features, i)
        )
        return torch.softmax(logits, 1).numpy()

    members = [member_probs(member) for member in model.net.members]
    assert not np.allclose(members[0], members[1]) and not np.allclose(members[1], members[2])
    probs = model.predict(xt).probs
    np.testing.assert_allclose(probs, np.mean(members, axis=0), atol=1e-6)
    model.save(tmp_path / "m")
    loaded = load_model(str(tmp_path / "m"), options=FAST)
    np.testing.assert_array_equal(probs, loaded.predict(xt).probs)


def test_an_ensemble_of_one_is_the_single_model(tmp_path):
    x, y = topic_texts(40, seed=0)
    options = {**FAST, "epochs": 2}
    single = _fitted(options, x, y)
    one = _fitted({**options, "ensemble": 1}, x, y)
    assert "ensemble" not in one.state
    assert single.state_dict().keys() == one.state_dict().keys()
    np.testing.assert_array_equal(single.predict(x).probs, one.predict(x).probs)
