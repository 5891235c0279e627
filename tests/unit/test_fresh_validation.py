"""The `fresh` validation policy: a new random validation sample for every later iteration."""

import itertools
import json
from collections import Counter

import numpy as np
import pytest
from engine_fixtures import config_for, digits

from labelpilot.api.run_config import TaskType, ThresholdMode, ValidationPolicy
from labelpilot.engine import bounds, formats, fresh_validation, storage
from labelpilot.engine.labels import HUMAN, LabelState
from labelpilot.engine.predictions import pack
from labelpilot.engine.workspace import Workspace
from labelpilot.ml.base import Predictions
from labelpilot.worker import human
from labelpilot.worker.cli import run_step
from labelpilot.worker.common import Context
from labelpilot.worker.in_process import run_job
from labelpilot.worker.infer import objects_to_predict


def test_the_shares_of_delta_sum_to_delta_and_fall():
    shares = [fresh_validation.iteration_delta(0.05, i) for i in range(100_000)]
    assert sum(shares) <= 0.05
    assert sum(shares) > 0.05 * 0.9999
    assert all(a > b > 0 for a, b in itertools.pairwise(shares))
    # fresh data in every iteration: later ones get more than with the reuse schedule
    for i in (1, 2, 3):
        assert shares[i] > bounds.spend_delta(0.05, i)
    policy = ValidationPolicy.FRESH
    assert fresh_validation.delta_for(policy, 0.05, 2) == shares[2]
    assert fresh_validation.delta_for(ValidationPolicy.SEED, 0.05, 2) == bounds.spend_delta(0.05, 2)


def test_the_sample_is_uniform_over_its_candidates_and_drawn_again_on_a_rerun():
    candidates = list(range(100, 140, 2))  # 20 objects
    counts: Counter[int] = Counter()
    draws = 4000
    for seed in range(draws):
        sample = fresh_validation.draw(candidates, 5, seed=seed, iteration=1)
        assert len(set(sample)) == 5 and set(sample) <= set(candidates)
        assert sample == fresh_validation.draw(candidates[::-1], 5, seed=seed, iteration=1)
        counts.update(sample)
    # each candidate in 5 / 20 of the draws: 1000 expected, sd ~27
    assert set(counts) == set(candidates)
    assert all(abs(c - draws * 5 / 20) < 150 for c in counts.values()), counts
    other = fresh_validation.draw(candidates, 5, seed=0, iteration=2)
    assert other != fresh_validation.draw(candidates, 5, seed=0, iteration=1)
    assert fresh_validation.draw(candidates, 0, seed=0, iteration=1) == []


@pytest.mark.parametrize("room", [50, 100, 200, 1000, 5000])
@pytest.mark.parametrize("iteration", [1, 2, 5])
def test_the_sample_is_sized_by_the_bound_within_the_batch(room, iteration):
    delta = fresh_validation.iteration_delta(0.05, iteration)
    size = fresh_validation.sample_size(10_000, room, target=0.95, delta=delta, bounded_loss=False)
    wanted = fresh_validation.wanted_size(0.95, delta, bounded_loss=False)
    least = bounds.min_samples_for_zero_errors(0.05, delta)
    assert size <= room
    if room < least:  # could not certify anything: no sample, the batch is all active picks
        assert size == 0
    else:
        assert size == min(wanted, room)
        # its accepted part at the expected coverage passes a test at half the allowed error
        accepted = int(wanted * fresh_validation.EXPECTED_COVERAGE)
        assert bounds.binomial_pvalue(int(accepted * 0.025), accepted, 0.05) <= delta
    # humans label every candidate: nothing is left to validate for
    assert (
        fresh_validation.sample_size(room, room, target=0.95, delta=delta, bounded_loss=False) == 0
    )


def scripted_inference(
    data: dict, ws: Workspace, iteration: int, wrong: set[int], unsure: bool = True
) -> None:
    """Iteration `iteration`'s inference as if by a model right with confidence 0.99 on
    every object but those of `wrong`, which it gets wrong just as confidently, and (when
    `unsure`) one in three others, which it gets wrong with confidence 0.55."""
    labels = data["labels"]
    truth = formats.GroundTruth(
        data["groundTruthManifest"], TaskType.IMAGE_CLASSIFICATION, data["labelAttributeName"]
    )
    keys = {o.index: o.key for o in formats.read_manifest(data["inputManifest"])}
    state = LabelState.load(ws, human_upto=iteration, machine_upto=iteration - 1)
    indices = objects_to_predict(state, fresh_validation.sample_for(ws, iteration))
    probs = np.zeros((len(indices), len(labels)), np.float32)
    for row, i in enumerate(indices):
        right = int(truth.get(keys[i]))
        low = unsure and i % 3 == 0 and i not in wrong
        probs[row] = (0.45 if low else 0.01) / (len(labels) - 1)
        probs[row, right if not (low or i in wrong) else (right + 1) % len(labels)] = (
            0.55 if low else 0.99
        )
    storage.write_bytes(
        ws.inference_shard(iteration, 0, 1),
        pack(Predictions(probs=probs), indices, [(8, 8, 1)] * len(indices), {}),
    )


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return digits(tmp_path_factory.mktemp("digits"), 1200)


def fresh_job(data, tmp_path, **changes):
    """A fresh-policy job on the digits at target 0.9, batches of 300, and its workspace."""
    out = tmp_path / "job"
    config = config_for(
        data,
        out,
        validation_policy="fresh",
        target_accuracy=0.9,
        max_concurrent_task_count=300,
        **changes,
    )
    return config, Workspace(str(out))


def test_each_later_iteration_validates_on_its_own_random_sample_alone(data, tmp_path):
    config, ws = fresh_job(data, tmp_path)
    run_step("prepare", config)
    plan = storage.read_json(ws.prepare_plan)
    # iteration 0: the seed policy's split, Ground Truth's 20% (the first batch holds it)
    assert len(plan["validation"]) == 150 and plan["validationPolicy"] == "fresh"
    run_step("human", config, 0)
    scripted_inference(data, ws, 0, wrong=set())
    first = run_step("threshold", config, 0)
    assert first.next == "human" and first.machine_labeled_this_iteration > 0
    search0 = storage.read_json(ws.thresholds(0))["search"]
    assert search0["validationObjects"] == len(plan["validation"])
    assert search0["delta"] == fresh_validation.iteration_delta(1 - 0.95, 0)

    # the next batch: the active picks, then a sample of what stays in the pool
    chosen = storage.read_json(ws.selection(0))
    batch, fresh = chosen["selected"], chosen["freshValidation"]
    after0 = LabelState.load(ws)
    pool = after0.unlabeled()
    active = sorted(set(batch) - set(fresh))
    left = sorted(set(pool) - set(active))
    assert set(fresh) <= set(batch) <= set(pool)
    assert not set(fresh) & (set(plan["validation"]) | set(after0.labeled))
    size = fresh_validation.sample_size(
        len(pool),
        min(300, len(pool)),
        target=0.9,
        delta=fresh_validation.iteration_delta(0.05, 1),
        bounded_loss=False,
    )
    assert len(fresh) == size > 0 and len(batch) <= 300
    assert fresh == fresh_validation.draw(left, size, seed=0, iteration=1)

    # people see no model label on the fresh sample, and do on the active picks
    items = human._items(Context(config), 1, batch)
    shown = {item.index for item in items if item.prediction is not None}
    assert not shown & set(fresh) and shown == set(active)
    run_step("human", config, 1)
    labeled = LabelState.load(ws, human_upto=1, machine_upto=0)
    assert all(labeled.labeled[i]["source"] == HUMAN for i in fresh)
    # train(1) learns from every human label but the fresh sample (prepare's split included)
    held_out = fresh_validation.held_out(ws, 1, labeled.validation)
    training = set(labeled.training_indices(held_out))
    assert held_out == set(fresh)
    assert training == set(labeled.human) - set(fresh) and set(plan["validation"]) <= training

    # the model gets the fresh sample wrong and prepare's split right: nothing is certified
    scripted_inference(data, ws, 1, wrong=set(fresh), unsure=False)
    run_step("threshold", config, 1)
    search = storage.read_json(ws.thresholds(1))["search"]
    assert search["validationObjects"] == len(fresh) and search["validationRetired"] == 0
    assert search["accepted"] == 0 and search["delta"] == fresh_validation.iteration_delta(
        1 - 0.95, 1
    )
    # ... and the other way round (a rerun after a crash before the commit mark)
    storage.remove(ws.thresholds(1))
    scripted_inference(data, ws, 1, wrong=set(plan["validation"]), unsure=False)
    second = run_step("threshold", config, 1)
    search = storage.read_json(ws.thresholds(1))["search"]
    assert second.machine_labeled_this_iteration == search["poolObjects"] > 0
    assert set(search["validationAcceptedIndices"]) <= set(fresh)


def test_a_threshold_rerun_draws_the_same_batch_and_labels(data, tmp_path):
    config, ws = fresh_job(data, tmp_path)
    run_step("prepare", config)
    run_step("human", config, 0)
    scripted_inference(data, ws, 0, wrong=set())
    run_step("threshold", config, 0)
    labels = storage.read_jsonl(ws.machine_labels(0))
    chosen = storage.read_json(ws.selection(0))
    thresholds = storage.read_json(ws.thresholds(0))
    assert chosen["freshValidation"]
    storage.remove(ws.thresholds(0))  # the crash: files written, the commit mark not
    run_step("threshold", config, 0)
    assert storage.read_jsonl(ws.machine_labels(0)) == labels
    assert storage.read_json(ws.selection(0)) == chosen
    again = storage.read_json(ws.thresholds(0))
    again["summary"].pop("seconds"), thresholds["summary"].pop("seconds")
    assert again == thresholds
    # with the commit mark there, the step returns what it recorded and writes nothing
    run_step("threshold", config, 0)
    assert storage.read_json(ws.selection(0)) == chosen
    # the human step sends that batch once: a rerun reads the response back
    run_step("human", config, 1)
    response = storage.read_jsonl(ws.human_response(1))
    run_step("human", config, 1)
    assert storage.read_jsonl(ws.human_response(1)) == response
    assert sorted(r["index"] for r in response) == chosen["selected"]
    state = LabelState.load(ws)
    assert not set(state.machine) & set(state.human)


def test_a_fresh_job_labels_everything_within_its_target(data, tmp_path):
    config, ws = fresh_job(data, tmp_path, seed=3)
    summary = run_job(config, progress=False)
    counters = summary.label_counters.to_k8s()
    assert counters["unlabeled"] == 0
    assert counters["humanLabeled"] + counters["machineLabeled"] == 1200
    state = LabelState.load(ws)
    seen: set[int] = set(storage.read_json(ws.prepare_plan)["validation"])
    sent: dict[int, int] = {}
    for i in ws.iterations():
        if not storage.exists(ws.selection(i)):
            continue
        fresh = set(storage.read_json(ws.selection(i))["freshValidation"])
        assert not fresh & seen  # a new sample each time
        assert all(state.labeled[j]["source"] == HUMAN for j in fresh)
        seen |= fresh
        if fresh and storage.exists(ws.human_summary(i + 1)):
            sent[i + 1] = len(fresh)
    report = json.loads((tmp_path / "job" / "report.json").read_text())
    assert report["validationPolicy"] == "fresh"
    # the human labels spent on fresh samples: their own figure, and among the human ones
    assert sum(sent.values()) > 0
    assert report["freshValidation"] == {
        "objects": sum(sent.values()),
        "humanLabeled": sum(sent.values()),
    }
    by_iteration = {
        e["iteration"]: e["human"]["freshValidation"]
        for e in report["iterations"]
        if "freshValidation" in e.get("human", {})
    }
    assert by_iteration == sent
    human_objects = sum(e["human"]["objects"] for e in report["iterations"] if "human" in e)
    assert report["humanObjectsSent"] == human_objects == counters["humanLabeled"]
    assert human_objects >= report["validationSize"] + sum(sent.values())
    for entry in report["iterations"]:
        th = entry.get("threshold")
        if th and th["machineLabeled"]:
            assert th["accuracyBound"] >= 0.9
            assert th["delta"] <= fresh_validation.iteration_delta(1 - 0.95, entry["iteration"])
    truth = formats.GroundTruth(data["groundTruthManifest"], TaskType.IMAGE_CLASSIFICATION, "label")
    machine = [
        r
        for r in storage.read_jsonl(ws.output_manifest)
        if r.get("label-metadata", {}).get("human-annotated") == "no"
    ]
    assert len(machine) == counters["machineLabeled"] > 0
    accuracy = sum(r["label"] == truth.get(r["source-ref"]) for r in machine) / len(machine)
    assert accuracy >= 0.9


def test_a_job_keeps_the_policy_prepare_split_it_with(data, tmp_path):
    # prepared under guaranteed mode's default (fresh); the spec then asks for groundtruth
    # mode, whose default is seed: the job's searches keep the fresh schedule
    out = tmp_path / "job"
    config = config_for(data, out, target_accuracy=0.9, max_concurrent_task_count=300)
    ws = Workspace(str(out))
    run_step("prepare", config)
    changed = config.model_copy(update={"threshold_mode": ThresholdMode.GROUND_TRUTH})
    assert changed.effective_validation_policy is ValidationPolicy.SEED
    run_step("prepare", changed)  # a rerun keeps the plan's policy
    assert storage.read_json(ws.prepare_plan)["validationPolicy"] == "fresh"
    run_step("human", changed, 0)
    scripted_inference(data, ws, 0, wrong=set())
    run_step("threshold", changed, 0)
    search = storage.read_json(ws.thresholds(0))["search"]
    assert search["delta"] == fresh_validation.iteration_delta(1 - 0.95, 0)
    assert search["delta"] != bounds.spend_delta(1 - 0.95, 0)
    assert Context(changed).validation_policy() is ValidationPolicy.FRESH
