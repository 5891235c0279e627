import json

import numpy as np
import pytest

from labelpilot.api.run_config import TaskType
from labelpilot.engine import formats, storage
from labelpilot.engine.formats import Boxes, LabelMeta

LABELS = ["cat", "dog", "bird"]
META = LabelMeta(
    confidence=0.87,
    human_annotated=False,
    job_name="demo",
    creation_date="2024-01-01T00:00:00.000000",
)


def test_manifest_parsing_turns_bad_lines_into_failed_objects():
    lines = [
        '{"source-ref": "s3://b/1.png", "extra": 1}',
        "",
        "{not json",
        '["a list"]',
        '{"other": 3}',
        '{"source": "some text"}',
        '{"source-ref": 5}',
    ]
    objects = formats.parse_manifest(lines)
    assert [o.index for o in objects] == [0, 1, 2, 3, 4, 5]
    assert [o.failed for o in objects] == [False, True, True, True, False, True]
    assert objects[0].key == "s3://b/1.png" and objects[0].record["extra"] == 1
    assert objects[4].key == "some text"
    assert "MalformedLine" in objects[1].error and "JSON" in objects[1].error
    assert "neither" in objects[3].error


def test_text_with_unicode_line_separators_stays_one_object(tmp_path):
    texts = ["ends here\u0085 not here", "para\u2028graph\u2029break", "crlf"]
    body = "".join(json.dumps({"source": t}, ensure_ascii=False) + "\n" for t in texts[:2])
    path = tmp_path / "input.manifest"
    path.write_bytes((body + '{"source": "crlf"}\r\n').encode())
    objects = formats.read_manifest(str(path))
    assert [o.key for o in objects] == texts
    assert not any(o.failed for o in objects)


@pytest.mark.parametrize("task", [TaskType.IMAGE_CLASSIFICATION, TaskType.TEXT_CLASSIFICATION])
def test_classification_round_trip(task):
    record = formats.encode_label(task, "animal", 1, META, labels=LABELS)
    json.dumps(record)
    meta = record["animal-metadata"]
    assert record["animal"] == 1
    assert meta["class-name"] == "dog" and meta["human-annotated"] == "no"
    assert meta["type"] == f"groundtruth/{task}" and meta["job-name"] == "labeling-job/demo"
    assert meta["confidence"] == 0.87 and meta["creation-date"].startswith("2024-01-01T")
    assert formats.decode_label(task, "animal", record) == 1
    with pytest.raises(formats.FormatError):
        formats.encode_label(task, "animal", 3, META, labels=LABELS)
    with pytest.raises(formats.FormatError):
        formats.decode_label(task, "animal", {"animal": "dog"})


def test_detection_round_trip():
    boxes = Boxes(64, 48, 3, np.array([[0, 1, 2, 10, 12], [2, 30.5, 4, 8, 8.25]]))
    meta = LabelMeta(0.7, True, "demo", box_confidences=[0.9, 0.5])
    record = formats.encode_label(TaskType.OBJECT_DETECTION, "box", boxes, meta, labels=LABELS)
    assert record["box"]["image_size"] == [{"width": 64, "height": 48, "depth": 3}]
    # whole pixels stay integers, fractions stay floats (Ground Truth's human boxes)
    assert record["box"]["annotations"][1] == {
        "class_id": 2,
        "left": 30.5,
        "top": 4,
        "width": 8,
        "height": 8.25,
    }
    assert isinstance(record["box"]["annotations"][0]["left"], int)
    md = record["box-metadata"]
    # only the classes of this image's boxes, as Ground Truth writes it
    assert md["class-map"] == {"0": "cat", "2": "bird"}
    assert md["objects"] == [{"confidence": 0.9}, {"confidence": 0.5}]
    assert "confidence" not in md  # one per box, in objects
    assert md["type"] == "groundtruth/object-detection" and md["human-annotated"] == "yes"
    as_read = json.loads(json.dumps(record))
    assert formats.decode_label(TaskType.OBJECT_DETECTION, "box", as_read) == boxes
    assert formats.decode_label(TaskType.OBJECT_DETECTION, "box", as_read, labels=LABELS) == boxes
    empty = Boxes(5, 5, 1)
    rec = formats.encode_label(TaskType.OBJECT_DETECTION, "box", empty, META, labels=LABELS)
    assert rec["box-metadata"]["class-map"] == {} and rec["box-metadata"]["objects"] == []
    assert formats.decode_label(TaskType.OBJECT_DETECTION, "box", rec, labels=LABELS) == empty
    with pytest.raises(formats.FormatError, match="box class id 3 outside the 3 labels"):
        formats.encode_label(
            TaskType.OBJECT_DETECTION, "box", Boxes(5, 5, 1, [[3, 0, 0, 1, 1]]), META, labels=LABELS
        )


def test_segmentation_round_trip(tmp_path):
    mask = np.zeros((20, 30), dtype=np.uint8)
    mask[2:8, 3:9] = 1
    mask[10:, 20:] = 3
    cmap = formats.color_map(LABELS)
    assert cmap["0"] == {"class-name": "BACKGROUND", "hex-color": "#ffffff"}
    formats.write_mask_png(str(tmp_path / "m.png"), mask, cmap)
    record = formats.encode_label(
        TaskType.SEMANTIC_SEGMENTATION, "seg", "m.png", META, labels=LABELS
    )
    assert set(record) == {"seg-ref", "seg-ref-metadata"}
    # every class of the job, each with its confidence (here the object's)
    assert record["seg-ref-metadata"]["internal-color-map"] == {
        key: {**entry, "confidence": 0.87} for key, entry in cmap.items()
    }
    for labels in (None, LABELS):
        decoded = formats.decode_label(
            TaskType.SEMANTIC_SEGMENTATION, "seg", record, base=str(tmp_path), labels=labels
        )
        np.testing.assert_array_equal(decoded, mask)
    # an attribute that already ends in -ref is kept as it is
    assert formats.label_key(TaskType.SEMANTIC_SEGMENTATION, "seg-ref") == "seg-ref"
    # an RGB PNG in Ground Truth's colours decodes to the same ids
    from PIL import Image

    rgb = np.zeros((*mask.shape, 3), dtype=np.uint8)
    for key, entry in cmap.items():
        rgb[mask == int(key)] = [int(entry["hex-color"][i : i + 2], 16) for i in (1, 3, 5)]
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    np.testing.assert_array_equal(formats.read_mask_png(str(tmp_path / "rgb.png"), cmap), mask)


def test_many_class_colors_are_distinct():
    colors = formats.class_colors(40)
    assert len(set(colors)) == 40 and "#ffffff" not in colors


def test_ground_truth_keyed_by_source(tmp_path):
    lines = [
        {
            "source-ref": "a.png",
            **formats.encode_label(TaskType.IMAGE_CLASSIFICATION, "y", 2, META, labels=LABELS),
        },
        {
            "source": "hello",
            **formats.encode_label(TaskType.IMAGE_CLASSIFICATION, "y", 0, META, labels=LABELS),
        },
        {"source-ref": "unlabeled.png"},
    ]
    path = tmp_path / "gt.manifest"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    truth = formats.GroundTruth(str(path), TaskType.IMAGE_CLASSIFICATION, "y")
    assert truth.get("a.png") == 2 and truth.get("hello") == 0
    assert truth.get("unlabeled.png") is None and truth.get("missing") is None


def test_failure_encoding():
    rec = formats.encode_failure(
        TaskType.IMAGE_CLASSIFICATION, "y", "MalformedLine: x", job_name="j"
    )
    assert rec["y-metadata"]["failure-reason"] == "MalformedLine: x"
    assert not formats.has_label(TaskType.IMAGE_CLASSIFICATION, "y", rec)


def test_jsonl_round_trip_keeps_unicode_line_separators(tmp_path):
    rows = [{"text": "a\u0085b"}, {"text": "c\u2028d"}]
    uri = str(tmp_path / "rows.jsonl")
    storage.write_jsonl(uri, rows)
    assert storage.read_jsonl(uri) == rows
