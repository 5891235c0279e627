"""End to end: `labelpilot run` on a small synthetic data set (sklearn digits as PNGs)."""

import json
from pathlib import Path

from engine_fixtures import digits

from labelpilot import cli
from labelpilot.api.run_config import TaskType
from labelpilot.engine import formats
from labelpilot.engine.labels import LabelState
from labelpilot.engine.workspace import Workspace


def test_labelpilot_run_labels_everything_and_meets_the_target(tmp_path, capsys):
    data = digits(tmp_path / "digits", 600)
    manifest = tmp_path / "input.manifest"
    lines = Path(data["inputManifest"]).read_text().splitlines()
    manifest.write_text("\n".join([*lines, "not json"]) + "\n")
    out = tmp_path / "job"
    code = cli.main(
        [
            "run",
            "--task-type",
            "image-classification",
            "--input-manifest",
            str(manifest),
            "--labels-file",
            data["labelsFile"],
            "--label-attribute-name",
            "label",
            "--output",
            str(out),
            "--workforce",
            "simulated",
            "--ground-truth",
            data["groundTruthManifest"],
            "--allow-small-dataset",
            "--max-concurrent-task-count",
            "240",  # Ground Truth's 120 validation objects and as many training ones
            "--seed",
            "1",
            "--validation-policy",
            "seed",  # the validation set is reused, less what earlier searches accepted
            "--target-accuracy",
            "0.9",
            "--model-options",
            json.dumps({"epochs": 8, "threads": 1, "device": "cpu"}),
            "--export-format",
            "jsonl",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "threshold" in captured.err  # progress
    summary = json.loads(captured.out.strip().splitlines()[-1])
    counters = summary["labelCounters"]
    assert counters["failedNonRetryableError"] == 1
    output = [
        json.loads(x) for x in (out / "manifests/output/output.manifest").read_text().splitlines()
    ]
    assert len(output) == 601
    assert "failure-reason" in output[-1]["label-metadata"]
    labeled = [r for r in output if "label" in r]
    assert len(labeled) == counters["totalLabeled"]
    for r in labeled:
        meta = r["label-metadata"]
        assert meta["type"] == "groundtruth/image-classification"
        assert meta["job-name"] == "labeling-job/labelpilot-run"
        assert meta["human-annotated"] in ("yes", "no")
    # measured against the truth, independently of the job's own evaluation
    truth = formats.GroundTruth(data["groundTruthManifest"], TaskType.IMAGE_CLASSIFICATION, "label")
    machine = [r for r in labeled if r["label-metadata"]["human-annotated"] == "no"]
    assert len(machine) == counters["machineLabeled"] > 0
    accuracy = sum(r["label"] == truth.get(r["source-ref"]) for r in machine) / len(machine)
    assert accuracy >= 0.9
    evaluation = json.loads((out / "evaluation.json").read_text())
    assert abs(evaluation["machineQuality"] - accuracy) < 1e-9
    report = json.loads((out / "report.json").read_text())
    assert report["labelCounters"] == counters
    assert all(
        e["threshold"]["accuracyBound"] is None or e["threshold"]["accuracyBound"] >= 0.9
        for e in report["iterations"]
        if "threshold" in e
    )
    # whatever number of searches the job ran, each one's validation set is the human
    # validation set less what the searches before it accepted (tests/unit/test_steps.py
    # builds the state in which a search follows one that accepted validation objects)
    validation = set(LabelState.load(Workspace(str(out))).validation_indices())
    retired: set[int] = set()
    for i, entry in enumerate(report["iterations"]):
        if "threshold" not in entry:
            continue
        search = json.loads(
            (out / f"activelearning/iteration-{i:04d}/thresholds.json").read_text()
        )["search"]
        assert (
            search["validationRetired"] == len(retired) == entry["threshold"]["validationRetired"]
        )
        assert search["validationObjects"] == len(validation - retired)
        accepted = set(search["validationAcceptedIndices"])
        assert accepted <= validation - retired
        assert len(accepted) == search["validationAccepted"]
        retired |= accepted
    per_class = report["perClass"]
    assert sum(c["machine"] for c in per_class.values()) == counters["machineLabeled"]
    assert sum(c["human"] for c in per_class.values()) == counters["humanLabeled"]
    searches = [e["threshold"] for e in report["iterations"] if "threshold" in e]
    accepted = sum(t["validationAccepted"] for t in searches)
    assert sum(c["validationAccepted"] for c in per_class.values()) == accepted
    for c in per_class.values():
        if c["validationAccepted"]:
            assert 0 <= c["accuracyLowerBound"] <= c["validationAccuracy"] <= 1
    saved = report["humanLabelsSaved"]
    assert saved["vsAllByHand"] == 600 - report["humanObjectsSent"]
    assert all(t["groundTruthRule"]["accepted"] >= 0 for t in searches)
    capsys.readouterr()
    assert cli.main(["report", str(out)]) == 0
    text = capsys.readouterr().out
    assert f"{saved['vsAllByHand']:,} saved" in text
    assert f"machine {counters['machineLabeled']:,} (" in text
    assert (out / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the labels, as Hugging Face datasets JSON Lines
    labels = Path(data["labelsFile"]).read_text().splitlines()
    assert report["labels"] == labels
    assert cli.main(["export", str(out), "--format", "jsonl", "--out", str(tmp_path / "hf")]) == 0
    assert "not exported: 1 failed, 0 unlabeled, 0 invalid" in capsys.readouterr().out
    rows = [json.loads(x) for x in (tmp_path / "hf" / "data.jsonl").read_text().splitlines()]
    assert rows == [{"image": r["source-ref"], "label": r["label"]} for r in labeled]
    features = json.loads((tmp_path / "hf" / "features.json").read_text())
    assert features["label"]["names"] == labels
    # the export step wrote the same files (--export-format), and says so in the report
    for name in ("data.jsonl", "features.json", "not-exported.jsonl"):
        assert (out / "exports" / "jsonl" / name).read_bytes() == (
            tmp_path / "hf" / name
        ).read_bytes()
    assert report["exports"]["jsonl"] == {
        "uri": str(out / "exports" / "jsonl"),
        "exported": len(labeled),
        "notExported": {"failed": 1, "unlabeled": 0, "invalid": 0, "not-writable": 0},
    }
