"""The base of every API model: camelCase on the wire, snake_case in Python."""

from __future__ import annotations

from typing import Any, Self

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class ApiModel(BaseModel):
    """A part of the LabelingJob resource. Unknown fields are refused, as the CRD prunes them."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        use_enum_values=False,
    )

    @classmethod
    def from_k8s(cls, data: dict[str, Any] | None) -> Self:
        """Reads the resource's JSON (camelCase), an empty or missing part as all defaults."""
        return cls.model_validate(data or {})

    def to_k8s(self) -> dict[str, Any]:
        """The JSON the API server stores: camelCase, unset optional fields left out."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)
