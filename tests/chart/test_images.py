"""The Dockerfiles, checked without a Docker engine: pinned bases, stages, user, entrypoint,
and that what they copy exists and is not excluded by .dockerignore."""

from __future__ import annotations

import fnmatch
import json
import posixpath
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.chart.helm import REPO

IMAGES = ["operator", "worker", "worker-gpu"]
BUILD_TOOLS = re.compile(
    r"\b(gcc|g\+\+|make|build-essential|python3-dev|python3-pip|"
    r"python3-venv|pip install|git)\b"
)


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def get(self, keyword: str) -> list[str]:
        return [value for key, value in self.instructions if key == keyword]


def parse(path: Path) -> tuple[dict[str, str], list[Stage]]:
    """The global ARGs and the stages of a Dockerfile (continuations joined)."""
    text = re.sub(r"\\\n", " ", path.read_text())
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, value = line.partition(" ")
        keyword, value = keyword.upper(), value.strip()
        if keyword == "FROM":
            words = value.split()
            base = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], words[0])
            name = words[2] if len(words) > 2 and words[1].upper() == "AS" else None
            stages.append(Stage(base, name))
        elif not stages and keyword == "ARG":
            key, _, default = value.partition("=")
            args[key] = default
        else:
            stages[-1].instructions.append((keyword, value))
    return args, stages


def exec_form(value: str) -> list[str]:
    parsed = json.loads(value)
    assert isinstance(parsed, list) and all(isinstance(p, str) for p in parsed)
    return parsed


def ignored(relative: str, patterns: list[str]) -> bool:
    """Docker's .dockerignore rule: the last matching pattern wins, `!` re-includes."""
    result = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        parts = relative.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(fnmatch.fnmatch(p, pattern) for p in prefixes) or pattern == "**":
            result = not negate
    return result


def dockerignore() -> list[str]:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


@pytest.mark.parametrize("image", IMAGES)
def test_bases_are_pinned_and_stages_are_several(image):
    _, stages = parse(REPO / "images" / image / "Dockerfile")
    assert len(stages) >= 2, "multi-stage: build, then a clean final stage"
    for stage in stages:
        if stage.base in {s.name for s in stages}:
            continue
        _, _, tag = stage.base.partition(":")
        tag = tag.split("@")[0]
        assert tag and tag != "latest", f"{stage.base}: pin the base image"
        assert re.search(r"\d+\.\d+\.\d+", tag), f"{stage.base}: pin a full version"


@pytest.mark.parametrize("image", IMAGES)
def test_final_stage_is_non_root_without_build_tools(image):
    _, stages = parse(REPO / "images" / image / "Dockerfile")
    final = stages[-1]
    (user,) = final.get("USER")
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) != 0, "a numeric non-root USER (runAsNonRoot)"
    for command in final.get("RUN"):
        assert not BUILD_TOOLS.search(command), f"build tooling in the final stage: {command}"
    copies = final.get("COPY")
    assert copies and all(c.startswith("--from=") for c in copies), (
        "the final stage copies only the built environment"
    )


@pytest.mark.parametrize(
    "image, extras", [("operator", None), ("worker", "worker"), ("worker-gpu", "worker")]
)
def test_installs_the_right_dependency_set(image, extras):
    _, stages = parse(REPO / "images" / image / "Dockerfile")
    installs = [
        part.split("pip install")[1]
        for s in stages
        for c in s.get("RUN")
        for part in c.split("&&")
        if "pip install" in part
    ]
    dependencies = [i for i in installs if "--no-deps" not in i]
    assert len(dependencies) == 1, "one install of the dependencies"
    assert [i for i in installs if "--no-deps" in i], "then the code alone"
    (target,) = [
        w.strip("'\"") for w in shlex.split(dependencies[0]) if w.strip("'\"").startswith(".")
    ]
    if extras is None:
        assert target == ".", "the operator image installs the base dependencies only"
    else:
        assert re.fullmatch(r"\.\[([\w,]+)\]", target)
        assert extras in target[2:-1].split(",")


@pytest.mark.parametrize("image", IMAGES)
def test_installs_take_the_locked_versions(image):
    _, stages = parse(REPO / "images" / image / "Dockerfile")
    (build,) = [s for s in stages if any("PIP_CONSTRAINT=" in e for e in s.get("ENV"))]
    assert all(
        s is build or s.base == build.name
        for s in stages
        if any("pip install" in c for c in s.get("RUN"))
    ), "every install is constrained"
    (env,) = [e for e in build.get("ENV") if "PIP_CONSTRAINT=" in e]
    constraint = re.search(r"PIP_CONSTRAINT=(\S+)", env).group(1)
    (workdir,) = build.get("WORKDIR")
    copied = [c.split() for c in build.get("COPY")]
    assert any(
        c[0] == "requirements/constraints.txt"
        and constraint == posixpath.normpath(f"{workdir}/{c[1]}/constraints.txt")
        for c in copied
    ), f"{image}: PIP_CONSTRAINT={constraint} is not the copied lock"


@pytest.mark.parametrize("image", IMAGES)
def test_the_dependency_layer_depends_on_the_lock_alone(image):
    """The multi-GB dependency stage copies only what decides the dependencies, so an edit
    of the code reuses it, and no stage takes the README (an edit of it once rebuilt 6 GB
    per image, and a new image id makes kind load the whole image into every node)."""
    _, stages = parse(REPO / "images" / image / "Dockerfile")
    (deps,) = [s for s in stages if s.name == "deps"]
    sources = sorted(word for c in deps.get("COPY") for word in c.split()[:-1])
    assert sources == ["pyproject.toml", "requirements/constraints.txt"], sources
    copied = [c for stage in stages for c in stage.get("COPY")]
    assert not [c for c in copied if "README" in c], "a README edit would change the image"


def test_workers_take_their_torch_build_from_a_build_argument():
    cpu_args, _ = parse(REPO / "images" / "worker" / "Dockerfile")
    gpu_args, gpu_stages = parse(REPO / "images" / "worker-gpu" / "Dockerfile")
    assert cpu_args["TORCH_INDEX_URL"].endswith("/whl/cpu")
    assert re.search(r"/whl/cu\d+$", gpu_args["TORCH_INDEX_URL"])
    env = " ".join(gpu_stages[-1].get("ENV"))
    assert "NVIDIA_VISIBLE_DEVICES=all" in env and "NVIDIA_DRIVER_CAPABILITIES=compute" in env


@pytest.mark.parametrize("image", IMAGES)
def test_entrypoint_is_a_real_labelpilot_command(image):
    _, stages = parse(REPO / "images" / image / "Dockerfile")
    final = stages[-1]
    (entrypoint,) = final.get("ENTRYPOINT")
    (cmd,) = final.get("CMD")
    argv = exec_form(entrypoint) + exec_form(cmd)
    assert argv[0] == "labelpilot"
    if argv[-1] == "--help":
        argv = argv[:-1]
    binary = Path(sys.executable).parent / argv[0]
    result = subprocess.run(
        [str(binary), *argv[1:], "--help"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert f"usage: labelpilot {' '.join(argv[1:])}" in result.stdout


def test_operator_image_command_needs_no_worker_extras():
    code = (
        "import sys, labelpilot.cli as c; c.build_parser(); import labelpilot.controller; "
        "heavy = {'torch', 'sklearn', 'PIL', 'sentence_transformers', 'matplotlib'}; "
        "print(sorted(heavy & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", "the operator imports a worker-only package"


@pytest.mark.parametrize("image", IMAGES)
def test_copied_files_exist_and_reach_the_build_context(image):
    _, stages = parse(REPO / "images" / image / "Dockerfile")
    patterns = dockerignore()
    sources = []
    for stage in stages:
        for value in stage.get("COPY"):
            words = [w for w in value.split() if not w.startswith("--")]
            if value.startswith("--from="):
                continue
            sources += words[:-1]
    assert sources
    for source in sources:
        path = REPO / source
        assert path.exists(), f"COPY {source}: no such file in the build context"
        files = [path] if path.is_file() else [p for p in path.rglob("*.py")]
        assert files
        for file in files[:50]:
            relative = str(file.relative_to(REPO))
            assert not ignored(relative, patterns), f"{relative} is excluded by .dockerignore"


def test_dockerignore_keeps_the_heavy_folders_out():
    patterns = dockerignore()
    for relative in (
        ".venv/bin/python",
        ".git/config",
        "tests/conftest.py",
        "demo-output/report.json",
        "benchmarks/run_all.py",
        "operator/labelpilot/__pycache__/cli.cpython-311.pyc",
    ):
        assert ignored(relative, patterns), relative
