"""``POST /v1/check-profile``: one verification selfie against a member's profile photos.

The library's :func:`faceproof.decision.profile.check_profile` behind the service's usual parsing,
limits and pool. Its router is built per app (:func:`build_router`) because the number of
photos a request may carry is a setting (``max_photos``), which the request parser and
the OpenAPI document both use.

HTTP status (see ``docs/service.md``): ``200`` whenever the selfie was usable, whatever
the verdict and whatever the photos (an unreadable or faceless photo is a status in the
result, never an HTTP error); a 4xx with the whole result *and* the error envelope when
the selfie itself is the problem: the reading error's own status when it could not be
read (422, 413, 415), ``422 no_face``, or ``422 selfie_unusable`` (several faces, too
small, blurry, dark, overexposed, head turned too far; ``selfie.status`` says which).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ..authenticity import Authenticity, verify_challenge
from ..decision.policy import Policy
from ..decision.profile import (
    PHOTOS_NOT_CHECKED,
    ProfileCheck,
    SelfieCheck,
    SelfieStatus,
    Verdict,
    check_profile,
    decide,
)
from ..errors import BackendUnavailable, FaceProofError, ImageDecodeError, ImageError, InvalidArgument, NoFaceError
from ..runtime.compare import Metric
from .common import (
    ERROR_RESPONSES,
    METRIC,
    MODEL,
    THRESHOLD,
    check_model,
    check_threshold,
    note_caller_threshold,
    report_response,
    server_timings,
)
from .errors import SelfieUnusable
from .inputs import ImageField, OptionField, ParsedRequest, RequestSpec, read_request
from .review import MEMBER_ID, REVIEW, case_images, open_case, wants_review
from .schemas import CheckProfileResponse, ErrorResponse
from .settings import ServiceSettings
from .state import deadline_of, service_of
from .workers import Worker

__all__ = ["build_router", "check_profile_spec", "photos_not_checked_note", "selfie_error"]

#: what the library notes when the selfie is unusable (kept identical for service-side failures)
photos_not_checked_note = PHOTOS_NOT_CHECKED

_SELFIE_MESSAGES: dict[SelfieStatus, str] = {
    SelfieStatus.SEVERAL_FACES: "the selfie shows several faces of similar size; it must show the member alone",
    SelfieStatus.FACE_TOO_SMALL: "the face in the selfie is too small",
    SelfieStatus.TOO_BLURRY: "the selfie is too blurry",
    SelfieStatus.TOO_DARK: "the selfie is too dark",
    SelfieStatus.OVEREXPOSED: "the selfie is overexposed",
    SelfieStatus.POSE_TOO_EXTREME: "the head in the selfie is turned too far from the camera",
}


def _token(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidArgument(f"{name} must be the token of POST /v1/challenges")
    return value.strip()


CHALLENGE = OptionField(
    "challenge",
    _token,
    {"type": "string", "maxLength": 1024},
    "the token of POST /v1/challenges: the selfie must follow its instruction; single use",
)


def check_profile_spec(max_photos: int) -> RequestSpec:
    """The request: a selfie, 1..``max_photos`` profile photos (each one's reading problem
    is kept as its status), and the verify endpoint's recognition options."""
    return RequestSpec(
        images=(
            ImageField("selfie", "origin", "the verification selfie (exactly one usable face)"),
            ImageField(
                "photos",
                "target",
                f"the member's profile photos, 1 to {max_photos}",
                multiple=True,
                max_count=max_photos,
                keep_errors=True,
            ),
        ),
        options=(MODEL, METRIC, THRESHOLD, REVIEW, MEMBER_ID, CHALLENGE),
    )


def selfie_error(selfie: SelfieCheck) -> FaceProofError | None:
    """The error an unusable selfie is answered with (None when it is usable)."""
    if selfie.usable:
        return None
    if selfie.error is not None:  # unreadable: the loader's (or the service's) own error
        return selfie.error
    if selfie.status is SelfieStatus.UNREADABLE:  # pragma: no cover - the library always gives the error
        return ImageDecodeError("the selfie could not be read").with_role("origin")
    if selfie.status is SelfieStatus.NO_FACE:
        return NoFaceError("no face was detected in the selfie").with_role("origin")
    return SelfieUnusable(_SELFIE_MESSAGES[selfie.status]).with_role("origin")


def _run(
    worker: Worker,
    policy: Policy,
    selfie: bytes,
    photos: Sequence[bytes | ImageError],
    options: dict[str, Any],
    authenticity: Authenticity | None = None,
) -> ProfileCheck:
    """The check on an inference worker's pipeline; a photo the service could not take is
    passed as its error and becomes ``unreadable`` in its place."""
    return check_profile(
        worker.pipeline(options.get("model")),
        selfie,
        photos,
        policy=policy,
        threshold=options.get("threshold"),
        metric=options.get("metric"),
        member_id=options.get("member_id"),
        authenticity=authenticity,
        challenge=options.get("challenge"),
    )


def _unread_selfie(request: Request, exc: ImageError, options: dict[str, Any]) -> ProfileCheck:
    """The result for a selfie the service itself could not take (bad base64, too large,
    URL refused): the shape the library gives for an unreadable selfie."""
    svc = service_of(request)
    pipeline = svc.reference.pipeline(options.get("model"))
    metric = Metric.parse(options.get("metric") or pipeline.metric)
    threshold = pipeline.threshold_for(metric, options.get("threshold"))
    selfie = SelfieCheck(SelfieStatus.UNREADABLE, error=exc.with_role("origin"))
    verdict, reasons = decide(selfie, (), svc.policy)
    return ProfileCheck(
        verdict=verdict,
        reasons=reasons,
        selfie=selfie,
        photos=(),
        metric=metric,
        threshold=threshold,
        band=svc.policy.band(threshold.value),
        policy=svc.policy,
        model=pipeline.recognizer.name,
        detector=pipeline.detector.name,
        notes=(photos_not_checked_note,),
    )


def build_router(settings: ServiceSettings) -> APIRouter:
    """The router of ``POST /check-profile`` for an app with these settings."""
    spec = check_profile_spec(settings.max_photos)
    router = APIRouter(tags=["faces"])

    @router.post(
        "/check-profile",
        summary="Is the member who took the selfie the person in their profile photos?",
        openapi_extra=spec.openapi(),
        response_model=CheckProfileResponse,
        responses={
            **ERROR_RESPONSES,
            422: {"model": ErrorResponse, "description": "the selfie is unreadable, has no face or is unusable"},
            501: {"model": ErrorResponse, "description": "the face-confirmation backend is not installed"},
        },
    )
    async def check_profile_endpoint(request: Request) -> JSONResponse:
        svc = service_of(request)
        if svc.policy.confirm != "none" and svc.reference.confirmer is None:
            # a fresh exception each time (re-raising a stored one would grow its traceback)
            raise BackendUnavailable(f"check-profile needs its face confirmation: {svc.reference.confirmer_missing}")
        parsed = ParsedRequest()
        try:
            await read_request(request, spec, svc.settings, deadline_of(request), into=parsed)
        except ImageError as exc:  # only the selfie gets here: photo problems are statuses
            check_model(request, parsed.options)
            check_threshold(request, parsed.options)
            failed = _unread_selfie(request, exc, parsed.options)
            report = note_caller_threshold(failed.to_dict(), parsed.options)
            return report_response(request, report, exc, server_timings(request, None))
        options = parsed.options
        check_model(request, options)
        settings = svc.settings
        review = wants_review(request, options, member_id_used=settings.replay_enabled)
        token = options.get("challenge")
        if token is None and settings.require_challenge:
            raise InvalidArgument("this server requires a challenge: POST /v1/challenges, then send its token")
        if token is not None:
            if settings.challenge_secret is None:
                raise BackendUnavailable("challenges are not configured: set FACEPROOF_CHALLENGE_SECRET")
            # forged, altered, truncated or expired: refused before any inference (400 / 410);
            # the nonce is spent by the check itself (a reused token: 409 with the result)
            verify_challenge(token, settings.challenge_secret.encode())
        auth = await asyncio.to_thread(svc.authenticity, challenge=token is not None)
        check_threshold(request, options)
        selfie, photos, policy = parsed.image("selfie"), parsed.images["photos"], svc.policy

        def job(worker: Worker) -> tuple[ProfileCheck, list[Any] | None]:
            result = _run(worker, policy, selfie, photos, options, auth)
            keep = review and result.verdict is Verdict.NEEDS_REVIEW
            return result, case_images(selfie, photos) if keep else None

        assert svc.pool is not None
        (result, images), waited = await svc.pool.run(job, deadline=deadline_of(request))
        report = note_caller_threshold(result.to_dict(), options)
        if review:  # the case (or null when the answer is not needs_review)
            case = await open_case(request, report, images, options["member_id"]) if images is not None else None
            report["review_case"] = case
        outcome = result.authenticity.challenge
        error = outcome.error if outcome is not None and outcome.error is not None else selfie_error(result.selfie)
        return report_response(request, report, error, server_timings(request, waited))

    return router
