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
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
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
#: The face-only crop is also compared when the context correlation reaches this (or the threshold).
FACE_CHECK_FROM = 0.5
#: ECC registration iterations (affine, on the 64x64 crops).
ECC_ITERATIONS = 30
#: Largest registration correction accepted: linear part (scale/rotation/shear) and shift in crop pixels.
MAX_WARP_LINEAR = 0.15
MAX_WARP_SHIFT = 6.0
_KERNEL = np.ones((7, 7), np.uint8)
_KERNEL3 = np.ones((3, 3), np.uint8)


@dataclass(frozen=True, slots=True)
class CopyThresholds:
    """The decision rule: a selfie face is a copy of a profile face when the band-pass
    correlation of their aligned, registered crops (best of straight and mirrored)
    reaches ``min_correlation``. Registration (the costly step) runs only for an
    orientation whose unregistered correlation reaches ``min_raw_correlation``; the
    default -1 registers every pair (on the tuning split a bar of 0.2 skipped 55 % of the
    registrations of genuine pairs but lost 0.7 points of copies: small faces' landmarks
    jitter too much for the unregistered look)."""

    min_correlation: float = 0.80
    min_raw_correlation: float = -1.0
    min_face_correlation: float = -1.0

    def __post_init__(self) -> None:
        for name in ("min_correlation", "min_raw_correlation", "min_face_correlation"):
            v = getattr(self, name)
            if not (math.isfinite(v) and -1.0 <= v <= 1.0):
                raise InvalidArgument(f"{name} must be within [-1, 1], got {v}")

    def to_dict(self) -> dict[str, float]:
        return {
            "min_correlation": self.min_correlation,
            "min_raw_correlation": self.min_raw_correlation,
            "min_face_correlation": self.min_face_correlation,
        }


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

    @classmethod
    def of(cls, image: ImageArray, landmarks: np.ndarray, padding: float) -> AlignedCrop:
        crop, mask = aligned_gray(image, landmarks, CROP_SIZE, padding)
        band = _bandpass(crop)
        return cls(
            crop=crop,
            mirrored=np.ascontiguousarray(crop[:, ::-1]),
            band=band,
            band_mirrored=np.ascontiguousarray(band[:, ::-1]),
            mask=mask,
            mask_mirrored=np.ascontiguousarray(mask[:, ::-1]),
        )


@dataclass(frozen=True, eq=False)
class FaceDescriptor:
    """What the copy check keeps of one face: two aligned crops — ``context`` (the face
    and its surroundings) and ``face`` (the face alone, for photos cropped so tightly
    that the context crop is mostly outside them) —, the landmark geometry and the
    embedding. Held in memory only."""

    context: AlignedCrop
    face: AlignedCrop
    geometry: F32
    embedding: F32 | None = None


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
    roi = np.ascontiguousarray(image[y0:y1, x0:x1])
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
    gray = (roi if roi.ndim == 2 else cv2.cvtColor(roi, cv2.COLOR_RGB2GRAY)).astype(np.float32)
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
        face=AlignedCrop.of(image, face.landmarks, FACE_PADDING),
        geometry=_geometry(face.landmarks),
        embedding=emb,
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


def _raw_correlation(selfie: AlignedCrop, band: F32, mask: NDArray[np.uint8]) -> float:
    """Band-pass NCC straight after the landmark alignment (no registration): the cheap
    first look that decides whether registration is worth running."""
    import cv2

    both = cv2.erode(np.bitwise_and(selfie.mask, mask), _KERNEL).astype(bool)
    return _ncc(selfie.band, band, both)


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


@dataclass(frozen=True, slots=True)
class CopyMatch:
    """One selfie face against one profile face."""

    photo_index: int
    face_index: int
    selfie_face_index: int
    correlation: float  # band-pass NCC of the aligned crops, best orientation (nan: too little overlap)
    raw_correlation: float  # the same before registration
    face_correlation: float  # the same on the face-only crop (computed when the first is high)
    level: str  # the crop compared: "context" (face and surroundings) or "face" (too little context shared)
    mirrored: bool  # the best orientation was the mirrored profile photo
    geometry: float  # landmark geometry difference in that orientation (inter-eye units)
    overlap: float  # share of the crop both photos show
    embedding_similarity: float | None
    copied: bool

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
    level = "context"
    for level in ("context", "face"):
        sel: AlignedCrop = getattr(selfie, level)
        pro: AlignedCrop = getattr(profile, level)
        for mirrored in (False, True):
            band = pro.band_mirrored if mirrored else pro.band
            mask = pro.mask_mirrored if mirrored else pro.mask
            raw = _raw_correlation(sel, band, mask)
            if math.isnan(raw):
                continue
            corr, overlap = raw, float(np.bitwise_and(sel.mask, mask).mean())
            if raw >= thr.min_raw_correlation:
                reg, reg_overlap = _registered_correlation(sel, pro.mirrored if mirrored else pro.crop, mask)
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
    # same clothes) differs there: expression, gaze, head angle
    face_corr = corr
    if level == "context" and not math.isnan(corr) and corr >= min(thr.min_correlation, FACE_CHECK_FROM):
        sel_f, pro_f = selfie.face, profile.face
        mask_f = pro_f.mask_mirrored if use_mirror else pro_f.mask
        band_f = pro_f.band_mirrored if use_mirror else pro_f.band
        raw_f = _raw_correlation(sel_f, band_f, mask_f)
        reg_f, _ = _registered_correlation(sel_f, pro_f.mirrored if use_mirror else pro_f.crop, mask_f)
        face_corr = max((v for v in (raw_f, reg_f) if not math.isnan(v)), default=float("nan"))
    g = _mirror_geometry(profile.geometry) if use_mirror else profile.geometry
    geom = float(np.abs(selfie.geometry - g).max())
    emb = None
    if selfie.embedding is not None and profile.embedding is not None:
        emb = float(np.dot(selfie.embedding, profile.embedding))
    copied = (
        (not math.isnan(corr))
        and corr >= thr.min_correlation
        and (math.isnan(face_corr) or face_corr >= thr.min_face_correlation)
    )
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
