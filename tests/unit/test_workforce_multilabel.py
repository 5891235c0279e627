import numpy as np

from labelpilot.api.run_config import SimulatedWorkforceConfig, TaskType
from labelpilot.workforce import TaskItem, consolidate
from labelpilot.workforce.simulated import SimulatedWorkforce, flip_one

LABELS = ["cat", "dog", "bird", "fish"]
ML = TaskType.IMAGE_CLASSIFICATION_MULTILABEL


class Truth:
    """A stand-in for the ground-truth manifest: object i's classes are a pattern of i."""

    def __contains__(self, key):
        return True

    def get(self, key):
        i = int(key.split()[-1])
        return [c for c in range(len(LABELS)) if (i >> c) & 1]


def provider(error_rate, seed=0):
    settings = SimulatedWorkforceConfig(ground_truth_uri="unused", error_rate=error_rate)
    workforce = SimulatedWorkforce(settings, ML, "y", LABELS, seed=seed)
    workforce._truth = Truth()
    return workforce


def items(n):
    return [TaskItem(i, f"image {i}") for i in range(n)]


def test_flip_one_changes_exactly_one_class():
    rng = np.random.default_rng(0)
    for truth in ([], [1], [0, 2, 3], [0, 1, 2, 3]):
        wrong = flip_one(truth, len(LABELS), rng)
        assert wrong == sorted(set(wrong))
        assert len(set(wrong) ^ set(truth)) == 1
        assert all(0 <= c < len(LABELS) for c in wrong)


def test_simulated_multilabel_answers_are_sets_with_errors_and_deterministic():
    workforce = provider(error_rate=0.25, seed=4)
    handle = workforce.submit("b", items(320), 1)
    answers = workforce.collect(handle, items(320))
    truth = Truth()
    wrong = []
    for answer in answers:
        (classes,) = answer.labels
        assert classes == sorted(set(classes))
        expected = truth.get(f"image {answer.index}")
        assert len(set(classes) ^ set(expected)) <= 1
        wrong.append(classes != expected)
    assert 0.15 <= np.mean(wrong) <= 0.35
    again = workforce.collect(handle, items(320))
    assert [a.labels for a in again] == [a.labels for a in answers]


def test_multilabel_majority_vote_fixes_single_errors():
    workforce = provider(error_rate=0.2)
    handle = workforce.submit("b", items(320), 5)
    truth = Truth()
    voted = [consolidate(ML, a.labels)[0] for a in workforce.collect(handle, items(320))]
    wrong = np.mean([v != truth.get(f"image {i}") for i, v in enumerate(voted)])
    assert wrong < 0.06


def test_multilabel_consolidation_per_class_majority_and_confidence():
    assert consolidate(ML, [[0, 2], [2], [2, 3]]) == ([2], (2 / 3 + 1 + 2 / 3) / 3)
    assert consolidate(ML, [[1], [1]]) == ([1], 1.0)
    assert consolidate(ML, [[], [], []]) == ([], 1.0)
    labels, confidence = consolidate(TaskType.TEXT_CLASSIFICATION_MULTILABEL, [[0], []])
    assert labels == [] and confidence == 0.5  # a tie leaves the class out
    assert consolidate(ML, [[3, 1, 1]]) == ([1, 3], 1.0)
