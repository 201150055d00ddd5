"""Response shapes, for the OpenAPI document at ``/docs`` (and for tests to validate
against). The endpoints build their JSON from the library's ``to_report()``; these models
describe it. Extra fields are allowed so that new report fields do not break clients."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "DistinguishResponse",
    "ErrorBody",
    "ErrorResponse",
    "FaceOut",
    "FacesResponse",
    "VerifyResponse",
]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ErrorBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(description="stable machine-readable code, e.g. image_too_large, no_face, overloaded")
    message: str = Field(description="human-readable explanation (no traceback)")
    request_id: str


class ErrorResponse(_Open):
    """Every non-2xx answer. Verify and distinguish input errors also carry the seed's
    ``result_code`` and ``result_message`` (and the rest of the report)."""

    error: ErrorBody


class FaceOut(_Open):
    bbox: list[float] = Field(description="x1, y1, x2, y2 in source-image pixels")
    score: float = Field(description="detector confidence in [0, 1]")
    detector: str
    landmarks: list[list[float]] | None = Field(
        default=None, description="5 points: eyes, nose tip, mouth corners (image left to right)"
    )
    attributes: dict[str, Any] | None = None


class VerifyResponse(_Open):
    request_id: str
    result_code: int = Field(description="2 same person, 0 not, -22/-21 origin/target unreadable, -2/-1 no face")
    result_message: str
    result_list: list[list[float]] | None = Field(
        default=None, description="cosine similarity, origin faces x target faces (absent when no comparison)"
    )
    verdict: bool | None
    metric: str
    threshold: float | None
    threshold_source: str | None
    model: str
    detector: str
    distances: list[list[float]]
    matches: list[list[bool]]
    best_pair: list[int] | None
    best_distance: float | None
    origin_faces: list[FaceOut]
    target_faces: list[FaceOut]
    timings_ms: dict[str, float]
    notes: list[str]


class DistinguishResponse(_Open):
    request_id: str
    result_code: int = Field(description="0 success, -11 unreadable, -1 no face")
    result_message: str
    result_list: list[dict[str, Any]] | None = Field(
        default=None, description="per face, left to right: gender (percent), dominant_gender, age"
    )
    faces: list[FaceOut]
    timings_ms: dict[str, float]
    notes: list[str]


class FaceWithCrop(FaceOut):
    crop: str | None = Field(default=None, description="aligned square crop as a data:image/png;base64 URI")


class FacesResponse(_Open):
    request_id: str
    count: int
    detector: str
    faces: list[FaceWithCrop]
    timings_ms: dict[str, float]
