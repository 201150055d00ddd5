"""Validated value types shared by every stage: :class:`BBox`, :class:`Face`, :class:`Attributes`.

Images are RGB ``uint8`` arrays of shape (H, W, 3). Boxes are in source-image pixels,
``x1, y1, x2, y2``. Landmarks are five (x, y) points in the order: the eye on the image's
left, the eye on the image's right, the nose tip, the mouth corner on the image's left,
the mouth corner on the image's right. Embeddings are float32 and L2-normalised.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "BLOCKING_ISSUES",
    "Attributes",
    "BBox",
    "Face",
    "FaceQuality",
    "FloatArray",
    "HeadPose",
    "ImageArray",
    "QualityIssue",
]

ImageArray = NDArray[np.uint8]
FloatArray = NDArray[np.float32]


def _frozen_array(value: Any, shape_tail: tuple[int, ...] | None, name: str) -> FloatArray:
    arr = np.array(value, dtype=np.float32, copy=True)
    if shape_tail is not None and arr.shape != shape_tail:
        raise ValueError(f"{name} must have shape {shape_tail}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite")
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, slots=True)
class BBox:
    """An axis-aligned box in source-image pixels (x1, y1) top-left, (x2, y2) bottom-right."""

    x1: float
    y1: float
    x2: float
    y2: float

    def __post_init__(self) -> None:
        values = (self.x1, self.y1, self.x2, self.y2)
        if not all(math.isfinite(v) for v in values):
            raise ValueError(f"box coordinates must be finite, got {values}")
        if self.x2 < self.x1 or self.y2 < self.y1:
            raise ValueError(f"box must have x2 >= x1 and y2 >= y1, got {values}")

    @property
    def width(self) -> float:
        return self.x2 - self.x1

    @property
    def height(self) -> float:
        return self.y2 - self.y1

    @property
    def area(self) -> float:
        return self.width * self.height

    @property
    def center(self) -> tuple[float, float]:
        return ((self.x1 + self.x2) / 2.0, (self.y1 + self.y2) / 2.0)

    def iou(self, other: BBox) -> float:
        ix = max(0.0, min(self.x2, other.x2) - max(self.x1, other.x1))
        iy = max(0.0, min(self.y2, other.y2) - max(self.y1, other.y1))
        inter = ix * iy
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0

    def as_list(self, ndigits: int | None = 1) -> list[float]:
        vals = [self.x1, self.y1, self.x2, self.y2]
        return [round(v, ndigits) for v in vals] if ndigits is not None else vals

    @classmethod
    def from_xywh(cls, x: float, y: float, w: float, h: float) -> BBox:
        return cls(float(x), float(y), float(x + w), float(y + h))


@dataclass(frozen=True, slots=True)
class Attributes:
    """Soft biometric estimates for one face. Never used in the identity verdict.

    ``gender`` maps "Woman" and "Man" to probabilities in [0, 1] that sum to 1.
    ``gender_abstained`` is True when the model was not confident enough to name a
    gender (``dominant_gender`` is then ``"Unknown"``; the probabilities stay).
    ``age`` is the expected age in years and ``age_range`` an interval around it.
    """

    gender: dict[str, float] | None = None
    age: float | None = None
    age_range: tuple[float, float] | None = None
    model: str | None = None
    gender_abstained: bool = False

    def __post_init__(self) -> None:
        if self.gender is not None:
            if set(self.gender) != {"Woman", "Man"}:
                raise ValueError(f"gender keys must be Woman and Man, got {sorted(self.gender)}")
            total = sum(self.gender.values())
            if any(not 0.0 <= p <= 1.0 for p in self.gender.values()) or abs(total - 1.0) > 1e-3:
                raise ValueError(f"gender probabilities must be in [0, 1] and sum to 1: {self.gender}")
        elif self.gender_abstained:
            raise ValueError("gender_abstained needs gender probabilities")
        if self.age is not None and not (math.isfinite(self.age) and 0.0 <= self.age <= 150.0):
            raise ValueError(f"age must be within 0..150, got {self.age}")
        if self.age_range is not None:
            lo, hi = self.age_range
            if not lo <= hi:
                raise ValueError(f"age_range must be (low, high), got {self.age_range}")

    @property
    def dominant_gender(self) -> str | None:
        if self.gender is None:
            return None
        if self.gender_abstained:
            return "Unknown"
        return "Woman" if self.gender["Woman"] > self.gender["Man"] else "Man"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.gender is not None:
            out["gender"] = {k: round(v, 4) for k, v in self.gender.items()}
            out["dominant_gender"] = self.dominant_gender
            out["gender_abstained"] = self.gender_abstained
        if self.age is not None:
            out["age"] = round(self.age, 1)
        if self.age_range is not None:
            out["age_range"] = [round(self.age_range[0], 1), round(self.age_range[1], 1)]
        if self.model is not None:
            out["model"] = self.model
        return out


# ----------------------------------------------------------------------------- face quality


class QualityIssue(StrEnum):
    """Stable reason codes for a face that falls short of a quality minimum."""

    TOO_SMALL = "too_small"
    TOO_BLURRY = "too_blurry"
    TOO_DARK = "too_dark"
    OVEREXPOSED = "overexposed"
    POSE_TOO_EXTREME = "pose_too_extreme"
    LOW_DETECTOR_CONFIDENCE = "low_detector_confidence"
    NOT_CONFIRMED = "not_confirmed"


#: Issues that make a face unusable for an identity decision (the others only lower the score).
BLOCKING_ISSUES: frozenset[QualityIssue] = frozenset(
    {
        QualityIssue.TOO_SMALL,
        QualityIssue.TOO_BLURRY,
        QualityIssue.TOO_DARK,
        QualityIssue.OVEREXPOSED,
        QualityIssue.POSE_TOO_EXTREME,
    }
)


@dataclass(frozen=True, slots=True)
class HeadPose:
    """Head rotation in degrees.

    ``yaw`` > 0: the face turns so that the nose points to the image's right;
    ``pitch`` > 0: the face tilts up (chin up); ``roll`` > 0: the face rotates
    counter-clockwise in the image. A mirrored image negates yaw and roll.
    """

    yaw: float
    pitch: float
    roll: float

    def __post_init__(self) -> None:
        for name in ("yaw", "pitch", "roll"):
            v = getattr(self, name)
            if not (math.isfinite(v) and -180.0 <= v <= 180.0):
                raise ValueError(f"{name} must be a finite angle in [-180, 180], got {v}")

    def to_dict(self) -> dict[str, float]:
        return {"yaw": round(self.yaw, 1), "pitch": round(self.pitch, 1), "roll": round(self.roll, 1)}


@dataclass(frozen=True)
class FaceQuality:
    """Quality measures of one face, their factors, the 0-1 score and the issue codes."""

    inter_eye_px: float
    sharpness: float
    brightness: float
    clipped: float
    pose: HeadPose
    detector_score: float
    confirmed: bool | None
    score: float
    issues: tuple[QualityIssue, ...] = ()
    factors: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("inter_eye_px", "sharpness", "brightness", "clipped", "detector_score", "score"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {v!r}")
        if self.score > 1.0:
            raise ValueError(f"score must be within [0, 1], got {self.score}")
        if not isinstance(self.pose, HeadPose):
            raise TypeError("pose must be a HeadPose")
        object.__setattr__(self, "issues", tuple(QualityIssue(i) for i in self.issues))
        object.__setattr__(self, "factors", dict(self.factors))

    @property
    def usable(self) -> bool:
        """No blocking issue: the face can carry an identity decision."""
        return not any(i in BLOCKING_ISSUES for i in self.issues)

    @property
    def blocking(self) -> tuple[QualityIssue, ...]:
        return tuple(i for i in self.issues if i in BLOCKING_ISSUES)

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": round(self.score, 3),
            "usable": self.usable,
            "issues": [i.value for i in self.issues],
            "inter_eye_px": round(self.inter_eye_px, 1),
            "sharpness": round(self.sharpness, 3),
            "brightness": round(self.brightness, 1),
            "clipped": round(self.clipped, 3),
            "pose": self.pose.to_dict(),
            "detector_score": round(self.detector_score, 3),
            "confirmed": self.confirmed,
            "factors": {k: round(v, 3) for k, v in self.factors.items()},
        }


@dataclass(frozen=True, eq=False)
class Face:
    """One detected face, enriched stage by stage (embedding, attributes) with :meth:`evolve`."""

    bbox: BBox
    score: float
    landmarks: FloatArray | None = None
    embedding: FloatArray | None = None
    attributes: Attributes | None = None
    detector: str = ""
    model: str | None = None
    embedding_norm: float | None = None
    confirmed_by: tuple[str, ...] = ()
    quality: FaceQuality | None = None

    def __post_init__(self) -> None:
        if self.quality is not None:
            if not isinstance(self.quality, FaceQuality):
                raise TypeError(f"quality must be a FaceQuality, got {type(self.quality).__name__}")
        if not isinstance(self.bbox, BBox):
            raise TypeError(f"bbox must be a BBox, got {type(self.bbox).__name__}")
        if not (math.isfinite(self.score) and 0.0 <= self.score <= 1.0):
            raise ValueError(f"score must be within [0, 1], got {self.score}")
        if self.landmarks is not None:
            object.__setattr__(self, "landmarks", _frozen_array(self.landmarks, (5, 2), "landmarks"))
        if self.embedding is not None:
            emb = _frozen_array(self.embedding, None, "embedding")
            if emb.ndim != 1 or emb.size == 0:
                raise ValueError(f"embedding must be a non-empty vector, got shape {emb.shape}")
            if abs(float(np.linalg.norm(emb)) - 1.0) > 1e-3:
                raise ValueError("embedding must be L2-normalised")
            object.__setattr__(self, "embedding", emb)

    def evolve(self, **changes: Any) -> Face:
        """A copy with some fields replaced (the original stays unchanged)."""
        return replace(self, **changes)

    @property
    def raw_embedding(self) -> FloatArray | None:
        """The embedding at the scale the model produced it (for plain euclidean distance)."""
        if self.embedding is None:
            return None
        scale = self.embedding_norm if self.embedding_norm is not None else 1.0
        return (self.embedding * np.float32(scale)).astype(np.float32)

    def to_dict(self, *, embedding: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "bbox": self.bbox.as_list(),
            "score": round(self.score, 4),
            "detector": self.detector,
        }
        if self.landmarks is not None:
            out["landmarks"] = [[round(float(x), 1), round(float(y), 1)] for x, y in self.landmarks]
        if self.model is not None:
            out["model"] = self.model
        if self.attributes is not None:
            out["attributes"] = self.attributes.to_dict()
        if embedding and self.embedding is not None:
            out["embedding"] = [float(v) for v in self.embedding]
        if self.confirmed_by:
            out["confirmed_by"] = list(self.confirmed_by)
        if self.quality is not None:
            out["quality"] = self.quality.to_dict()
        return out
