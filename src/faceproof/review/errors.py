"""Typed errors of the review desk's case store (stable codes; HTTP statuses live in
:data:`faceproof.server.errors.HTTP_STATUS`). Messages never carry images or notes."""

from __future__ import annotations

from ..errors import FaceProofError, InvalidArgument

__all__ = ["CaseAlreadyDecided", "CaseExpired", "CaseNotFound", "NoteTooLong", "ReviewError"]


class ReviewError(FaceProofError):
    """A review-case operation that cannot be done."""

    code = "review_error"


class CaseNotFound(ReviewError):
    """No case with this id (never created, or its record was removed)."""

    code = "review_case_not_found"


class CaseAlreadyDecided(ReviewError):
    """Another decision was recorded first; ``detail`` names who decided and what."""

    code = "review_case_decided"


class CaseExpired(ReviewError):
    """The case's review window ended before a decision; its images are gone."""

    code = "review_case_expired"


class NoteTooLong(InvalidArgument):
    """A reviewer's note over :data:`faceproof.review.store.MAX_NOTE_CHARS`."""

    code = "review_note_too_long"
