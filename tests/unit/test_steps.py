import json
from pathlib import Path

import numpy as np
import pytest
from engine_fixtures import config_for, digits, snapshot

from labelpilot import cli
from labelpilot.api.run_config import TaskType
from labelpilot.api.steps import StepFailed
from labelpilot.engine import formats, storage
from labelpilot.engine.labels import LabelState
from labelpilot.engine.predictions import ObjectPredictions, pack
from labelpilot.engine.workspace import Workspace
from labelpilot.ml.base import Predictions
from labelpilot.worker.cli import run_step
from labelpilot.worker.infer import objects_to_predict
from labelpilot.worker.threshold import passing


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return digits(tmp_path_factory.mktemp("digits"), 260)


def run_worker(capsys, config, tmp_path, *args):
    path = tmp_path / "config.json"
    path.write_text(config.to_json())
    log = tmp_path / "termination-log"
    code = cli.main(["worker", *args, "--config", str(path), "--termination-log", str(log)])
    last = capsys.readouterr().out.strip().splitlines()[-1]
    summary = json.loads(last)
    assert json.loads(log.read_text()) == summary and len(last.encode()) < 4096
    return code, summary


def test_each_step_is_idempotent(data, tmp_path, capsys):
    out = tmp_path / "job"
    config = config_for(data, out, export_formats=["jsonl"])
    sequence = [
        ["prepare"],
        ["human", "--iteration", "0"],
        ["train", "--iteration", "0"],
        ["infer", "--iteration", "0"],
        ["threshold", "--iteration", "0"],
    ]
    for args in sequence:
        code, first = run_worker(capsys, config, tmp_path, *args)
        assert code == 0 and first["status"] == "Succeeded", first
        before = snapshot(out)
        code, again = run_worker(capsys, config, tmp_path, *args)
        assert code == 0
        assert snapshot(out) == before, f"{args[0]} changed files on a rerun"
        first.pop("seconds", None)
        again.pop("seconds", None)
        assert again == first
    assert first["next"] in ("human", "export")
    ws = Workspace(str(out))
    if first["next"] == "human":
        for args in (["human", "--iteration", "1"], ["train", "--iteration", "1"]):
            assert run_worker(capsys, config, tmp_path, *args)[0] == 0
        for shard in range(2):  # inference spread over two pods
            assert (
                run_worker(
                    capsys,
                    config,
                    tmp_path,
                    "infer",
                    "--iteration",
                    "1",
                    "--shard-index",
                    str(shard),
                    "--shard-count",
                    "2",
                )[0]
                == 0
            )
        code, th = run_worker(capsys, config, tmp_path, "threshold", "--iteration", "1")
        assert code == 0 and th["step"] == "threshold"
    code, export = run_worker(capsys, config, tmp_path, "export")
    assert code == 0 and export["outputManifestUri"].endswith("manifests/output/output.manifest")
    before = snapshot(out)
    assert run_worker(capsys, config, tmp_path, "export")[0] == 0
    assert snapshot(out) == before
    state = LabelState.load(ws)
    counters = state.counters().to_k8s()
    assert counters == export["labelCounters"]
    assert (
        sum(
            counters[k]
            for k in ("humanLabeled", "machineLabeled", "failedNonRetryableError", "unlabeled")
        )
        == 260
    )
    # no object holds two labels: the output manifest has one line per object
    lines = storage.read_jsonl(ws.output_manifest)
    assert len(lines) == 260
    assert (out / "models" / "final" / "model.json").exists()
    report = json.loads((out / "report.json").read_text())
    assert report["labelCounters"] == counters and report["iterations"]
    # spec.output.exportFormats: the labels as datasets JSON Lines too
    rows = storage.read_jsonl(str(out / "exports" / "jsonl" / "data.jsonl"))
    assert len(rows) == counters["humanLabeled"] + counters["machineLabeled"]
    assert report["exports"]["jsonl"]["exported"] == len(rows)


def test_threshold_rerun_after_a_crash_neither_duplicates_nor_loses(data, tmp_path):
    out = tmp_path / "job"
    config = config_for(data, out)
    for step in ("prepare", "human", "train", "infer", "threshold"):
        run_step(step, config, None if step == "prepare" else 0)
    ws = Workspace(str(out))
    labels = storage.read_jsonl(ws.machine_labels(0))
    selection = storage.read_json(ws.selection(0))
    storage.remove(ws.thresholds(0))  # the crash: before the commit mark
    run_step("threshold", config, 0)
    assert storage.read_jsonl(ws.machine_labels(0)) == labels
    assert storage.read_json(ws.selection(0)) == selection
    state = LabelState.load(ws)
    machine = [r["index"] for r in labels if "label" in r]
    assert len(set(machine)) == len(machine)
    assert not set(machine) & set(state.human)


def test_small_dataset_is_refused_with_exit_code_3(data, tmp_path, capsys):
    config = config_for(data, tmp_path / "job", allow_small_dataset=False)
    code, summary = run_worker(capsys, config, tmp_path, "prepare")
    assert code == 3
    assert summary["status"] == "Failed" and summary["reason"] == "DatasetTooSmall"


def test_missing_manifest_fails_the_job(data, tmp_path, capsys):
    config = config_for(data, tmp_path / "job", input_manifest_uri=str(tmp_path / "nope"))
    code, summary = run_worker(capsys, config, tmp_path, "prepare")
    assert code == 3 and summary["reason"] == "InputManifestUnreadable"


def test_malformed_and_unreadable_objects_become_failed_objects(data, tmp_path):
    manifest = tmp_path / "input.manifest"
    lines = Path(data["inputManifest"]).read_text().splitlines()
    lines[3] = "{broken"
    lines[5] = json.dumps({"source-ref": str(tmp_path / "missing.png")})
    lines[7] = json.dumps({"other": 1})
    manifest.write_text("\n".join(lines) + "\n")
    config = config_for(
        data,
        tmp_path / "job",
        input_manifest_uri=str(manifest),
        data_roots=[str(Path(data["inputManifest"]).parent), str(tmp_path)],
        max_concurrent_task_count=200,  # room for the whole validation set
    )
    summary = run_step("prepare", config)
    assert summary.label_counters.failed_non_retryable_error == 3
    plan = storage.read_json(Workspace(str(tmp_path / "job")).prepare_plan)
    assert plan["failed"]["3"].startswith("MalformedLine")
    assert plan["failed"]["5"].startswith("UnreadableObject")
    assert not {3, 5, 7} & set(plan["iteration0"])
    # 20% of the valid objects, under 5,000
    assert len(plan["validation"]) == round(0.2 * 257)


def test_too_many_failed_objects_in_iteration_0(data, tmp_path):
    config = config_for(
        data,
        tmp_path / "job",
        workforce={
            "simulated": {"ground_truth_uri": data["groundTruthManifest"], "failure_rate": 0.5}
        },
    )
    run_step("prepare", config)
    with pytest.raises(StepFailed) as error:
        run_step("human", config, 0)
    assert error.value.reason == "TooManyFailedObjects"
    with pytest.raises(StepFailed):  # a rerun reaches the same verdict
        run_step("human", config, 0)


def test_split_follows_ground_truths_rule_and_the_seed():
    from labelpilot.worker.prepare import ground_truth_validation_size

    assert ground_truth_validation_size(1250) == 250
    assert ground_truth_validation_size(4999) == 1000
    assert ground_truth_validation_size(10_000) == 1000
    assert np.isclose(ground_truth_validation_size(5000), 500)


def test_passing_applies_per_class_and_single_thresholds():
    p = ObjectPredictions(position={10: 0, 11: 1, 12: 2})
    p.probs = [np.array([0.9, 0.1]), np.array([0.3, 0.7]), np.array([0.6, 0.4])]
    p.confidence = [0.9, 0.7, 0.6]
    classes = np.array([0.8, 0.75])
    assert passing(TaskType.IMAGE_CLASSIFICATION, p, [10, 11, 12], classes) == [10]
    assert passing(TaskType.IMAGE_CLASSIFICATION, p, [11, 12], np.array([0.5, 0.5])) == [11, 12]
    assert passing(TaskType.OBJECT_DETECTION, p, [10, 11, 12], np.array([0.65])) == [10, 11]
    assert passing(TaskType.OBJECT_DETECTION, p, [10], np.array([np.inf])) == []


def write_scripted_inference(data: dict, ws: Workspace, iteration: int) -> set[int]:
    """Iteration `iteration`'s inference as if by a model that is right, with confidence
    0.99, on two objects in three and wrong, with confidence 0.55, on the rest: a state in
    which the guaranteed search accepts exactly the confident objects. Returns them."""
    labels = data["labels"]
    truth = formats.GroundTruth(
        data["groundTruthManifest"], TaskType.IMAGE_CLASSIFICATION, data["labelAttributeName"]
    )
    keys = {o.index: o.key for o in formats.read_manifest(data["inputManifest"])}
    state = LabelState.load(ws, human_upto=iteration, machine_upto=iteration - 1)
    indices = objects_to_predict(state)
    probs = np.zeros((len(indices), len(labels)), np.float32)
    confident = set()
    for row, i in enumerate(indices):
        right = int(truth.get(keys[i]))
        if i % 3:
            confident.add(i)
            probs[row] = 0.01 / (len(labels) - 1)
            probs[row, right] = 0.99
        else:
            probs[row] = 0.45 / (len(labels) - 1)
            probs[row, (right + 1) % len(labels)] = 0.55
    storage.write_bytes(
        ws.inference_shard(iteration, 0, 1),
        pack(Predictions(probs=probs), indices, [(8, 8, 1)] * len(indices), {}),
    )
    return confident


def test_threshold_retires_the_validation_objects_earlier_thresholds_accepted(tmp_path):
    data = digits(tmp_path / "digits", 600)
    out = tmp_path / "job"
    config = config_for(data, out, target_accuracy=0.8, validation_policy="seed")
    ws = Workspace(str(out))
    run_step("prepare", config)
    run_step("human", config, 0)
    validation = set(LabelState.load(ws).validation_indices())
    confident = write_scripted_inference(data, ws, 0)
    first = run_step("threshold", config, 0)
    assert first.next == "human" and first.machine_labeled_this_iteration > 0
    search = storage.read_json(ws.thresholds(0))["search"]
    assert search["validationRetired"] == 0
    assert set(search["validationAcceptedIndices"]) == validation & confident

    run_step("human", config, 1)
    write_scripted_inference(data, ws, 1)
    run_step("threshold", config, 1)
    search = storage.read_json(ws.thresholds(1))["search"]
    assert search["validationRetired"] == len(validation & confident)
    assert search["validationObjects"] == len(validation - confident)
    # what is left of the validation set is all wrong: nothing more may be certified
    assert search["validationAcceptedIndices"] == []
    assert storage.read_json(ws.thresholds(1))["summary"]["machineLabeledThisIteration"] == 0


def test_each_object_is_dated_when_its_label_was_decided(tmp_path):
    data = digits(tmp_path / "digits", 600)
    out = tmp_path / "job"
    config = config_for(data, out, target_accuracy=0.8)
    ws = Workspace(str(out))
    run_step("prepare", config)
    run_step("human", config, 0)
    write_scripted_inference(data, ws, 0)
    run_step("threshold", config, 0)
    run_step("export", config)
    human = storage.read_jsonl(ws.human_response(0))
    machine = [r for r in storage.read_jsonl(ws.machine_labels(0)) if "label" in r]
    assert len(human) >= 20 and len(machine) >= 20
    for rows in (human, machine):
        stamps = [r["created"] for r in rows]
        assert stamps == sorted(stamps)  # recorded one after another
        assert len(set(stamps)) > 1  # not one stamp for the batch: each object has its own
    assert human[-1]["created"] < machine[0]["created"]
    lines = storage.read_jsonl(ws.output_manifest)
    meta = formats.metadata_key(config.task_type, config.label_attribute_name)
    for row in human + machine:
        assert lines[row["index"]][meta]["creation-date"] == row["created"]


def test_a_machine_masks_class_confidences_reach_the_output_manifest(tmp_path):
    from labelpilot.engine.predictions import load_predictions
    from labelpilot.worker import output_manifest, threshold
    from labelpilot.worker.common import Context

    manifest = tmp_path / "input.manifest"
    manifest.write_text('{"source-ref": "a.png"}\n')
    config = config_for(
        {
            "taskType": "semantic-segmentation",
            "labelAttributeName": "seg",
            "labels": ["cat", "dog"],
            "inputManifest": str(manifest),
            "groundTruthManifest": str(manifest),
        },
        tmp_path / "job",
    )
    ctx = Context(config)
    mask = np.array([[0, 2], [2, 2]], np.uint8)
    predictions = Predictions(
        masks=[mask],
        image_confidence=np.array([0.8], np.float32),
        class_confidence=np.array([[0.9, np.nan, 0.7]], np.float32),
    )
    storage.write_bytes(ctx.ws.inference_shard(0, 0, 1), pack(predictions, [0], [(2, 2, 3)], {}))
    loaded = load_predictions(ctx.ws, 0)
    row = threshold._machine_row(ctx, 0, 0, loaded, "2026-01-01T00:00:00.000001", "id")
    assert row["label"]["classConfidences"] == {"0": 0.9, "2": 0.7}
    state = LabelState(total=1, validation=set(), labeled={0: json.loads(json.dumps(row))})
    line = output_manifest.output_line(ctx, ctx.objects()[0], state)
    colors = line["seg-ref-metadata"]["internal-color-map"]
    assert {k: e["confidence"] for k, e in colors.items()} == {"0": 0.9, "1": 0.8, "2": 0.7}
    assert line["seg-ref-metadata"]["creation-date"] == "2026-01-01T00:00:00.000001"
