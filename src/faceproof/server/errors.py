"""Errors that only the HTTP service raises: request-level problems (body too large, too
slow, malformed), authentication, rate limiting and readiness.

They are leaves of the one exception tree (:class:`faceproof.errors.FaceProofError`), so
each has a stable ``code`` like every other faceproof error and goes through the same JSON
envelope. The library itself never raises them.

:data:`HTTP_STATUS` is the one table of HTTP statuses, for the library's errors and the
service's own, by stable code; :func:`http_status_of` reads it.
"""

from __future__ import annotations

from typing import Any

from ..errors import FaceProofError, InputError, Overloaded

__all__ = [
    "HTTP_STATUS",
    "AttributesDisabled",
    "HeadersTooLarge",
    "MalformedRequest",
    "MethodNotAllowed",
    "NotFound",
    "RateLimited",
    "RequestTimeout",
    "RequestTooLarge",
    "SelfieUnusable",
    "ServiceNotReady",
    "ThresholdNotAllowed",
    "Unauthorized",
    "UnsupportedMediaType",
    "http_status_of",
    "retry_after_of",
]

#: the HTTP status of every error code (library and service errors alike)
HTTP_STATUS: dict[str, int] = {
    "storage_error": 500,
    "storage_unavailable": 503,
    "storage_corrupt": 500,
    "storage_schema_version": 500,
    "index_error": 500,
    "index_model_mismatch": 409,
    "index_unknown_member": 404,
    "index_calibration_unavailable": 500,
    "faceproof_error": 500,
    "invalid_input": 400,
    "invalid_argument": 400,
    "unknown_backend": 400,
    "image_unreadable": 422,
    "image_not_found": 422,
    "image_empty": 422,
    "unsupported_image_type": 415,
    "image_too_large": 413,
    "url_not_allowed": 422,
    "url_fetch_failed": 422,
    "no_face": 422,
    "setup_error": 500,
    "backend_unavailable": 501,
    "model_file_missing": 500,
    "model_integrity": 500,
    "overloaded": 503,
    "malformed_request": 400,
    "unsupported_media_type": 415,
    "request_too_large": 413,
    "request_timeout": 408,
    "headers_too_large": 431,
    "selfie_unusable": 422,
    "attributes_disabled": 403,
    "threshold_not_allowed": 403,
    "unauthorized": 401,
    "not_found": 404,
    "method_not_allowed": 405,
    "rate_limited": 429,
    "not_ready": 503,
    "challenge_error": 400,
    "challenge_invalid": 400,
    "challenge_expired": 410,
    "challenge_reused": 409,
    "review_error": 400,
    "review_case_not_found": 404,
    "review_case_decided": 409,
    "review_case_expired": 410,
    "review_note_too_long": 400,
    "review_csrf": 403,
}


def http_status_of(exc: FaceProofError) -> int:
    """The status the service answers ``exc`` with: its code's entry in
    :data:`HTTP_STATUS`, else the nearest ancestor's that has one (500 at the root)."""
    for cls in type(exc).__mro__:
        code = getattr(cls, "code", None)
        if isinstance(code, str) and code in HTTP_STATUS and issubclass(cls, FaceProofError):
            return HTTP_STATUS[code]
    return 500


class MalformedRequest(InputError):
    """The request body cannot be parsed (broken multipart, invalid JSON, wrong shape)."""

    code = "malformed_request"


class UnsupportedMediaType(InputError):
    """The request's Content-Type is neither multipart/form-data nor application/json."""

    code = "unsupported_media_type"


class RequestTooLarge(InputError):
    """The whole request body is larger than the server accepts."""

    code = "request_too_large"


class HeadersTooLarge(InputError):
    """Too many request headers, one too long, or all of them too large together."""

    code = "headers_too_large"


class RequestTimeout(InputError):
    """The client did not send its request body within the request timeout."""

    code = "request_timeout"


class SelfieUnusable(InputError):
    """``POST /v1/check-profile``: the selfie was read and has a face, but cannot be used
    (several faces, face too small, too blurry, too dark, overexposed, head turned too
    far); the answer's ``selfie.status`` says which."""

    code = "selfie_unusable"


class AttributesDisabled(FaceProofError):
    """Gender/age estimation is switched off on this deployment (``FACEPROOF_ATTRIBUTES=``)."""

    code = "attributes_disabled"


class ThresholdNotAllowed(FaceProofError):
    """A request carried its own ``threshold`` and this server does not let callers move
    the trust decision (``FACEPROOF_ALLOW_REQUEST_THRESHOLD`` is off, the default)."""

    code = "threshold_not_allowed"


class Unauthorized(FaceProofError):
    """A missing or unknown API key."""

    code = "unauthorized"


class NotFound(FaceProofError):
    code = "not_found"


class MethodNotAllowed(FaceProofError):
    code = "method_not_allowed"


class RateLimited(Overloaded):
    """This API key (or client address) sent more requests than its rate allows."""

    code = "rate_limited"


class ServiceNotReady(Overloaded):
    """The models are still loading (or failed to load); see ``GET /readyz``."""

    code = "not_ready"


def retry_after_of(exc: FaceProofError) -> int | None:
    """Seconds for the ``Retry-After`` header of an overload-type error (taken from its
    ``detail["retry_after"]``, at least 1), else None."""
    if not isinstance(exc, Overloaded):
        return None
    value: Any = exc.detail.get("retry_after", 1)
    try:
        return max(1, int(value))
    except (TypeError, ValueError):
        return 1
