"""A command that needs the worker extra says so in one line on a base install."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from labelpilot import cli, extras

REPO = Path(__file__).resolve().parents[2]


def _without_the_worker_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in extras.MODULES[extras.WORKER]:
        monkeypatch.setitem(sys.modules, module, None)  # `import` and find_spec fail


@pytest.mark.parametrize(
    "argv",
    [
        ["worker", "prepare"],
        [
            "run",
            "--task-type",
            "image-classification",
            "--input-manifest",
            "m",
            "--labels-file",
            "l",
            "--label-attribute-name",
            "a",
            "--output",
            "o",
        ],
        ["report", "/nowhere"],
        ["export", "/nowhere", "--format", "coco", "--out", "/nowhere-out"],
        ["datasets", "list"],
    ],
)
def test_a_worker_command_names_the_extra_it_needs(argv, monkeypatch, capsys):
    _without_the_worker_extra(monkeypatch)
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err == (
        f"labelpilot {argv[0]}: needs the worker extra (pip install "
        "'labelpilot[worker]'); missing: numpy, scipy, fsspec, pillow, "
        "torch, matplotlib\n"
    )
    assert captured.out == ""


def test_the_operator_commands_run_on_the_base_install(monkeypatch, capsys):
    _without_the_worker_extra(monkeypatch)
    assert cli.main(["crd"]) == 0
    assert "CustomResourceDefinition" in capsys.readouterr().out


def test_every_command_names_a_known_extra():
    parser = cli.build_parser()
    (commands,) = [a for a in parser._actions if a.dest == "command"]
    for name, sub in commands.choices.items():
        extra = sub.get_default("extra")
        assert extra is None or extra in extras.MODULES, name


def test_the_extra_lists_the_distributions_it_checks_for():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    for extra, modules in extras.MODULES.items():
        listed = {Requirement(r).name for r in project["optional-dependencies"][extra]}
        assert set(modules.values()) <= listed, extra
