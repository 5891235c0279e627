"""When a project's labeling config may take a job's tasks, and the words for why not."""

from __future__ import annotations

from labelpilot.api.run_config import TaskType
from labelpilot.workforce.labelstudio.interface import labeling_config
from labelpilot.workforce.labelstudio.labeling import difference, is_empty, same

DIGITS = [str(d) for d in range(10)]


def test_only_an_empty_or_the_same_config_takes_the_jobs_tasks():
    ours = labeling_config(TaskType.IMAGE_CLASSIFICATION, DIGITS)
    for empty in ("", "  ", "<View></View>", "<View/>", "<View>\n</View>"):
        assert is_empty(empty)
    assert not is_empty(ours) and not is_empty("<View><Header value='x'/></View>")
    assert not is_empty("not xml <")
    spaced = ours.replace("><", ">\n  <")
    assert same(ours, spaced)
    assert not same(ours, labeling_config(TaskType.IMAGE_CLASSIFICATION, DIGITS[:9]))
    assert not same(ours, "not xml <")


def test_the_difference_names_the_labels_and_the_task_type():
    ours = labeling_config(TaskType.IMAGE_CLASSIFICATION, DIGITS)
    cats = labeling_config(TaskType.IMAGE_CLASSIFICATION, ["cat", "dog"])
    assert difference(cats, ours) == (f"its labels are ['cat', 'dog'], the job's are {DIGITS}")
    boxes = labeling_config(TaskType.OBJECT_DETECTION, DIGITS)
    assert difference(boxes, ours) == (
        "it labels with RectangleLabels on Image, the job with Choices on Image (another task type)"
    )
    text = labeling_config(TaskType.TEXT_CLASSIFICATION, ["spam", "ham"])
    assert "Choices on Text" in difference(text, ours) and "['spam', 'ham']" in difference(
        text, ours
    )
    assert difference("<View><Choices name='mood'/></View>", ours) == (
        "its labeling config is not one LabelPilot made"
    )
