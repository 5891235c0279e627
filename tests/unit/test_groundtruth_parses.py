"""The ground truth parses a line once per label asked for, and keeps no parsed line."""

import json

import pytest
from engine_fixtures import config_for, digits

from labelpilot.api.run_config import SimulatedWorkforceConfig, TaskType
from labelpilot.engine import formats
from labelpilot.engine.evaluate import evaluate
from labelpilot.engine.labels import LabelState
from labelpilot.engine.workspace import Workspace
from labelpilot.worker.cli import run_step
from labelpilot.workforce import TaskItem
from labelpilot.workforce.simulated import SimulatedWorkforce


@pytest.fixture()
def parses(monkeypatch):
    """Counts json.loads calls, by the text parsed."""
    counts: dict[str, int] = {}
    loads = json.loads

    def counting(text, *args, **kwargs):
        counts[text] = counts.get(text, 0) + 1
        return loads(text, *args, **kwargs)

    monkeypatch.setattr(formats.json, "loads", counting)
    return counts


def truth_lines(uri: str) -> set[str]:
    with open(uri) as f:
        return {line.rstrip("\n") for line in f}


def parsed(counts: dict[str, int], lines: set[str]) -> list[int]:
    return [n for text, n in counts.items() if isinstance(text, str) and text.rstrip("\n") in lines]


def test_each_label_asked_for_is_parsed_once_and_asked_again_parsed_again(tmp_path, parses):
    data = digits(tmp_path / "digits", 30)
    truth = formats.GroundTruth(data["groundTruthManifest"], TaskType.IMAGE_CLASSIFICATION, "label")
    keys = [o.key for o in formats.read_manifest(data["inputManifest"])]
    parses.clear()
    assert all(truth.get(key) is not None for key in keys)
    assert truth.get("not in the truth") is None
    assert parsed(parses, truth_lines(data["groundTruthManifest"])) == [1] * 30
    truth.get(keys[0])  # nothing parsed was kept
    assert sorted(parsed(parses, truth_lines(data["groundTruthManifest"]))) == [1] * 29 + [2]


def test_the_simulated_workforce_parses_each_objects_truth_once(tmp_path, parses):
    data = digits(tmp_path / "digits", 30)
    settings = SimulatedWorkforceConfig(
        ground_truth_uri=data["groundTruthManifest"], error_rate=0.2, failure_rate=0.2
    )
    provider = SimulatedWorkforce(
        settings, TaskType.IMAGE_CLASSIFICATION, "label", data["labels"], seed=1
    )
    objects = formats.read_manifest(data["inputManifest"])
    items = [TaskItem(o.index, o.key) for o in objects if o.key is not None]
    assert len(provider.truth) == 30  # read: each line parsed for its key
    parses.clear()
    answers = provider.collect(provider.submit("b", items, 3), items)
    assert any(a.failure for a in answers) and any(a.labels for a in answers)
    assert parsed(parses, truth_lines(data["groundTruthManifest"])) == [1] * 30


def test_the_evaluator_parses_each_labeled_objects_truth_once(tmp_path, parses):
    data = digits(tmp_path / "digits", 60)
    config = config_for(data, tmp_path / "job")
    run_step("prepare", config)
    run_step("human", config, 0)
    labeled = len(LabelState.load(Workspace(config.output_uri)).labeled)
    parses.clear()
    result = evaluate(config, data["groundTruthManifest"])
    assert result["humanLabeled"] == labeled > 0
    # each line once for its key as the truth is read, a labeled object's once more
    counts = parsed(parses, truth_lines(data["groundTruthManifest"]))
    assert sorted(counts) == [1] * (60 - labeled) + [2] * labeled
