"""LabelingJob objects captured from real runs on the dev cluster (tests/data/)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.chart.helm import REPO

FOLDER = REPO / "tests" / "data" / "labelingjob-status"
CAPTURED = ("in-progress", "completed", "failed", "stalled-forbidden", "stopped")


def load(name: str) -> dict[str, Any]:
    return json.loads((FOLDER / f"{name}.json").read_text())


def path(name: str) -> Path:
    return FOLDER / f"{name}.json"
