"""Does the selfie prove anything? Copies of profile photos, replays and challenge-response.

* :mod:`.copies`: is the selfie a near-copy of one of the profile photos?
* :mod:`.fingerprint`: a robust hash of a selfie (never the image) to refuse replays.
* :mod:`.challenge`: signed, single-use, expiring challenges and the pose checks.
* :mod:`.attacks`: the copy attacks the measurements and tests generate.

Importing this package loads nothing heavy (OpenCV and Pillow load on first use).
What these checks stop and what they do not: docs/authenticity.md.
"""

from __future__ import annotations

from .challenge import (
    Challenge,
    Instruction,
    NonceLedger,
    PoseCheck,
    PoseThresholds,
    check_pose,
    new_challenge,
    redeem_challenge,
    upright_landmarks,
    verify_challenge,
)
from .config import Authenticity, AuthenticityCheck, ChallengeOutcome
from .copies import CopyCheck, CopyMatch, CopyThresholds, FaceDescriptor, describe_face, find_copy
from .errors import ChallengeError, ChallengeExpired, ChallengeInvalid, ChallengeReused
from .fingerprint import SelfieFingerprint, selfie_fingerprint
from .stores import ReplayMatch, ReplayStore, StoreNonceLedger

__all__ = [
    "Authenticity",
    "AuthenticityCheck",
    "Challenge",
    "ChallengeError",
    "ChallengeExpired",
    "ChallengeInvalid",
    "ChallengeOutcome",
    "ChallengeReused",
    "CopyCheck",
    "CopyMatch",
    "CopyThresholds",
    "FaceDescriptor",
    "Instruction",
    "NonceLedger",
    "PoseCheck",
    "PoseThresholds",
    "ReplayMatch",
    "ReplayStore",
    "SelfieFingerprint",
    "StoreNonceLedger",
    "check_pose",
    "describe_face",
    "find_copy",
    "new_challenge",
    "redeem_challenge",
    "selfie_fingerprint",
    "upright_landmarks",
    "verify_challenge",
]
