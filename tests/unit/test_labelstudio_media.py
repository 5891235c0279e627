"""What a Label Studio task shows is read like any object: under the job's data roots and
within its size limits, so a manifest line cannot put the pod's own files in front of
annotators."""

from __future__ import annotations

import pytest
from PIL import Image

from labelpilot.api.run_config import LabelStudioWorkforceConfig, TaskType
from labelpilot.engine.confinement import DataRoots
from labelpilot.ml.inputs import ObjectAccess, ObjectLimits
from labelpilot.workforce.labelstudio.media import MediaError, task_data

SETTINGS = LabelStudioWorkforceConfig(url="http://127.0.0.1:8080", project_title="p")


@pytest.fixture()
def data(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    Image.new("RGB", (8, 8), "red").save(folder / "ok.png")
    (folder / "ok.txt").write_text("hello")
    return folder


def access(root, **limits):
    return ObjectAccess(DataRoots([str(root)]), ObjectLimits(**limits))


@pytest.mark.parametrize("task", list(TaskType), ids=str)
@pytest.mark.parametrize(
    "ref", ["/proc/self/environ", "/etc/hostname", "../secret.png", "http://127.0.0.1:9/x.png"]
)
def test_an_object_outside_the_data_roots_is_not_shown(data, task, ref):
    (data.parent / "secret.png").write_bytes((data / "ok.png").read_bytes())
    with pytest.raises(MediaError, match="ObjectOutsideDataRoots"):
        task_data(task, {"source-ref": ref}, str(data), SETTINGS, access(data))


def test_objects_under_the_roots_are_shown(data):
    shown = task_data(
        TaskType.IMAGE_CLASSIFICATION, {"source-ref": "ok.png"}, str(data), SETTINGS, access(data)
    )
    assert shown.size == (8, 8, 3)
    text = task_data(
        TaskType.TEXT_CLASSIFICATION, {"source-ref": "ok.txt"}, str(data), SETTINGS, access(data)
    )
    assert text.data == {"text": "hello"}


@pytest.mark.parametrize("task", list(TaskType), ids=str)
def test_text_tasks_show_the_text_and_others_the_image(data, task):
    ref = "ok.txt" if task.is_text else "ok.png"
    shown = task_data(task, {"source-ref": ref}, str(data), SETTINGS, access(data))
    if task.is_text:
        assert shown.data == {"text": "hello"} and shown.size is None
    else:
        assert set(shown.data) == {"image"} and shown.size == (8, 8, 3)


def test_an_object_over_the_limit_is_not_shown(data):
    with pytest.raises(MediaError, match="ObjectTooLarge"):
        task_data(
            TaskType.IMAGE_CLASSIFICATION,
            {"source-ref": "ok.png"},
            str(data),
            SETTINGS,
            access(data, image_bytes=10),
        )
