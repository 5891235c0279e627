"""Multi-label jobs end to end (`labelpilot run`, the simulated workforce): people's sets,
machine-labeled sets with Ground Truth's multi-label metadata, and the jsonl export."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from engine_fixtures import FAST_MODEL
from input_fixtures import write_lines
from ml_synthetic import bars_present
from PIL import Image

from labelpilot import cli
from labelpilot.engine import formats
from labelpilot.engine.labels import LabelState
from labelpilot.engine.workspace import Workspace

LABELS = ["horizontal", "vertical", "square"]
TASK = "image-classification-multilabel"


def shapes(folder: Path, n: int) -> tuple[Path, Path, list[list[int]]]:
    """`n` images of bars and squares: the input manifest, Ground Truth's multi-label
    manifest of their true sets, and the sets."""
    images, targets = bars_present(n, seed=3)
    (folder / "objects").mkdir(parents=True)
    lines, truth, sets = [], [], []
    meta = formats.LabelMeta(confidence=1.0, human_annotated=True, job_name="truth")
    for i, (image, row) in enumerate(zip(images, targets, strict=True)):
        path = folder / "objects" / f"{i:04d}.png"
        Image.fromarray(image[:, :, 0]).save(path)
        classes = [int(k) for k in np.flatnonzero(row)]
        sets.append(classes)
        lines.append(json.dumps({"source-ref": str(path)}))
        label = formats.encode_label(TASK, "shapes", classes, meta, labels=LABELS)
        truth.append(json.dumps({"source-ref": str(path), **label}))
    manifest = write_lines(folder / "input.manifest", lines)
    return manifest, write_lines(folder / "truth.manifest", truth), sets


def _run(manifest: Path, truth: Path, out: Path) -> int:
    labels_file = write_lines(manifest.parent / "labels.txt", LABELS)
    return cli.main(
        [
            "run",
            "--task-type",
            TASK,
            "--input-manifest",
            str(manifest),
            "--labels-file",
            str(labels_file),
            "--label-attribute-name",
            "shapes",
            "--output",
            str(out),
            "--ground-truth",
            str(truth),
            "--allow-small-dataset",
            "--max-concurrent-task-count",
            "150",
            "--target-accuracy",
            "0.85",
            "--threshold-mode",
            "groundtruth",
            "--model-options",
            json.dumps({**FAST_MODEL, "epochs": 12}),
            "--export-format",
            "jsonl",
            "--quiet",
        ]
    )


def _output(ws: Workspace) -> list[dict[str, Any]]:
    return [json.loads(x) for x in Path(ws.output_manifest).read_text().splitlines()]


def test_a_multi_label_job_labels_sets_by_people_and_by_the_machine(tmp_path, capsys):
    manifest, truth, sets = shapes(tmp_path / "data", 500)
    out = tmp_path / "job"
    code = _run(manifest, truth, out)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    result = json.loads(captured.out.strip().splitlines()[-1])
    counters = result["labelCounters"]
    assert counters["machineLabeled"] > 0 and counters["humanLabeled"] > 0
    assert (
        counters["totalLabeled"] + counters["unlabeled"] + counters["failedNonRetryableError"]
        == 500
    )
    ws = Workspace(str(out))
    state = LabelState.load(ws)
    for index, row in state.human.items():
        assert row["label"] == sets[index]  # the simulated people answer the true set
    machine_right = [row["label"] == sets[i] for i, row in state.machine.items()]
    assert np.mean(machine_right) >= 0.8
    by_line = _output(ws)
    for index, row in state.machine.items():
        line = by_line[index]
        meta = line["shapes-metadata"]
        assert line["shapes"] == row["label"]
        assert meta["type"] == "groundtruth/image-classification-multilabel"
        assert meta["human-annotated"] == "no"
        assert meta["class-map"] == {str(c): LABELS[c] for c in row["label"]}
        assert set(meta["confidence-map"]) == set(meta["class-map"])
        assert all(0.5 <= v <= 1.0 for v in meta["confidence-map"].values())
        assert "confidence" not in meta
    search = json.loads(Path(ws.thresholds(0)).read_text())["search"]
    assert len(search["thresholds"]) == len(LABELS) + 1
    exported = (out / "exports" / "jsonl" / "data.jsonl").read_text().splitlines()
    first = json.loads(exported[0])
    assert isinstance(first["labels"], list)
