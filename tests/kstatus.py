"""kstatus' reading of objects, from the real library: hack/kstatus, built by
hack/build-kstatus.sh (once, into the project's cache) through the Go module proxy."""

from __future__ import annotations

import json
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "hack" / "build-kstatus.sh"


@cache
def binary() -> Path:
    built = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=900)
    assert built.returncode == 0, f"{SCRIPT} failed:\n{built.stdout}{built.stderr}"
    path = subprocess.run(
        ["bash", str(SCRIPT), "--print-path"], capture_output=True, text=True, check=True
    ).stdout.strip()
    return Path(path)


def read(objects: list[dict[str, Any]]) -> list[dict[str, str]]:
    """kstatus' result for each object, in order: {"name", "status", "message", ...}."""
    stream = "".join(json.dumps(obj) + "\n" for obj in objects)
    result = subprocess.run(
        [str(binary())], input=stream, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def status(obj: dict[str, Any]) -> str:
    """kstatus' status of one object: Current, InProgress, Failed, Terminating."""
    (found,) = read([obj])
    return found["status"]
