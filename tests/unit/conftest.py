"""Fixtures of the operator's pure unit tests: LabelingJob specs as users write them."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from tests.specs import BASE_SPEC


def _merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Deep-merges `changes` into a copy of `base`; a value of None removes the key."""
    result = copy.deepcopy(base)
    for key, value in changes.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = _merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


@pytest.fixture()
def spec_dict() -> Callable[..., dict[str, Any]]:
    """`spec_dict(changes)`: the base spec (camelCase JSON) with `changes` deep-merged."""

    def make(changes: dict[str, Any] | None = None) -> dict[str, Any]:
        return _merge(BASE_SPEC, changes or {})

    return make
