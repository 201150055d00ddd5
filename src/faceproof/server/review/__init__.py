"""The review desk in the service (``/review/...``, docs/review.md): where people settle
``needs_review`` answers. Off unless reviewers are configured
(``FACEPROOF_REVIEW_USERS``); the cases live in the service's store
(``FACEPROOF_STORE_URL``) through :mod:`faceproof.review`.

``install(app, settings)`` mounts the pages; check-profile opens a case with
``review=true`` and ``member_id`` (:data:`REVIEW`, :data:`MEMBER_ID`, :func:`open_case`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles

from ...errors import FaceProofError, InvalidArgument
from ...review import CaseImage, prepare_images
from ...review.store import MAX_MEMBER_ID_CHARS, check_member_id
from ..inputs import OptionField
from ..parsing import parse_bool
from ..settings import ServiceSettings
from .desk import ReviewDesk

__all__ = ["MEMBER_ID", "REVIEW", "ReviewDesk", "case_images", "desk_of", "install", "open_case", "wants_review"]

logger = logging.getLogger(__name__)

REVIEW = OptionField(
    "review",
    parse_bool,
    {"type": "boolean", "default": False},
    "open a review case when the answer is needs_review (the review desk must be configured; needs member_id)",
)
MEMBER_ID = OptionField(
    "member_id",
    lambda name, value: check_member_id(value) if isinstance(value, str) else check_member_id(""),
    {"type": "string", "maxLength": MAX_MEMBER_ID_CHARS},
    "the member's id in the app, shown to reviewers (with review=true)",
)


def install(app: FastAPI, settings: ServiceSettings) -> ReviewDesk | None:
    """Mount the review desk when reviewers are configured; None when it is off."""
    if not settings.review_users:
        return None
    from .pages import HERE, build_router

    desk = ReviewDesk(settings)
    app.state.review = desk
    app.include_router(build_router(desk))
    app.mount("/review/static", StaticFiles(directory=str(HERE / "static")), name="review-static")
    logger.info("review desk on: %d reviewers, window %.0f h", len(settings.review_users), settings.review_window_hours)
    return desk


def desk_of(request: Request) -> ReviewDesk | None:
    desk: ReviewDesk | None = getattr(request.app.state, "review", None)
    return desk


def wants_review(request: Request, options: dict[str, Any], *, member_id_used: bool = False) -> bool:
    """Whether the request asked for a review case; refuses one the server cannot open
    (desk off, no member id) before any inference runs. ``member_id_used``: the member id
    has another use in this request (the replay check remembers the selfie under it)."""
    if not options.get("review"):
        if "member_id" in options and not member_id_used:
            raise InvalidArgument("member_id is only used with review=true or the replay check")
        return False
    if desk_of(request) is None:
        raise InvalidArgument("review cases are off on this server (no reviewer is configured)")
    if not options.get("member_id"):
        raise InvalidArgument("review=true needs the member's member_id")
    return True


def case_images(selfie: bytes, photos: Sequence[bytes | FaceProofError]) -> list[CaseImage]:
    """The images to keep for a case (decoded as the check did, re-encoded without
    metadata). CPU work: run it on the inference worker that ran the check."""
    return prepare_images(selfie, photos)


async def open_case(
    request: Request, report: dict[str, Any], images: Sequence[CaseImage], member_id: str
) -> dict[str, Any]:
    """Store the case; what the answer says about it (``review_case``)."""
    desk = desk_of(request)
    assert desk is not None
    case = await desk.call(
        lambda cases: cases.create(report, images, member_id=member_id, window_s=desk.window_s, now=time.time())
    )
    return {"id": case.id, "expires_at": round(case.expires_at, 3), "images": len(case.image_sizes)}
