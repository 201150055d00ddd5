"""Is the selfie a near-copy of one of the profile photos?

A catfish who owns (or stole) the profile photos can submit one of them, edited, as the
verification selfie; the face model then rightly says "same person". This module
decides whether the selfie *is* a profile photo, whatever was done to it.

How: every face (selfie and profile) is aligned on its five landmarks into a small grey
crop that holds the face **and its surroundings** (hair, clothes, background), the same
way for both. After alignment a copy lines up with its original pixel for pixel, whatever
the scale, crop, rotation, border or screen around it; a different photo of the same
person does not — the expression, the lighting, the hair and above all the background
move. Both crops are band-pass filtered (difference of Gaussians: brightness and
contrast are removed by the normalisation, noise, moire and JPEG blocks mostly fall
outside the band), the profile crop is registered onto the selfie's by a small affine
ECC warp (landmarks jitter by a few per cent between two detections of one photo), and
the two are compared by normalised cross-correlation over the pixels both photos
actually show; the profile crop is also compared mirrored. Photos cropped so tightly
that the two share too little of that crop are compared on a face-only crop. The
landmark geometry and the embedding similarity are reported, not used (measured: the
jitter is as large as the difference between two photos). Rule and thresholds come from
measurements (``bench/copy_attacks.py``, ``docs/authenticity.md``).

The descriptors hold a 64x64 grey crop in memory only; nothing is written anywhere and
nothing image-like is logged.

Why this module is long: the crop, the filter, the first look, the registration and the
rule are one measured method — split apart, each piece would be tuned without the others.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import InvalidArgument
from ..runtime.align import estimate_similarity, template_for
from ..runtime.pose import face_frame
from ..types import Face, ImageArray

__all__ = [
    "AlignedCrop",
    "CopyCheck",
    "CopyMatch",
    "CopyThresholds",
    "FaceDescriptor",
    "aligned_gray",
    "compare_descriptors",
    "describe_face",
    "find_copy",
    "is_copy",
]

logger = logging.getLogger(__name__)

F32 = NDArray[np.float32]

#: The aligned crop: side in pixels and the margin around the 112-template square.
CROP_SIZE = 64
CROP_PADDING = 0.3
#: The face-only crop's margin (used when the photos share too little of the context crop).
FACE_PADDING = 0.1
#: Difference-of-Gaussians band in crop pixels (the inter-eye distance is ~8 px).
DOG_SIGMAS = (0.8, 3.0)
#: Pixels both crops must show (share of the crop) for the comparison to mean anything.
MIN_OVERLAP = 0.12
#: The cheap first look (before any registration): the crops area-averaged to this side
#: and high-passed (minus a Gaussian blur of this sigma, in pixels of that small crop).
#: Landmark jitter of a few 64-px pixels is under one pixel there.
PREFILTER_SIZE = 16
PREFILTER_SIGMA = 3.0
#: ECC registration iterations (affine, on the 64x64 crops; 12 caught as many tune copies as 30).
ECC_ITERATIONS = 12
#: Largest registration correction accepted: linear part (scale/rotation/shear) and shift in crop pixels.
MAX_WARP_LINEAR = 0.15
MAX_WARP_SHIFT = 6.0
_KERNEL = np.ones((7, 7), np.uint8)
_KERNEL3 = np.ones((3, 3), np.uint8)


@dataclass(frozen=True, slots=True)
class CopyThresholds:
    """The decision rule (chosen on the tune split, docs/authenticity.md). A selfie face
    is a copy of a profile face when the band-pass correlation of their aligned,
    registered context crops (face and surroundings, best of straight and mirrored)
    reaches ``min_correlation`` **and** the face-only crops agree too
    (``min_face_correlation``: a burst shot of one scene shares the backdrop but not the
    expression) — or when the context correlation reaches ``face_only_from`` and the
    face-only crops agree as closely as ``min_face_only_correlation`` (a copy whose
    surroundings were spoilt: a re-shot screen, a chain of edits on a small photo).
    Photos sharing too little of the context crop (tight head crops) are compared on the
    face-only crop against ``min_correlation``.

    Registration (the costly step) runs only for an orientation whose cheap first look
    (the 16x16 high-pass correlation, robust to landmark jitter) reaches
    ``min_prefilter`` and whose unregistered correlation reaches
    ``min_raw_correlation`` (default -1: no bar; on the tuning split a raw bar of 0.2
    lost 0.7 points of copies: small faces' landmarks jitter too much for it). A first
    look below ``sure_prefilter`` is not enough on its own for the straight
    orientation of the context crop: it is then registered only when its unregistered
    correlation reaches ``min_unsure_raw`` (on the tuning split: 15 % fewer genuine
    registrations, no copy lost; a high-resolution frontal portrait of the same person, e.g. the
    licensed obama1/obama3, sits in that band; ``sure_prefilter=-1`` is the first look
    alone, as before).
    ``CopyThresholds.previous()`` is the rule before the face-crop condition and the
    first look (every pair registered, face crop ignored)."""

    min_correlation: float = 0.80
    min_raw_correlation: float = -1.0
    min_face_correlation: float = 0.80
    face_only_from: float = 0.50
    min_face_only_correlation: float = 0.90
    min_prefilter: float = 0.30
    sure_prefilter: float = 0.45
    min_unsure_raw: float = 0.25

    def __post_init__(self) -> None:
        for name in self.__slots__:
            v = getattr(self, name)
            if not (math.isfinite(v) and -1.0 <= v <= 1.0):
                raise InvalidArgument(f"{name} must be within [-1, 1], got {v}")

    @classmethod
    def previous(cls) -> CopyThresholds:
        """The rule every number before the face-crop condition was measured with."""
        return cls(min_face_correlation=-1.0, face_only_from=1.0, min_face_only_correlation=1.0, min_prefilter=-1.0)

    def to_dict(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(frozen=True, eq=False)
class AlignedCrop:
    """One aligned grey crop of a face, band-passed, with its mirror image and the mask
    of pixels that come from the photo. Held in memory only."""

    crop: F32
    mirrored: F32
    band: F32
    band_mirrored: F32
    mask: NDArray[np.uint8]
    mask_mirrored: NDArray[np.uint8]
    small: F32  # the cheap first look: PREFILTER_SIZE square, high-passed
    small_mirrored: F32

    @classmethod
    def of(cls, image: ImageArray, landmarks: np.ndarray, padding: float) -> AlignedCrop:
        crop, mask = aligned_gray(image, landmarks, CROP_SIZE, padding)
        band = _bandpass(crop)
        small = _small(crop)
        return cls(
            crop=crop,
            mirrored=np.ascontiguousarray(crop[:, ::-1]),
            band=band,
            band_mirrored=np.ascontiguousarray(band[:, ::-1]),
            mask=mask,
            mask_mirrored=np.ascontiguousarray(mask[:, ::-1]),
            small=small,
            small_mirrored=np.ascontiguousarray(small[:, ::-1]),
        )


class FaceDescriptor:
    """What the copy check keeps of one face: two aligned crops — ``context`` (the face
    and its surroundings) and ``face`` (the face alone: for photos cropped so tightly
    that the context crop is mostly outside them, and to confirm a likely copy) —, the
    landmark geometry and the embedding. The face crop is cut on first use (most pairs
    never need it); until then the descriptor holds a reference to the image. Held in
    memory only."""

    __slots__ = ("_face", "_image", "_landmarks", "context", "embedding", "geometry")

    def __init__(
        self,
        context: AlignedCrop,
        face: AlignedCrop | None,
        geometry: F32,
        embedding: F32 | None = None,
        *,
        image: ImageArray | None = None,
        landmarks: np.ndarray | None = None,
    ) -> None:
        if face is None and (image is None or landmarks is None):
            raise InvalidArgument("a face descriptor needs its face crop or the image and landmarks to cut it")
        self.context = context
        self.geometry = geometry
        self.embedding = embedding
        self._face = face
        self._image = None if face is not None else image
        self._landmarks = None if face is not None else landmarks

    @property
    def face(self) -> AlignedCrop:
        if self._face is None:
            assert self._image is not None and self._landmarks is not None
            self._face = AlignedCrop.of(self._image, self._landmarks, FACE_PADDING)
            self._image = self._landmarks = None  # the pixels are not kept once cut
        return self._face


def _geometry(landmarks: np.ndarray) -> F32:
    """The five points relative to the eye midpoint, eye line horizontal, inter-eye units."""
    frame, _, _ = face_frame(landmarks)
    return frame.astype(np.float32)


def _mirror_geometry(g: F32) -> F32:
    """The geometry of the mirrored face: x negated, left and right swapped."""
    m = g.copy()
    m[:, 0] = -m[:, 0]
    return m[[1, 0, 2, 4, 3]]


def _bandpass(gray: F32) -> F32:
    import cv2

    lo = cv2.GaussianBlur(gray, (0, 0), DOG_SIGMAS[0])
    hi = cv2.GaussianBlur(gray, (0, 0), DOG_SIGMAS[1])
    return np.asarray(lo - hi, dtype=np.float32)


def _small(gray: F32) -> F32:
    """The crop area-averaged to PREFILTER_SIZE and high-passed: the cheap first look."""
    import cv2

    s = cv2.resize(gray, (PREFILTER_SIZE, PREFILTER_SIZE), interpolation=cv2.INTER_AREA)
    return np.asarray(s - cv2.GaussianBlur(s, (0, 0), PREFILTER_SIGMA), dtype=np.float32)


def aligned_gray(
    image: ImageArray, landmarks: np.ndarray, size: int = CROP_SIZE, padding: float = CROP_PADDING
) -> tuple[F32, NDArray[np.uint8]]:
    """The aligned grey crop and its mask (1 where the crop shows the photo). Only the
    region of the photo under the crop is converted and, when the crop shrinks it by
    more than 2x, first reduced by an integer factor with area averaging (no aliasing,
    little work)."""
    import cv2

    matrix = estimate_similarity(landmarks, template_for(size, padding)).astype(np.float64)
    h, w = image.shape[:2]
    inv = cv2.invertAffineTransform(matrix)
    corners = np.array([[0, 0, 1], [size, 0, 1], [0, size, 1], [size, size, 1]], dtype=np.float64)
    pts = corners @ inv.T
    x0 = max(0, math.floor(pts[:, 0].min()) - 2)
    y0 = max(0, math.floor(pts[:, 1].min()) - 2)
    x1 = min(w, math.ceil(pts[:, 0].max()) + 2)
    y1 = min(h, math.ceil(pts[:, 1].max()) + 2)
    if x1 - x0 < 2 or y1 - y0 < 2:
        raise InvalidArgument("the face lies outside the image")
    roi = image[y0:y1, x0:x1]
    # grey first: the reduction below then averages one channel, not three
    roi = np.ascontiguousarray(roi) if roi.ndim == 2 else np.asarray(cv2.cvtColor(roi, cv2.COLOR_RGB2GRAY))
    m = matrix.copy()
    m[:, 2] += m[:, :2] @ np.array([x0, y0], dtype=np.float64)  # ROI coordinates
    scale = math.hypot(float(m[0, 0]), float(m[0, 1]))
    k = int(0.5 / scale) if scale > 0 else 1
    if k >= 2:
        # area-average k x k blocks (OpenCV's fast integer path), then warp at a ratio >= 0.5
        hh, ww = (roi.shape[0] // k) * k, (roi.shape[1] // k) * k
        if hh >= k and ww >= k:
            roi = np.asarray(
                cv2.resize(roi[:hh, :ww], (ww // k, hh // k), interpolation=cv2.INTER_AREA), dtype=np.uint8
            )
            m[:, 2] += m[:, :2] @ np.full(2, (k - 1) / 2.0)  # block u's centre is k*u + (k-1)/2
            m[:, :2] *= k
    gray = roi.astype(np.float32)
    crop = cv2.warpAffine(gray, m, (size, size), flags=cv2.INTER_LINEAR, borderValue=0.0)
    ones = np.ones(gray.shape[:2], dtype=np.uint8)
    mask = cv2.warpAffine(ones, m, (size, size), flags=cv2.INTER_NEAREST, borderValue=0)
    return np.asarray(crop, dtype=np.float32), np.asarray(mask, dtype=np.uint8)


def describe_face(image: ImageArray, face: Face) -> FaceDescriptor:
    """The copy-check descriptor of ``face`` in ``image`` (RGB uint8). Needs landmarks."""
    if face.landmarks is None:
        raise InvalidArgument("the copy check needs the face's landmarks")
    emb = None if face.embedding is None else np.asarray(face.embedding, dtype=np.float32)
    return FaceDescriptor(
        context=AlignedCrop.of(image, face.landmarks, CROP_PADDING),
        face=None,
        geometry=_geometry(face.landmarks),
        embedding=emb,
        image=image,
        landmarks=face.landmarks,
    )


def _ncc(a: F32, b: F32, mask: NDArray[np.bool_]) -> float:
    n = int(mask.sum())
    if n < MIN_OVERLAP * mask.size:
        return float("nan")
    x = a[mask].astype(np.float64)
    y = b[mask].astype(np.float64)
    x -= x.mean()
    y -= y.mean()
    den = math.sqrt(float((x * x).sum()) * float((y * y).sum()))
    return float((x * y).sum() / den) if den > 1e-9 else float("nan")


def _shared(selfie: AlignedCrop, mask: NDArray[np.uint8]) -> NDArray[np.bool_]:
    """The pixels both crops show, eroded (edges and their filter ringing left out)."""
    import cv2

    return np.asarray(cv2.erode(np.bitwise_and(selfie.mask, mask), _KERNEL), dtype=bool)


def _raw_correlation(selfie: AlignedCrop, band: F32, mask: NDArray[np.uint8]) -> float:
    """Band-pass NCC straight after the landmark alignment (no registration)."""
    return _ncc(selfie.band, band, _shared(selfie, mask))


def _prefilter(selfie: AlignedCrop, small: F32, both: NDArray[np.bool_]) -> float:
    """The cheap first look: NCC of the 16x16 high-passed crops over the small pixels
    wholly inside the shared area (nan when too few). Jitter-tolerant: a copy scores high
    before any registration; most different photos score low and skip it."""
    import cv2

    size = (PREFILTER_SIZE, PREFILTER_SIZE)
    inside = np.asarray(cv2.resize(both.astype(np.float32), size, interpolation=cv2.INTER_AREA), dtype=np.float32)
    return _ncc(selfie.small, small, inside > 0.99)


def _registered_correlation(selfie: AlignedCrop, crop: F32, mask: NDArray[np.uint8]) -> tuple[float, float]:
    """Band-pass NCC of the selfie crop and a profile crop after registering the profile
    crop onto the selfie's with an affine ECC warp (landmarks jitter by a few per cent
    of the inter-eye distance between detections of the same photo; the warp takes the
    rest out). Returns (correlation, overlap share)."""
    import cv2

    warp = np.eye(2, 3, dtype=np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, ECC_ITERATIONS, 1e-4)
    try:
        # ECC masks only its input: give it the pixels both crops show (the selfie's
        # outside-the-photo area, e.g. a crop's edge, would otherwise pull the warp)
        valid = cv2.erode(np.bitwise_and(selfie.mask, mask), _KERNEL3)
        _, found = cv2.findTransformECC(selfie.crop, crop, warp, cv2.MOTION_AFFINE, criteria, valid, 3)
        # a copy needs a small correction; a large one is the registration running off
        if (
            float(np.abs(found[:, :2] - np.eye(2)).max()) <= MAX_WARP_LINEAR
            and float(np.abs(found[:, 2]).max()) <= MAX_WARP_SHIFT
        ):
            warp = np.asarray(found, dtype=np.float32)
    except cv2.error:
        pass
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    moved = cv2.warpAffine(crop, warp, (CROP_SIZE, CROP_SIZE), flags=flags, borderValue=0.0)
    moved_mask = cv2.warpAffine(
        mask, warp, (CROP_SIZE, CROP_SIZE), flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP, borderValue=0
    )
    both = cv2.erode(np.bitwise_and(selfie.mask, np.asarray(moved_mask, dtype=np.uint8)), _KERNEL).astype(bool)
    b = _bandpass(np.asarray(moved, dtype=np.float32))
    return _ncc(selfie.band, b, both), float(both.mean())


def _worth_registering(thr: CopyThresholds, raw: float, first_look: Callable[[], float], gated: bool) -> bool:
    """Should an orientation be registered? Its first look must reach ``min_prefilter``
    and, for a ``gated`` comparison (the straight orientation of the context crop) below
    ``sure_prefilter``, its unregistered correlation ``min_unsure_raw``. Not gated: the
    mirrored orientation (the detector places a mirrored photo's landmarks differently,
    so a mirrored copy's unregistered correlation is no evidence) and the face-only crop
    of tightly cropped photos (twice the zoom, twice the jitter): measured, both lost
    copies under the gate (docs/authenticity.md)."""
    if thr.min_prefilter <= -1.0:
        return True
    look = first_look()
    if look < thr.min_prefilter:
        return False
    return not gated or look >= thr.sure_prefilter or raw >= thr.min_unsure_raw


@dataclass(frozen=True, slots=True)
class CopyMatch:
    """One selfie face against one profile face."""

    photo_index: int
    face_index: int
    selfie_face_index: int
    correlation: float  # band-pass NCC of the aligned crops, best orientation (nan: too little overlap)
    raw_correlation: float  # the same before registration
    face_correlation: float  # the same on the face-only crop (nan: not needed, the first is low)
    level: str  # the crop compared: "context" (face and surroundings) or "face" (too little context shared)
    mirrored: bool  # the best orientation was the mirrored profile photo
    geometry: float  # landmark geometry difference in that orientation (inter-eye units)
    overlap: float  # share of the crop both photos show
    embedding_similarity: float | None
    copied: bool
    registrations: int = 0  # ECC registrations run (the costly step; the first look skips most)

    def to_dict(self) -> dict[str, Any]:
        return {
            "photo_index": self.photo_index,
            "face_index": self.face_index,
            "selfie_face_index": self.selfie_face_index,
            "correlation": None if math.isnan(self.correlation) else round(self.correlation, 4),
            "raw_correlation": None if math.isnan(self.raw_correlation) else round(self.raw_correlation, 4),
            "face_correlation": None if math.isnan(self.face_correlation) else round(self.face_correlation, 4),
            "level": self.level,
            "mirrored": self.mirrored,
            "geometry": round(self.geometry, 4),
            "overlap": round(self.overlap, 3),
            "embedding_similarity": None if self.embedding_similarity is None else round(self.embedding_similarity, 4),
            "copied": self.copied,
            "registrations": self.registrations,
        }


def compare_descriptors(
    selfie: FaceDescriptor,
    profile: FaceDescriptor,
    thresholds: CopyThresholds | None = None,
    *,
    photo_index: int = 0,
    face_index: int = 0,
    selfie_face_index: int = 0,
) -> CopyMatch:
    """The copy measures of one selfie face against one profile face, and the verdict."""
    thr = thresholds or CopyThresholds()
    results: list[tuple[float, float, float, bool]] = []  # (correlation, raw, overlap, mirrored)
    registrations = 0
    level = "context"
    for level in ("context", "face"):
        sel: AlignedCrop = getattr(selfie, level)
        pro: AlignedCrop = getattr(profile, level)
        for mirrored in (False, True):
            band = pro.band_mirrored if mirrored else pro.band
            mask = pro.mask_mirrored if mirrored else pro.mask
            both = _shared(sel, mask)
            raw = _ncc(sel.band, band, both)
            if math.isnan(raw):
                continue
            corr, overlap = raw, float(np.bitwise_and(sel.mask, mask).mean())
            if raw >= thr.min_raw_correlation and _worth_registering(
                thr,
                raw,
                partial(_prefilter, sel, pro.small_mirrored if mirrored else pro.small, both),
                gated=level == "context" and not mirrored,
            ):
                reg, reg_overlap = _registered_correlation(sel, pro.mirrored if mirrored else pro.crop, mask)
                registrations += 1
                if not math.isnan(reg) and reg > corr:  # the better of the two alignments
                    corr, overlap = reg, reg_overlap
            results.append((corr, raw, overlap, mirrored))
        if results:  # the context crop decides when the two photos share enough of it
            break
    if results:
        corr, raw, overlap, use_mirror = max(results)
    else:
        corr, raw, overlap, use_mirror = float("nan"), float("nan"), 0.0, False
    # a copy agrees on the face itself too; a burst shot of one scene (same backdrop,
    # same clothes) differs there: expression, gaze, head angle. Computed (in the best
    # orientation) whenever it can change the verdict: the context correlation reaches
    # min_correlation or face_only_from
    face_corr = corr if level == "face" else float("nan")
    if level == "context" and not math.isnan(corr) and corr >= min(thr.min_correlation, thr.face_only_from):
        sel_f, pro_f = selfie.face, profile.face
        mask_f = pro_f.mask_mirrored if use_mirror else pro_f.mask
        band_f = pro_f.band_mirrored if use_mirror else pro_f.band
        raw_f = _raw_correlation(sel_f, band_f, mask_f)
        reg_f, _ = _registered_correlation(sel_f, pro_f.mirrored if use_mirror else pro_f.crop, mask_f)
        registrations += 1
        face_corr = max((v for v in (raw_f, reg_f) if not math.isnan(v)), default=float("nan"))
    g = _mirror_geometry(profile.geometry) if use_mirror else profile.geometry
    geom = float(np.abs(selfie.geometry - g).max())
    emb = None
    if selfie.embedding is not None and profile.embedding is not None:
        emb = float(np.dot(selfie.embedding, profile.embedding))
    copied = is_copy(corr, face_corr, level, thr)
    return CopyMatch(
        photo_index=photo_index,
        face_index=face_index,
        selfie_face_index=selfie_face_index,
        correlation=corr,
        raw_correlation=raw,
        face_correlation=face_corr,
        level=level,
        mirrored=use_mirror,
        geometry=geom,
        overlap=overlap,
        embedding_similarity=emb,
        copied=copied,
        registrations=registrations,
    )


def is_copy(correlation: float, face_correlation: float, level: str, thresholds: CopyThresholds) -> bool:
    """The rule of :class:`CopyThresholds` on one comparison's measures (nan: not
    measured; a face correlation that cannot be measured does not veto a copy)."""
    thr = thresholds
    if math.isnan(correlation):
        return False
    if level == "face":
        return correlation >= thr.min_correlation
    face_ok = math.isnan(face_correlation) or face_correlation >= thr.min_face_correlation
    if correlation >= thr.min_correlation and face_ok:
        return True
    return (
        correlation >= thr.face_only_from
        and not math.isnan(face_correlation)
        and face_correlation >= thr.min_face_only_correlation
    )


@dataclass(frozen=True)
class CopyCheck:
    """The answer for one selfie against a whole profile: ``copied`` and the match that
    decided it (or came closest), plus every comparison made."""

    copied: bool
    best: CopyMatch | None
    matches: tuple[CopyMatch, ...] = field(default_factory=tuple)
    thresholds: CopyThresholds = field(default_factory=CopyThresholds)

    def to_dict(self) -> dict[str, Any]:
        return {
            "copied": self.copied,
            "best": None if self.best is None else self.best.to_dict(),
            "thresholds": self.thresholds.to_dict(),
        }


def _key(m: CopyMatch) -> tuple[bool, float]:
    return (m.copied, -math.inf if math.isnan(m.correlation) else m.correlation)


def find_copy(
    selfie_image: ImageArray,
    selfie_faces: Sequence[Face],
    photos: Sequence[tuple[ImageArray, Sequence[Face]]],
    *,
    thresholds: CopyThresholds | None = None,
) -> CopyCheck:
    """Is the selfie a near-copy of any profile photo?

    ``selfie_faces``: the selfie's faces to check (normally its one usable face);
    ``photos``: each profile photo with its detected faces. Faces without landmarks are
    skipped. Every selfie face is compared with every profile face.
    """
    thr = thresholds or CopyThresholds()
    selfie_desc = [(i, describe_face(selfie_image, f)) for i, f in enumerate(selfie_faces) if f.landmarks is not None]
    matches: list[CopyMatch] = []
    for p, (image, faces) in enumerate(photos):
        for j, face in enumerate(faces):
            if face.landmarks is None:
                continue
            desc = describe_face(image, face)
            for i, sd in selfie_desc:
                matches.append(compare_descriptors(sd, desc, thr, photo_index=p, face_index=j, selfie_face_index=i))
    best = max(matches, key=_key) if matches else None
    copied = best is not None and best.copied
    if copied and best is not None:
        logger.info(
            "selfie is a copy of profile photo %d (face %d): correlation %.3f, mirrored %s",
            best.photo_index,
            best.face_index,
            best.correlation,
            best.mirrored,
        )
    return CopyCheck(copied=copied, best=best, matches=tuple(matches), thresholds=thr)
