"""What the REST routes answer, as models: the routes serialise them, the OpenAPI document is
generated from them (``app.openapi``), so the two cannot disagree."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class Document(BaseModel):
    """A REST answer: camelCase in JSON, snake_case in Python."""

    model_config = ConfigDict(frozen=True, alias_generator=to_camel, populate_by_name=True)

    def json_dict(self, **options: Any) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, **options)


class ErrorDetail(Document):
    code: str
    message: str
    field: str | None
    details: list[dict[str, Any]] | None = None


class ErrorDocument(Document):
    """Every error: ``{"error": {"code", "message", "field", ...}}`` (some codes add fields)."""

    model_config = ConfigDict(frozen=True, extra="allow")

    error: ErrorDetail
