"""A step reads images for a classifier scaled down to the classifier's largest input side,
from the decoded-images cache (which prepare fills with them so) and from their files alike;
boxes and masks keep full size."""

import json
from pathlib import Path

import numpy as np
import pytest
from engine_fixtures import config_for
from PIL import Image

from labelpilot.engine import decoded_images
from labelpilot.engine.workspace import Workspace
from labelpilot.ml.images import shrunk
from labelpilot.worker.cli import run_step
from labelpilot.worker.common import Context
from labelpilot.worker.object_inputs import ObjectInputs

SIZES = [(800, 1200, 3), (200, 300, 3), (100, 2000, 1), (700, 640, 3)]  # height, width, channels


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    lines, truth = [], []
    for i, (height, width, channels) in enumerate(SIZES):
        pixels = rng.integers(0, 256, (height, width, channels), dtype=np.uint8)
        path = folder / f"{i}.png"
        Image.fromarray(pixels[:, :, 0] if channels == 1 else pixels).save(path)
        lines.append({"source-ref": str(path)})
        truth.append({"source-ref": str(path), "label": i % 2})
    manifest, ground_truth = folder / "input.manifest", folder / "truth.manifest"
    manifest.write_text("".join(json.dumps(line) + "\n" for line in lines))
    ground_truth.write_text("".join(json.dumps(line) + "\n" for line in truth))
    return {
        "taskType": "image-classification",
        "labelAttributeName": "label",
        "labels": ["a", "b"],
        "inputManifest": str(manifest),
        "groundTruthManifest": str(ground_truth),
    }


def shapes(photos: dict, out: Path, task_type: str, **options) -> list[tuple[int, ...]]:
    config = config_for({**photos, "taskType": task_type}, out, model_options=options)
    inputs = ObjectInputs(Context(config)).load_each(list(range(len(SIZES))))
    return [np.asarray(image).shape[:2] for image in inputs]


def test_a_classifiers_images_are_scaled_down_to_its_largest_side(photos, tmp_path):
    expected = [(341, 512), (200, 300), (26, 512), (512, 468)]
    assert shapes(photos, tmp_path / "read", "image-classification") == expected
    config = config_for(photos, tmp_path / "cached")
    run_step("prepare", config)
    cache = decoded_images.load(Workspace(config.output_uri).decoded_images)
    assert [cache.get(i).shape[:2] for i in range(len(SIZES))] == expected  # kept scaled down
    assert shapes(photos, tmp_path / "cached", "image-classification") == expected
    assert shapes(photos, tmp_path / "read", "image-classification-multilabel") == expected


def test_a_larger_working_size_keeps_larger_inputs(photos, tmp_path):
    got = shapes(photos, tmp_path / "job", "image-classification", image_size=640)
    assert got == [(427, 640), (200, 300), (32, 640), (640, 585)]


@pytest.mark.parametrize("task_type", ["object-detection", "semantic-segmentation"])
def test_boxes_and_masks_keep_their_images_full_size(photos, tmp_path, task_type):
    assert shapes(photos, tmp_path / "job", task_type) == [s[:2] for s in SIZES]


def test_shrunk_keeps_the_aspect_and_the_pixels_range():
    image = np.full((90, 30), 200, np.uint8)
    small = shrunk(image, 45)
    assert small.shape == (45, 15)
    assert (small == 200).all()
    assert shrunk(image, 90) is image
