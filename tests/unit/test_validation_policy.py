"""End to end: the `bound-sized` validation policy on a small data set (sklearn digits)."""

import json

import pytest
from engine_fixtures import config_for, digits

from labelpilot.api.run_config import TaskType
from labelpilot.engine import bounds, formats, storage
from labelpilot.engine.labels import HUMAN, LabelState
from labelpilot.engine.threshold_search import bound_sized_validation
from labelpilot.engine.workspace import Workspace
from labelpilot.worker.in_process import run_job
from labelpilot.worker.prepare import first_batch, ground_truth_validation_size


def test_bound_sized_policy_uses_fewer_validation_labels_and_keeps_the_target(tmp_path):
    data = digits(tmp_path / "digits", 1500)
    out = tmp_path / "job"
    config = config_for(
        data,
        out,
        validation_policy="bound-sized",
        target_accuracy=0.9,
        max_concurrent_task_count=400,  # room for the validation and training objects
        seed=3,
    )
    summary = run_job(config, progress=False)
    ws = Workspace(str(out))

    # the split: as many validation objects as the first bound needs, fewer than Ground Truth's
    plan = storage.read_json(ws.prepare_plan)
    ground_truth = ground_truth_validation_size(1500)
    expected = bound_sized_validation(1500, target=0.9, delta=0.05, ground_truth_size=ground_truth)
    assert plan["validationPolicy"] == "bound-sized"
    assert len(plan["validation"]) == expected < ground_truth
    # iteration 0 sends the validation set plus as many training objects to humans
    assert len(plan["iteration0"]) == 2 * expected

    # every object labeled, the validation set by humans, the counters consistent
    counters = summary.label_counters.to_k8s()
    assert counters["unlabeled"] == 0 and counters["failedNonRetryableError"] == 0
    assert counters["humanLabeled"] + counters["machineLabeled"] == 1500
    assert counters["machineLabeled"] > 0
    state = LabelState.load(ws)
    assert all(state.labeled[i]["source"] == HUMAN for i in plan["validation"])
    report = json.loads((out / "report.json").read_text())
    assert report["validationPolicy"] == "bound-sized"
    assert report["validationSize"] == expected

    # each iteration's bound holds at its share of delta and meets the target
    for entry in report["iterations"]:
        th = entry.get("threshold")
        if th and th["machineLabeled"]:
            assert th["accuracyBound"] >= 0.9
            assert th["delta"] <= bounds.spend_delta(0.05, entry["iteration"]) + 1e-12

    # the machine labels, scored against the truth from the output manifest
    truth = formats.GroundTruth(data["groundTruthManifest"], TaskType.IMAGE_CLASSIFICATION, "label")
    machine = [
        r
        for r in map(
            json.loads, (out / "manifests/output/output.manifest").read_text().splitlines()
        )
        if r.get("label-metadata", {}).get("human-annotated") == "no"
    ]
    assert len(machine) == counters["machineLabeled"]
    accuracy = sum(r["label"] == truth.get(r["source-ref"]) for r in machine) / len(machine)
    assert accuracy >= 0.9


@pytest.mark.parametrize(
    ("wanted", "auto", "cap", "budget", "expected"),
    [
        (100, True, 1000, None, (100, 100)),  # fits: as many training as validation objects
        (240, True, 200, None, (100, 100)),  # over the cap: half each
        (240, True, 1000, 300, (150, 150)),  # over the human budget: half each
        (240, True, 200, 150, (75, 75)),  # both: the smaller one counts
        (0, True, 1, None, (1, 0)),  # one validation object at least, still within the cap
        (5, True, 1, 1, (1, 0)),
        (240, False, 200, None, (0, 200)),  # humans only: a random batch of the cap
        (240, False, 5000, None, (0, 1200)),  # ... never more than the objects
    ],
)
def test_first_batch_never_exceeds_the_cap_or_the_budget(wanted, auto, cap, budget, expected):
    n_val, n_train = first_batch(
        wanted, 1200, auto_labeling=auto, max_concurrent=cap, max_human_labeled=budget
    )
    assert (n_val, n_train) == expected
    assert n_val + n_train <= min(cap, budget or cap)


def test_every_iteration_sends_at_most_max_concurrent_task_count_objects(tmp_path):
    data = digits(tmp_path / "digits", 1500)
    out = tmp_path / "job"
    # Ground Truth's rule wants 300 validation objects: more than the cap on its own
    config = config_for(data, out, max_concurrent_task_count=200, seed=2, target_accuracy=0.9)
    summary = run_job(config, max_iterations=3, progress=False)
    ws = Workspace(str(out))

    plan = storage.read_json(ws.prepare_plan)
    assert ground_truth_validation_size(1500) == 300
    assert len(plan["validation"]) == 100 and len(plan["iteration0"]) == 200
    sent = [
        len(storage.read_jsonl(ws.human_response(i)))
        for i in ws.iterations()
        if storage.exists(ws.human_response(i))
    ]
    assert len(sent) == 3 and max(sent) <= 200, sent
    assert summary.label_counters.human_labeled == sum(sent)
    # the smaller validation set, all labeled by humans, still certifies machine labels
    state = LabelState.load(ws)
    assert all(state.labeled[i]["source"] == HUMAN for i in plan["validation"])
    report = json.loads((out / "report.json").read_text())
    bounds_met = [
        e["threshold"]["accuracyBound"]
        for e in report["iterations"]
        if e.get("threshold") and e["threshold"]["machineLabeled"]
    ]
    assert bounds_met and min(bounds_met) >= 0.9
