"""The engine's label limits are refused at the door; colours exist for every count
(issue 12, finding 5)."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from labelpilot.api.run_config import MAX_LABELS, MAX_SEGMENTATION_LABELS, RunConfig
from labelpilot.engine import formats

BASE = {
    "job_name": "j",
    "label_attribute_name": "a",
    "input_manifest_uri": "/d/in.manifest",
    "output_uri": "/d/out",
    "workforce": {"simulated": {"ground_truth_uri": "/d/gt"}},
}


def _config(task_type: str, n: int) -> RunConfig:
    return RunConfig.model_validate(
        {**BASE, "task_type": task_type, "labels": [f"c{i}" for i in range(n)]}
    )


@pytest.mark.parametrize(
    ("task_type", "limit"),
    [
        ("semantic-segmentation", 255),
        ("image-classification", 256),
        ("text-classification", 256),
        ("object-detection", 256),
        ("image-classification-multilabel", 50),
        ("text-classification-multilabel", 50),
    ],
)
def test_each_task_type_takes_its_label_limit_and_no_more(task_type, limit):
    labels = _config(task_type, limit).labels
    with pytest.raises(ValidationError, match=f"takes at most {limit} labels"):
        _config(task_type, limit + 1)
    assert MAX_SEGMENTATION_LABELS == 255 and MAX_LABELS == 256
    if task_type == "semantic-segmentation":  # the last class still has a mask id and colour
        colors = formats.color_map(labels)
        mask = np.arange(256, dtype=np.uint8).reshape(16, 16)
        decoded = formats.mask_from_png_bytes(formats.mask_png_bytes(mask, colors), colors)
        np.testing.assert_array_equal(decoded, mask)


def test_duplicate_labels_are_refused():
    with pytest.raises(ValidationError, match="duplicate label 'b'"):
        RunConfig.model_validate(
            {**BASE, "task_type": "image-classification", "labels": ["a", "b", "b"]}
        )


def test_class_colors_end_for_any_count():
    many = formats.class_colors(5000)
    assert len(set(many)) == 5000 and formats.BACKGROUND_HEX not in many
    assert formats.class_colors(40) == many[:40]  # a colour never changes with the count
    with pytest.raises(ValueError, match="colours for 0 to"):
        formats.class_colors(1 << 24)
