"""The answer of the profile check: the verdict, its stable reason codes, and the
selfie's and each profile photo's status (:class:`ProfileCheck`, ``to_dict()`` JSON-ready)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ..authenticity.config import AuthenticityCheck
from ..errors import FaceProofError
from ..index import SearchResult
from ..runtime.compare import Metric, Threshold
from ..types import BBox, Face
from .policy import Policy

__all__ = ["PhotoCheck", "PhotoStatus", "ProfileCheck", "Reason", "SelfieCheck", "SelfieStatus", "Verdict"]


class Verdict(StrEnum):
    VERIFIED = "verified"
    NOT_VERIFIED = "not_verified"
    NEEDS_REVIEW = "needs_review"


class SelfieStatus(StrEnum):
    OK = "ok"
    UNREADABLE = "unreadable"
    NO_FACE = "no_face"
    SEVERAL_FACES = "several_faces"
    FACE_TOO_SMALL = "face_too_small"
    TOO_BLURRY = "too_blurry"
    TOO_DARK = "too_dark"
    OVEREXPOSED = "overexposed"
    POSE_TOO_EXTREME = "pose_too_extreme"


class PhotoStatus(StrEnum):
    UNREADABLE = "unreadable"
    NO_FACE = "no_face"
    NO_USABLE_FACE = "no_usable_face"
    PERSON_PRESENT = "person_present"
    PERSON_ABSENT = "person_absent"
    UNCERTAIN = "uncertain"


class Reason(StrEnum):
    """Stable reason codes of a verdict (and of an ``uncertain`` photo)."""

    PERSON_PRESENT = "person_present"
    PERSON_ABSENT = "person_absent"
    SCORE_IN_BAND = "score_in_uncertainty_band"
    LOW_QUALITY_MATCH = "low_quality_match"
    LOW_SELFIE_QUALITY = "low_selfie_quality"
    TOO_FEW_PHOTOS = "person_in_too_few_photos"
    CONSISTENT_OTHER_PERSON = "consistent_other_person"
    NO_COMPARABLE_PHOTO = "no_comparable_photo"
    SELFIE_UNREADABLE = "selfie_unreadable"
    SELFIE_NO_FACE = "selfie_no_face"
    SELFIE_SEVERAL_FACES = "selfie_several_faces"
    SELFIE_FACE_TOO_SMALL = "selfie_face_too_small"
    SELFIE_TOO_BLURRY = "selfie_too_blurry"
    SELFIE_TOO_DARK = "selfie_too_dark"
    SELFIE_OVEREXPOSED = "selfie_overexposed"
    SELFIE_POSE_TOO_EXTREME = "selfie_pose_too_extreme"
    FACE_ON_OTHER_ACCOUNT = "face_on_other_account"
    FACE_ON_BANNED_ACCOUNT = "face_on_banned_account"
    # authenticity (docs/authenticity.md): each makes the verdict not_verified
    SELFIE_COPIED = "selfie_copied_from_profile"
    SELFIE_REPLAYED = "selfie_replayed"
    CHALLENGE_FAILED = "challenge_failed"
    CHALLENGE_EXPIRED = "challenge_expired"
    CHALLENGE_REUSED = "challenge_reused"


#: the reasons of the authenticity checks: the selfie proves nothing
AUTHENTICITY_REASONS = frozenset(
    {
        Reason.SELFIE_COPIED,
        Reason.SELFIE_REPLAYED,
        Reason.CHALLENGE_FAILED,
        Reason.CHALLENGE_EXPIRED,
        Reason.CHALLENGE_REUSED,
    }
)


def _r(value: float | None, ndigits: int = 4) -> float | None:
    return None if value is None else round(float(value), ndigits)


# ----------------------------------------------------------------------------- results


@dataclass(frozen=True)
class SelfieCheck:
    """The selfie: its status, the face used (with quality) and every face found."""

    status: SelfieStatus
    face: Face | None = None
    faces: tuple[Face, ...] = ()
    error: FaceProofError | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", SelfieStatus(self.status))
        if (self.status is SelfieStatus.OK) != (self.face is not None):
            raise ValueError("a selfie has a face exactly when its status is ok")

    @property
    def usable(self) -> bool:
        return self.status is SelfieStatus.OK

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "face": None if self.face is None else self.face.to_dict(),
            "faces": [f.to_dict() for f in self.faces],
            "error": None if self.error is None else self.error.to_dict(),
        }


@dataclass(frozen=True)
class PhotoCheck:
    """One profile photo: status, the face that matched (or came closest) and the full
    similarity / distance row over all its faces (left to right)."""

    index: int
    status: PhotoStatus
    faces: tuple[Face, ...] = ()
    similarities: tuple[float, ...] = ()
    distances: tuple[float, ...] = ()
    face_index: int | None = None
    main_face_index: int | None = None
    reasons: tuple[Reason, ...] = ()
    error: FaceProofError | None = None
    #: each face's threshold against the selfie face (pose-aware: it depends on how
    #: differently the two heads are turned) and its pose bin (None: the table's threshold)
    thresholds: tuple[float, ...] = ()
    pose_bins: tuple[int | None, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", PhotoStatus(self.status))
        object.__setattr__(self, "reasons", tuple(Reason(r) for r in self.reasons))
        n = len(self.faces)
        if len(self.similarities) != len(self.distances) or len(self.similarities) not in (0, n):
            raise ValueError("similarities and distances must have one value per face")
        for idx in (self.face_index, self.main_face_index):
            if idx is not None and not 0 <= idx < n:
                raise ValueError(f"face index {idx} out of range for {n} faces")

    @property
    def bbox(self) -> BBox | None:
        return None if self.face_index is None else self.faces[self.face_index].bbox

    @property
    def similarity(self) -> float | None:
        return None if self.face_index is None or not self.similarities else self.similarities[self.face_index]

    @property
    def distance(self) -> float | None:
        return None if self.face_index is None or not self.distances else self.distances[self.face_index]

    @property
    def comparable(self) -> bool:
        return self.status in (PhotoStatus.PERSON_PRESENT, PhotoStatus.PERSON_ABSENT, PhotoStatus.UNCERTAIN)

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "status": self.status.value,
            "reasons": [r.value for r in self.reasons],
            "face_index": self.face_index,
            "bbox": None if self.bbox is None else self.bbox.as_list(),
            "similarity": _r(self.similarity),
            "distance": _r(self.distance),
            "similarities": [round(v, 4) for v in self.similarities],
            "distances": [round(v, 4) for v in self.distances],
            "main_face_index": self.main_face_index,
            "thresholds": [round(v, 6) for v in self.thresholds],
            "pose_bins": list(self.pose_bins),
            "faces": [f.to_dict() for f in self.faces],
            "error": None if self.error is None else self.error.to_dict(),
        }


@dataclass(frozen=True)
class ProfileCheck:
    """The answer of :meth:`FaceProof.check_profile`. ``to_dict()`` is JSON-ready."""

    verdict: Verdict
    reasons: tuple[Reason, ...]
    selfie: SelfieCheck
    photos: tuple[PhotoCheck, ...]
    metric: Metric
    threshold: Threshold
    band: tuple[float, float]
    policy: Policy
    model: str
    detector: str
    other_person_photos: tuple[int, ...] = ()
    timings_ms: Mapping[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    #: the selfie's search in the member face index (when an index was given): candidate
    #: accounts for human review, never an automatic ban
    index: SearchResult | None = None
    #: templates enrolled into the index after a ``verified`` check (``enroll=True``)
    enrolled: int = 0
    #: what the copy, replay and challenge checks found (docs/authenticity.md)
    authenticity: AuthenticityCheck = field(default_factory=AuthenticityCheck)

    def __post_init__(self) -> None:
        object.__setattr__(self, "verdict", Verdict(self.verdict))
        object.__setattr__(self, "reasons", tuple(Reason(r) for r in self.reasons))
        lo, hi = self.band
        if not 0.0 <= lo <= self.threshold.value <= hi:
            raise ValueError(f"the band {self.band} must contain the threshold {self.threshold.value}")

    @property
    def comparable_photos(self) -> int:
        return sum(p.comparable for p in self.photos)

    @property
    def present_photos(self) -> int:
        return sum(p.status is PhotoStatus.PERSON_PRESENT for p in self.photos)

    @property
    def checked(self) -> bool:
        """False when the check could not be made (selfie unusable, no comparable photo)."""
        return self.selfie.usable and self.comparable_photos > 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict.value,
            "reasons": [r.value for r in self.reasons],
            "checked": self.checked,
            "selfie": self.selfie.to_dict(),
            "photos": [p.to_dict() for p in self.photos],
            "summary": {
                "photos": len(self.photos),
                "comparable": self.comparable_photos,
                "present": self.present_photos,
                "uncertain": sum(p.status is PhotoStatus.UNCERTAIN for p in self.photos),
                "absent": sum(p.status is PhotoStatus.PERSON_ABSENT for p in self.photos),
                "other_person_photos": list(self.other_person_photos),
            },
            "metric": self.metric.value,
            "threshold": self.threshold.value,
            "threshold_source": self.threshold.source,
            "band": [round(self.band[0], 6), round(self.band[1], 6)],
            "model": self.model,
            "detector": self.detector,
            "policy": self.policy.to_dict(),
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
            "notes": list(self.notes),
            "index": None if self.index is None else self.index.to_dict(),
            "enrolled": self.enrolled,
            "authenticity": self.authenticity.to_dict(),
        }
