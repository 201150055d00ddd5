"""Head pose from the five detector landmarks: yaw, pitch and roll in degrees
(:func:`estimate_pose`), how far the head is turned from frontal (:func:`turn_angle`, the
pose-aware thresholds' measure), and the face's frame (landmarks relative to the eye line,
:func:`face_frame`). A measurement of the runtime: the quality assessment, the selfie
challenge checks and pose-aware comparisons all read it."""

from __future__ import annotations

import math

import numpy as np

from ..errors import InvalidArgument
from ..types import HeadPose

__all__ = [
    "MOUTH_DEPTH",
    "NEUTRAL_MOUTH_DROP",
    "NEUTRAL_NOSE_DROP",
    "NOSE_DEPTH",
    "HeadPose",
    "estimate_pose",
    "face_frame",
    "turn_angle",
]


#: Geometry of the 5-landmark pose estimate, in units of the inter-eye distance of a
#: frontal face. Depths (towards the camera, relative to the eye centres) are
#: anthropometric approximations: the nose tip ~25 mm and the mouth corners ~8 mm in front
#: of the eyes for a ~63 mm inter-eye distance. The neutral drops (how far below the eye
#: line YuNet puts the nose tip and the mouth-corner midpoint) are the medians over the
#: 3,443 LFW View 1 dev-train images, which are mostly frontal (``bench/quality.py``
#: reprints them): pitch 0 means "as level as the typical LFW portrait".
NOSE_DEPTH = 0.40
MOUTH_DEPTH = 0.125
NEUTRAL_NOSE_DROP = 0.574
NEUTRAL_MOUTH_DROP = 1.014


def face_frame(landmarks: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Landmarks relative to the eye midpoint, rotated so the eye line is horizontal and
    scaled by the inter-eye distance; plus that distance and the eye line's angle
    (radians, image coordinates, y down)."""
    pts = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
    if not np.all(np.isfinite(pts)):
        raise InvalidArgument("landmarks must be finite")
    eye = pts[1] - pts[0]
    ie = float(np.hypot(eye[0], eye[1]))
    if ie <= 1e-9:
        raise InvalidArgument("landmarks are degenerate (the eyes coincide)")
    c, s = eye / ie
    rot = np.array([[c, s], [-s, c]])
    return (pts - pts[:2].mean(axis=0)) @ rot.T / ie, ie, math.atan2(float(eye[1]), float(eye[0]))


def estimate_pose(landmarks: np.ndarray) -> HeadPose:
    """Yaw, pitch and roll from 5 landmarks, closed form, weak perspective.

    The head is modelled as ``Rz(roll) @ Ry(yaw) @ Rx(pitch)`` applied to a generic face
    (eye centres at depth 0, nose tip ``NOSE_DEPTH`` and mouth corners ``MOUTH_DEPTH`` in
    front), seen by a weak-perspective camera. Under that model:

    * roll is the angle of the eye line;
    * in the roll-corrected frame the ratio r of the nose drop to the mouth drop (below
      the eye line) depends on pitch only: ``(n0 cos p - d sin p) / (m0 cos p - dm sin p)``,
      solved for ``tan p`` (n0, m0: the neutral drops);
    * the nose tip's sideways offset from the eye midpoint, in observed inter-eye
      distances, is ``tan(yaw) * (n0 sin p + d cos p)``.

    The model inverts exactly; real faces differ from the generic one and five detector
    points are noisy (1 px of landmark jitter on a 26 px inter-eye distance moves yaw by
    ~5 degrees), so this is an estimate: sign and order are reliable, which is what a
    quality gate needs.
    """
    q, _, angle = face_frame(landmarks)
    nose_drop = float(q[2, 1])
    mouth_drop = float(q[3:, 1].mean())
    if mouth_drop <= 1e-6:
        pitch = 90.0 if nose_drop <= NEUTRAL_NOSE_DROP else -90.0  # mouth at the eyes: degenerate
    else:
        r = nose_drop / mouth_drop
        pitch = math.degrees(math.atan2(NEUTRAL_NOSE_DROP - r * NEUTRAL_MOUTH_DROP, NOSE_DEPTH - r * MOUTH_DEPTH))
        pitch = max(-90.0, min(90.0, pitch))
    p = math.radians(pitch)
    depth = max(1e-3, NEUTRAL_NOSE_DROP * math.sin(p) + NOSE_DEPTH * math.cos(p))
    yaw = math.degrees(math.atan2(float(q[2, 0]), depth))
    return HeadPose(yaw=yaw, pitch=pitch, roll=-math.degrees(angle))


def turn_angle(landmarks: np.ndarray) -> float:
    """How far the head is turned away from the camera, unsigned degrees in [0, 90]: the
    mean of two cues of the five landmarks,

    * ``abs(yaw)`` of :func:`estimate_pose` (the nose tip's sideways offset), and
    * the foreshortening of the eye line: turned by ``a``, the inter-eye distance shrinks
      by ``cos a`` while the eyes-to-mouth drop does not, so the mouth drop measured in
      inter-eye distances grows to ``NEUTRAL_MOUTH_DROP / cos a``.

    On a profile the detector has to guess the far eye, and the nose offset alone reads
    a side view (CFP profiles) as little as 35-40 degrees, like the most turned LFW
    portraits; the foreshortening separates them better (``bench/pose_calibrate.py``
    prints both). Pitch also lengthens the drop, so this is an ordering, not a
    calibrated angle; the pose-aware thresholds bin the difference of two faces' turns.
    """
    q, _, _ = face_frame(landmarks)
    mouth_drop = float(q[3:, 1].mean())
    if mouth_drop <= 1e-6:
        fore = 90.0
    else:
        fore = math.degrees(math.acos(min(1.0, NEUTRAL_MOUTH_DROP / mouth_drop)))
    return 0.5 * (abs(estimate_pose(landmarks).yaw) + fore)
