"""Response shapes, for the OpenAPI document at ``/docs`` (and for tests to validate
against). The endpoints build their JSON from the library's ``to_report()``; these models
describe it. Extra fields are allowed so that new report fields do not break clients."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CheckProfileResponse",
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
    origin_bystanders: list[int] = Field(
        default_factory=list,
        description="origin faces under the policy's background_face_ratio of the selfie's subject: reported, "
        "but a match of theirs does not make the selfie's person present",
    )
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


# ------------------------------------------------------------------ check-profile


class PoseOut(_Open):
    yaw: float = Field(description="degrees; > 0 nose towards the image's right")
    pitch: float = Field(description="degrees; > 0 chin up")
    roll: float = Field(description="degrees; > 0 counter-clockwise")


class QualityOut(_Open):
    score: float = Field(description="0-1, the product of the factors")
    usable: bool = Field(description="no blocking issue")
    issues: list[str] = Field(
        description="too_small, too_blurry, too_dark, overexposed, pose_too_extreme (blocking); "
        "low_detector_confidence, not_confirmed (lower the score)"
    )
    inter_eye_px: float
    sharpness: float
    brightness: float
    clipped: float
    pose: PoseOut
    detector_score: float
    confirmed: bool | None = Field(description="the second detector also found the face (None: not asked)")
    factors: dict[str, float]


class ProfileFaceOut(FaceOut):
    model: str | None = None
    quality: QualityOut | None = None


class ImageErrorOut(_Open):
    code: str = Field(description="the library's error code, e.g. image_unreadable, image_too_large")
    message: str
    role: str | None = None
    detail: dict[str, Any] | None = None


class SelfieOut(_Open):
    status: Literal[
        "ok",
        "unreadable",
        "no_face",
        "several_faces",
        "face_too_small",
        "too_blurry",
        "too_dark",
        "overexposed",
        "pose_too_extreme",
    ]
    face: ProfileFaceOut | None = Field(description="the face compared (exactly when status is ok)")
    faces: list[ProfileFaceOut] = Field(description="every face found, left to right")
    error: ImageErrorOut | None = Field(description="why the selfie could not be read (status unreadable)")


class PhotoOut(_Open):
    index: int = Field(description="position of the photo in the request")
    status: Literal["person_present", "person_absent", "uncertain", "no_face", "no_usable_face", "unreadable"]
    reasons: list[str] = Field(description="for uncertain: score_in_uncertainty_band or low_quality_match")
    face_index: int | None = Field(description="the face that matched, or came closest")
    bbox: list[float] | None
    similarity: float | None = Field(description="cosine similarity of that face to the selfie's")
    distance: float | None = Field(description="its distance in the metric in force")
    similarities: list[float] = Field(description="one per face, left to right")
    distances: list[float]
    main_face_index: int | None = Field(description="the photo's largest usable face")
    faces: list[ProfileFaceOut]
    error: ImageErrorOut | None = Field(description="why the photo could not be read (status unreadable)")


class ProfileSummary(_Open):
    photos: int
    comparable: int = Field(description="photos with a present, absent or uncertain status")
    present: int
    uncertain: int
    absent: int
    other_person_photos: list[int] = Field(description="photos whose main faces are one consistent other person")


class CheckProfileResponse(_Open):
    request_id: str
    verdict: Literal["verified", "not_verified", "needs_review"]
    reasons: list[str] = Field(
        description="person_present, person_absent, score_in_uncertainty_band, low_quality_match, "
        "low_selfie_quality, person_in_too_few_photos, consistent_other_person, no_comparable_photo, "
        "selfie_<status>, face_on_other_account, face_on_banned_account; authenticity (verdict not_verified): "
        "selfie_copied_from_profile, selfie_replayed, challenge_failed, challenge_expired, challenge_reused"
    )
    checked: bool = Field(description="false when the check could not be made (selfie unusable, no comparable photo)")
    selfie: SelfieOut
    photos: list[PhotoOut] = Field(
        description="one per profile photo, in request order (empty if the selfie is unusable)"
    )
    summary: ProfileSummary
    metric: str
    threshold: float
    threshold_source: str
    band: list[float] = Field(description="distances in (band[0], band[1]] are uncertain")
    model: str
    detector: str
    policy: dict[str, Any] = Field(description="the policy in force (the server's)")
    timings_ms: dict[str, float]
    notes: list[str]
    authenticity: dict[str, Any] | None = Field(
        default=None,
        description="copy check (copy.best: the closest profile face), replay (checked, match), challenge "
        "(status, instruction, pose, error), remembered (the selfie's fingerprint was kept); docs/authenticity.md",
    )
