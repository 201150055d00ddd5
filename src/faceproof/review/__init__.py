"""The review desk's storage wing: cases opened for ``needs_review`` answers, their
images for the review window only, decisions with their audit trail, reviewer
sessions, the purge job and the export of labelled pairs (the pages are in
:mod:`faceproof.server.review`; docs/review.md).

    from faceproof.review import ReviewStore
    cases = ReviewStore.open("sqlite:///faceproof.db")      # or postgresql://...
    case = cases.create(result.to_dict(), prepare_images(selfie, photos), member_id="m-1", window_s=72 * 3600)
    cases.decide(case.id, reviewer="alice", decision="approved", labels={0: True})
    cases.purge()                                            # cron: faceproof review purge
"""

from __future__ import annotations

from .errors import CaseAlreadyDecided, CaseExpired, CaseNotFound, NoteTooLong, ReviewError
from .export import ExportReport, export_pairs
from .images import CaseImage, prepare_images
from .store import DECISIONS, MAX_MEMBER_ID_CHARS, MAX_NOTE_CHARS, Case, CaseSummary, PurgeReport, ReviewStore, Session

__all__ = [
    "DECISIONS",
    "MAX_MEMBER_ID_CHARS",
    "MAX_NOTE_CHARS",
    "Case",
    "CaseAlreadyDecided",
    "CaseExpired",
    "CaseImage",
    "CaseNotFound",
    "CaseSummary",
    "ExportReport",
    "NoteTooLong",
    "PurgeReport",
    "ReviewError",
    "ReviewStore",
    "Session",
    "export_pairs",
    "prepare_images",
]
