"""The API's shared payload shapes, light enough for any domain's service to return (pydantic
only: no FastAPI, no SQLAlchemy): the one error shape, what a readiness check reports, and
the marker of a deliberately free-form JSON object.

Every route answers a pydantic model, so the OpenAPI document (``/api/openapi.json``) is the
contract; ``tests/server/test_openapi.py`` fails on a route whose answer is an untyped object.
A value that is the user's own data (a degradation level's limits, an audit record's detail)
is a :data:`JsonObject`: still a JSON object in the document, and marked free-form there
(``x-buttress-free-form``) so that the check above tells it from a forgotten type.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, JsonValue, WithJsonSchema

__all__ = ["FREE_FORM", "ErrorRead", "JsonObject", "Problem", "Readiness"]

FREE_FORM = "x-buttress-free-form"
"""The OpenAPI extension that marks a JSON object whose keys are the user's, not the API's."""

JsonObject = Annotated[
    dict[str, JsonValue],
    WithJsonSchema({"type": "object", "additionalProperties": True, FREE_FORM: True}),
]
"""A JSON object of any JSON values, marked free-form in the OpenAPI document."""


class Problem(BaseModel):
    """One invalid field of a request."""

    field: str = Field(examples=["body.name"])
    message: str


class ErrorRead(BaseModel):
    """Every error the API answers: a stable code, one sentence, the request id."""

    error: str = Field(examples=["not_found"])
    message: str
    request_id: str = Field(description="Also in the X-Request-ID header and the server log.")
    problems: list[Problem] | None = Field(default=None, description="On 422: each field.")


class Readiness(BaseModel):
    """One condition of ``/readyz``, as a component reports it: ``ok`` decides, the rest says
    why (only the fields that apply are shown)."""

    model_config = ConfigDict(extra="forbid")

    ok: bool = Field(description="False makes the instance not ready (503).")
    status: str | None = Field(default=None, description="A health check's status.")
    detail: str | None = Field(default=None, description="A health check's latest detail.")
    latency_ms: float | None = Field(default=None, description="How long the check took.")
    error: str | None = Field(default=None, description="Why it failed.")
    leading: bool | None = Field(default=None, description="The scheduler: this replica leads.")
    reason: str | None = Field(default=None, description="The scheduler: why it leads or not.")
