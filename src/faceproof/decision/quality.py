"""Face quality: how much a detected face can be trusted for recognition.

For every face, :func:`assess_face` measures

* **size**: the distance between the eye landmarks, in source pixels;
* **sharpness**: the standard deviation of the (lightly smoothed) Laplacian of the inner
  face divided by the standard deviation of its grey levels (contrast-normalised, so a
  dark face is not "blurry"), measured on the 112x112 aligned chip the recognition model
  sees: a small face up-sampled to the chip is soft too, as the model sees it;
* **exposure**: the mean grey level of the inner face (0-255) and the share of its pixels
  clipped to white;
* **head pose**: yaw, pitch and roll in degrees, estimated from the 5 landmarks
  (:func:`estimate_pose`);
* **detector confidence**: the detector's score;
* **confirmation**: whether a second, independent detector (dlib's HOG) also finds a
  face there (only when asked: it costs a second detection pass).

Each measure is turned into a factor in [0, 1] by a linear ramp between a *minimum*
(factor 0; below it the face gets an issue code) and a *good* value (factor 1); the
quality score is the product of the factors. All limits are data
(:class:`QualityThresholds`, defaults in ``data/policy.json``), measured on degraded
copies of LFW View 1 images (``bench/quality.py``, ``docs/policy.md``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from importlib import resources
from typing import Any

import numpy as np

from ..errors import InvalidArgument
from ..runtime.align import norm_crop
from ..runtime.detect import Detector, overlaps

# pose estimation is a runtime measurement; its names stay importable from here
from ..runtime.pose import MOUTH_DEPTH, NEUTRAL_MOUTH_DROP, NEUTRAL_NOSE_DROP, NOSE_DEPTH, estimate_pose, face_frame

# the value types live on the ground floor (faceproof.types); re-exported here
from ..types import BLOCKING_ISSUES, BBox, Face, FaceQuality, HeadPose, ImageArray, QualityIssue

__all__ = [
    "BLOCKING_ISSUES",
    "MOUTH_DEPTH",
    "NEUTRAL_MOUTH_DROP",
    "NEUTRAL_NOSE_DROP",
    "NOSE_DEPTH",
    "FaceQuality",
    "HeadPose",
    "QualityIssue",
    "QualityThresholds",
    "assess_face",
    "assess_faces",
    "confirmations",
    "estimate_pose",
    "exposure_of",
    "face_frame",
    "inter_eye_distance",
    "sharpness_of",
]


# ----------------------------------------------------------------------------- measures

#: The inner face of the 112x112 ArcFace chip: eyebrows to chin, cheek to cheek (rows, cols).
_INNER = (slice(36, 100), slice(24, 88))


def inter_eye_distance(face: Face) -> float:
    """Distance between the two eye landmarks in source pixels (0 without landmarks)."""
    if face.landmarks is None:
        return 0.0
    return float(np.linalg.norm(face.landmarks[1] - face.landmarks[0]))


def _inner_gray(image: ImageArray, landmarks: np.ndarray) -> np.ndarray:
    import cv2

    chip = norm_crop(image, landmarks, 112)
    gray = cv2.cvtColor(chip, cv2.COLOR_RGB2GRAY)
    return np.asarray(gray[_INNER], dtype=np.float32)


def sharpness_of(gray: np.ndarray) -> float:
    """Contrast-normalised high-frequency energy of a grey patch: the standard deviation of
    its Laplacian after a light Gaussian (sigma 0.8 px, which keeps 8-bit quantisation
    steps of a smooth, blurred face from reading as detail), over its grey-level standard
    deviation + 1. About 0.2-0.35 for sharp faces, under 0.1 for blurred ones; it falls
    monotonically with blur."""
    import cv2

    smooth = cv2.GaussianBlur(gray, (0, 0), 0.8)
    lap = cv2.Laplacian(smooth, cv2.CV_32F, ksize=1)
    return float(lap.std() / (float(gray.std()) + 1.0))


def exposure_of(gray: np.ndarray) -> tuple[float, float]:
    """(mean grey level 0-255, share of pixels at 250 or above) of a grey patch."""
    return float(gray.mean()), float((gray >= 250).mean())


# ----------------------------------------------------------------------------- thresholds


@dataclass(frozen=True)
class QualityThresholds:
    """Minimums (below: an issue code) and good values (factor 1) of each measure.

    Defaults and their measurements: ``docs/policy.md``. Angles in degrees, sizes in
    source pixels, brightness in grey levels 0-255.
    """

    min_inter_eye_px: float
    good_inter_eye_px: float
    min_sharpness: float
    good_sharpness: float
    min_brightness: float
    good_brightness: float
    max_brightness: float
    good_max_brightness: float
    max_clipped: float
    max_abs_yaw: float
    good_abs_yaw: float
    max_abs_pitch: float
    good_abs_pitch: float
    min_detector_score: float
    good_detector_score: float
    unconfirmed_factor: float

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise InvalidArgument(f"quality threshold {f.name} must be a finite number >= 0, got {v!r}")
        pairs = [
            ("min_inter_eye_px", "good_inter_eye_px"),
            ("min_sharpness", "good_sharpness"),
            ("min_brightness", "good_brightness"),
            ("good_brightness", "good_max_brightness"),
            ("good_max_brightness", "max_brightness"),
            ("good_abs_yaw", "max_abs_yaw"),
            ("good_abs_pitch", "max_abs_pitch"),
            ("min_detector_score", "good_detector_score"),
        ]
        for lo, hi in pairs:
            if getattr(self, lo) > getattr(self, hi):
                raise InvalidArgument(f"quality threshold {lo} must not exceed {hi}")
        if self.max_clipped > 1 or self.unconfirmed_factor > 1:
            raise InvalidArgument("max_clipped and unconfirmed_factor must be within [0, 1]")

    @classmethod
    def default(cls) -> QualityThresholds:
        """The built-in thresholds (``data/policy.json``, section ``quality``)."""
        doc = builtin_policy_doc()["quality"]
        return cls.from_dict({k: v for k, v in doc.items() if not k.startswith("_")})

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> QualityThresholds:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(doc) - known)
        if unknown:
            raise InvalidArgument(f"unknown quality thresholds {unknown}; known: {sorted(known)}")
        missing = sorted(known - set(doc))
        if missing:
            raise InvalidArgument(f"quality thresholds missing: {missing}")
        try:
            return cls(**{k: float(v) for k, v in doc.items()})
        except (TypeError, ValueError) as exc:
            raise InvalidArgument(f"quality thresholds must be numbers: {exc}") from None

    def to_dict(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def builtin_policy_doc() -> dict[str, Any]:
    """The built-in policy file ``data/policy.json`` (sections ``quality`` and ``profile``)."""
    text = resources.files("faceproof").joinpath("data/policy.json").read_text(encoding="utf-8")
    doc: dict[str, Any] = json.loads(text)
    return doc


def _ramp(value: float, zero_at: float, one_at: float) -> float:
    """0 at ``zero_at``, 1 at ``one_at``, linear between, clipped (either direction)."""
    if one_at == zero_at:
        return 1.0 if value >= one_at else 0.0
    return float(min(1.0, max(0.0, (value - zero_at) / (one_at - zero_at))))


def assess_face(
    image: ImageArray,
    face: Face,
    thresholds: QualityThresholds | None = None,
    *,
    confirmed: bool | None = None,
) -> FaceQuality:
    """Measure one face of ``image`` (it needs landmarks) and score it."""
    t = thresholds if thresholds is not None else QualityThresholds.default()
    if face.landmarks is None:
        raise InvalidArgument("quality needs the 5 landmarks of the face")
    ie = inter_eye_distance(face)
    gray = _inner_gray(image, face.landmarks)
    sharp = sharpness_of(gray)
    bright, clipped = exposure_of(gray)
    pose = estimate_pose(face.landmarks)
    if confirmed is None and face.confirmed_by:
        confirmed = True

    issues: list[QualityIssue] = []
    if ie < t.min_inter_eye_px:
        issues.append(QualityIssue.TOO_SMALL)
    if sharp < t.min_sharpness:
        issues.append(QualityIssue.TOO_BLURRY)
    if bright < t.min_brightness:
        issues.append(QualityIssue.TOO_DARK)
    if bright > t.max_brightness or clipped > t.max_clipped:
        issues.append(QualityIssue.OVEREXPOSED)
    if abs(pose.yaw) > t.max_abs_yaw or abs(pose.pitch) > t.max_abs_pitch:
        issues.append(QualityIssue.POSE_TOO_EXTREME)
    if face.score < t.min_detector_score:
        issues.append(QualityIssue.LOW_DETECTOR_CONFIDENCE)
    if confirmed is False:
        issues.append(QualityIssue.NOT_CONFIRMED)

    factors = {
        "size": _ramp(ie, t.min_inter_eye_px, t.good_inter_eye_px),
        "sharpness": _ramp(sharp, t.min_sharpness, t.good_sharpness),
        "exposure": min(
            _ramp(bright, t.min_brightness, t.good_brightness),
            _ramp(bright, t.max_brightness, t.good_max_brightness),
            _ramp(clipped, t.max_clipped, 0.0),
        ),
        "pose": min(
            _ramp(abs(pose.yaw), t.max_abs_yaw, t.good_abs_yaw),
            _ramp(abs(pose.pitch), t.max_abs_pitch, t.good_abs_pitch),
        ),
        "detector": _ramp(face.score, t.min_detector_score, t.good_detector_score),
        "confirmation": t.unconfirmed_factor if confirmed is False else 1.0,
    }
    score = float(np.prod(list(factors.values())))
    return FaceQuality(
        inter_eye_px=ie,
        sharpness=sharp,
        brightness=bright,
        clipped=clipped,
        pose=pose,
        detector_score=float(face.score),
        confirmed=confirmed,
        score=score,
        issues=tuple(issues),
        factors=factors,
    )


def confirmations(image: ImageArray, faces: Sequence[Face], detector: Detector, *, min_iou: float = 0.2) -> list[bool]:
    """For each face, whether ``detector`` finds an overlapping face (IoU >= ``min_iou``
    or a box containing the face's centre), the rule of the ``yunet+dlib`` cross-check."""
    if not faces:
        return []
    found: list[BBox] = [f.bbox for f in detector.detect(image)]
    return [any(overlaps(f.bbox, o, min_iou) for o in found) for f in faces]


def assess_faces(
    image: ImageArray,
    faces: Sequence[Face],
    thresholds: QualityThresholds | None = None,
    *,
    confirm_with: Detector | None = None,
) -> list[Face]:
    """Copies of ``faces`` carrying their :class:`FaceQuality` (``face.quality``).

    With ``confirm_with`` (e.g. ``DlibHogDetector(0.25, landmarks=False)``), that detector
    runs once on the image and each face records whether it was confirmed.
    """
    faces = list(faces)
    confirmed: list[bool | None] = [None] * len(faces)
    if confirm_with is not None and faces and not all(f.confirmed_by for f in faces):
        confirmed = list(confirmations(image, faces, confirm_with))
    return [
        f.evolve(quality=assess_face(image, f, thresholds, confirmed=c)) for f, c in zip(faces, confirmed, strict=True)
    ]
