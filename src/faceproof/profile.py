"""The identity-check decision: one verification selfie against a member's profile photos.

:func:`check_profile` (``FaceProof.check_profile``) answers "is the member who took this
selfie the person shown in their profile photos?" with ``verified``, ``not_verified`` or
``needs_review`` and the reasons:

1. The selfie must hold exactly one usable face (faces much smaller than the largest are
   bystanders and ignored); otherwise the selfie status says why (``no_face``,
   ``several_faces``, ``face_too_small``, ``too_blurry``, ``too_dark``, ``overexposed``,
   ``pose_too_extreme``, ``unreadable``) and the verdict is ``not_verified``.
2. Each profile photo is read, its faces found, scored for quality and compared with the
   selfie face: ``person_present`` when the closest usable face is nearer than the
   uncertainty band, ``person_absent`` when it is beyond it, ``uncertain`` inside it (or
   when the match rests on a low-quality face), else ``unreadable`` / ``no_face`` /
   ``no_usable_face``. The full similarity row over the photo's faces is kept: group
   photos are normal on dating profiles.
3. The verdict: ``verified`` when the person is present in at least ``min_share`` of the
   comparable photos, nothing else looks wrong; ``needs_review`` when the evidence is in
   the band, the quality is low, or several photos show one consistent other person next
   to photos of the member; ``not_verified`` when the person is in none of the photos (a
   consistent other person is then flagged: a likely catfish) or the check cannot be made.

The band is relative to the distance threshold in force (``FaceProof.default_threshold``
or the caller's), so it follows recalibration. Knobs: :class:`~faceproof.policy.Policy`.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .compare import Metric, Threshold, distance_matrix, embeddings_of, similarity_matrix
from .embed import embed_faces
from .errors import FaceProofError, InvalidArgument
from .policy import Policy
from .quality import QualityIssue, assess_faces, inter_eye_distance
from .types import BBox, Face, ImageArray

if TYPE_CHECKING:
    from .client import FaceProof
    from .detect import Detector
    from .io import ImageSource

__all__ = [
    "PhotoCheck",
    "PhotoStatus",
    "ProfileCheck",
    "Reason",
    "SelfieCheck",
    "SelfieStatus",
    "Verdict",
    "check_profile",
    "decide",
]

logger = logging.getLogger(__name__)


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


#: Which selfie status a blocking quality issue of its face gives, in order of precedence.
_ISSUE_STATUS: tuple[tuple[QualityIssue, SelfieStatus], ...] = (
    (QualityIssue.TOO_SMALL, SelfieStatus.FACE_TOO_SMALL),
    (QualityIssue.TOO_BLURRY, SelfieStatus.TOO_BLURRY),
    (QualityIssue.TOO_DARK, SelfieStatus.TOO_DARK),
    (QualityIssue.OVEREXPOSED, SelfieStatus.OVEREXPOSED),
    (QualityIssue.POSE_TOO_EXTREME, SelfieStatus.POSE_TOO_EXTREME),
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
        }


# ----------------------------------------------------------------------------- decision


def decide(
    selfie: SelfieCheck, photos: Sequence[PhotoCheck], policy: Policy, other_person: Sequence[int] = ()
) -> tuple[Verdict, tuple[Reason, ...]]:
    """The verdict and its reasons from the selfie and per-photo statuses (pure logic)."""
    if not selfie.usable:
        return Verdict.NOT_VERIFIED, (Reason(f"selfie_{selfie.status.value}"),)
    comparable = [p for p in photos if p.comparable]
    if not comparable:
        return Verdict.NOT_VERIFIED, (Reason.NO_COMPARABLE_PHOTO,)
    present = [p for p in comparable if p.status is PhotoStatus.PERSON_PRESENT]
    uncertain = [p for p in comparable if p.status is PhotoStatus.UNCERTAIN]
    low_selfie = selfie.face is not None and (
        selfie.face.quality is not None and selfie.face.quality.score < policy.review_below_quality
    )
    reasons: list[Reason] = []
    if not present:
        if uncertain:
            for p in uncertain:
                reasons.extend(r for r in p.reasons if r not in reasons)
            if low_selfie:
                reasons.append(Reason.LOW_SELFIE_QUALITY)
            return Verdict.NEEDS_REVIEW, tuple(reasons)
        reasons.append(Reason.PERSON_ABSENT)
        if other_person:
            reasons.append(Reason.CONSISTENT_OTHER_PERSON)
        if low_selfie:
            reasons.append(Reason.LOW_SELFIE_QUALITY)
            return Verdict.NEEDS_REVIEW, tuple(reasons)
        return Verdict.NOT_VERIFIED, tuple(reasons)
    if other_person:
        reasons.append(Reason.CONSISTENT_OTHER_PERSON)
    if len(present) / len(comparable) < policy.min_share:
        reasons.append(Reason.TOO_FEW_PHOTOS)
    if low_selfie:
        reasons.append(Reason.LOW_SELFIE_QUALITY)
    if reasons:
        return Verdict.NEEDS_REVIEW, (Reason.PERSON_PRESENT, *reasons)
    return Verdict.VERIFIED, (Reason.PERSON_PRESENT,)


def photo_status(
    faces: Sequence[Face], distances: np.ndarray, threshold: float, band: tuple[float, float], policy: Policy
) -> tuple[PhotoStatus, int | None, tuple[Reason, ...]]:
    """Status, matched (or closest) face index and reasons for one photo's embedded faces."""
    if not faces:
        return PhotoStatus.NO_FACE, None, ()
    lo, hi = band
    usable = [i for i, f in enumerate(faces) if f.quality is None or f.quality.usable]
    unusable_match = [i for i in range(len(faces)) if i not in usable and distances[i] <= threshold]
    closest_unusable = min(unusable_match, key=lambda i: distances[i]) if unusable_match else None
    if not usable:
        if closest_unusable is not None:
            return PhotoStatus.UNCERTAIN, closest_unusable, (Reason.LOW_QUALITY_MATCH,)
        return PhotoStatus.NO_USABLE_FACE, None, ()
    best = min(usable, key=lambda i: float(distances[i]))
    d = float(distances[best])
    quality = faces[best].quality
    if d <= lo:
        if quality is not None and quality.score < policy.review_below_quality:
            return PhotoStatus.UNCERTAIN, best, (Reason.LOW_QUALITY_MATCH,)
        return PhotoStatus.PERSON_PRESENT, best, ()
    if d <= hi:
        return PhotoStatus.UNCERTAIN, best, (Reason.SCORE_IN_BAND,)
    if closest_unusable is not None:
        return PhotoStatus.UNCERTAIN, closest_unusable, (Reason.LOW_QUALITY_MATCH,)
    return PhotoStatus.PERSON_ABSENT, best, ()


def main_face(faces: Sequence[Face]) -> int | None:
    """The largest usable face of a photo (by inter-eye distance), or None."""
    usable = [i for i, f in enumerate(faces) if f.quality is None or f.quality.usable]
    if not usable:
        return None
    return max(usable, key=lambda i: inter_eye_distance(faces[i]))


def consistent_other_person(
    photos: Sequence[PhotoCheck], metric: Metric, threshold: float, min_photos: int
) -> tuple[int, ...]:
    """Indices of the largest group of ``person_absent`` photos whose main faces all link up
    (each matches at least one other in the group at the threshold), if it has at least
    ``min_photos`` photos; else ``()``."""
    cands = [p for p in photos if p.status is PhotoStatus.PERSON_ABSENT and p.main_face_index is not None]
    if len(cands) < max(2, min_photos):
        return ()
    faces = [p.faces[p.main_face_index] for p in cands if p.main_face_index is not None]
    raw = metric is Metric.EUCLIDEAN
    dist = distance_matrix(embeddings_of(faces, raw=raw), embeddings_of(faces, raw=raw), metric)
    parent = list(range(len(cands)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(cands)):
        for j in range(i + 1, len(cands)):
            if dist[i, j] <= threshold:
                parent[root(i)] = root(j)
    groups: dict[int, list[int]] = {}
    for i in range(len(cands)):
        groups.setdefault(root(i), []).append(cands[i].index)
    best = max(groups.values(), key=len)
    return tuple(sorted(best)) if len(best) >= max(2, min_photos) else ()


# ----------------------------------------------------------------------------- pipeline


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


def _check_photos_arg(photos: Any, policy: Policy) -> list[ImageSource]:
    if isinstance(photos, (str, bytes, bytearray, memoryview, os.PathLike, Path, np.ndarray)):
        raise InvalidArgument("photos must be a list of image sources (one per profile photo), not a single image")
    try:
        items = list(photos)
    except TypeError:
        raise InvalidArgument(f"photos must be a list of image sources, got {type(photos).__name__}") from None
    if len(items) > policy.max_photos:
        raise InvalidArgument(f"at most {policy.max_photos} profile photos per check, got {len(items)}")
    return items


def _faces_of(fp: FaceProof, image: ImageArray, policy: Policy, confirm_with: Detector | None) -> list[Face]:
    """Detected faces (``fp.detect``: left to right, at most ``fp.max_faces``) with quality
    and embedding."""
    faces = [f for f in fp.detect(image) if f.landmarks is not None]
    faces = assess_faces(image, faces, policy.quality, confirm_with=confirm_with)
    return embed_faces(fp.recognizer, image, faces)


def _selfie(
    fp: FaceProof, source: ImageSource, policy: Policy, confirm_with: Detector | None, timings: dict[str, float]
) -> SelfieCheck:
    t = time.perf_counter()
    try:
        image = fp.load_image(source)
    except FaceProofError as exc:
        return SelfieCheck(SelfieStatus.UNREADABLE, error=exc.with_role("origin"))
    timings["selfie_decode"] = _ms(t)
    t = time.perf_counter()
    faces = _faces_of(fp, image, policy, confirm_with)
    timings["selfie_faces"] = _ms(t)
    if not faces:
        return SelfieCheck(SelfieStatus.NO_FACE)
    largest = max(inter_eye_distance(f) for f in faces)
    counted = [f for f in faces if inter_eye_distance(f) >= policy.background_face_ratio * largest]
    usable = [f for f in counted if f.quality is not None and f.quality.usable]
    if len(usable) == 1:
        return SelfieCheck(SelfieStatus.OK, face=usable[0], faces=tuple(faces))
    if len(usable) > 1:
        return SelfieCheck(SelfieStatus.SEVERAL_FACES, faces=tuple(faces))
    main = max(counted, key=inter_eye_distance)
    issues = main.quality.blocking if main.quality is not None else ()
    for issue, status in _ISSUE_STATUS:
        if issue in issues:
            return SelfieCheck(status, faces=tuple(faces))
    raise AssertionError("an unusable face has a blocking issue")  # pragma: no cover


def _photo(
    fp: FaceProof,
    index: int,
    source: ImageSource,
    selfie_face: Face,
    metric: Metric,
    threshold: float,
    band: tuple[float, float],
    policy: Policy,
    confirm_with: Detector | None,
) -> PhotoCheck:
    try:
        image = fp.load_image(source)
    except FaceProofError as exc:
        return PhotoCheck(index, PhotoStatus.UNREADABLE, error=exc.with_role("target"))
    faces = _faces_of(fp, image, policy, confirm_with)
    if not faces:
        return PhotoCheck(index, PhotoStatus.NO_FACE)
    raw = metric is Metric.EUCLIDEAN
    dist = distance_matrix(embeddings_of([selfie_face], raw=raw), embeddings_of(faces, raw=raw), metric)[0]
    sim = similarity_matrix(embeddings_of([selfie_face]), embeddings_of(faces))[0]
    status, idx, reasons = photo_status(faces, dist, threshold, band, policy)
    return PhotoCheck(
        index=index,
        status=status,
        faces=tuple(faces),
        similarities=tuple(float(v) for v in sim),
        distances=tuple(float(v) for v in dist),
        face_index=idx,
        main_face_index=main_face(faces),
        reasons=reasons,
    )


def check_profile(
    fp: FaceProof,
    selfie: ImageSource,
    photos: Sequence[ImageSource],
    *,
    policy: Policy | Mapping[str, Any] | str | Path | None = None,
    threshold: float | None = None,
    metric: str | Metric | None = None,
    confirm_with: Detector | None = None,
) -> ProfileCheck:
    """See :meth:`FaceProof.check_profile`."""
    pol = Policy.coerce(policy)
    items = _check_photos_arg(photos, pol)
    metric_ = fp.metric if metric is None else Metric.parse(metric)
    if metric_ is fp.metric and threshold is None:
        thr = fp.default_threshold
    else:
        thr = fp.threshold_for(metric_, threshold)
    band = pol.band(thr.value)
    timings: dict[str, float] = {}
    notes: list[str] = []
    start = time.perf_counter()
    selfie_confirm = confirm_with if pol.confirm in ("selfie", "all") else None
    photo_confirm = confirm_with if pol.confirm == "all" else None
    checked_selfie = _selfie(fp, selfie, pol, selfie_confirm, timings)
    checks: list[PhotoCheck] = []
    if checked_selfie.face is not None:
        t = time.perf_counter()
        for i, source in enumerate(items):
            checks.append(_photo(fp, i, source, checked_selfie.face, metric_, thr.value, band, pol, photo_confirm))
        timings["photos"] = _ms(t)
    elif items:
        notes.append("the profile photos were not checked: the selfie is not usable")
    other = consistent_other_person(checks, metric_, thr.value, pol.other_person_min_photos)
    verdict, reasons = decide(checked_selfie, checks, pol, other)
    timings["total"] = _ms(start)
    logger.info("check_profile: %s %s", verdict.value, [r.value for r in reasons])
    return ProfileCheck(
        verdict=verdict,
        reasons=reasons,
        selfie=checked_selfie,
        photos=tuple(checks),
        metric=metric_,
        threshold=thr,
        band=band,
        policy=pol,
        model=fp.recognizer.name,
        detector=fp.detector.name,
        other_person_photos=other,
        timings_ms=timings,
        notes=tuple(notes),
    )
