"""Reading lines in Ground Truth's own format (tests/data/groundtruth, written by hand from
the format's documentation): class names decide classes, whatever the ids say."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from labelpilot.api.run_config import TaskType
from labelpilot.engine import formats
from labelpilot.engine.formats import FormatError, GroundTruth, GroundTruthError

DATA = Path(__file__).resolve().parents[1] / "data" / "groundtruth"
IMAGE = TaskType.IMAGE_CLASSIFICATION


def _lines(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / name).read_text().splitlines()]


def _truth(name: str, task_type: TaskType, attr: str, labels: list[str]) -> GroundTruth:
    return GroundTruth(str(DATA / name), task_type, attr, labels=labels)


# ---------------------------------------------------------------- classification


def test_class_name_decides_the_class_not_the_id():
    # the lines' job listed dog, cat, bird; this one lists them alphabetically
    truth = _truth("classification.manifest", IMAGE, "species", ["bird", "cat", "dog"])
    assert truth.get("s3://example-bucket/animals/0001.jpg") == 2  # id 0, "dog"
    assert truth.get("s3://example-bucket/animals/0003.jpg") == 1  # id 1, "cat"


def test_a_decimal_string_class_id_is_read():
    truth = _truth("classification.manifest", IMAGE, "species", ["bird", "cat", "dog"])
    assert truth.get("s3://example-bucket/animals/0002.jpg") == 0  # "2", "bird"
    assert formats.decode_label(IMAGE, "y", {"y": "2"}) == 2
    assert formats.decode_label(IMAGE, "y", {"y": "0"}, labels=["a"]) == 0
    for bad in ("-1", "1.5", "two", "", "1e3", "\u0661", "9" * 5000):
        with pytest.raises(FormatError, match="y must be an integer"):
            formats.decode_label(IMAGE, "y", {"y": bad})


def test_a_class_name_not_among_the_jobs_labels_is_refused_naming_object_and_field():
    truth = _truth("classification.manifest", IMAGE, "species", ["bird", "cat", "dog"])
    with pytest.raises(GroundTruthError) as error:
        truth.get("s3://example-bucket/animals/0004.jpg")
    message = str(error.value)
    assert "object 's3://example-bucket/animals/0004.jpg'" in message
    assert "species-metadata.class-name is 'Canary', not one of the job's 3 labels" in message


def test_text_lines_are_read_by_name_too():
    truth = _truth(
        "classification.manifest", TaskType.TEXT_CLASSIFICATION, "species", ["cat", "dog"]
    )
    assert truth.get("The film was a delight from start to finish.") == 0  # id 1, "cat"


def test_without_a_class_name_or_the_jobs_labels_the_id_is_the_class():
    record = _lines("classification.manifest")[0]
    assert formats.decode_label(IMAGE, "species", record) == 0
    del record["species-metadata"]["class-name"]
    assert formats.decode_label(IMAGE, "species", record, labels=["bird", "cat", "dog"]) == 0


def test_bad_class_name_fields_are_refused():
    record = _lines("classification.manifest")[0]
    record["species-metadata"]["class-name"] = 3
    with pytest.raises(FormatError, match=r"species-metadata\.class-name must be a non-empty"):
        formats.decode_label(IMAGE, "species", record, labels=["dog"])
    record["species-metadata"] = "dog"
    with pytest.raises(FormatError, match="species-metadata must be a JSON object"):
        formats.decode_label(IMAGE, "species", record, labels=["dog"])


# ---------------------------------------------------------------- multi-label


@pytest.mark.parametrize("task_type", [IMAGE, TaskType.TEXT_CLASSIFICATION])
def test_multi_label_lines_are_refused_by_a_single_label_job(task_type):
    labels = ["bird", "cat", "dog"]
    for record in _lines("multilabel.manifest"):
        with pytest.raises(FormatError, match=r"multi-label.*this job's task type is single-label"):
            formats.decode_label(task_type, "animals", record, labels=labels)
    # a list is refused whatever the metadata says
    with pytest.raises(FormatError, match="animals is a multi-label value \\(a list of classes\\)"):
        formats.decode_label(task_type, "animals", {"animals": [1]})
    truth = _truth("multilabel.manifest", task_type, "animals", labels)
    with pytest.raises(GroundTruthError, match=r"object 's3://example-bucket/animals/0001\.jpg'"):
        truth.get("s3://example-bucket/animals/0001.jpg")


MULTI = TaskType.IMAGE_CLASSIFICATION_MULTILABEL


@pytest.mark.parametrize("task_type", [MULTI, TaskType.TEXT_CLASSIFICATION_MULTILABEL])
def test_multi_label_values_decode_to_the_jobs_label_indices_by_name(task_type):
    labels = ["bird", "cat", "dog"]
    lines = _lines("multilabel.manifest")
    assert formats.decode_label(task_type, "animals", lines[0], labels=labels) == [1, 2]
    assert formats.decode_label(task_type, "animals", lines[1], labels=labels) == []
    assert formats.decode_label(task_type, "animals", lines[2], labels=labels) == [0]
    with pytest.raises(FormatError, match="animals must be a JSON list"):
        formats.decode_label(task_type, "animals", lines[3], labels=labels)
    with pytest.raises(FormatError, match=r"class-map\['5'\] is 'dog', not one of"):
        formats.decode_label(task_type, "animals", lines[0], labels=["cat"])
    unnamed = {"animals": [4], "animals-metadata": {"class-map": {"1": "cat"}}}
    with pytest.raises(FormatError, match=r"animals\[0\] is class id 4, which .*class-map does"):
        formats.decode_label(task_type, "animals", unnamed, labels=labels)


def test_multi_label_ids_without_a_class_map_index_the_labels():
    labels = ["bird", "cat", "dog"]
    assert formats.decode_label(MULTI, "a", {"a": [2, "0", 2]}, labels=labels) == [0, 2]
    with pytest.raises(FormatError, match=r"a\[0\] is class id 3, outside the 3 labels"):
        formats.decode_label(MULTI, "a", {"a": [3]}, labels=labels)


def test_a_single_label_line_is_refused_by_a_multi_label_job():
    record = _lines("classification.manifest")[0]
    with pytest.raises(FormatError, match=r"a single-label type: this job's task type is multi"):
        formats.decode_label(MULTI, "species", record, labels=["bird", "cat", "dog"])


def test_multi_label_lines_are_written_as_ground_truth_writes_them():
    labels = ["bird", "cat", "dog"]
    meta = formats.LabelMeta(
        confidence=0.5, human_annotated=False, job_name="j", class_confidences={2: 0.91}
    )
    line = formats.encode_label(MULTI, "animals", [2, 0], meta, labels=labels)
    assert line["animals"] == [0, 2]
    written = line["animals-metadata"]
    assert written["class-map"] == {"0": "bird", "2": "dog"}
    assert written["confidence-map"] == {"0": 0.5, "2": 0.91}
    assert written["type"] == "groundtruth/image-classification-multilabel"
    assert "confidence" not in written
    assert formats.decode_label(MULTI, "animals", line, labels=["dog", "bird"]) == [0, 1]
    empty = formats.encode_label(MULTI, "animals", [], meta, labels=labels)
    assert empty["animals"] == [] and empty["animals-metadata"]["class-map"] == {}
    with pytest.raises(FormatError, match="class id 3 outside the 3 labels"):
        formats.encode_label(MULTI, "animals", [3], meta, labels=labels)


# ---------------------------------------------------------------- boxes


BOXES = TaskType.OBJECT_DETECTION


def test_box_classes_come_from_the_sparse_class_map_and_coordinates_stay_floats():
    truth = _truth("boxes.manifest", BOXES, "bb", ["bone", "cat", "dog"])
    boxes = truth.get("s3://example-bucket/park/dog.jpg")
    assert (boxes.width, boxes.height, boxes.depth) == (500, 400, 3)
    np.testing.assert_allclose(boxes.boxes, [[2, 111.5, 134, 61, 128], [0, 161.25, 250, 30, 30.75]])
    assert truth.get("s3://example-bucket/park/empty.jpg") == formats.Boxes(320, 240, 3)


def test_a_box_class_outside_the_jobs_labels_or_the_class_map_is_refused():
    truth = _truth("boxes.manifest", BOXES, "bb", ["bone", "cat", "dog"])
    with pytest.raises(GroundTruthError) as error:
        truth.get("s3://example-bucket/park/cat.jpg")
    assert "object 's3://example-bucket/park/cat.jpg'" in str(error.value)
    assert "bb-metadata.class-map['3'] is 'squirrel', not one of the job's 3" in str(error.value)
    with pytest.raises(GroundTruthError, match=r"bb.annotations\[0\].class_id is class id 7, "):
        truth.get("s3://example-bucket/park/ball.jpg")


# ---------------------------------------------------------------- segmentation


SEG = TaskType.SEMANTIC_SEGMENTATION


def test_mask_ids_follow_the_color_maps_class_names():
    # the line's job had cat = 1, dog = 2; this one lists dog first
    truth = _truth("segmentation.manifest", SEG, "seg", ["dog", "cat"])
    mask = truth.get("s3://example-bucket/rooms/pets.jpg")
    expected = np.zeros((4, 6), np.uint8)
    expected[:, 0:2] = 2  # cat
    expected[2:, 4:] = 1  # dog
    np.testing.assert_array_equal(mask, expected)
    # a class the job lacks is fine while the mask has no pixel of it
    np.testing.assert_array_equal(truth.get("s3://example-bucket/rooms/cats-only.jpg"), expected)


def test_a_mask_class_not_among_the_jobs_labels_is_refused():
    truth = _truth("segmentation.manifest", SEG, "seg", ["dog", "cat"])
    with pytest.raises(GroundTruthError) as error:
        truth.get("s3://example-bucket/rooms/parrot.jpg")
    assert "object 's3://example-bucket/rooms/parrot.jpg'" in str(error.value)
    assert (
        "seg-ref-metadata.internal-color-map['2'].class-name is 'parrot', not one of the "
        "job's 2 labels, and the mask has pixels of it"
    ) in str(error.value)


# ---------------------------------------------------------------- writing


META = formats.LabelMeta(0.7, False, "pets", creation_date="2026-01-02T03:04:05.000006")


def test_a_written_segmentation_line_carries_each_classs_confidence(tmp_path):
    labels = ["cat", "dog", "bird"]
    meta = formats.LabelMeta(
        0.7, False, "pets", creation_date=META.creation_date, class_confidences={0: 0.95, 2: 0.61}
    )
    record = formats.encode_label(SEG, "seg", "m.png", meta, labels=labels)
    colors = record["seg-ref-metadata"]["internal-color-map"]
    assert colors == {
        "0": {"class-name": "BACKGROUND", "hex-color": "#ffffff", "confidence": 0.95},
        "1": {"class-name": "cat", "hex-color": "#2ca02c", "confidence": 0.7},
        "2": {"class-name": "dog", "hex-color": "#1f77b4", "confidence": 0.61},
        "3": {"class-name": "bird", "hex-color": "#ff7f0e", "confidence": 0.7},
    }
    assert record["seg-ref-metadata"]["confidence"] == 0.7
    # read back by a job that lists the classes in another order
    mask = np.array([[0, 1], [2, 3]], np.uint8)
    formats.write_mask_png(str(tmp_path / "m.png"), mask, formats.color_map(labels))
    decoded = formats.decode_label(
        SEG, "seg", record, base=str(tmp_path), labels=["bird", "dog", "cat"]
    )
    np.testing.assert_array_equal(decoded, [[0, 3], [2, 1]])


def test_written_boxes_read_back_by_name_in_another_jobs_label_order():
    written = ["cat", "dog", "bird"]
    boxes = formats.Boxes(50, 40, 3, [[2, 1.5, 2.25, 10, 11.125], [2, 5, 5, 1, 1]])
    record = formats.encode_label(BOXES, "bb", boxes, META, labels=written)
    assert record["bb-metadata"]["class-map"] == {"2": "bird"}
    assert record["bb"]["annotations"][0]["top"] == 2.25
    line = json.loads(json.dumps(record))
    read = formats.decode_label(BOXES, "bb", line, labels=["bird", "cat", "dog"])
    np.testing.assert_allclose(read.boxes, [[0, 1.5, 2.25, 10, 11.125], [0, 5, 5, 1, 1]])


def test_creation_dates_from_another_system_become_ground_truths_form():
    assert formats.iso_utc("2024-03-05T10:01:02.123456Z") == "2024-03-05T10:01:02.123456"
    assert formats.iso_utc("2024-03-05T12:01:02+02:00") == "2024-03-05T10:01:02.000000"
    assert formats.iso_utc("2024-03-05T10:01:02") == "2024-03-05T10:01:02.000000"
    assert formats.iso_utc("yesterday") is None and formats.iso_utc(None) is None
