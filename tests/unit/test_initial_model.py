"""autoLabeling.initialModelRef: the train step reads the named model folder only under the
job's data roots, within size limits, and only if it is a model folder."""

import json
import shutil
from pathlib import Path

import pytest
from engine_fixtures import config_for, digits

from labelpilot.api.steps import StepFailed
from labelpilot.engine.workspace import Workspace
from labelpilot.worker import model_folder
from labelpilot.worker.cli import run_step


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return digits(tmp_path_factory.mktemp("digits"), 200)


@pytest.fixture(scope="module")
def earlier_model(data, tmp_path_factory) -> Path:
    """The iteration-0 model of an earlier job on the same data."""
    out = tmp_path_factory.mktemp("earlier") / "job"
    config = config_for(data, out)
    for step, iteration in (("prepare", None), ("human", 0), ("train", 0)):
        run_step(step, config, iteration)
    return Path(Workspace(str(out)).model(0))


def under_data_roots(data, name: str) -> Path:
    """A folder beside the input manifest, where the job's objects may be read."""
    folder = Path(data["inputManifest"]).parent / "models" / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def train_from(data, out: Path, initial_model_ref: str) -> dict:
    config = config_for(data, out, initial_model_ref=initial_model_ref)
    run_step("prepare", config)
    run_step("human", config, 0)
    run_step("train", config, 0)
    return json.loads(Path(Workspace(str(out)).training_summary(0)).read_text())


def refusal(data, out: Path, initial_model_ref: str) -> str:
    with pytest.raises(StepFailed) as error:
        train_from(data, out, initial_model_ref)
    assert error.value.reason == "InvalidInitialModel"
    assert "autoLabeling.initialModelRef" in error.value.message
    return error.value.message


def test_a_model_under_the_data_roots_warm_starts_training(data, earlier_model, tmp_path):
    folder = under_data_roots(data, "copied")
    shutil.copytree(earlier_model, folder, dirs_exist_ok=True)
    summary = train_from(data, tmp_path / "job", str(folder))
    assert summary["warmStart"] is True


def test_a_model_outside_the_data_roots_is_refused(data, earlier_model, tmp_path):
    message = refusal(data, tmp_path / "job", str(earlier_model))
    assert "not under the data roots" in message


def test_a_link_out_of_the_data_roots_is_refused(data, earlier_model, tmp_path):
    folder = under_data_roots(data, "linked")
    for name in ("model.json", "weights.pt"):
        (folder / name).symlink_to(earlier_model / name)
    assert "not under the data roots" in refusal(data, tmp_path / "job", str(folder))


def test_weights_over_the_limit_are_refused_unread(data, earlier_model, tmp_path, monkeypatch):
    folder = under_data_roots(data, "large")
    shutil.copytree(earlier_model, folder, dirs_exist_ok=True)
    monkeypatch.setattr(model_folder, "MAX_WEIGHTS_BYTES", 1024)
    assert "more than the 1,024-byte limit" in refusal(data, tmp_path / "job", str(folder))


@pytest.mark.parametrize(
    "meta, weights",
    [
        (b"{}", None),  # no architecture
        (b"not json", None),
        (None, b"\x80\x02 not a torch file"),
        (None, None),  # weights.pt missing: replaced below by a folder
    ],
    ids=["no-architecture", "not-json", "not-torch", "weights-missing"],
)
def test_a_folder_that_is_not_a_model_is_refused(
    data, earlier_model, tmp_path, meta, weights, request
):
    folder = under_data_roots(data, request.node.callspec.id)
    shutil.copytree(earlier_model, folder, dirs_exist_ok=True)
    if meta is not None:
        (folder / "model.json").write_bytes(meta)
    if weights is not None:
        (folder / "weights.pt").write_bytes(weights)
    if meta is None and weights is None:
        (folder / "weights.pt").unlink()
    message = refusal(data, tmp_path / "job", str(folder))
    assert "not a model folder" in message or "cannot read weights.pt" in message, message
