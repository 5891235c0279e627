"""Dawid-Skene consolidation: majority on easy cases, better than majority on noisy crowds."""

from __future__ import annotations

import numpy as np
import pytest

from labelpilot.workforce.dawid_skene import DawidSkeneResult, dawid_skene

Answers = list[list[tuple[str, int]]]


def _wrong(rng: np.random.Generator, truth: int, classes: int) -> int:
    other = int(rng.integers(0, classes - 1))
    return other + 1 if other >= truth else other


def _crowd(
    seed: int, objects: int, classes: int, accuracies: dict[str, float]
) -> tuple[np.ndarray, Answers]:
    """Every worker answers every object: right with its accuracy, else a uniform wrong class."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, classes, objects)
    answers: Answers = []
    for t in truth:
        row = []
        for worker, accuracy in accuracies.items():
            right = rng.random() < accuracy
            row.append((worker, int(t) if right else _wrong(rng, int(t), classes)))
        answers.append(row)
    return truth, answers


def _majority(answers: Answers, classes: int) -> np.ndarray:
    votes = [np.bincount([c for _, c in row], minlength=classes) for row in answers]
    return np.asarray([int(np.argmax(v)) for v in votes])  # ties: smallest class id


def test_three_workers_one_wrong_gives_majority() -> None:
    result = dawid_skene([[("a", 2), ("b", 2), ("c", 0)]], classes=3)
    assert result.labels == [2]
    assert 0.8 < result.confidences[0] <= 1.0  # a tiny batch still gives a useful confidence


def test_one_always_wrong_worker_over_a_batch_is_outvoted() -> None:
    answers = [[("a", k % 3), ("b", k % 3), ("c", (k + 1) % 3)] for k in range(30)]
    result = dawid_skene(answers, classes=3)
    assert result.labels == [k % 3 for k in range(30)]
    assert result.worker_accuracy["c"] < 0.2 < 0.8 < result.worker_accuracy["a"]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_beats_majority_vote_with_two_good_and_three_noisy_workers(seed: int) -> None:
    workers = {"good1": 0.9, "good2": 0.9, "noisy1": 0.35, "noisy2": 0.35, "noisy3": 0.35}
    truth, answers = _crowd(seed, objects=200, classes=5, accuracies=workers)

    result = dawid_skene(answers, classes=5)

    ds_accuracy = float(np.mean(np.asarray(result.labels) == truth))
    mv_accuracy = float(np.mean(_majority(answers, 5) == truth))
    assert ds_accuracy >= mv_accuracy
    assert ds_accuracy >= mv_accuracy + 0.03  # a clear gain, not a tie
    assert ds_accuracy >= 0.85
    for good in ("good1", "good2"):
        for noisy in ("noisy1", "noisy2", "noisy3"):
            assert result.worker_accuracy[good] > result.worker_accuracy[noisy] + 0.3


def test_spammers_get_low_accuracy_and_are_outvoted() -> None:
    classes, objects = 4, 300
    rng = np.random.default_rng(7)
    truth, answers = _crowd(7, objects, classes, {"good1": 0.9, "good2": 0.9})
    for row in answers:  # two spammers answering uniformly at random
        row.extend([("spam1", int(rng.integers(0, classes))), ("spam2", int(rng.integers(0, 4)))])
    # Spammers agree against the good workers: majority vote ties and picks class 0.
    answers.append([("good1", 3), ("good2", 3), ("spam1", 0), ("spam2", 0)])
    # The good workers disagree with each other, the spammers agree: majority says 0.
    answers.append([("good1", 1), ("good2", 2), ("spam1", 0), ("spam2", 0)])

    result = dawid_skene(answers, classes)

    assert _majority(answers[-2:], classes).tolist() == [0, 0]
    assert result.labels[-2] == 3
    assert result.labels[-1] in (1, 2)
    for spammer in ("spam1", "spam2"):
        assert result.worker_accuracy[spammer] < 0.4
    for good in ("good1", "good2"):
        assert result.worker_accuracy[good] > 0.75
    accuracy = np.mean(np.asarray(result.labels[:objects]) == truth)
    assert accuracy >= np.mean(_majority(answers[:objects], classes) == truth)


def test_single_worker_per_object_keeps_the_answers() -> None:
    rng = np.random.default_rng(3)
    answers = [[(f"w{int(rng.integers(0, 4))}", int(rng.integers(0, 6)))] for _ in range(100)]
    answers.append([("w0", 5)])  # a class answered rarely stays as answered
    result = dawid_skene(answers, classes=6)
    assert result.labels == [row[0][1] for row in answers]
    assert result.confidences == [1.0] * len(answers)
    assert result.iterations == 0
    assert set(result.worker_accuracy) == {"w0", "w1", "w2", "w3"}


def test_deterministic_and_independent_of_worker_order() -> None:
    workers = {"x": 0.8, "y": 0.6, "z": 0.4}
    _, answers = _crowd(11, objects=80, classes=3, accuracies=workers)
    first = dawid_skene(answers, classes=3)
    again = dawid_skene(answers, classes=3)
    reordered = dawid_skene([list(reversed(row)) for row in answers], classes=3)
    assert first == again
    assert first.labels == reordered.labels
    np.testing.assert_allclose(first.confidences, reordered.confidences, atol=1e-12)


def test_confidences_are_probabilities_and_accuracies_bounded() -> None:
    _, answers = _crowd(5, objects=60, classes=4, accuracies={"a": 0.7, "b": 0.5, "c": 0.3})
    result = dawid_skene(answers, classes=4)
    assert isinstance(result, DawidSkeneResult)
    assert len(result.labels) == len(result.confidences) == 60
    assert all(0.0 <= c <= 1.0 for c in result.confidences)
    assert all(0.0 <= a <= 1.0 for a in result.worker_accuracy.values())
    assert 1 <= result.iterations <= 50


def test_many_answers_per_object_stay_finite() -> None:
    # 200 unanimous answers: a posterior computed outside log space would underflow.
    answers = [[(f"w{j}", i % 2) for j in range(200)] for i in range(10)]
    result = dawid_skene(answers, classes=2)
    assert result.labels == [i % 2 for i in range(10)]
    assert all(np.isfinite(c) and c > 0.99 for c in result.confidences)


def test_exact_tie_goes_to_smallest_class() -> None:
    result = dawid_skene([[("a", 2), ("b", 1)]], classes=3)
    assert result.labels == [1]
    assert result.confidences[0] <= 0.5
    swapped = dawid_skene([[("a", 1), ("b", 2)]], classes=3)
    assert swapped.labels == [1]


def test_object_without_answers_is_an_error_naming_it() -> None:
    with pytest.raises(ValueError, match="object 1 has no answers"):
        dawid_skene([[("a", 0)], [], [("a", 1)]], classes=2)


def test_invalid_class_and_parameters() -> None:
    with pytest.raises(ValueError, match=r"outside 0\.\.1"):
        dawid_skene([[("a", 2)]], classes=2)
    with pytest.raises(ValueError, match="smoothing"):
        dawid_skene([[("a", 0)]], classes=2, smoothing=0.0)
    with pytest.raises(ValueError, match="prior_accuracy"):
        dawid_skene([[("a", 0)]], classes=2, prior_accuracy=1.0)
    assert dawid_skene([], classes=2) == DawidSkeneResult([], [], {}, 0)
