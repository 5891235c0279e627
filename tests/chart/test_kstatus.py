"""Flux reads LabelingJob status without custom code: kstatus, the library its health checks
apply to any custom resource, run for real (hack/kstatus) on objects captured from real
runs. tests/unit/test_kstatus.py runs it on every phase the operator writes.
"""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from tests import kstatus
from tests.chart.status_objects import CAPTURED, load

REASON = re.compile(r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$")


def conditions(obj):
    return {c["type"]: c for c in obj["status"].get("conditions", [])}


@pytest.mark.parametrize("name", CAPTURED)
def test_status_is_current_for_the_generation(name):
    obj = load(name)
    assert obj["status"]["observedGeneration"] == obj["metadata"]["generation"]
    for condition in obj["status"]["conditions"]:
        assert condition["observedGeneration"] == obj["metadata"]["generation"]


@pytest.mark.parametrize("name", CAPTURED)
def test_conditions_have_the_api_convention_shape(name):
    found = conditions(load(name))
    assert {"Ready", "Reconciling", "Stalled"} <= set(found)
    for condition in found.values():
        assert condition["status"] in ("True", "False", "Unknown")
        assert REASON.match(condition["reason"]), condition["reason"]
        datetime.fromisoformat(condition["lastTransitionTime"].replace("Z", "+00:00"))
    assert not (found["Reconciling"]["status"] == "True" == found["Stalled"]["status"])


@pytest.mark.parametrize(
    "name, expected, ready",
    [
        ("in-progress", "InProgress", "False"),
        ("completed", "Current", "True"),
        ("failed", "Failed", "False"),
        ("stalled-forbidden", "Failed", "False"),
        ("stopped", "Current", "True"),
    ],
)
def test_kstatus_reading(name, expected, ready):
    obj = load(name)
    assert kstatus.status(obj) == expected
    assert conditions(obj)["Ready"]["status"] == ready


def test_an_unobserved_generation_reads_in_progress():
    obj = load("completed")
    obj["metadata"]["generation"] += 1
    assert kstatus.status(obj) == "InProgress"
