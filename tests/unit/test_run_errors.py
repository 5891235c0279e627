"""Bad flags and a bad ground truth are clear errors, never a traceback, and a true label
outside the labels is never stored (issue 12, finding 6)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from input_fixtures import LABELS, config, image_set, write_lines
from PIL import Image

from labelpilot.api.run_config import TaskType
from labelpilot.api.steps import StepFailed
from labelpilot.engine import formats, storage
from labelpilot.engine.workspace import Workspace
from labelpilot.worker.cli import run_step


def _run(tmp_path: Path, *changes: str, labels: str | None = "even\nodd\n") -> tuple[int, str]:
    """`labelpilot run` as a user runs it; (exit code, stderr)."""
    manifest = tmp_path / "data" / "input.manifest"
    if not manifest.exists():
        write_lines(manifest, image_set(tmp_path / "data", 20)["lines"])
    if labels is not None:
        (tmp_path / "labels.txt").write_text(labels)
    flags = {
        "--task-type": "image-classification",
        "--input-manifest": str(manifest),
        "--labels-file": str(tmp_path / "labels.txt"),
        "--label-attribute-name": "label",
        "--output": str(tmp_path / "job"),
        "--ground-truth": str(tmp_path / "data" / "truth.manifest"),
    }
    pairs = dict(zip(changes[::2], changes[1::2], strict=True))
    argv = [v for k, value in {**flags, **pairs}.items() for v in (k, value)]
    done = subprocess.run(
        [sys.executable, "-m", "labelpilot.cli", "run", *argv, "--allow-small-dataset", "--quiet"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return done.returncode, done.stderr


@pytest.mark.parametrize(
    ("changes", "labels", "message"),
    [
        (
            (),
            None,
            "--labels-file {tmp}/labels.txt: cannot read: FileNotFoundError: No such file "
            "or directory",
        ),
        ((), "\n  \n", "--labels-file {tmp}/labels.txt: holds no label (one per line)"),
        ((), "a\nb\na\n", "--labels-file: duplicate label 'a'"),
        (
            ("--model-options", "epochs=3"),
            "a\nb\n",
            "--model-options: not JSON (Expecting value at column 1)",
        ),
        (
            ("--model-options", "[1, 2]"),
            "a\nb\n",
            "--model-options: must be a JSON object, got list",
        ),
        (
            ("--ground-truth", "{tmp}/nope.manifest"),
            "a\nb\n",
            "--ground-truth {tmp}/nope.manifest: no such file",
        ),
        (
            ("--confidence-level", "1.5"),
            "a\nb\n",
            "--confidence-level: Input should be less than 1",
        ),
        (
            ("--data-root", "s3://bucket/../other"),
            "a\nb\n",
            "--data-root: data root 's3://bucket/../other': the path holds a '.' or '..' segment",
        ),
        (
            ("--label-attribute-name", "source-ref"),
            "a\nb\n",
            "--label-attribute-name: label attribute name 'source-ref' must not be "
            "'source-ref': 'source-ref' and 'source' are the input manifest's keys (and a "
            "segmentation label of 'source' is kept under 'source-ref')",
        ),
    ],
)
def test_bad_flags_are_one_line_naming_the_flag(tmp_path, changes, labels, message):
    changes = tuple(c.format(tmp=tmp_path) for c in changes)
    code, err = _run(tmp_path, *changes, labels=labels)
    assert code != 0
    assert err == message.format(tmp=tmp_path) + "\n"


def test_a_missing_input_manifest_is_one_line(tmp_path):
    code, err = _run(tmp_path, "--input-manifest", str(tmp_path / "none.manifest"))
    assert code == 3
    assert err.startswith("labelpilot run: InputManifestUnreadable: ")
    assert err.count("\n") == 1 and "Traceback" not in err


def _truth_with(tmp_path: Path, value: object) -> tuple[dict, Path]:
    data = image_set(tmp_path / "data", 20)
    records = [json.loads(line) for line in data["truth"].read_text().splitlines()]
    for record in records:
        record["label"] = value
    write_lines(data["truth"], [json.dumps(r) for r in records])
    manifest = write_lines(tmp_path / "data" / "input.manifest", data["lines"])
    return data, manifest


@pytest.mark.parametrize("value", [-1, 1.5, "odd", True])
def test_a_bad_true_label_fails_the_job_and_is_never_stored(tmp_path, value):
    data, manifest = _truth_with(tmp_path, value)
    cfg = config(manifest, tmp_path / "job", data["truth"])
    run_step("prepare", cfg)
    with pytest.raises(StepFailed) as error:
        run_step("human", cfg, 0)
    assert error.value.reason == "InvalidGroundTruth"
    assert error.value.message.startswith(f"ground-truth manifest {data['truth']}, object '")
    assert "label" in error.value.message
    assert not storage.exists(Workspace(cfg.output_uri).human_response(0))


def test_labelpilot_run_reports_a_bad_ground_truth_in_one_line(tmp_path):
    _truth_with(tmp_path, -1)
    code, err = _run(tmp_path, labels="even\nodd\n")
    assert code == 3
    assert err.startswith("labelpilot run: InvalidGroundTruth: ground-truth manifest ")
    # the line names its class (class-name), so the id is checked only for what it is
    assert err.endswith("label is class id -1; class ids are 0 to 16777215\n")


def test_true_labels_must_index_the_jobs_labels(tmp_path):
    path = tmp_path / "truth.manifest"
    mask = tmp_path / "m.png"
    colors = formats.color_map(["a", "b", "c"])
    formats.write_mask_png(str(mask), np.full((4, 4), 3, np.uint8), colors)
    write_lines(
        path,
        [
            json.dumps({"source-ref": "c.png", "label": 2}),
            json.dumps(
                {
                    "source-ref": "d.png",
                    "box": {
                        "image_size": [{"width": 8, "height": 8}],
                        "annotations": [
                            {"class_id": 7, "left": 0, "top": 0, "width": 2, "height": 2}
                        ],
                    },
                }
            ),
            json.dumps(
                {
                    "source-ref": "s.png",
                    "seg-ref": "m.png",
                    "seg-ref-metadata": {"internal-color-map": colors},
                }
            ),
        ],
    )
    cases = [
        (
            TaskType.IMAGE_CLASSIFICATION,
            "label",
            "c.png",
            "label is class id 2, outside the 2 labels (0 to 1)",
        ),
        (
            TaskType.OBJECT_DETECTION,
            "box",
            "d.png",
            "box.annotations[0].class_id is class id 7, outside the 2 labels (0 to 1)",
        ),
        (
            TaskType.SEMANTIC_SEGMENTATION,
            "seg",
            "s.png",
            "seg-ref-metadata.internal-color-map['3'].class-name is 'c', not one of the "
            "job's 2 labels, and the mask has pixels of it",
        ),
    ]
    for task_type, attr, key, why in cases:
        truth = formats.GroundTruth(str(path), task_type, attr, labels=LABELS)
        with pytest.raises(formats.GroundTruthError) as error:
            truth.get(key)
        assert str(error.value).startswith(f"ground-truth manifest {path}, object '{key}': {why}")
        assert formats.GroundTruth(str(path), task_type, attr).get(key) is not None


def test_a_true_mask_outside_the_truths_folder_is_not_read(tmp_path):
    outside = tmp_path / "outside.png"
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(outside)
    (tmp_path / "gt").mkdir()
    path = write_lines(
        tmp_path / "gt" / "truth.manifest",
        [
            json.dumps(
                {
                    "source-ref": "s.png",
                    "seg-ref": "../outside.png",
                    "seg-ref-metadata": {"internal-color-map": formats.color_map(LABELS)},
                }
            )
        ],
    )
    truth = formats.GroundTruth(str(path), TaskType.SEMANTIC_SEGMENTATION, "seg")
    with pytest.raises(formats.GroundTruthError, match=r"outside\.png: not under the data roots"):
        truth.get("s.png")


def test_a_missing_ground_truth_is_a_ground_truth_error(tmp_path):
    with pytest.raises(formats.GroundTruthError, match="cannot read: FileNotFoundError"):
        formats.GroundTruth(str(tmp_path / "nope"), TaskType.IMAGE_CLASSIFICATION, "label")
