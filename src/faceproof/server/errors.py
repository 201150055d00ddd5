"""Errors that only the HTTP service raises: request-level problems (body too large, too
slow, malformed), authentication, rate limiting and readiness.

They are leaves of the one exception tree (:class:`faceproof.errors.FaceProofError`), so
each has a stable ``code`` and ``http_status`` like every other faceproof error and goes
through the same JSON envelope. The library itself never raises them.
"""

from __future__ import annotations

from typing import Any

from ..errors import FaceProofError, InputError, Overloaded

__all__ = [
    "AttributesDisabled",
    "MalformedRequest",
    "MethodNotAllowed",
    "NotFound",
    "RateLimited",
    "RequestTimeout",
    "RequestTooLarge",
    "SelfieUnusable",
    "ServiceNotReady",
    "Unauthorized",
    "UnsupportedMediaType",
    "retry_after_of",
]


class MalformedRequest(InputError):
    """The request body cannot be parsed (broken multipart, invalid JSON, wrong shape)."""

    code = "malformed_request"
    http_status = 400


class UnsupportedMediaType(InputError):
    """The request's Content-Type is neither multipart/form-data nor application/json."""

    code = "unsupported_media_type"
    http_status = 415


class RequestTooLarge(InputError):
    """The whole request body is larger than the server accepts."""

    code = "request_too_large"
    http_status = 413


class RequestTimeout(InputError):
    """The client did not send its request body within the request timeout."""

    code = "request_timeout"
    http_status = 408


class SelfieUnusable(InputError):
    """``POST /v1/check-profile``: the selfie was read and has a face, but cannot be used
    (several faces, face too small, too blurry, too dark, overexposed, head turned too
    far); the answer's ``selfie.status`` says which."""

    code = "selfie_unusable"
    http_status = 422


class AttributesDisabled(FaceProofError):
    """Gender/age estimation is switched off on this deployment (``FACEPROOF_ATTRIBUTES=``)."""

    code = "attributes_disabled"
    http_status = 403


class Unauthorized(FaceProofError):
    """A missing or unknown API key."""

    code = "unauthorized"
    http_status = 401


class NotFound(FaceProofError):
    code = "not_found"
    http_status = 404


class MethodNotAllowed(FaceProofError):
    code = "method_not_allowed"
    http_status = 405


class RateLimited(Overloaded):
    """This API key (or client address) sent more requests than its rate allows."""

    code = "rate_limited"
    http_status = 429


class ServiceNotReady(Overloaded):
    """The models are still loading (or failed to load); see ``GET /readyz``."""

    code = "not_ready"
    http_status = 503


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
