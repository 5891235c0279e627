"""Pydantic JSON schema -> Kubernetes structural OpenAPI v3 schema, and a structural check.

Kubernetes wants every node typed and inlined: no `$ref`, no `anyOf` for optionals,
`exclusiveMinimum` as a boolean beside `minimum` (OpenAPI 3.0), no `additionalProperties:
false`, and no `additionalProperties` beside `properties`.
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel

Schema = dict[str, Any]

DROPPED = frozenset({"title", "discriminator", "$defs", "examples"})
ALLOWED = frozenset(
    {
        "description",
        "type",
        "format",
        "default",
        "enum",
        "pattern",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
        "minProperties",
        "maxProperties",
        "required",
        "properties",
        "additionalProperties",
        "items",
        "anyOf",
        "nullable",
        "x-kubernetes-validations",
        "x-kubernetes-list-type",
        "x-kubernetes-list-map-keys",
        "x-kubernetes-int-or-string",
        "x-kubernetes-preserve-unknown-fields",
        "x-kubernetes-embedded-resource",
        "x-kubernetes-map-type",
    }
)
SCALARS = frozenset({"string", "integer", "number", "boolean"})


def structural_schema(model: type[BaseModel]) -> Schema:
    """The model's validation schema (camelCase), inlined and made structural."""
    raw = model.model_json_schema(by_alias=True, mode="validation")
    return _convert(raw, raw.get("$defs", {}))


def _convert(node: Schema, defs: dict[str, Schema]) -> Schema:
    node = _inline(node, defs)
    node = _drop_null_branch(node, defs)
    result: Schema = {}
    for key, value in node.items():
        if key in DROPPED or (key == "additionalProperties" and value is False):
            continue
        if key in ("exclusiveMinimum", "exclusiveMaximum") and not isinstance(value, bool):
            result[key.replace("exclusiveM", "m")] = value
            result[key] = True
        elif key == "properties":
            result[key] = {name: _convert(child, defs) for name, child in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            result[key] = _convert(value, defs)
        elif key == "const":
            result["enum"] = [value]
        else:
            result[key] = copy.deepcopy(value)
    if "properties" in result:
        result.setdefault("type", "object")
    if result.get("required") == []:
        del result["required"]
    return result


def _inline(node: Schema, defs: dict[str, Schema]) -> Schema:
    while "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[-1]]
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        node = {**target, **siblings}
    return node


def _drop_null_branch(node: Schema, defs: dict[str, Schema]) -> Schema:
    """`X | None` (anyOf X, null): optional fields are simply not required in Kubernetes."""
    branches = node.get("anyOf")
    if not branches or not any(b == {"type": "null"} for b in branches):
        return node
    rest = [b for b in branches if b != {"type": "null"}]
    merged = {k: v for k, v in node.items() if k != "anyOf"}
    if merged.get("default", ...) is None:
        del merged["default"]
    if len(rest) == 1:
        return {**_inline(rest[0], defs), **merged}
    return {**merged, "anyOf": rest}


def structural_problems(schema: Schema, path: str = "") -> list[str]:
    """What keeps `schema` from being a structural schema the API server accepts."""
    where = path or "<root>"
    problems = [f"{where}: keyword {k!r} is not allowed" for k in schema if k not in ALLOWED]
    int_or_string = schema.get("x-kubernetes-int-or-string") is True
    if (
        "type" not in schema
        and not int_or_string
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        problems.append(f"{where}: no type")
    if "anyOf" in schema and not (
        int_or_string and schema["anyOf"] == [{"type": "integer"}, {"type": "string"}]
    ):
        problems.append(f"{where}: anyOf is only allowed for int-or-string")
    for bound in ("Minimum", "Maximum"):
        exclusive = schema.get("exclusive" + bound)
        if exclusive is not None and (
            not isinstance(exclusive, bool) or bound.lower() not in schema
        ):
            problems.append(f"{where}: exclusive{bound} must be a boolean beside {bound.lower()}")
    if schema.get("nullable") and "type" not in schema:
        problems.append(f"{where}: nullable without a type")
    kind = schema.get("type")
    properties = schema.get("properties")
    extra = schema.get("additionalProperties")
    if properties is not None and extra is not None:
        problems.append(f"{where}: properties and additionalProperties together")
    if extra is not None and not isinstance(extra, dict):
        problems.append(f"{where}: additionalProperties must be a schema")
    if (properties is not None or extra is not None) and kind != "object":
        problems.append(f"{where}: properties on a non-object")
    for name in schema.get("required", []):
        if name not in (properties or {}):
            problems.append(f"{where}: required {name!r} is not a property")
    if kind == "array":
        items = schema.get("items")
        if not isinstance(items, dict):
            problems.append(f"{where}: an array needs one items schema")
        else:
            problems += structural_problems(items, f"{path}[]")
            problems += _list_type_problems(schema, items, where)
    elif "items" in schema:
        problems.append(f"{where}: items on a non-array")
    for name, child in (properties or {}).items():
        problems += structural_problems(child, f"{path}.{name}")
    if isinstance(extra, dict):
        problems += structural_problems(extra, f"{path}.*")
    return problems


def _list_type_problems(schema: Schema, items: Schema, where: str) -> list[str]:
    list_type = schema.get("x-kubernetes-list-type")
    if list_type == "set" and items.get("type") not in SCALARS:
        return [f"{where}: a set's items must be scalars"]
    if list_type == "map":
        keys = schema.get("x-kubernetes-list-map-keys") or []
        missing = [
            k
            for k in keys
            if k not in items.get("required", [])
            and "default" not in items.get("properties", {}).get(k, {})
        ]
        if not keys or missing:
            return [f"{where}: a map list needs required keys (missing {missing})"]
    return []
