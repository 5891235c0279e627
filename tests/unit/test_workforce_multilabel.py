import json

import numpy as np

from labelpilot.api.run_config import SimulatedWorkforceConfig, TaskType
from labelpilot.engine import formats
from labelpilot.engine.formats import LabelMeta
from labelpilot.workforce import TaskItem, consolidate
from labelpilot.workforce.simulated import SimulatedWorkforce, flip_one

LABELS = ["cat", "dog", "bird", "fish"]
ML = TaskType.IMAGE_CLASSIFICATION_MULTILABEL


def classes_of(index: int) -> list[int]:
    """Object i's true classes: the bits of i (so every set, the empty one too, occurs)."""
    return [c for c in range(len(LABELS)) if (index >> c) & 1]


def provider(tmp_path, error_rate, seed=0, n=320):
    """A simulated workforce answering from a Ground Truth multi-label manifest."""
    meta = LabelMeta(1.0, True, "gt", creation_date="2024-01-01T00:00:00.000000")
    rows = [
        {
            "source-ref": f"image {i}",
            **formats.encode_label(ML, "y", classes_of(i), meta, labels=LABELS),
        }
        for i in range(n)
    ]
    path = tmp_path / "gt.manifest"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    settings = SimulatedWorkforceConfig(ground_truth_uri=str(path), error_rate=error_rate)
    return SimulatedWorkforce(settings, ML, "y", LABELS, seed=seed)


def items(n):
    return [TaskItem(i, f"image {i}") for i in range(n)]


def test_flip_one_changes_exactly_one_class():
    rng = np.random.default_rng(0)
    for truth in ([], [1], [0, 2, 3], [0, 1, 2, 3]):
        wrong = flip_one(truth, len(LABELS), rng)
        assert wrong == sorted(set(wrong))
        assert len(set(wrong) ^ set(truth)) == 1
        assert all(0 <= c < len(LABELS) for c in wrong)


def test_simulated_multilabel_answers_are_sets_with_errors_and_deterministic(tmp_path):
    workforce = provider(tmp_path, error_rate=0.25, seed=4)
    handle = workforce.submit("b", items(320), 1)
    answers = workforce.collect(handle, items(320))
    wrong = []
    for answer in answers:
        (classes,) = answer.labels
        assert classes == sorted(set(classes))
        expected = classes_of(answer.index)
        assert len(set(classes) ^ set(expected)) <= 1
        wrong.append(classes != expected)
    assert 0.15 <= np.mean(wrong) <= 0.35
    again = workforce.collect(handle, items(320))
    assert [a.labels for a in again] == [a.labels for a in answers]


def test_multilabel_majority_vote_fixes_single_errors(tmp_path):
    workforce = provider(tmp_path, error_rate=0.2)
    handle = workforce.submit("b", items(320), 5)
    voted = [consolidate(ML, a.labels)[0] for a in workforce.collect(handle, items(320))]
    wrong = np.mean([v != classes_of(i) for i, v in enumerate(voted)])
    assert wrong < 0.06


def test_multilabel_consolidation_per_class_majority_and_confidence():
    assert consolidate(ML, [[0, 2], [2], [2, 3]]) == ([2], (2 / 3 + 1 + 2 / 3) / 3)
    assert consolidate(ML, [[1], [1]]) == ([1], 1.0)
    assert consolidate(ML, [[], [], []]) == ([], 1.0)
    labels, confidence = consolidate(TaskType.TEXT_CLASSIFICATION_MULTILABEL, [[0], []])
    assert labels == [] and confidence == 0.5  # a tie leaves the class out
    assert consolidate(ML, [[3, 1, 1]]) == ([1, 3], 1.0)
