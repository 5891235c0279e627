"""Pseudo-labels: which machine labels train the next model (labelpilot.engine.pseudo_labels,
labelpilot.worker.train.training_set)."""

from __future__ import annotations

import pytest
from engine_fixtures import FAST_MODEL, digits
from test_fresh_validation import fresh_job, scripted_inference

from labelpilot.engine import fresh_validation, pseudo_labels, storage
from labelpilot.engine.labels import HUMAN, MACHINE, LabelState
from labelpilot.worker import train
from labelpilot.worker.cli import run_step
from labelpilot.worker.common import Context


def row(index: int, source: str) -> dict:
    return {"index": index, "label": index % 3, "source": source}


def seed_policy_state() -> LabelState:
    """Objects 0-9: 0-3 validation (human), 4-7 human training labels, 8-9 unlabeled;
    then 10-29 machine-labeled."""
    labeled = {i: row(i, HUMAN) for i in range(8)}
    labeled |= {i: row(i, MACHINE) for i in range(10, 30)}
    return LabelState(total=30, validation={0, 1, 2, 3}, labeled=labeled)


def pick(state, held_out, human_training, options, iteration=1):
    return pseudo_labels.chosen(
        state, held_out, human_training, options, seed=0, iteration=iteration
    )


def test_off_by_default_and_when_false_or_zero():
    state = seed_policy_state()
    for options in ({}, {"pseudo_labels": False}, {"pseudo_labels": 0}):
        assert pick(state, None, 4, options) == []
    assert state.training_indices() == [4, 5, 6, 7]


def test_machine_labels_train_up_to_the_ratio_of_human_labels():
    state = seed_policy_state()
    assert pick(state, None, 4, {"pseudo_labels": 10}) == list(range(10, 30))
    capped = pick(state, None, 4, {"pseudo_labels": True})
    assert len(capped) == 4 and set(capped) <= set(range(10, 30))
    assert capped == sorted(capped) == pick(state, None, 4, {"pseudo_labels": True})
    assert len(pick(state, None, 4, {"pseudo_labels": 2.5})) == 10
    # another iteration draws its own sample
    others = {tuple(pick(state, None, 4, {"pseudo_labels": True}, it)) for it in range(1, 6)}
    assert len(others) > 1
    with pytest.raises(ValueError, match="pseudo_labels"):
        pick(state, None, 4, {"pseudo_labels": -1})


def test_held_out_objects_never_train_as_pseudo_labels():
    state = seed_policy_state()
    # seed policy (held_out None): the validation set; a machine row there would stay out
    state.labeled[2] = row(2, MACHINE)
    assert 2 not in pick(state, None, 4, {"pseudo_labels": 100})
    # fresh policy: the iteration's sample stays out, prepare's split may train
    fresh = {12, 13, 2}
    chosen = pick(state, fresh, 4, {"pseudo_labels": 100})
    assert not set(chosen) & fresh and chosen == sorted({2, *range(10, 30)} - fresh)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return digits(tmp_path_factory.mktemp("digits"), 1200)


def fresh_job_at_iteration_1(data, tmp_path, options):
    """A fresh-policy job through human(1): iteration 0 machine-labeled objects."""
    config, ws = fresh_job(data, tmp_path, model_options={**FAST_MODEL, **options})
    run_step("prepare", config)
    run_step("human", config, 0)
    scripted_inference(data, ws, 0, wrong=set())
    run_step("threshold", config, 0)
    run_step("human", config, 1)
    return config, ws


def test_train_adds_earlier_machine_labels_and_keeps_the_fresh_sample_out(data, tmp_path):
    config, ws = fresh_job_at_iteration_1(data, tmp_path, {"pseudo_labels": 100})
    machine0 = sorted(r["index"] for r in storage.read_jsonl(ws.machine_labels(0)))
    assert machine0
    fresh = set(fresh_validation.sample_for(ws, 1))
    state, human_train, pseudo = train.training_set(Context(config), 1)
    assert pseudo == machine0 and fresh and not fresh & set(human_train + pseudo)
    assert human_train == state.training_indices(fresh)
    assert storage.read_json(ws.prepare_plan)["validation"][0] in human_train
    # iteration 0 has no earlier machine labels: its training set is today's
    state0, human0, pseudo0 = train.training_set(Context(config), 0)
    assert pseudo0 == [] and human0 == state0.training_indices()

    summary = run_step("train", config, 1)
    recorded = storage.read_json(ws.training_summary(1))
    assert recorded["pseudoLabels"] == len(machine0)
    assert summary.train_size == recorded["trainSize"] == len(human_train) + len(machine0)


def test_without_the_option_train_learns_from_human_labels_alone(data, tmp_path):
    config, ws = fresh_job_at_iteration_1(data, tmp_path, {})
    state, human_train, pseudo = train.training_set(Context(config), 1)
    assert pseudo == [] and state.machine
    assert human_train == state.training_indices(set(fresh_validation.sample_for(ws, 1)))
    run_step("train", config, 1)
    recorded = storage.read_json(ws.training_summary(1))
    assert recorded["pseudoLabels"] == 0 and recorded["trainSize"] == len(human_train)
