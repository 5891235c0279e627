"""The lock files: they cover what pyproject.toml asks for, and the environment that runs
these tests was installed from them."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
LOCKS = REPO / "requirements"


def pins(path: Path) -> dict[str, list[Requirement]]:
    """The lock's `name==version ; marker` lines, by canonical name (one per marker)."""
    found: dict[str, list[Requirement]] = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            req = Requirement(line)
            found.setdefault(canonicalize_name(req.name), []).append(req)
    return found


def pinned_here(path: Path) -> dict[str, str]:
    """The version each package is pinned to for this interpreter and platform."""
    chosen = {}
    for name, reqs in pins(path).items():
        for req in reqs:
            if req.marker is None or req.marker.evaluate():
                (spec,) = req.specifier
                assert spec.operator == "==", f"{path.name}: {req} is not an exact pin"
                chosen[name] = spec.version
    return chosen


def project_requirements(extras: list[str] | None = None) -> list[Requirement]:
    """The base dependencies plus those of `extras` (every extra when None)."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    optional = project["optional-dependencies"]
    chosen = optional.values() if extras is None else [optional[e] for e in extras]
    return [Requirement(r) for r in [*project["dependencies"], *(r for e in chosen for r in e)]]


def venv_extras() -> list[str]:
    """The extras `make setup` installs into .venv."""
    (extras,) = re.findall(r"-e '\.\[([\w,]+)\]'", (REPO / "Makefile").read_text())
    return extras.split(",")


def test_every_dependency_of_the_project_is_pinned_within_its_range():
    locked = pinned_here(LOCKS / "constraints.txt")
    for req in project_requirements():
        name = canonicalize_name(req.name)
        assert name in locked, f"{req.name} is in pyproject.toml but not locked: run make lock"
        assert req.specifier.contains(locked[name], prereleases=True), (
            f"lock pins {req.name}=={locked[name]}, outside pyproject's {req.specifier}"
        )


def test_this_environment_was_installed_from_the_lock():
    locked = pinned_here(LOCKS / "constraints.txt")
    wrong = {}
    for dist in metadata.distributions():
        name = canonicalize_name(dist.metadata["Name"])
        if name in locked and name != "labelpilot" and dist.version != locked[name]:
            wrong[name] = f"{dist.version} installed, {locked[name]} locked"
    assert not wrong, f"run make setup: {wrong}"
    for req in project_requirements(venv_extras()):
        if req.marker is None or req.marker.evaluate():
            metadata.version(req.name)  # raises when a locked dependency is missing


def test_label_studio_lock_pins_what_its_install_asks_for():
    (wanted,) = [
        Requirement(line)
        for line in (LOCKS / "label-studio.in").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    locked = pinned_here(LOCKS / "label-studio.txt")
    assert wanted.specifier.contains(locked[canonicalize_name(wanted.name)])
    assert {"pip", "setuptools"} <= set(locked)


def test_locks_name_the_command_that_refreshes_them():
    for lock in ("constraints.txt", "label-studio.txt"):
        header = (LOCKS / lock).read_text().splitlines()[:3]
        assert "#    make lock" in header, f"{lock} was not written by `make lock`"
