"""The identity-check decision: one verification selfie against a member's profile photos.

:func:`check_profile` (``FaceProof.check_profile``) answers "is the member who took this
selfie the person shown in their profile photos?" with ``verified``, ``not_verified`` or
``needs_review`` and the reasons:

1. The selfie's subject is its dominant face (the tallest box); it must be usable and
   alone (faces much smaller than it are bystanders and ignored; the check is never made
   on a bystander); otherwise the selfie status says why (``no_face``,
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
or the caller's), so it follows recalibration. Every face pair (selfie-photo and, for the
other person, photo-photo) is judged at its own pose-aware threshold
(``Pipeline.pair_thresholds``) unless the caller gave one. Knobs: :class:`~faceproof.decision.policy.Policy`.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from ..authenticity.config import Authenticity
from ..errors import FaceProofError, ImageError, InvalidArgument
from ..index import MemberIndex, ModelId, SearchResult
from ..runtime.compare import Metric, face_distances, face_similarities
from ..runtime.pipeline import Pipeline
from ..types import Face, ImageArray
from .authenticity import AuthenticityRun
from .policy import Policy
from .quality import QualityIssue, assess_faces, inter_eye_distance
from .results import PhotoCheck, PhotoStatus, ProfileCheck, Reason, SelfieCheck, SelfieStatus, Verdict
from .subject import selfie_subject

if TYPE_CHECKING:
    from ..runtime.detect import Detector
    from ..runtime.io import ImageSource

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

#: the note of a check whose selfie was unusable (the service repeats it for its own failures)
PHOTOS_NOT_CHECKED = "the profile photos were not checked: the selfie is not usable"


#: Which selfie status a blocking quality issue of its face gives, in order of precedence.
_ISSUE_STATUS: tuple[tuple[QualityIssue, SelfieStatus], ...] = (
    (QualityIssue.TOO_SMALL, SelfieStatus.FACE_TOO_SMALL),
    (QualityIssue.TOO_BLURRY, SelfieStatus.TOO_BLURRY),
    (QualityIssue.TOO_DARK, SelfieStatus.TOO_DARK),
    (QualityIssue.OVEREXPOSED, SelfieStatus.OVEREXPOSED),
    (QualityIssue.POSE_TOO_EXTREME, SelfieStatus.POSE_TOO_EXTREME),
)


# ----------------------------------------------------------------------------- decision


def decide(
    selfie: SelfieCheck,
    photos: Sequence[PhotoCheck],
    policy: Policy,
    other_person: Sequence[int] = (),
    accounts: Sequence[Reason] = (),
) -> tuple[Verdict, tuple[Reason, ...]]:
    """The verdict and its reasons from the selfie and per-photo statuses, and what the
    member face index found (``accounts``: ``face_on_other_account`` /
    ``face_on_banned_account``), as pure logic. A face found on other accounts sends any
    check that could be made to review, with those reasons last."""
    verdict, reasons = _decide_photos(selfie, photos, policy, other_person)
    if not accounts or not selfie.usable:
        return verdict, reasons
    return Verdict.NEEDS_REVIEW, (*reasons, *(r for r in accounts if r not in reasons))


def account_reasons(found: SearchResult | None, banned: Sequence[str] = ("banned",)) -> tuple[Reason, ...]:
    """The reasons an index search gives: the selfie's face on other accounts (any
    candidate at or above the open-set threshold), on a banned one above all."""
    if found is None:
        return ()
    hits = [c for c in found.candidates if c.band != "below"]
    out: list[Reason] = []
    if any(c.status in banned for c in hits):
        out.append(Reason.FACE_ON_BANNED_ACCOUNT)
    if any(c.status not in banned for c in hits):
        out.append(Reason.FACE_ON_OTHER_ACCOUNT)
    return tuple(out)


def _decide_photos(
    selfie: SelfieCheck, photos: Sequence[PhotoCheck], policy: Policy, other_person: Sequence[int] = ()
) -> tuple[Verdict, tuple[Reason, ...]]:
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
    faces: Sequence[Face],
    distances: np.ndarray,
    threshold: float | np.ndarray,
    band: tuple[float, float] | tuple[np.ndarray, np.ndarray],
    policy: Policy,
) -> tuple[PhotoStatus, int | None, tuple[Reason, ...]]:
    """Status, matched (or closest) face index and reasons for one photo's embedded faces.
    ``threshold`` and ``band`` are one value for every face or one per face (pose-aware
    thresholds); the closest face is the one nearest below (or above) its own threshold."""
    if not faces:
        return PhotoStatus.NO_FACE, None, ()
    n = len(faces)
    thr = np.broadcast_to(np.asarray(threshold, np.float64), (n,))
    los = np.broadcast_to(np.asarray(band[0], np.float64), (n,))
    his = np.broadcast_to(np.asarray(band[1], np.float64), (n,))
    # compared on the distance's position within its band: equal thresholds keep the plain order
    rel = np.asarray(distances, np.float64) - thr
    usable = [i for i, f in enumerate(faces) if f.quality is None or f.quality.usable]
    unusable_match = [i for i in range(n) if i not in usable and distances[i] <= thr[i]]
    closest_unusable = min(unusable_match, key=lambda i: rel[i]) if unusable_match else None
    if not usable:
        if closest_unusable is not None:
            return PhotoStatus.UNCERTAIN, closest_unusable, (Reason.LOW_QUALITY_MATCH,)
        return PhotoStatus.NO_USABLE_FACE, None, ()
    best = min(usable, key=lambda i: float(rel[i]))
    d = float(distances[best])
    lo, hi = float(los[best]), float(his[best])
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


#: the thresholds of every pair of two face lists (N x M), e.g. ``Pipeline.pair_thresholds(...).values``
PairThresholdFn = Callable[[Sequence[Face], Sequence[Face]], np.ndarray]


def consistent_other_person(
    photos: Sequence[PhotoCheck], metric: Metric, threshold: float | PairThresholdFn, min_photos: int
) -> tuple[int, ...]:
    """Indices of the largest group of ``person_absent`` photos whose main faces all link up
    (each matches at least one other in the group at its threshold), if it has at least
    ``min_photos`` photos; else ``()``. ``threshold``: one for every pair of main faces, or
    a function giving every pair's (``check_profile``: the pose-aware ones)."""
    cands = [p for p in photos if p.status is PhotoStatus.PERSON_ABSENT and p.main_face_index is not None]
    if len(cands) < max(2, min_photos):
        return ()
    faces = [p.faces[p.main_face_index] for p in cands if p.main_face_index is not None]
    dist = face_distances(faces, faces, metric)
    limit = np.asarray(threshold(faces, faces) if callable(threshold) else np.full(dist.shape, threshold), float)
    if limit.shape != dist.shape:
        raise InvalidArgument(f"{limit.shape} thresholds for {dist.shape} pairs of main faces")
    parent = list(range(len(cands)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(cands)):
        for j in range(i + 1, len(cands)):
            if dist[i, j] <= limit[i, j]:
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


def _faces_of(pipeline: Pipeline, image: ImageArray, policy: Policy, confirm_with: Detector | None) -> list[Face]:
    """Detected faces (left to right, at most ``max_faces``) with quality and embedding."""
    faces = [f for f in pipeline.detect(image)[0] if f.landmarks is not None]
    faces = assess_faces(image, faces, policy.quality, confirm_with=confirm_with)
    return pipeline.embed(image, faces)


def _load(pipeline: Pipeline, source: ImageSource | ImageError) -> ImageArray:
    """The image, or the reading error a caller already met (e.g. the service, which reads
    request bodies itself) raised in its place."""
    if isinstance(source, ImageError):
        raise source
    return pipeline.load_image(source)


def _selfie(
    pipeline: Pipeline,
    source: ImageSource | ImageError,
    policy: Policy,
    confirm_with: Detector | None,
    timings: dict[str, float],
) -> tuple[SelfieCheck, ImageArray | None]:
    t = time.perf_counter()
    try:
        image = _load(pipeline, source)
    except FaceProofError as exc:
        return SelfieCheck(SelfieStatus.UNREADABLE, error=exc.with_role("origin")), None
    timings["selfie_decode"] = _ms(t)
    t = time.perf_counter()
    faces = _faces_of(pipeline, image, policy, confirm_with)
    timings["selfie_faces"] = _ms(t)
    if not faces:
        return SelfieCheck(SelfieStatus.NO_FACE), image
    subject, others = selfie_subject(faces, policy.background_face_ratio)
    if subject.quality is None or not subject.quality.usable:
        # the member is the selfie's dominant face: when it cannot be used the check is
        # impossible (ask for a new selfie); never fall back to a bystander
        issues = subject.quality.blocking if subject.quality is not None else ()
        for issue, status in _ISSUE_STATUS:
            if issue in issues:
                return SelfieCheck(status, faces=tuple(faces)), image
    elif any(f.quality is not None and f.quality.usable for f in others):
        return SelfieCheck(SelfieStatus.SEVERAL_FACES, faces=tuple(faces)), image
    else:
        return SelfieCheck(SelfieStatus.OK, face=subject, faces=tuple(faces)), image
    raise AssertionError("an unusable face has a blocking issue")  # pragma: no cover


def _photo(
    pipeline: Pipeline,
    index: int,
    source: ImageSource | ImageError,
    selfie_face: Face,
    metric: Metric,
    threshold: float | None,
    policy: Policy,
    confirm_with: Detector | None,
) -> tuple[PhotoCheck, ImageArray | None]:
    try:
        image = _load(pipeline, source)
    except FaceProofError as exc:
        return PhotoCheck(index, PhotoStatus.UNREADABLE, error=exc.with_role("target")), None
    faces = _faces_of(pipeline, image, policy, confirm_with)
    if not faces:
        return PhotoCheck(index, PhotoStatus.NO_FACE), image
    dist = face_distances([selfie_face], faces, metric)[0]
    sim = face_similarities([selfie_face], faces)[0]
    # each face's threshold against the selfie's (pose-aware), the band relative to it
    pair = pipeline.pair_thresholds([selfie_face], faces, metric, threshold)
    thr = pair.values[0].astype(np.float64)
    lows, highs = zip(*(policy.band(float(t)) for t in thr), strict=True)
    status, idx, reasons = photo_status(faces, dist, thr, (np.array(lows), np.array(highs)), policy)
    check = PhotoCheck(
        index=index,
        status=status,
        faces=tuple(faces),
        similarities=tuple(float(v) for v in sim),
        distances=tuple(float(v) for v in dist),
        face_index=idx,
        main_face_index=main_face(faces),
        reasons=reasons,
        thresholds=tuple(float(v) for v in thr),
        pose_bins=tuple(None if b < 0 else int(b) for b in pair.bins[0]),
    )
    return check, image


def check_profile(
    pipeline: Pipeline | SupportsPipeline,
    selfie: ImageSource | ImageError,
    photos: Sequence[ImageSource | ImageError],
    *,
    policy: Policy | Mapping[str, Any] | str | Path | None = None,
    threshold: float | None = None,
    metric: str | Metric | None = None,
    confirm_with: Detector | None = None,
    index: MemberIndex | None = None,
    member_id: str | None = None,
    enroll: bool = False,
    photo_id: str = "selfie",
    index_threshold: float | None = None,
    authenticity: Authenticity | bool | None = None,
    challenge: str | None = None,
) -> ProfileCheck:
    """Is the member who took ``selfie`` the person in their profile ``photos``? See
    :meth:`FaceProof.check_profile` and the module doc.

    With a member face ``index`` the selfie's face is also searched among the other
    accounts (``member_id``'s own excluded): candidates at or above the index's open-set
    threshold add ``face_on_other_account`` / ``face_on_banned_account`` and send the check
    to ``needs_review`` (the candidates are in ``result.index``). ``enroll=True`` then
    enrols the selfie's face under ``member_id`` (as ``photo_id``) when the verdict is
    ``verified``. ``index_threshold`` replaces the index's open-set threshold (calibrated
    for its target false-positive identification rate at its current size).

    ``pipeline`` is a :class:`~faceproof.Pipeline` (or anything holding one as
    ``.pipeline``, such as a :class:`~faceproof.FaceProof`). An image source may be an
    :class:`~faceproof.errors.ImageError` a caller already met reading it: that image is then
    ``unreadable`` in its place. ``confirm_with`` replaces the pipeline's own confirming
    detector (``Pipeline.confirmer()``), which is built only when the policy confirms.

    ``authenticity`` (:class:`~faceproof.authenticity.Authenticity`; default: the copy
    check only, ``False``: none) and ``challenge`` (a token from
    :func:`~faceproof.authenticity.new_challenge`) add the checks of docs/authenticity.md:
    a selfie that copies a profile photo the face model matched, a selfie already
    accepted (``authenticity.replays``), a refused token or a pose that does not follow
    the challenge make the verdict ``not_verified`` with ``selfie_copied_from_profile``,
    ``selfie_replayed``, ``challenge_failed``, ``challenge_expired`` or
    ``challenge_reused`` first among the reasons; the findings are in
    ``result.authenticity``. A ``verified`` selfie's fingerprint (never the image) is
    remembered in ``authenticity.replays`` under ``member_id``. A token without a
    configured secret and nonce ledger raises :class:`~faceproof.errors.InvalidArgument`.
    """
    pipe: Pipeline = pipeline if isinstance(pipeline, Pipeline) else pipeline.pipeline
    pol = Policy.coerce(policy)
    authentic = AuthenticityRun(Authenticity.coerce(authenticity), challenge)  # a token is spent here
    if enroll and (index is None or member_id is None):
        raise InvalidArgument("enroll=True needs an index and the member_id to enrol under")
    items = _check_photos_arg(photos, pol)
    metric_ = pipe.metric if metric is None else Metric.parse(metric)
    thr = pipe.threshold_for(metric_, threshold)
    band = pol.band(thr.value)
    timings: dict[str, float] = {}
    notes: list[str] = []
    start = time.perf_counter()
    if confirm_with is None and pol.confirm != "none":
        confirm_with = pipe.confirmer()
    selfie_confirm = confirm_with if pol.confirm in ("selfie", "all") else None
    photo_confirm = confirm_with if pol.confirm == "all" else None
    checked_selfie, selfie_image = _selfie(pipe, selfie, pol, selfie_confirm, timings)
    checks: list[PhotoCheck] = []
    authentic.selfie(selfie_image, checked_selfie.face)
    if checked_selfie.face is not None:
        t = time.perf_counter()
        for i, source in enumerate(items):
            check, image = _photo(pipe, i, source, checked_selfie.face, metric_, threshold, pol, photo_confirm)
            checks.append(check)
            authentic.photo(image, check)  # the copy check, while the photo is decoded
            del image
        timings["photos"] = _ms(t)
    elif items:
        notes.append(PHOTOS_NOT_CHECKED)
    authentic.finish(selfie, pipe.detector, timings)

    def pair_thresholds(a: Sequence[Face], b: Sequence[Face]) -> np.ndarray:
        # photo-photo pairs at their own (pose-aware) thresholds, as each photo against the selfie
        return pipe.pair_thresholds(a, b, metric_, threshold).values

    other = consistent_other_person(checks, metric_, pair_thresholds, pol.other_person_min_photos)
    found: SearchResult | None = None
    if index is not None and checked_selfie.face is not None:
        t = time.perf_counter()
        found = _search_index(pipe, index, checked_selfie.face, member_id, index_threshold)
        timings["index_search"] = _ms(t)
    verdict, reasons = decide(checked_selfie, checks, pol, other, account_reasons(found))
    verdict, reasons = authentic.decide(verdict, reasons)
    authentic.accepted(verdict, member_id)
    enrolled = 0
    if enroll and verdict is Verdict.VERIFIED and index is not None and checked_selfie.face is not None:
        assert member_id is not None  # checked above
        embedding = checked_selfie.face.embedding
        assert embedding is not None  # the selfie face was embedded
        enrolled = index.enroll(member_id, embedding[None, :], [photo_id], model=ModelId.from_client(pipe))
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
        model=pipe.recognizer.name,
        detector=pipe.detector.name,
        other_person_photos=other,
        timings_ms=timings,
        notes=tuple(notes),
        index=found,
        enrolled=enrolled,
        authenticity=authentic.report(),
    )


def _search_index(
    pipe: Pipeline, index: MemberIndex, face: Face, member_id: str | None, threshold: float | None
) -> SearchResult:
    embedding = face.embedding
    assert embedding is not None  # the selfie face was embedded
    exclude = () if member_id is None else (member_id,)
    return index.search(embedding, model=ModelId.from_client(pipe), exclude_members=exclude, threshold=threshold)


class SupportsPipeline(Protocol):
    """Anything that holds a pipeline (e.g. :class:`~faceproof.FaceProof`)."""

    @property
    def pipeline(self) -> Pipeline: ...
