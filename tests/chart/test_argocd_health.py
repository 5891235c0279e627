"""Argo CD's Lua health check for LabelingJobs, run with lupa on statuses from real runs."""

from __future__ import annotations

import copy
from typing import Any

import lupa
import pytest

from tests.chart.helm import REPO
from tests.chart.status_objects import CAPTURED, load

SCRIPT = (REPO / "deploy" / "argocd" / "labelingjob-health.lua").read_text()


def to_lua(runtime: Any, value: Any) -> Any:
    if isinstance(value, dict):
        return runtime.table_from({k: to_lua(runtime, v) for k, v in value.items()})
    if isinstance(value, list):
        return runtime.table_from([to_lua(runtime, v) for v in value])
    return value


def health(obj: dict[str, Any]) -> tuple[str, str]:
    """Runs the script as Argo CD does: `obj` is a global, the chunk returns a table."""
    runtime = lupa.LuaRuntime(unpack_returned_tuples=True)
    runtime.globals().obj = to_lua(runtime, obj)
    result = runtime.execute(SCRIPT)
    return str(result["status"]), str(result["message"])


def test_the_fixtures_come_from_runs():
    for name in CAPTURED:
        obj = load(name)
        assert obj["kind"] == "LabelingJob" and obj["status"]["conditions"], name


@pytest.mark.parametrize(
    "name, expected, words",
    [
        ("in-progress", "Progressing", "InProgress"),
        ("completed", "Healthy", "AllLabeled"),
        ("failed", "Degraded", ""),
        ("stalled-forbidden", "Degraded", "Forbidden"),
        ("stopped", "Suspended", "Stopped"),
    ],
)
def test_captured_statuses(name, expected, words):
    status, message = health(load(name))
    assert status == expected, message
    assert words in message


def test_failed_message_names_the_reason():
    obj = load("failed")
    failed = next(c for c in obj["status"]["conditions"] if c["type"] == "Failed")
    status, message = health(obj)
    assert status == "Degraded" and message.startswith(failed["reason"])


def test_new_object_without_status_is_progressing():
    obj = load("completed")
    del obj["status"]
    assert health(obj)[0] == "Progressing"


def test_unobserved_generation_is_progressing():
    obj = copy.deepcopy(load("in-progress"))
    obj["metadata"]["generation"] = obj["status"]["observedGeneration"] + 1
    status, message = health(obj)
    assert status == "Progressing" and "generation" in message


def test_chart_copy_is_identical():
    chart = REPO / "charts" / "labelpilot" / "files" / "labelingjob-health.lua"
    assert chart.read_text() == SCRIPT
