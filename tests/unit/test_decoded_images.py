import json
from pathlib import Path

import numpy as np
import pytest
from engine_fixtures import config_for, digits

from labelpilot.api.run_config import TaskType
from labelpilot.engine import decoded_images, storage
from labelpilot.engine.predictions import load_predictions
from labelpilot.engine.workspace import Workspace
from labelpilot.ml import load_input
from labelpilot.worker.cli import run_step


def _image(h: int, w: int, c: int, value: int) -> np.ndarray:
    return np.full((h, w, c), value, dtype=np.uint8) + np.arange(h * w * c, dtype=np.uint8).reshape(
        h, w, c
    )


def test_images_of_any_shape_come_back_by_index_and_read_only():
    collector = decoded_images.Collector()
    images = {7: _image(4, 5, 1, 3), 2: _image(3, 3, 3, 9), 40: _image(1, 8, 1, 0)}
    for index, image in images.items():
        collector.add(index, image)
    cache = decoded_images.unpack(collector.pack())
    assert len(cache) == 3
    for index, image in images.items():
        back = cache.get(index)
        assert back is not None and back.shape == image.shape
        np.testing.assert_array_equal(back, image)
        with pytest.raises(ValueError):
            back[0, 0, 0] = 1
    assert cache.get(3) is None


def test_images_past_the_byte_budget_are_left_out():
    collector = decoded_images.Collector(max_bytes=100)
    collector.add(0, _image(5, 5, 3, 0))  # 75 bytes
    collector.add(1, _image(5, 5, 1, 0))  # 25 more: exactly the budget
    collector.add(2, _image(1, 1, 1, 0))  # one byte too many
    cache = decoded_images.unpack(collector.pack())
    assert (cache.get(0) is not None, cache.get(1) is not None, cache.get(2)) == (True, True, None)


def test_an_empty_cache_and_a_missing_file_hold_nothing(tmp_path):
    assert len(decoded_images.unpack(decoded_images.Collector().pack())) == 0
    assert len(decoded_images.load(str(tmp_path / "none.npz"))) == 0


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return digits(tmp_path_factory.mktemp("digits"), 120)


def test_prepare_keeps_the_decoded_images_that_train_and_infer_then_use(data, tmp_path):
    config = config_for(data, tmp_path / "job")
    ws = Workspace(config.output_uri)
    run_step("prepare", config)
    cache = decoded_images.load(ws.decoded_images)
    records = [json.loads(line) for line in Path(data["inputManifest"]).read_text().splitlines()]
    assert len(cache) == len(records)
    base = storage.parent(data["inputManifest"])
    for index in (0, len(records) - 1):
        decoded = load_input(TaskType(data["taskType"]), records[index], base, index)
        np.testing.assert_array_equal(cache.get(index), decoded)
    # Every source now unreadable: train and infer must read the pixels prepare kept.
    for record in records:
        Path(base, record["source-ref"]).write_bytes(b"not an image any more")
    run_step("human", config, 0)
    run_step("train", config, 0)
    run_step("infer", config, 0, 0, 1)
    predictions = load_predictions(ws, 0)
    assert predictions.failed == {} and len(predictions.position) > 0


def test_a_text_job_keeps_no_images(tmp_path):
    manifest = tmp_path / "input.manifest"
    manifest.write_text(
        "".join(json.dumps({"source": f"text {i % 2} number {i}"}) + "\n" for i in range(30))
    )
    config = config_for(
        {
            "taskType": "text-classification",
            "labelAttributeName": "label",
            "labels": ["a", "b"],
            "inputManifest": str(manifest),
            "groundTruthManifest": str(manifest),
        },
        tmp_path / "job",
    )
    run_step("prepare", config)
    ws = Workspace(config.output_uri)
    assert storage.exists(ws.prepare_plan) and not storage.exists(ws.decoded_images)
