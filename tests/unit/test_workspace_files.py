"""Workspace files: readable by other users, and an unwritable output fails the job."""

import json
import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from engine_fixtures import config_for, digits

from labelpilot import cli
from labelpilot.api.steps import StepFailed
from labelpilot.engine import storage
from labelpilot.worker.cli import run_step


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return digits(tmp_path_factory.mktemp("digits"), 260)


@pytest.fixture()
def strict_umask() -> Iterator[None]:
    """The umask a hardened pod may run with: without explicit modes, 0600 and 0700."""
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


def modes(root: Path) -> dict[str, int]:
    return {
        str(p.relative_to(root)): stat.S_IMODE(p.stat().st_mode) for p in [root, *root.rglob("*")]
    }


def test_workspace_files_are_0644_and_folders_0755(data, tmp_path, strict_umask):
    out = tmp_path / "job"
    config = config_for(data, out)
    for step in ("prepare", "human", "train", "export"):
        run_step(step, config, None if step in ("prepare", "export") else 0)
    found = modes(out)
    assert "manifests/output/output.manifest" in found and "models/final/model.json" in found
    assert "models/iteration-0000/weights.pt" in found
    wrong = {
        path: oct(mode)
        for path, mode in found.items()
        if mode != (0o755 if (out / path).is_dir() else 0o644)
    }
    assert not wrong


def test_an_atomic_write_makes_its_folders_0755_and_keeps_existing_ones(tmp_path, strict_umask):
    (tmp_path / "mine").mkdir(mode=0o700)
    storage.write_bytes(str(tmp_path / "mine" / "a" / "b" / "c.json"), b"{}")
    assert stat.S_IMODE((tmp_path / "mine").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "mine" / "a").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "mine" / "a" / "b").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "mine" / "a" / "b" / "c.json").stat().st_mode) == 0o644


def test_write_new_never_replaces_what_is_there(tmp_path):
    target = str(tmp_path / "w" / "binding.json")
    assert storage.write_new(target, b"first")
    assert not storage.write_new(target, b"second")
    assert Path(target).read_bytes() == b"first"
    assert os.listdir(tmp_path / "w") == ["binding.json"]  # no temporary file left


def unwritable_outputs(tmp_path: Path) -> list[str]:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n")
    outputs = [str(blocker / "job"), f"file://{blocker}/job"]
    if Path("/sys/kernel").is_dir():  # sysfs refuses new folders, to root as well
        outputs.append("/sys/kernel/labelpilot-job")
    return outputs


def test_an_unwritable_output_fails_the_job_naming_the_uri(data, tmp_path, capsys):
    for output in unwritable_outputs(tmp_path):
        path = tmp_path / "config.json"
        path.write_text(config_for(data, Path("unused"), output_uri=output).to_json())
        assert cli.main(["worker", "prepare", "--config", str(path)]) == 3, output
        summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert summary["status"] == "Failed" and summary["reason"] == "OutputNotWritable"
        assert output in summary["message"] and "cannot be written" in summary["message"]


def test_a_later_step_that_cannot_write_fails_the_job(data, tmp_path):
    out = tmp_path / "job"
    config = config_for(data, out)
    run_step("prepare", config)
    run_step("human", config, 0)
    shutil.rmtree(out / "manifests" / "output")  # the human step wrote the manifest there
    (out / "manifests" / "output").write_text("a file where the folder should be\n")
    with pytest.raises(StepFailed) as error:
        run_step("export", config)
    assert error.value.reason == "OutputNotWritable"
    assert "manifests/output/output.manifest" in error.value.message
