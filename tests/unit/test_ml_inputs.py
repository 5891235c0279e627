import numpy as np
import pytest
from PIL import Image

from labelpilot.api.run_config import TaskType
from labelpilot.ml import ObjectReadError, load_each, load_input, load_inputs


def test_reads_images_in_every_reference_form(tmp_path):
    gray = np.arange(48, dtype=np.uint8).reshape(6, 8)
    rgb = np.zeros((5, 4, 3), np.uint8)
    rgb[..., 1] = 200
    Image.fromarray(gray).save(tmp_path / "g.png")
    Image.fromarray(rgb).save(tmp_path / "c.png")
    Image.fromarray(np.dstack([rgb, np.full((5, 4), 255, np.uint8)])).save(tmp_path / "a.png")
    records = [
        {"source-ref": str(tmp_path / "g.png")},
        {"source-ref": f"file://{tmp_path / 'c.png'}"},
        {"source-ref": "a.png", "other": 1},
        {"source-ref": f"file://{tmp_path / 'g.png'}"},
    ]
    images = load_inputs(TaskType.IMAGE_CLASSIFICATION, records, base_uri=str(tmp_path))
    assert images[0].shape == (6, 8, 1) and images[0].dtype == np.uint8
    np.testing.assert_array_equal(images[0][:, :, 0], gray)
    np.testing.assert_array_equal(images[1], rgb)
    assert images[2].shape == (5, 4, 3)
    np.testing.assert_array_equal(images[3], images[0])


def test_relative_refs_against_a_uri_base(tmp_path):
    Image.fromarray(np.zeros((3, 3), np.uint8)).save(tmp_path / "x.png")
    record = {"source-ref": "x.png"}
    image = load_input(TaskType.OBJECT_DETECTION, record, f"file://{tmp_path}")
    assert image.shape == (3, 3, 1)


def test_text_inline_and_by_reference(tmp_path):
    (tmp_path / "t.txt").write_text("héllo")
    texts = load_inputs(
        TaskType.TEXT_CLASSIFICATION,
        [{"source": "inline"}, {"source-ref": str(tmp_path / "t.txt")}],
    )
    assert texts == ["inline", "héllo"]


@pytest.mark.parametrize(
    "record",
    [
        {"source-ref": "/nonexistent/file.png"},
        {"source": "text only"},
        {"source-ref": 3},
        "not a dict",
    ],
)
def test_unreadable_objects_raise_a_clear_error(record):
    with pytest.raises(ObjectReadError) as error:
        load_input(TaskType.IMAGE_CLASSIFICATION, record, index=7)
    assert "object 7" in str(error.value)


def test_corrupt_image(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(ObjectReadError, match="not a decodable image"):
        load_inputs(TaskType.SEMANTIC_SEGMENTATION, [{"source-ref": str(tmp_path / "bad.png")}])


def test_load_each_keeps_the_order_and_each_failure_in_its_place(tmp_path):
    for i in range(40):
        Image.fromarray(np.full((2, 3), i, np.uint8)).save(tmp_path / f"{i}.png")
    refs = [f"{i}.png" if i % 7 else "missing.png" for i in range(40)]
    records = [(100 + i, {"source-ref": ref}) for i, ref in enumerate(refs)]
    loaded = load_each(TaskType.IMAGE_CLASSIFICATION, records, str(tmp_path))
    for i, item in enumerate(loaded):
        if i % 7:
            assert int(item[0, 0, 0]) == i
        else:
            assert isinstance(item, ObjectReadError) and item.index == 100 + i
    with pytest.raises(ObjectReadError) as first:
        load_inputs(TaskType.IMAGE_CLASSIFICATION, [r for _, r in records], str(tmp_path))
    assert first.value.index == 0


def test_objects_in_a_store_are_read_several_at_once_local_files_one_at_a_time():
    from labelpilot.ml.inputs import READ_THREADS, read_threads

    local = [{"source-ref": "a.png"}, {"source-ref": "/data/b.png"}, {"source": "text"}]
    assert read_threads(local, "/data") == 1
    assert read_threads(local, None) == 1
    assert read_threads(local[:1], "s3://bucket/images") == READ_THREADS
    assert read_threads([*local, {"source-ref": "s3://bucket/c.png"}], "/data") == READ_THREADS
