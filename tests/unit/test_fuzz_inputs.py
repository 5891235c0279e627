"""Fuzzing the readers of what a user writes: the manifest and the label fields of the
ground truth (issue 12, finding 8). Whatever the input, no exception escapes but the
reader's own: each line is an object or a failed object with a bounded reason, and each
label is valid for the job or a FormatError."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labelpilot.api.run_config import TaskType
from labelpilot.engine import formats, reasons, storage
from labelpilot.engine.confinement import DataRoots

FUZZ = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
LABELS = ["cat", "dog", "bird"]
ATTR = "label"

# Strings as JSON may hold them, unpaired surrogates included.
strings = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["", " ", "\ud800", "a\udfffb", "s3://b/k", "/etc/hostname"]),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    strings,
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(strings, inner, max_size=4)
    ),
    max_leaves=12,
)


def _check_objects(objects: list[formats.DataObject]) -> None:
    for i, obj in enumerate(objects):
        assert obj.index == i
        storage.dumps(obj.record).encode("utf-8")  # every record can be written back
        if obj.failed:
            assert obj.error.startswith("MalformedLine: ")
            assert len(obj.error) <= reasons.MAX_REASON_CHARS
        else:
            assert obj.key is not None
            assert obj.source_ref is None or obj.source_ref.strip()


@FUZZ
@given(st.binary(max_size=400))
def test_any_bytes_read_as_objects_or_failed_objects(data):
    objects = formats.parse_manifest_bytes(data)
    _check_objects(objects)
    lines = data.removeprefix(b"\xef\xbb\xbf").split(b"\n")

    def counts(raw: bytes) -> bool:
        try:
            return bool(raw.removesuffix(b"\r").decode("utf-8").strip())
        except UnicodeDecodeError:
            return True

    assert len(objects) == sum(counts(raw) for raw in lines)


records = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {}, optional={"source-ref": json_values, "source": json_values, "extra": json_values}
    ),
)


@FUZZ
@given(st.lists(records, max_size=8))
def test_any_json_lines_read_as_objects_or_failed_objects(values):
    lines = [json.dumps(v) for v in values]
    objects = formats.parse_manifest_bytes("\n".join(lines).encode("utf-8"))
    _check_objects(objects)
    assert len(objects) == len(values)
    for value, obj in zip(values, objects, strict=True):
        ref = value.get("source-ref") if isinstance(value, dict) else None
        if not obj.failed and ref is not None:
            assert obj.source_ref == ref


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz-masks")
    colors = formats.color_map(LABELS)
    formats.write_mask_png(
        str(root / "m.png"), np.arange(16, dtype=np.uint8).reshape(4, 4) % 4, colors
    )
    formats.write_mask_png(
        str(root / "wide.png"),
        np.full((3, 5), 9, np.uint8),
        formats.color_map([f"c{i}" for i in range(12)]),
    )
    (root / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    return root


def _number() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.integers(-3, 20),
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(-(2**70), 2**70),
        json_values,
    )


boxes = st.fixed_dictionaries(
    {},
    optional={
        "image_size": st.one_of(
            json_values,
            st.lists(
                st.fixed_dictionaries(
                    {"width": _number(), "height": _number()}, optional={"depth": _number()}
                ),
                max_size=2,
            ),
        ),
        "annotations": st.one_of(
            json_values,
            st.lists(
                st.fixed_dictionaries(
                    {},
                    optional={k: _number() for k in ("class_id", "left", "top", "width", "height")},
                ),
                max_size=3,
            ),
        ),
    },
)
color_maps = st.one_of(
    json_values,
    st.just(formats.color_map(LABELS)),
    st.just(formats.color_map([f"c{i}" for i in range(12)])),
    st.dictionaries(
        st.sampled_from(["0", "1", "3", "256", "x", "٣"]),
        st.one_of(
            json_values,
            st.fixed_dictionaries({"hex-color": st.one_of(strings, st.just("#00ff00"))}),
        ),
        max_size=4,
    ),
)
labels_by_type = {
    TaskType.IMAGE_CLASSIFICATION: _number(),
    TaskType.TEXT_CLASSIFICATION: _number(),
    TaskType.OBJECT_DETECTION: st.one_of(boxes, json_values),
    TaskType.SEMANTIC_SEGMENTATION: st.one_of(
        st.sampled_from(
            [
                "m.png",
                "wide.png",
                "corrupt.png",
                "missing.png",
                "../m.png",
                "/etc/hostname",
                "http://127.0.0.1:9/m.png",
                "s3://b/m.png",
                "",
            ]
        ),
        json_values,
    ),
    TaskType.IMAGE_CLASSIFICATION_MULTILABEL: st.one_of(
        st.lists(_number(), max_size=6), json_values
    ),
    TaskType.TEXT_CLASSIFICATION_MULTILABEL: st.one_of(
        st.lists(_number(), max_size=6), json_values
    ),
}


def _valid(task_type: TaskType, label: formats.Label) -> None:
    if task_type.is_classification:
        assert isinstance(label, int) and 0 <= label < len(LABELS)
    elif task_type.is_multilabel:
        assert isinstance(label, list) and label == sorted(set(label))
        assert all(isinstance(c, int) and 0 <= c < len(LABELS) for c in label)
    elif task_type is TaskType.OBJECT_DETECTION:
        assert isinstance(label, formats.Boxes) and min(label.width, label.height) >= 1
        assert np.isfinite(label.boxes).all()
        assert ((label.boxes[:, 0] >= 0) & (label.boxes[:, 0] < len(LABELS))).all()
    else:
        assert isinstance(label, np.ndarray) and label.dtype == np.uint8
        assert int(label.max(initial=0)) <= len(LABELS)


@pytest.mark.parametrize("task_type", list(TaskType))
def test_any_label_field_decodes_to_a_valid_label_or_a_format_error(task_type, folder):
    key = formats.label_key(task_type, ATTR)
    roots = DataRoots([str(folder)])

    @FUZZ
    @given(
        labels_by_type[task_type],
        st.one_of(
            json_values,
            st.fixed_dictionaries({"internal-color-map": color_maps}),
            st.fixed_dictionaries({"class-map": st.dictionaries(st.text(max_size=3), st.text())}),
        ),
    )
    def decode(value: Any, metadata: Any) -> None:
        record = {key: value, formats.metadata_key(task_type, ATTR): metadata}
        try:
            label = formats.decode_label(
                task_type, ATTR, record, base=str(folder), labels=LABELS, roots=roots
            )
        except formats.FormatError as error:
            assert str(error) and len(str(error)) < 2000
            return
        _valid(task_type, label)

    decode()
