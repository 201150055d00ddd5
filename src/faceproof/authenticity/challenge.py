"""Challenge-response: a signed, single-use, expiring instruction the selfie must follow.

Flow: the app asks for a challenge (:func:`new_challenge`), shows its instruction ("turn
your head to your left"), takes the selfie and sends it with the token. The service
redeems the token (:func:`redeem_challenge`: signature, expiry, nonce not spent) and
checks the selfie's head pose against the instruction (:func:`check_pose`).

Token: ``fp1.<payload>.<mac>``, both parts unpadded base64url; the payload is compact
JSON ``{"n": nonce, "iat": issued, "exp": expires, "ins": instruction}`` (integer Unix
seconds) and the MAC is HMAC-SHA256 under the server secret over ``fp1.<payload>``.
Any replica holding the secret verifies any replica's token with no shared state; only
the spent nonces need a shared store (:class:`NonceLedger`).

"Left" and "right" are **the member's own** left and right, and the selfie is judged
**as the camera recorded it, not mirrored** (as another person facing the member sees
them; the preview on a phone is usually mirrored, the saved photo usually is not: the
capture client must send the unmirrored image). In that image, a member turning their
head to their left points the nose towards the image's right (estimated yaw > 0 in
:func:`faceproof.quality.estimate_pose`), and tilting it towards their left shoulder
turns the face clockwise in the image (estimated roll < 0). A client that sends mirrored
selfies must swap left and right (``mirrored=True``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import math
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from ..errors import InvalidArgument
from ..runtime.pose import HeadPose, estimate_pose
from ..types import Face, FloatArray, ImageArray
from .errors import ChallengeExpired, ChallengeInvalid, ChallengeReused

if TYPE_CHECKING:
    from ..runtime.detect import Detector

__all__ = [
    "DEFAULT_TTL",
    "Challenge",
    "Instruction",
    "NonceLedger",
    "PoseCheck",
    "PoseThresholds",
    "check_pose",
    "new_challenge",
    "redeem_challenge",
    "upright_landmarks",
    "verify_challenge",
]

logger = logging.getLogger(__name__)

VERSION = "fp1"
#: Seconds a challenge stays valid by default: time to read it, pose and upload.
DEFAULT_TTL = 120.0
MAX_TTL = 3600.0
#: Tolerated clock difference between replicas (a token "issued" this far in the future is accepted).
CLOCK_LEEWAY = 30.0
MIN_SECRET_BYTES = 32
NONCE_BYTES = 16
#: No genuine token is longer (payload ~110 chars, MAC 43); longer input is refused unparsed.
MAX_TOKEN_CHARS = 512


class Instruction(StrEnum):
    """What the member is asked to do. Only instructions whose check was measured
    (docs/authenticity.md) are here."""

    LOOK_STRAIGHT = "look_straight"
    TURN_LEFT = "turn_left"
    TURN_RIGHT = "turn_right"
    TILT_LEFT = "tilt_left"
    TILT_RIGHT = "tilt_right"


#: The instructions new challenges draw from (uniformly, with ``secrets``). Not
#: ``look_straight``: most existing photos already pass it (94 % of CFP frontal photos),
#: so it proves nothing about freshness; ask for it explicitly (e.g. as the second
#: selfie of a two-pose challenge).
INSTRUCTIONS: tuple[Instruction, ...] = (
    Instruction.TURN_LEFT,
    Instruction.TURN_RIGHT,
    Instruction.TILT_LEFT,
    Instruction.TILT_RIGHT,
)


@runtime_checkable
class NonceLedger(Protocol):
    """Where spent nonces are kept (shared by all replicas; backed by ``faceproof.storage``).

    ``spend`` records ``nonce`` as used and returns True, or returns False when it was
    already spent. It must be atomic (two concurrent spends of one nonce: exactly one
    True). ``expires_at`` (Unix seconds) is when the entry may be forgotten: after it the
    token is refused as expired anyway.
    """

    def spend(self, nonce: str, expires_at: float) -> bool: ...


@dataclass(frozen=True, slots=True)
class Challenge:
    """A verified challenge: the token's content."""

    nonce: str
    issued_at: int
    expires_at: int
    instruction: Instruction
    token: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "token": self.token,
            "instruction": self.instruction.value,
            "issued_at": self.issued_at,
            "expires_at": self.expires_at,
        }


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64d(text: str) -> bytes:
    if not text or any(c not in _B64_CHARS for c in text):
        raise ValueError("not base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64e(data) != text:  # canonical only: no second spelling of the same bytes
        raise ValueError("not canonical base64url")
    return data


_B64_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _key(secret: bytes | str) -> bytes:
    key = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
    if len(key) < MIN_SECRET_BYTES:
        raise InvalidArgument(f"the challenge secret must have at least {MIN_SECRET_BYTES} bytes")
    return key


def _mac(key: bytes, signed: str) -> bytes:
    return hmac.new(key, signed.encode("ascii"), hashlib.sha256).digest()


def new_challenge(
    secret: bytes | str,
    instruction: Instruction | str | None = None,
    ttl: float = DEFAULT_TTL,
    *,
    now: float | None = None,
) -> Challenge:
    """A fresh signed challenge. ``instruction`` None draws one at random (``secrets``)
    from :data:`INSTRUCTIONS`; any :class:`Instruction` may be asked for explicitly.
    ``ttl`` is its lifetime in seconds (0 < ttl <= 3600)."""
    key = _key(secret)
    if not (math.isfinite(ttl) and 0 < ttl <= MAX_TTL):
        raise InvalidArgument(f"ttl must be within (0, {MAX_TTL:.0f}] seconds, got {ttl}")
    if instruction is None:
        ins = secrets.choice(INSTRUCTIONS)
    else:
        try:
            ins = Instruction(instruction)
        except ValueError:
            raise InvalidArgument(
                f"unknown instruction {instruction!r}; known: {', '.join(i.value for i in Instruction)}"
            ) from None
    t = time.time() if now is None else now
    issued = math.floor(t)
    expires = math.floor(t + ttl)
    nonce = _b64e(secrets.token_bytes(NONCE_BYTES))
    payload = json.dumps({"n": nonce, "iat": issued, "exp": expires, "ins": ins.value}, separators=(",", ":"))
    signed = f"{VERSION}.{_b64e(payload.encode('utf-8'))}"
    token = f"{signed}.{_b64e(_mac(key, signed))}"
    return Challenge(nonce=nonce, issued_at=issued, expires_at=expires, instruction=ins, token=token)


def _parse(token: str, key: bytes) -> Mapping[str, Any]:
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
        raise ChallengeInvalid("the challenge token is not a token this service issued")
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != VERSION:
        raise ChallengeInvalid("the challenge token is malformed")
    try:
        mac = _b64d(parts[2])
        raw = _b64d(parts[1])
    except (ValueError, binascii.Error):
        raise ChallengeInvalid("the challenge token is malformed") from None
    if not hmac.compare_digest(mac, _mac(key, f"{parts[0]}.{parts[1]}")):
        raise ChallengeInvalid("the challenge token's signature does not match")
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ChallengeInvalid("the challenge token is malformed") from None
    if not isinstance(doc, dict):
        raise ChallengeInvalid("the challenge token is malformed")
    return doc


def verify_challenge(token: str, secret: bytes | str, now: float | None = None) -> Challenge:
    """The challenge inside ``token`` if this service signed it and it has not expired.

    Raises :class:`ChallengeInvalid` (forged, altered, truncated, garbled, other
    secret) or :class:`ChallengeExpired`. Does not spend the nonce: see
    :func:`redeem_challenge`.
    """
    key = _key(secret)
    doc = _parse(token, key)
    nonce, issued, expires, ins = doc.get("n"), doc.get("iat"), doc.get("exp"), doc.get("ins")
    if not (
        isinstance(nonce, str)
        and isinstance(issued, int)
        and isinstance(expires, int)
        and isinstance(ins, str)
        and expires > issued
    ):
        raise ChallengeInvalid("the challenge token's content is invalid")
    try:
        instruction = Instruction(ins)
    except ValueError:
        raise ChallengeInvalid("the challenge token names an unknown instruction") from None
    t = time.time() if now is None else now
    if issued > t + CLOCK_LEEWAY:
        raise ChallengeInvalid("the challenge token was issued in the future (clocks out of step?)")
    if t >= expires:
        raise ChallengeExpired("the challenge has expired: ask for a new one", expired_at=expires)
    return Challenge(nonce=nonce, issued_at=issued, expires_at=expires, instruction=instruction, token=token)


def redeem_challenge(token: str, secret: bytes | str, ledger: NonceLedger, now: float | None = None) -> Challenge:
    """:func:`verify_challenge`, then spend its nonce in ``ledger``: a second redemption
    raises :class:`ChallengeReused`. Spent whatever the selfie then shows (a failed pose
    check does not give the token back: one attempt per challenge)."""
    challenge = verify_challenge(token, secret, now)
    if not ledger.spend(challenge.nonce, float(challenge.expires_at)):
        raise ChallengeReused("this challenge was already used: ask for a new one")
    return challenge


# ------------------------------------------------------------------------ pose checks


#: Rotations (degrees, counter-clockwise) tried by :func:`upright_landmarks`.
UPRIGHT_ANGLES = (0.0, -15.0, 15.0, -30.0, 30.0, -45.0, 45.0)
#: The region re-detected: this many face-box sides around the face, at most this many pixels.
UPRIGHT_ROI = 2.0
UPRIGHT_MAX_SIDE = 320
#: Detector-score margin by which a rotation must beat the unrotated region to be chosen.
UPRIGHT_MARGIN = 0.005


def _rotation(angle: float, center: tuple[float, float]) -> np.ndarray:
    import cv2

    return np.asarray(cv2.getRotationMatrix2D(center, angle, 1.0), dtype=np.float64)


def upright_landmarks(image: ImageArray, face: Face, detector: Detector) -> FloatArray:
    """The face's five landmarks, re-detected with the face turned upright.

    YuNet's landmarks barely follow an in-plane rotation (a photo turned 30 degrees reads
    as 2-25 degrees of roll, docs/authenticity.md), so a tilt cannot be judged from the
    first detection. The region around the face is rotated by each of
    :data:`UPRIGHT_ANGLES`, the face re-detected, and the landmarks of the rotation the
    detector is most confident about (a face detector scores upright faces highest) are
    mapped back to the image — the unrotated one unless another beats its score by
    :data:`UPRIGHT_MARGIN` (the scores are flat near the top). Seven detections of a
    region of at most 320x320 pixels.
    Returns ``face.landmarks`` when no rotation finds the face.
    """
    import cv2

    if face.landmarks is None:
        raise InvalidArgument("the pose check needs the face's landmarks")
    cx, cy = face.bbox.center
    side = UPRIGHT_ROI * max(face.bbox.width, face.bbox.height, 1.0)
    scale = min(1.0, UPRIGHT_MAX_SIDE / side)
    out = max(16, round(side * scale))
    # source -> ROI: scale about the face centre, then put the centre in the middle
    base = np.array([[scale, 0.0, out / 2 - scale * cx], [0.0, scale, out / 2 - scale * cy]])
    roi = cv2.warpAffine(
        np.ascontiguousarray(image), base, (out, out), flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    )
    found: dict[float, tuple[float, FloatArray]] = {}  # angle -> (detector score, landmarks in the image)
    for angle in UPRIGHT_ANGLES:
        rot = _rotation(angle, (out / 2, out / 2))
        faces = detector.detect(np.asarray(cv2.warpAffine(roi, rot, (out, out)), dtype=np.uint8))
        faces = [f for f in faces if f.landmarks is not None]
        if not faces:
            continue
        near = min(faces, key=lambda f: math.dist(f.bbox.center, (out / 2, out / 2)))
        assert near.landmarks is not None
        # rotated ROI -> source: undo the rotation, then the ROI mapping
        full = np.vstack([rot @ np.vstack([base, [0, 0, 1]]), [0, 0, 1]])
        inv = np.linalg.inv(full)[:2]
        pts = np.hstack([np.asarray(near.landmarks, dtype=np.float64), np.ones((5, 1))]) @ inv.T
        found[angle] = (float(near.score), pts.astype(np.float32))
    if not found:
        return np.asarray(face.landmarks, dtype=np.float32)
    best = max(found, key=lambda a: found[a][0])
    # scores are flat near the top: another rotation must beat the unrotated one clearly
    if 0.0 in found and found[best][0] - found[0.0][0] < UPRIGHT_MARGIN:
        best = 0.0
    return found[best][1]


@dataclass(frozen=True, slots=True)
class PoseThresholds:
    """Degrees of estimated head pose (``faceproof.quality.estimate_pose``) per
    instruction. Chosen from the measurements in docs/authenticity.md."""

    straight_max_yaw: float = 15.0
    straight_max_roll: float = 8.0
    turn_min_yaw: float = 20.0
    turn_max_roll: float = 25.0
    tilt_min_roll: float = 10.0
    tilt_max_yaw: float = 30.0

    def to_dict(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(frozen=True, slots=True)
class PoseCheck:
    """Whether a face follows an instruction, and the pose it was judged on."""

    instruction: Instruction
    passed: bool
    pose: HeadPose
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "instruction": self.instruction.value,
            "passed": self.passed,
            "pose": self.pose.to_dict(),
            "reason": self.reason,
        }


def check_pose(
    instruction: Instruction | str,
    face: Face | np.ndarray,
    *,
    mirrored: bool = False,
    thresholds: PoseThresholds | None = None,
) -> PoseCheck:
    """Does ``face`` (a :class:`Face` with landmarks, or its 5x2 landmarks) follow
    ``instruction``? The image is taken as unmirrored (see the module doc); pass
    ``mirrored=True`` for a selfie saved as the mirrored preview."""
    try:
        ins = Instruction(instruction)
    except ValueError:
        raise InvalidArgument(f"unknown instruction {instruction!r}") from None
    landmarks = face.landmarks if isinstance(face, Face) else face
    if landmarks is None:
        raise InvalidArgument("the pose check needs the face's landmarks")
    thr = thresholds or PoseThresholds()
    pose = estimate_pose(np.asarray(landmarks))
    # in the member's frame: yaw > 0 = turned to their left, roll > 0 = tilted to their right
    yaw = -pose.yaw if mirrored else pose.yaw
    roll = -pose.roll if mirrored else pose.roll
    if ins is Instruction.LOOK_STRAIGHT:
        ok = abs(yaw) <= thr.straight_max_yaw and abs(roll) <= thr.straight_max_roll
        why = "facing the camera" if ok else "the head is turned or tilted"
    elif ins in (Instruction.TURN_LEFT, Instruction.TURN_RIGHT):
        sign = 1.0 if ins is Instruction.TURN_LEFT else -1.0
        ok = sign * yaw >= thr.turn_min_yaw and abs(roll) <= thr.turn_max_roll
        why = (
            "turned as asked"
            if ok
            else ("turned the other way" if sign * yaw <= -thr.turn_min_yaw else "not turned enough")
        )
    else:
        sign = -1.0 if ins is Instruction.TILT_LEFT else 1.0
        ok = sign * roll >= thr.tilt_min_roll and abs(yaw) <= thr.tilt_max_yaw
        why = (
            "tilted as asked"
            if ok
            else ("tilted the other way" if sign * roll <= -thr.tilt_min_roll else "not tilted enough")
        )
    return PoseCheck(instruction=ins, passed=ok, pose=pose, reason=why)
