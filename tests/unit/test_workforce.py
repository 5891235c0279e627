import json

import numpy as np

from labelpilot.api.run_config import SimulatedWorkforceConfig, TaskType
from labelpilot.engine import formats
from labelpilot.engine.formats import Boxes, LabelMeta
from labelpilot.workforce import BatchStatus, TaskItem, consolidate
from labelpilot.workforce.simulated import SimulatedWorkforce

LABELS = ["a", "b", "c"]
META = LabelMeta(1.0, True, "gt", creation_date="2024-01-01T00:00:00.000000")


def truth_file(tmp_path, n=400):
    path = tmp_path / "gt.manifest"
    rows = [
        {
            "source": f"text {i}",
            **formats.encode_label(TaskType.TEXT_CLASSIFICATION, "y", i % 3, META, labels=LABELS),
        }
        for i in range(n)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def items(n):
    return [TaskItem(i, f"text {i}") for i in range(n)]


def test_simulated_answers_errors_failures_and_is_deterministic(tmp_path):
    settings = SimulatedWorkforceConfig(
        ground_truth_uri=truth_file(tmp_path), error_rate=0.2, failure_rate=0.1
    )
    provider = SimulatedWorkforce(settings, TaskType.TEXT_CLASSIFICATION, "y", LABELS, seed=3)
    handle = provider.submit("job-i0", items(400), 1)
    assert provider.poll(handle) is BatchStatus.COMPLETED
    answers = provider.collect(handle, items(400))
    failed = [a for a in answers if a.failure]
    assert 20 <= len(failed) <= 65
    answered = [a for a in answers if not a.failure]
    wrong = np.mean([a.labels[0] != a.index % 3 for a in answered])
    assert 0.12 <= wrong <= 0.28
    again = provider.collect(handle, items(400))
    assert [(a.labels, a.failure) for a in again] == [(a.labels, a.failure) for a in answers]
    missing = provider.collect(handle, [TaskItem(999, "not in truth")])[0]
    assert "no ground truth" in missing.failure


def test_latency_keeps_a_batch_in_progress(tmp_path):
    settings = SimulatedWorkforceConfig(
        ground_truth_uri=truth_file(tmp_path, 3), latency_seconds=60
    )
    provider = SimulatedWorkforce(settings, TaskType.TEXT_CLASSIFICATION, "y", LABELS)
    assert provider.poll(provider.submit("b", items(3), 1)) is BatchStatus.IN_PROGRESS


def test_majority_vote_fixes_single_errors(tmp_path):
    settings = SimulatedWorkforceConfig(ground_truth_uri=truth_file(tmp_path), error_rate=0.2)
    provider = SimulatedWorkforce(settings, TaskType.TEXT_CLASSIFICATION, "y", LABELS)
    handle = provider.submit("b", items(400), 5)
    voted = [
        consolidate(TaskType.TEXT_CLASSIFICATION, a.labels)
        for a in provider.collect(handle, items(400))
    ]
    wrong = np.mean([label != i % 3 for i, (label, _) in enumerate(voted)])
    assert wrong < 0.06
    assert consolidate(TaskType.TEXT_CLASSIFICATION, [1, 2, 2]) == (2, 2 / 3)
    assert consolidate(TaskType.TEXT_CLASSIFICATION, [2, 1])[0] == 1  # tie: smallest id


def test_box_and_mask_consolidation():
    a = Boxes(50, 50, 1, np.array([[0, 10, 10, 10, 10], [1, 30, 30, 8, 8]]))
    b = Boxes(50, 50, 1, np.array([[0, 12, 10, 10, 10]]))
    c = Boxes(50, 50, 1, np.array([[0, 10, 12, 10, 10], [2, 0, 0, 5, 5]]))
    boxes, confidence = consolidate(TaskType.OBJECT_DETECTION, [a, b, c])
    assert boxes.boxes.shape == (1, 5)
    np.testing.assert_allclose(boxes.boxes[0], [0, 32 / 3, 32 / 3, 10, 10], atol=1e-5)
    assert confidence == 1.0
    m1 = np.zeros((4, 4), np.uint8)
    m2 = m1.copy()
    m2[0, 0] = 2
    m3 = m1.copy()
    m3[0, 0] = 2
    mask, agreement = consolidate(TaskType.SEMANTIC_SEGMENTATION, [m1, m2, m3])
    assert mask[0, 0] == 2 and mask.sum() == 2 and 0.9 < agreement < 1.0
