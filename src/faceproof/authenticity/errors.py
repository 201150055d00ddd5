"""Typed errors of the authenticity checks, in faceproof's one exception tree.

All are :class:`faceproof.errors.InputError` subclasses (the caller's token is bad, not
the service), each with a stable ``code`` and the HTTP status the service answers with:
a forged, truncated, expired or reused challenge is a clear 4xx, never a 500.
"""

from __future__ import annotations

from ..errors import InputError

__all__ = ["ChallengeError", "ChallengeExpired", "ChallengeInvalid", "ChallengeReused"]


class ChallengeError(InputError):
    """A challenge token cannot be accepted."""

    code = "challenge_error"


class ChallengeInvalid(ChallengeError):
    """Not a token this service issued: forged, altered, truncated, garbled, signed with
    another secret, or of an unknown version."""

    code = "challenge_invalid"


class ChallengeExpired(ChallengeError):
    """A genuine token whose time is up: ask for a new challenge."""

    code = "challenge_expired"


class ChallengeReused(ChallengeError):
    """A genuine, unexpired token whose nonce was already spent (single use)."""

    code = "challenge_reused"
