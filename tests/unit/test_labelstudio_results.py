"""Label Studio's result JSON <-> LabelPilot labels, and the labeling configs (no server)."""

from __future__ import annotations

from xml.etree import ElementTree

import numpy as np
import pytest

from labelpilot.api.run_config import TaskType
from labelpilot.engine.formats import Boxes
from labelpilot.workforce.labelstudio.interface import labeling_config
from labelpilot.workforce.labelstudio.results import ResultError, from_result, same_label, to_result

LABELS = ["cat", "dog", 'say "hi" & <bye>']


@pytest.mark.parametrize("task_type", list(TaskType), ids=str)
def test_labeling_configs_are_valid_xml_with_every_label(task_type):
    root = ElementTree.fromstring(labeling_config(task_type, LABELS))
    control = next(e for e in root if e.get("name") == "label")
    assert [c.get("value") for c in control] == LABELS
    shown = next(e for e in root if e.get("name") in ("image", "text"))
    assert control.get("toName") == shown.get("name")
    assert shown.get("value") == "$" + shown.get("name")


def test_a_class_round_trips_and_foreign_answers_are_refused():
    for task_type in (TaskType.IMAGE_CLASSIFICATION, TaskType.TEXT_CLASSIFICATION):
        for cls in range(len(LABELS)):
            assert from_result(task_type, to_result(task_type, cls, LABELS), LABELS) == cls
    with pytest.raises(ResultError, match="no class"):
        from_result(TaskType.IMAGE_CLASSIFICATION, [], LABELS)
    other = to_result(TaskType.IMAGE_CLASSIFICATION, 0, ["fish"])
    with pytest.raises(ResultError, match="not one of the job's labels"):
        from_result(TaskType.IMAGE_CLASSIFICATION, other, LABELS)


MULTI = (TaskType.IMAGE_CLASSIFICATION_MULTILABEL, TaskType.TEXT_CLASSIFICATION_MULTILABEL)


@pytest.mark.parametrize("task_type", MULTI, ids=str)
def test_a_class_set_round_trips_and_nothing_chosen_is_the_empty_set(task_type):
    for classes in ([], [0], [2], [0, 2], [0, 1, 2]):
        result = to_result(task_type, classes, LABELS)
        assert from_result(task_type, result, LABELS) == classes
    assert to_result(task_type, [], LABELS) == []
    (item,) = to_result(task_type, [2, 0], LABELS)
    assert item["type"] == "choices" and item["value"]["choices"] == ["cat", LABELS[2]]
    # a submitted annotation with nothing chosen: Label Studio stores an empty result
    assert from_result(task_type, [], LABELS) == []
    chosen = [{"from_name": "label", "type": "choices", "value": {"choices": ["dog", "cat"]}}]
    assert from_result(task_type, chosen, LABELS) == [0, 1]
    foreign = [{"from_name": "label", "type": "choices", "value": {"choices": ["dog", "fish"]}}]
    with pytest.raises(ResultError, match="'fish'"):
        from_result(task_type, foreign, LABELS)


def test_class_sets_are_the_same_label_whatever_their_order():
    task_type = TaskType.IMAGE_CLASSIFICATION_MULTILABEL
    assert same_label(task_type, [0, 2], [2, 0])
    assert same_label(task_type, [], [])
    assert not same_label(task_type, [0, 2], [0])
    assert not same_label(task_type, [], [1])


@pytest.mark.parametrize("task_type", list(TaskType), ids=str)
def test_only_multilabel_configs_take_several_choices(task_type):
    control = next(
        e
        for e in ElementTree.fromstring(labeling_config(task_type, LABELS))
        if e.get("name") == "label"
    )
    assert (control.get("choice") == "multiple") == task_type.is_multilabel
    assert control.get("required") != "true" or not task_type.is_multilabel


def test_boxes_are_percent_of_the_image_and_round_trip():
    boxes = Boxes(200, 100, 3, np.asarray([[1, 10, 20, 50, 40], [0, 0, 0, 200, 100]]))
    result = to_result(TaskType.OBJECT_DETECTION, boxes, LABELS, (200, 100))
    assert result[0]["value"]["x"] == pytest.approx(5.0)
    assert result[0]["value"]["height"] == pytest.approx(40.0)
    assert result[0]["value"]["rectanglelabels"] == ["dog"]
    back = from_result(TaskType.OBJECT_DETECTION, result, LABELS, (200, 100))
    assert np.allclose(back.boxes, boxes.boxes, atol=1e-4)
    assert same_label(TaskType.OBJECT_DETECTION, back, boxes)
    empty = from_result(TaskType.OBJECT_DETECTION, [], LABELS, (200, 100))
    assert empty.boxes.shape == (0, 5)  # "nothing to box" is an answer
    rotated = [dict(result[0], value={**result[0]["value"], "rotation": 30})]
    with pytest.raises(ResultError, match="rotated"):
        from_result(TaskType.OBJECT_DETECTION, rotated, LABELS, (200, 100))


def test_masks_go_as_polygons_and_come_back_the_same():
    mask = np.zeros((40, 60), np.uint8)
    mask[5:20, 5:30] = 1
    mask[22:35, 30:55] = 3
    mask[10:15, 40:45] = 2
    result = to_result(TaskType.SEMANTIC_SEGMENTATION, mask, LABELS, (60, 40))
    assert {r["value"]["polygonlabels"][0] for r in result} == set(LABELS)
    assert all(0 <= v <= 100 for r in result for p in r["value"]["points"] for v in p)
    back = from_result(TaskType.SEMANTIC_SEGMENTATION, result, LABELS, (60, 40))
    assert np.array_equal(back, mask)
    assert same_label(TaskType.SEMANTIC_SEGMENTATION, back, mask)
    moved = np.roll(mask, 6, axis=1)
    assert not same_label(TaskType.SEMANTIC_SEGMENTATION, moved, mask)
