"""The authenticity checks' part of one profile check (docs/authenticity.md): the copy
check against the faces the face model matched, the replay lookup, the challenge, and
what their findings do to the verdict. :func:`~faceproof.decision.profile.check_profile`
drives one :class:`AuthenticityRun` through its stages."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ..authenticity.challenge import check_pose, redeem_challenge, upright_landmarks
from ..authenticity.config import Authenticity, AuthenticityCheck, ChallengeOutcome, combine_copies
from ..authenticity.copies import CopyCheck, CopyMatch, FaceDescriptor, compare_descriptors, describe_face
from ..authenticity.errors import ChallengeError
from ..authenticity.fingerprint import SelfieFingerprint, selfie_fingerprint
from ..types import Face, ImageArray
from .results import AUTHENTICITY_REASONS, PhotoCheck, PhotoStatus, Reason, Verdict

if TYPE_CHECKING:
    from ..authenticity.stores import ReplayMatch
    from ..runtime.detect import Detector

__all__ = ["ANONYMOUS_MEMBER", "AuthenticityRun", "with_authenticity"]

#: the owner of a remembered fingerprint when the check named no member
ANONYMOUS_MEMBER = "-"


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


def with_authenticity(
    verdict: Verdict,
    reasons: tuple[Reason, ...],
    copy: CopyCheck | None = None,
    replay: ReplayMatch | None = None,
    challenge: ChallengeOutcome | None = None,
) -> tuple[Verdict, tuple[Reason, ...]]:
    """The verdict once the authenticity checks are in: any finding makes it
    ``not_verified`` (the selfie proves nothing), its reasons first."""
    found: list[Reason] = []
    if challenge is not None and not challenge.passed:
        status_reason = {"expired": Reason.CHALLENGE_EXPIRED, "reused": Reason.CHALLENGE_REUSED}
        found.append(status_reason.get(challenge.status, Reason.CHALLENGE_FAILED))
    if copy is not None and copy.copied:
        found.append(Reason.SELFIE_COPIED)
    if replay is not None:
        found.append(Reason.SELFIE_REPLAYED)
    if not found:
        return verdict, reasons
    return Verdict.NOT_VERIFIED, (*found, *(r for r in reasons if r not in AUTHENTICITY_REASONS))


class AuthenticityRun:
    """One check's authenticity stages, in order: created (the token is redeemed at once:
    one attempt per challenge, whatever the selfie shows), :meth:`selfie`, :meth:`photo`
    per profile photo, :meth:`finish`, :meth:`decide`, :meth:`accepted`, :meth:`report`."""

    def __init__(self, auth: Authenticity, token: str | None) -> None:
        self.auth = auth
        self.outcome: ChallengeOutcome | None = None
        if token is not None:
            secret, ledger = auth.require_challenge_support()
            try:
                self.outcome = ChallengeOutcome("pending", challenge=redeem_challenge(token, secret, ledger))
            except ChallengeError as exc:
                self.outcome = ChallengeOutcome.refused(exc)
        self.image: ImageArray | None = None
        self.face: Face | None = None
        self.descriptor: FaceDescriptor | None = None
        self.matches: list[CopyMatch] = []
        self.copy: CopyCheck | None = None
        self.fingerprint: SelfieFingerprint | None = None
        self.replay: ReplayMatch | None = None
        self.remembered = False
        self.copy_ms = 0.0

    def selfie(self, image: ImageArray | None, face: Face | None) -> None:
        """The selfie's image and usable face (None when it is not usable)."""
        self.image, self.face = image, face
        if image is not None and face is not None and self.auth.copies:
            t = time.perf_counter()
            self.descriptor = describe_face(image, face)
            self.copy_ms += _ms(t)

    def photo(self, image: ImageArray | None, check: PhotoCheck) -> None:
        """The selfie against the face of this photo the face model matched (present or
        uncertain): a copy of anyone else's photo is refused by the face match anyway."""
        if self.descriptor is None or image is None or check.face_index is None:
            return
        if check.status not in (PhotoStatus.PERSON_PRESENT, PhotoStatus.UNCERTAIN):
            return
        face = check.faces[check.face_index]
        if face.landmarks is None:
            return
        t = time.perf_counter()
        profile = describe_face(image, face)
        thr = self.auth.copy_thresholds
        match = compare_descriptors(self.descriptor, profile, thr, photo_index=check.index, face_index=check.face_index)
        self.matches.append(match)
        self.copy_ms += _ms(t)

    def finish(self, selfie_source: Any, detector: Detector, timings: dict[str, float]) -> None:
        """The copy verdict, the replay lookup and the challenge's pose check."""
        if self.descriptor is not None:
            self.copy = combine_copies(self.matches, self.auth.copy_thresholds)
            timings["copy_check"] = self.copy_ms
        image, face = self.image, self.face
        if self.auth.replays is not None and image is not None and face is not None:
            t = time.perf_counter()
            raw = bytes(selfie_source) if isinstance(selfie_source, (bytes, bytearray, memoryview)) else None
            self.fingerprint = selfie_fingerprint(image, face, raw=raw, descriptor=self.descriptor)
            self.replay = self.auth.replays.find(self.fingerprint)
            timings["replay_check"] = _ms(t)
        redeemed = None if self.outcome is None else self.outcome.challenge
        if redeemed is None:
            return
        if image is None or face is None:
            self.outcome = ChallengeOutcome("failed", challenge=redeemed)
            return
        t = time.perf_counter()
        landmarks = upright_landmarks(image, face, detector)
        pose = check_pose(
            redeemed.instruction, landmarks, mirrored=self.auth.mirrored, thresholds=self.auth.pose_thresholds
        )
        self.outcome = ChallengeOutcome("passed" if pose.passed else "failed", challenge=redeemed, pose=pose)
        timings["challenge_pose"] = _ms(t)

    def decide(self, verdict: Verdict, reasons: tuple[Reason, ...]) -> tuple[Verdict, tuple[Reason, ...]]:
        return with_authenticity(verdict, reasons, self.copy, self.replay, self.outcome)

    def accepted(self, verdict: Verdict, member_id: str | None) -> None:
        """Remember a ``verified`` selfie's fingerprint (never the image) under the member."""
        if verdict is Verdict.VERIFIED and self.auth.replays is not None and self.fingerprint is not None:
            self.auth.replays.remember(member_id or ANONYMOUS_MEMBER, self.fingerprint)
            self.remembered = True

    def report(self) -> AuthenticityCheck:
        self.image = None  # the pixels are not kept beyond the check
        self.descriptor = None  # (it may hold the image until its face crop is cut)
        return AuthenticityCheck(
            copy=self.copy,
            replay_checked=self.fingerprint is not None,
            replay=self.replay,
            challenge=self.outcome,
            remembered=self.remembered,
        )
