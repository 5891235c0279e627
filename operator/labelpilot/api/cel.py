"""CEL validation rules (`x-kubernetes-validations`) attached to the API models' schemas."""

from __future__ import annotations

from typing import Any


def rule(
    expression: str, message: str, *, field_path: str | None = None, reason: str | None = None
) -> dict[str, Any]:
    """One validation rule as the API server reads it. `field_path` names the offending
    field (relative to the object holding the rule, e.g. `.stoppingConditions`)."""
    result: dict[str, Any] = {"rule": expression, "message": message}
    if field_path:
        result["fieldPath"] = field_path
    if reason:
        result["reason"] = reason
    return result


def immutable(what: str) -> dict[str, Any]:
    """A transition rule: the field keeps the value it was created with."""
    return rule("self == oldSelf", f"{what} is immutable once the job exists")


def validations(*rules: dict[str, Any]) -> dict[str, Any]:
    """A `json_schema_extra` carrying rules."""
    return {"x-kubernetes-validations": list(rules)}
