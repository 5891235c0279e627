"""Chained jobs (issue 13): objects whose input line already carries the label attribute
are kept as they are and not sent again; trusted, their labels train the model (never
validate it); the output manifest exists after every step, also for a failed job."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from engine_fixtures import FAST_MODEL, digits
from input_fixtures import LABELS, config, image_set, write_lines
from tests.specs import summary

from labelpilot import cli
from labelpilot.api.spec import LabelingJobSpec
from labelpilot.api.status import ConditionType, LabelCounters, Phase
from labelpilot.api.steps import Step, StepFailed
from labelpilot.controller.observed import JobState, ObservedJob
from labelpilot.controller.planner import plan
from labelpilot.controller.run_config_from_spec import to_run_config
from labelpilot.controller.step_jobs import job_name
from labelpilot.engine import report_text, storage
from labelpilot.engine.labels import PRE, LabelState
from labelpilot.engine.workspace import Workspace
from labelpilot.worker.cli import run_step

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
OUTPUT = "file:///data/out/manifests/output/output.manifest"


def labeled_line(ref: str, label: int) -> str:
    """A line as an earlier job wrote it, spelled unlike LabelPilot would (key order,
    spaces, an exponent): its values must come out byte for byte."""
    return (
        f'{{"source-ref": "{ref}", "label": {label}, "label-metadata": '
        f'{{"confidence": 9.5e-1, "class-name": "{LABELS[label]}", '
        '"human-annotated": "yes", "job-name": "labeling-job/earlier"}}'
    )


def chained_set(tmp_path: Path, n: int, pre: set[int]) -> tuple[Path, Path, list[str]]:
    data = image_set(tmp_path / "data", n)
    lines = [
        labeled_line(json.loads(line)["source-ref"], i % 2) if i in pre else line
        for i, line in enumerate(data["lines"])
    ]
    manifest = write_lines(tmp_path / "data" / "input.manifest", lines)
    return manifest, data["truth"], lines


# --- prepare ----------------------------------------------------------------------------


def test_prepare_leaves_pre_labeled_objects_out_and_keeps_their_lines(tmp_path):
    pre = set(range(0, 40, 2))
    manifest, truth, lines = chained_set(tmp_path, 40, pre)
    cfg = config(manifest, tmp_path / "job", truth, max_concurrent_task_count=12)
    result = run_step("prepare", cfg)
    ws = Workspace(cfg.output_uri)
    prepared = storage.read_json(ws.prepare_plan)
    assert prepared["preLabeled"] == sorted(pre)
    assert not pre & set(prepared["iteration0"])
    assert not pre & set(prepared["validation"])
    assert len(prepared["validation"]) == 4  # 20% of the 20 objects to label
    assert result.label_counters == LabelCounters(pre_labeled=20, unlabeled=20)
    assert result.output_manifest_uri == ws.output_manifest
    # the output manifest exists from the start: every line as it came
    assert Path(ws.output_manifest).read_text().splitlines() == lines
    state = LabelState.load(ws)
    assert not pre & set(state.unlabeled())
    assert state.size == 20  # the objects this job labels
    assert state.training_indices() == []  # Ignore: nothing to train on yet


def test_only_the_objects_without_the_attribute_reach_humans(tmp_path):
    pre = set(range(30))
    manifest, truth, lines = chained_set(tmp_path, 40, pre)
    cfg = config(manifest, tmp_path / "job", truth, auto_labeling=False)
    run_step("prepare", cfg)
    human = run_step("human", cfg, 0)
    assert human.human_batch == 10
    ws = Workspace(cfg.output_uri)
    sent = {row["index"] for row in storage.read_jsonl(ws.human_response(0))}
    assert sent == set(range(30, 40))
    assert human.label_counters == LabelCounters(total_labeled=10, human_labeled=10, pre_labeled=30)
    assert human.next is Step.EXPORT
    run_step("export", cfg)
    out = Path(ws.output_manifest).read_text().splitlines()
    assert out[:30] == lines[:30]  # untouched, bytes and all
    assert all(
        json.loads(line)["label-metadata"]["job-name"] == "labeling-job/inputs" for line in out[30:]
    )
    report = storage.read_json(ws.report)
    assert report["labelCounters"]["preLabeled"] == 30
    assert report["humanLabelsSaved"]["allByHandAnswers"] == 10
    assert ", already labeled 30" in report_text.summary(report)


def test_rerunning_prepare_keeps_the_labels_in_the_output_manifest(tmp_path):
    manifest, truth, _ = chained_set(tmp_path, 20, {0, 1})
    cfg = config(manifest, tmp_path / "job", truth, auto_labeling=False)
    run_step("prepare", cfg)
    run_step("human", cfg, 0)
    uri = Path(cfg.output_uri, "manifests/output/output.manifest")
    labeled = uri.read_bytes()
    assert labeled.count(b"labeling-job/inputs") == 18
    run_step("prepare", cfg)  # labelpilot run, resumed
    assert uri.read_bytes() == labeled


def test_a_job_with_everything_labeled_goes_straight_to_export(tmp_path):
    manifest, truth, _ = chained_set(tmp_path, 10, set(range(10)))
    cfg = config(manifest, tmp_path / "job", truth)
    result = run_step("prepare", cfg)
    assert result.next is Step.EXPORT and str(result.stop_reason) == "AllLabeled"
    export = run_step("export", cfg)
    assert export.label_counters == LabelCounters(pre_labeled=10)
    assert Path(cfg.output_uri, "manifests/output/output.manifest").read_text() == (
        manifest.read_text()
    )


def test_a_failed_object_of_the_earlier_job_is_labeled_again(tmp_path):
    data = image_set(tmp_path / "data", 4)
    ref = json.loads(data["lines"][0])["source-ref"]
    failed = json.dumps(
        {"source-ref": ref, "label-metadata": {"failure-reason": "ClientError: timeout"}}
    )
    manifest = write_lines(tmp_path / "data" / "input.manifest", [failed, *data["lines"][1:]])
    cfg = config(manifest, tmp_path / "job", data["truth"])
    run_step("prepare", cfg)
    assert storage.read_json(Workspace(cfg.output_uri).prepare_plan)["preLabeled"] == []


def test_trusted_labels_become_training_rows_and_never_validation(tmp_path):
    pre = set(range(0, 40, 2))
    manifest, truth, _ = chained_set(tmp_path, 40, pre)
    cfg = config(manifest, tmp_path / "job", truth, existing_labels="trusted")
    run_step("prepare", cfg)
    run_step("human", cfg, 0)
    ws = Workspace(cfg.output_uri)
    rows = storage.read_jsonl(ws.pre_labels)
    assert [(r["index"], r["label"], r["source"]) for r in rows] == [
        (i, i % 2, PRE) for i in sorted(pre)
    ]
    state = LabelState.load(ws)
    assert pre <= set(state.training_indices())
    assert not pre & set(state.validation_indices())
    assert state.counters().pre_labeled == 20
    assert state.counters().total_labeled == len(state.human)  # trusted ones are not counted


def test_a_trusted_label_that_cannot_be_read_fails_the_job_naming_it(tmp_path):
    data = image_set(tmp_path / "data", 6)
    ref = json.loads(data["lines"][3])["source-ref"]
    bad = json.dumps({"source-ref": ref, "label": 0, "label-metadata": {"class-name": "unicorn"}})
    lines = [*data["lines"][:3], bad, *data["lines"][4:]]
    manifest = write_lines(tmp_path / "data" / "input.manifest", lines)
    cfg = config(manifest, tmp_path / "job", data["truth"], existing_labels="trusted")
    with pytest.raises(StepFailed) as error:
        run_step("prepare", cfg)
    assert error.value.reason == "InvalidExistingLabel"
    assert "object 3" in error.value.message and "'label'" in error.value.message
    assert "unicorn" in error.value.message
    # ignored, the same line is simply kept
    cfg = config(manifest, tmp_path / "job2", data["truth"])
    run_step("prepare", cfg)
    assert Path(cfg.output_uri, "manifests/output/output.manifest").read_text() == (
        manifest.read_text()
    )


def test_a_failed_job_leaves_the_output_manifest_of_what_it_labeled(tmp_path):
    data = image_set(tmp_path / "data", 40)
    manifest = write_lines(tmp_path / "data" / "input.manifest", data["lines"])
    cfg = config(
        manifest,
        tmp_path / "job",
        data["truth"],
        workforce={"simulated": {"ground_truth_uri": str(data["truth"]), "failure_rate": 0.5}},
    )
    run_step("prepare", cfg)
    with pytest.raises(StepFailed) as error:
        run_step("human", cfg, 0)
    assert error.value.reason == "TooManyFailedObjects"
    ws = Workspace(cfg.output_uri)
    out = [json.loads(line) for line in Path(ws.output_manifest).read_text().splitlines()]
    answered = storage.read_jsonl(ws.human_response(0))
    assert len(out) == 40
    for row in answered:
        meta = out[row["index"]]["label-metadata"]
        assert ("failure-reason" in meta) == ("failure" in row)
        assert ("label" in out[row["index"]]) == ("failure" not in row)
    assert sum("label" in r for r in out) == sum("failure" not in r for r in answered) > 0


# --- the spec and the planner -------------------------------------------------------------


def test_the_spec_field_reaches_the_run_config(spec_dict):
    spec = LabelingJobSpec.from_k8s(spec_dict({"autoLabeling": {"existingLabels": "Trusted"}}))
    assert str(to_run_config("j", "ns", spec).existing_labels) == "trusted"
    default = LabelingJobSpec.from_k8s(spec_dict())
    assert str(to_run_config("j", "ns", default).existing_labels) == "ignore"
    with pytest.raises(ValueError):
        LabelingJobSpec.from_k8s(spec_dict({"autoLabeling": {"existingLabels": "Maybe"}}))


def _job(step: Step, iteration: int | None, state: JobState, result: Any) -> ObservedJob:
    it = iteration if step.iterative else None
    return ObservedJob(
        name=job_name("chain", step, it),
        namespace="ns",
        step=step,
        iteration=it,
        state=state,
        summary=result,
    )


def _counters(**fields: int) -> dict[str, int]:
    return LabelCounters(**fields).to_k8s()


def test_status_points_at_the_output_manifest_once_a_step_wrote_it(spec_dict):
    spec = LabelingJobSpec.from_k8s(spec_dict())
    status = plan(spec, None, [], NOW).status
    assert status.output_manifest_uri is None
    prepared = _job(
        Step.PREPARE,
        None,
        JobState.SUCCEEDED,
        summary(
            Step.PREPARE,
            next="human",
            labelCounters=_counters(unlabeled=900, pre_labeled=100),
            outputManifestUri=OUTPUT,
        ),
    )
    status = plan(spec, status, [prepared], NOW).status
    assert status.output_manifest_uri == OUTPUT
    assert status.label_counters.pre_labeled == 100
    crashed = _job(Step.HUMAN, 0, JobState.FAILED, None)
    failed = plan(spec, status, [prepared, crashed], NOW + timedelta(minutes=1)).status
    assert failed.phase is Phase.FAILED
    assert failed.output_manifest_uri == OUTPUT


def test_nothing_to_label_completes_after_prepare(spec_dict):
    spec = LabelingJobSpec.from_k8s(spec_dict())
    status = plan(spec, None, [], NOW).status
    prepared = _job(
        Step.PREPARE,
        None,
        JobState.SUCCEEDED,
        summary(
            Step.PREPARE,
            next="export",
            stopReason="AllLabeled",
            labelCounters=_counters(pre_labeled=500),
        ),
    )
    status = plan(spec, status, [prepared], NOW).status
    assert status.current_step is Step.EXPORT and status.stop_reason == "AllLabeled"
    exported = _job(
        Step.EXPORT,
        None,
        JobState.SUCCEEDED,
        summary(Step.EXPORT, labelCounters=_counters(pre_labeled=500), outputManifestUri=OUTPUT),
    )
    done = plan(spec, status, [prepared, exported], NOW).status
    assert done.phase is Phase.COMPLETED
    ready = done.condition(ConditionType.READY)
    assert ready is not None and ready.reason == "AllLabeled"
    assert "0 objects labeled" in ready.message and "500 already labeled kept" in ready.message


def test_the_labeled_share_is_of_the_objects_this_job_labels(spec_dict):
    """900 pre-labeled and 100 to label: 40 human labels are 40%, not 4%, of the job."""
    spec = LabelingJobSpec.from_k8s(
        spec_dict({"stoppingConditions": {"maxPercentageOfInputDatasetLabeled": 40}})
    )
    status = plan(spec, None, [], NOW).status
    prepared = _job(
        Step.PREPARE,
        None,
        JobState.SUCCEEDED,
        summary(
            Step.PREPARE, next="human", labelCounters=_counters(unlabeled=100, pre_labeled=900)
        ),
    )
    human = _job(
        Step.HUMAN,
        0,
        JobState.SUCCEEDED,
        summary(
            Step.HUMAN,
            0,
            next="train",
            labelCounters=_counters(
                total_labeled=40, human_labeled=40, unlabeled=60, pre_labeled=900
            ),
        ),
    )
    status = plan(spec, status, [prepared, human], NOW).status
    assert status.stop_reason == "MaxPercentageLabeled"


# --- end to end: labelpilot run ---------------------------------------------------------


def _chained_digits(tmp_path: Path, carried: int) -> tuple[dict[str, Any], Path, list[str]]:
    """300 digits whose first `carried` lines carry their (true) label from an earlier job."""
    data = digits(tmp_path / "digits", 300)
    truth = Path(data["groundTruthManifest"]).read_text().splitlines()
    plain = Path(data["inputManifest"]).read_text().splitlines()
    lines = [*truth[:carried], *plain[carried:]]
    manifest = write_lines(tmp_path / "input.manifest", lines)
    return data, manifest, lines


def _run(data: dict[str, Any], manifest: Path, out: Path, *extra: str) -> int:
    return cli.main(
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
            "--ground-truth",
            data["groundTruthManifest"],
            "--allow-small-dataset",
            "--max-concurrent-task-count",
            "40",
            "--target-accuracy",
            "0.8",
            "--model-options",
            json.dumps(FAST_MODEL),
            "--quiet",
            *extra,
        ]
    )


@pytest.mark.parametrize("existing", ["ignore", "trusted"])
def test_labelpilot_run_labels_only_what_lacks_the_attribute(tmp_path, capsys, existing):
    data, manifest, lines = _chained_digits(tmp_path, 200)
    out = tmp_path / "job"
    code = _run(data, manifest, out, "--existing-labels", existing)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    counters = json.loads(captured.out.strip().splitlines()[-1])["labelCounters"]
    assert counters["preLabeled"] == 200
    assert counters["totalLabeled"] == counters["humanLabeled"] + counters["machineLabeled"]
    assert counters["totalLabeled"] + counters["unlabeled"] == 100
    output = (out / "manifests/output/output.manifest").read_text().splitlines()
    assert output[:200] == lines[:200]
    ws = Workspace(str(out))
    state = LabelState.load(ws)
    sent = {r["index"] for i in ws.iterations() for r in _rows(ws.human_response(i))}
    assert sent and min(sent) >= 200
    assert set(state.machine) | state.validation <= set(range(200, 300))
    assert storage.read_json(ws.report)["humanObjectsSent"] == len(sent) <= 100
    first = [r for r in _rows(ws.human_response(0)) if "failure" not in r]
    human_training = len([r for r in first if r["index"] not in state.validation])
    trained = storage.read_json(ws.training_summary(0))["trainSize"]
    assert trained == human_training + (200 if existing == "trusted" else 0)


def _rows(uri: str) -> list[dict[str, Any]]:
    return storage.read_jsonl(uri) if storage.exists(uri) else []


def test_a_trusted_mask_is_copied_into_the_workspace_and_reads_back(tmp_path):
    import numpy as np
    from PIL import Image

    from labelpilot.api.run_config import RunConfig
    from labelpilot.engine import formats
    from labelpilot.engine.labels import label_from_json
    from labelpilot.worker import pre_labels

    labels = ["cat", "dog"]
    Image.fromarray(np.zeros((2, 3, 3), np.uint8)).save(tmp_path / "a.png")
    mask = np.array([[0, 1, 2], [2, 2, 0]], np.uint8)
    formats.write_mask_png(str(tmp_path / "a-mask.png"), mask, formats.color_map(labels))
    line = {
        "source-ref": str(tmp_path / "a.png"),
        "seg-ref": str(tmp_path / "a-mask.png"),
        "seg-ref-metadata": {"internal-color-map": formats.color_map(labels)},
    }
    manifest = write_lines(tmp_path / "input.manifest", [json.dumps(line)])
    cfg = RunConfig.model_validate(
        {
            "job_name": "masks",
            "task_type": "semantic-segmentation",
            "label_attribute_name": "seg",
            "labels": labels,
            "input_manifest_uri": str(manifest),
            "output_uri": str(tmp_path / "job"),
            "workforce": {"simulated": {"ground_truth_uri": str(manifest)}},
            "existing_labels": "trusted",
        }
    )
    objects = formats.read_manifest(str(manifest))
    assert pre_labels.find(cfg, objects) == [0]
    ws = Workspace(cfg.output_uri)
    (row,) = pre_labels.rows(cfg, ws, objects)
    assert row["label"] == {"mask": ws.pre_label_mask(0)} and row["source"] == PRE
    assert (label_from_json(cfg.task_type, row["label"], labels) == mask).all()


def test_the_labeled_percentage_cap_is_of_the_objects_still_to_label(tmp_path, capsys):
    """300 digits, 200 carried: 50% caps this job at 50 of its 100 objects (not at 150 of
    300), machine labels included."""
    data, manifest, _ = _chained_digits(tmp_path, 200)
    out = tmp_path / "job"
    code = _run(
        data,
        manifest,
        out,
        "--existing-labels",
        "trusted",
        "--threshold-mode",
        "groundtruth",
        "--max-percentage-labeled",
        "50",
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    counters = json.loads(captured.out.strip().splitlines()[-1])["labelCounters"]
    assert counters["preLabeled"] == 200
    assert counters["machineLabeled"] > 0  # the threshold step labeled within the cap
    assert counters["totalLabeled"] == 50
    ws = Workspace(str(out))
    last = max(i for i in ws.iterations() if storage.exists(ws.thresholds(i)))
    assert storage.read_json(ws.thresholds(last))["summary"]["stopReason"] == "MaxPercentageLabeled"
