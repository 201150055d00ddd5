"""What the profile check runs of the authenticity checks (:class:`Authenticity`) and what
they found (:class:`AuthenticityCheck`, in ``ProfileCheck.authenticity``).

The defaults need no state: the copy check is on, the replay check runs when a
:class:`~faceproof.authenticity.stores.ReplayStore` is given, the challenge check when the
call brings a token (which then needs ``challenge_secret`` and a ``nonces`` ledger).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import InvalidArgument
from .challenge import MIN_SECRET_BYTES, Challenge, Instruction, NonceLedger, PoseCheck, PoseThresholds
from .copies import CopyCheck, CopyMatch, CopyThresholds
from .errors import ChallengeError, ChallengeExpired, ChallengeReused

if TYPE_CHECKING:
    from .stores import ReplayMatch, ReplayStore

__all__ = ["Authenticity", "AuthenticityCheck", "ChallengeOutcome", "combine_copies"]


@dataclass(frozen=True)
class Authenticity:
    """Which authenticity checks :func:`~faceproof.decision.profile.check_profile` runs.

    ``copies``: is the selfie a copy of a profile photo the face model matched (no state).
    ``replays``: the fingerprints of accepted selfies (a :class:`ReplayStore`); None: no
    replay check. ``nonces`` and ``challenge_secret``: needed when a call brings a
    challenge token. ``mirrored``: the client sends the mirrored camera preview.
    """

    copies: bool = True
    replays: ReplayStore | None = None
    nonces: NonceLedger | None = None
    challenge_secret: bytes | None = field(default=None, repr=False)
    copy_thresholds: CopyThresholds = field(default_factory=CopyThresholds)
    pose_thresholds: PoseThresholds = field(default_factory=PoseThresholds)
    mirrored: bool = False

    def __post_init__(self) -> None:
        if self.challenge_secret is not None:
            secret = self.challenge_secret
            if isinstance(secret, str):
                object.__setattr__(self, "challenge_secret", secret.encode())
            if len(self.challenge_secret) < MIN_SECRET_BYTES:  # type: ignore[arg-type]
                raise InvalidArgument(f"the challenge secret must be at least {MIN_SECRET_BYTES} bytes")

    @classmethod
    def off(cls) -> Authenticity:
        """No authenticity check at all (the face match only, as before issue 11)."""
        return cls(copies=False)

    @classmethod
    def coerce(cls, value: Authenticity | bool | None) -> Authenticity:
        if value is None or value is True:
            return cls()
        if value is False:
            return cls.off()
        if not isinstance(value, Authenticity):
            raise InvalidArgument(f"authenticity must be an Authenticity, got {type(value).__name__}")
        return value

    def features(self) -> dict[str, Any]:
        """Which checks run, for a service's feature listing (no secret, no state):
        ``copies``, ``replays`` (a store is configured), ``challenges`` (a secret and a
        nonce ledger are), with the copy rule's thresholds and the replay retention."""
        replays = self.replays
        return {
            "copies": self.copies,
            "copy_thresholds": self.copy_thresholds.to_dict() if self.copies else None,
            "replays": replays is not None,
            "replay_retention_days": None if replays is None else replays.retention_days,
            "challenges": self.challenge_secret is not None and self.nonces is not None,
            "mirrored": self.mirrored,
        }

    def require_challenge_support(self) -> tuple[bytes, NonceLedger]:
        if self.challenge_secret is None:
            raise InvalidArgument("a challenge token was given but no challenge secret is configured")
        if self.nonces is None:
            raise InvalidArgument("a challenge token needs a nonce ledger (single use), e.g. StoreNonceLedger(store)")
        return self.challenge_secret, self.nonces


@dataclass(frozen=True)
class ChallengeOutcome:
    """The challenge of one check: ``status`` is ``passed``, ``failed`` (the pose does not
    follow the instruction, or the selfie was not usable), ``invalid``, ``expired`` or
    ``reused`` (the token was refused: ``error``)."""

    status: str
    challenge: Challenge | None = None
    pose: PoseCheck | None = None
    error: ChallengeError | None = None

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    @classmethod
    def refused(cls, error: ChallengeError) -> ChallengeOutcome:
        status = (
            "reused"
            if isinstance(error, ChallengeReused)
            else "expired"
            if isinstance(error, ChallengeExpired)
            else "invalid"
        )
        return cls(status=status, error=error)

    @property
    def instruction(self) -> Instruction | None:
        return None if self.challenge is None else self.challenge.instruction

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "instruction": None if self.instruction is None else self.instruction.value,
            "expires_at": None if self.challenge is None else self.challenge.expires_at,
            "pose": None if self.pose is None else self.pose.to_dict(),
            "error": None if self.error is None else self.error.to_dict(),
        }


@dataclass(frozen=True)
class AuthenticityCheck:
    """What the authenticity checks of one profile check found. ``None`` fields were not
    run (switched off, no state configured, no token, or the selfie was not usable)."""

    copy: CopyCheck | None = None
    replay_checked: bool = False
    replay: ReplayMatch | None = None
    challenge: ChallengeOutcome | None = None
    remembered: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "copy": None if self.copy is None else self.copy.to_dict(),
            "replay": {"checked": self.replay_checked, "match": None if self.replay is None else self.replay.to_dict()},
            "challenge": None if self.challenge is None else self.challenge.to_dict(),
            "remembered": self.remembered,
        }


def combine_copies(matches: Sequence[CopyMatch], thresholds: CopyThresholds) -> CopyCheck:
    """One :class:`CopyCheck` from comparisons made photo by photo (the closest decides)."""

    def key(m: CopyMatch) -> tuple[bool, float]:
        return (m.copied, -math.inf if math.isnan(m.correlation) else m.correlation)

    best = max(matches, key=key) if matches else None
    return CopyCheck(copied=best is not None and best.copied, best=best, matches=tuple(matches), thresholds=thresholds)
