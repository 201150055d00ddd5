"""The identity-check policy: quality minimums and the knobs of the profile decision.

Everything here is data: the defaults live in ``data/policy.json`` (each with the
measurement behind it in ``docs/policy.md``); :meth:`Policy.from_file` /
:meth:`Policy.from_dict` read a replacement (only the keys given change), and
:meth:`Policy.replace` changes knobs in code.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from ..errors import InvalidArgument
from .quality import QualityThresholds, builtin_policy_doc

__all__ = ["CONFIRM_MODES", "ConfirmMode", "Policy"]

ConfirmMode = Literal["none", "selfie", "all"]
CONFIRM_MODES: tuple[ConfirmMode, ...] = ("none", "selfie", "all")


@dataclass(frozen=True)
class Policy:
    """Knobs of :meth:`FaceProof.check_profile`.

    Attributes:
        quality: the quality minimums and good values (:class:`QualityThresholds`).
        band_width: the uncertainty band, relative to the distance threshold ``t``: a best
            distance in ``(t * (1 - w), t * (1 + w)]`` is "uncertain" (so it follows a
            recalibrated threshold and any metric).
        min_share: the share of comparable profile photos (with at least one usable face)
            that must show the selfie's person for ``verified``.
        other_person_min_photos: how many profile photos whose main faces match each other
            but not the selfie make a "consistent other person".
        review_below_quality: a selfie face, or the face that matched in a profile photo,
            with a quality score under this sends the decision to review.
        background_face_ratio: selfie faces smaller than this share of the subject's size
            (the dominant face's box height) are bystanders, not counted as "several
            faces".
        confirm: where the second detector (dlib HOG) checks the faces: ``"none"``,
            ``"selfie"`` (default: one extra pass) or ``"all"`` (every photo).
        max_photos: most profile photos accepted in one call.
    """

    quality: QualityThresholds
    band_width: float
    min_share: float
    other_person_min_photos: int
    review_below_quality: float
    background_face_ratio: float
    confirm: ConfirmMode
    max_photos: int

    def __post_init__(self) -> None:
        if not isinstance(self.quality, QualityThresholds):
            raise InvalidArgument("quality must be QualityThresholds")
        for name in ("band_width", "min_share", "review_below_quality", "background_face_ratio"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not 0.0 <= v <= 1.0:
                raise InvalidArgument(f"policy {name} must be a number within [0, 1], got {v!r}")
        for name in ("other_person_min_photos", "max_photos"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise InvalidArgument(f"policy {name} must be an integer >= 1, got {v!r}")
        if self.confirm not in CONFIRM_MODES:
            raise InvalidArgument(f"policy confirm must be one of {', '.join(CONFIRM_MODES)}, got {self.confirm!r}")

    # ------------------------------------------------------------------ construction

    @classmethod
    def default(cls) -> Policy:
        """The built-in policy (``data/policy.json``)."""
        return _builtin()

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any], base: Policy | None = None) -> Policy:
        """``base`` (the built-in policy by default) with the keys of ``doc`` replaced.

        ``doc`` has the layout of ``data/policy.json``: ``{"quality": {...}, "profile":
        {...}}``; keys starting with ``_`` are comments.
        """
        base = base or cls.default()
        if not isinstance(doc, Mapping):
            raise InvalidArgument("a policy must be a JSON object")
        unknown = sorted(k for k in doc if k not in ("quality", "profile") and not str(k).startswith("_"))
        if unknown:
            raise InvalidArgument(f"unknown policy sections {unknown}; use 'quality' and 'profile'")
        quality_doc = {k: v for k, v in dict(doc.get("quality", {})).items() if not str(k).startswith("_")}
        quality = QualityThresholds.from_dict({**base.quality.to_dict(), **quality_doc})
        profile_doc = {k: v for k, v in dict(doc.get("profile", {})).items() if not str(k).startswith("_")}
        known = {f.name for f in fields(cls)} - {"quality"}
        bad = sorted(set(profile_doc) - known)
        if bad:
            raise InvalidArgument(f"unknown profile policy keys {bad}; known: {sorted(known)}")
        return replace(base, quality=quality, **profile_doc)

    @classmethod
    def from_file(cls, path: str | Path, base: Policy | None = None) -> Policy:
        path = Path(path)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InvalidArgument(f"cannot read policy file {path}: {exc}") from exc
        return cls.from_dict(doc, base)

    def band(self, threshold: float) -> tuple[float, float]:
        """The uncertainty band around a distance threshold: ``t * (1 -/+ band_width)``."""
        return (threshold * (1.0 - self.band_width), threshold * (1.0 + self.band_width))

    @classmethod
    def coerce(cls, value: Policy | Mapping[str, Any] | str | Path | None) -> Policy:
        """A policy from a :class:`Policy`, a dict in the file's layout, a path, or None (built-in)."""
        if value is None:
            return cls.default()
        if isinstance(value, Policy):
            return value
        if isinstance(value, (str, Path)):
            return cls.from_file(value)
        if isinstance(value, Mapping):
            return cls.from_dict(value)
        raise InvalidArgument(f"policy must be a Policy, a dict or a path, got {type(value).__name__}")

    def replace(self, **changes: Any) -> Policy:
        """A copy with some knobs changed (``quality=`` takes a :class:`QualityThresholds`)."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "quality": self.quality.to_dict(),
            "profile": {f.name: getattr(self, f.name) for f in fields(self) if f.name != "quality"},
        }


@lru_cache(maxsize=1)
def _builtin() -> Policy:
    doc = builtin_policy_doc()
    quality = QualityThresholds.from_dict({k: v for k, v in doc["quality"].items() if not k.startswith("_")})
    profile = {k: v for k, v in doc["profile"].items() if not k.startswith("_")}
    return Policy(quality=quality, **profile)
