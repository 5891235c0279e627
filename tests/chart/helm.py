"""`helm template` / `helm lint` of the chart, with the helm that hack/build-binaries.sh built."""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "labelpilot"

Obj = dict[str, Any]


@cache
def binary_dir() -> Path:
    out = subprocess.run(
        ["bash", str(REPO / "hack" / "build-binaries.sh"), "--print-dir"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return Path(out)


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(binary_dir() / "helm"), *args], capture_output=True, text=True, timeout=120
    )


def template_text(
    *args: str, namespace: str = "labelpilot-system", release: str = "labelpilot"
) -> str:
    result = helm("template", release, str(CHART), "--namespace", namespace, *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


@cache
def _render(args: tuple[str, ...], namespace: str) -> tuple[Obj, ...]:
    text = template_text(*args, namespace=namespace)
    return tuple(doc for doc in yaml.safe_load_all(text) if doc)


def render(*args: str, namespace: str = "labelpilot-system") -> list[Obj]:
    return [dict(doc) for doc in _render(tuple(args), namespace)]


def one(docs: list[Obj], kind: str, name: str | None = None) -> Obj:
    found = [
        d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)
    ]
    assert len(found) == 1, f"expected one {kind} {name or ''}, got {len(found)}"
    return found[0]


def kinds(docs: list[Obj]) -> list[str]:
    return sorted(d["kind"] for d in docs)
