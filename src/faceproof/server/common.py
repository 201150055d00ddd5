"""What the routes share: the recognition options, the documented error answers, the
answer of a result report and the service's own timings."""

from __future__ import annotations

import time
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from ..codes import check_lang
from ..errors import FaceProofError, InvalidArgument, UnknownBackend
from ..runtime.align import MAX_PADDING, MIN_CROP_SIZE
from ..runtime.compare import Metric
from .errors import ThresholdNotAllowed, http_status_of
from .inputs import OptionField
from .middleware import envelope, state_of
from .parsing import parse_bool, parse_choice, parse_float, parse_int
from .schemas import ErrorResponse
from .state import request_id_of, service_of

__all__ = [
    "CALLER_THRESHOLD_NOTE",
    "CROPS",
    "CROP_SIZE",
    "ERROR_RESPONSES",
    "LANG",
    "MAX_CROP_SIZE",
    "METRIC",
    "MODEL",
    "PADDING",
    "THRESHOLD",
    "check_model",
    "check_threshold",
    "note_caller_threshold",
    "number_option",
    "report_response",
    "server_timings",
]


#: the largest crop the service makes (a service limit: the library has none)
MAX_CROP_SIZE = 512


def number_option(
    name: str,
    description: str,
    *,
    integer: bool = False,
    minimum: float | None = None,
    maximum: float | None = None,
    exclusive_maximum: float | None = None,
    default: float | None = None,
) -> OptionField:
    """A numeric option whose parser and OpenAPI schema (and so the documented range) come
    from the same numbers."""
    schema: dict[str, Any] = {"type": "integer" if integer else "number"}
    for key, bound in (("minimum", minimum), ("maximum", maximum), ("exclusiveMaximum", exclusive_maximum)):
        if bound is not None:
            schema[key] = int(bound) if integer else bound
    if default is not None:
        schema["default"] = default
    if integer:
        if exclusive_maximum is not None:
            raise ValueError("integer options take an inclusive maximum")
        low = None if minimum is None else int(minimum)
        high = None if maximum is None else int(maximum)
        return OptionField(name, lambda n, v: parse_int(n, v, minimum=low, maximum=high), schema, description)
    return OptionField(
        name,
        lambda n, v: parse_float(n, v, minimum=minimum, maximum=maximum, exclusive_maximum=exclusive_maximum),
        schema,
        description,
    )


def _model_name(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 40:
        raise InvalidArgument(f"{name} must be a model name, got {str(value)[:40]!r}")
    return value.strip().lower()


def _lang(name: str, value: Any) -> str:
    return check_lang(parse_choice(name, value, ("ko", "en")))


MODEL = OptionField("model", _model_name, {"type": "string"}, "recognition model (default: the server's first)")
METRIC = OptionField(
    "metric",
    lambda n, v: Metric.parse(parse_choice(n, v, tuple(m.value for m in Metric))).value,
    {"type": "string", "enum": [m.value for m in Metric]},
    "distance metric (default: the server's)",
)
THRESHOLD = number_option(
    "threshold",
    "distance threshold; a pair matches when distance <= threshold (default: the model x metric table). "
    "Refused with 403 threshold_not_allowed unless the server allows per-request thresholds "
    "(FACEPROOF_ALLOW_REQUEST_THRESHOLD); when allowed, the answer says threshold_source: caller",
    minimum=0.0,
)
#: added to an answer's notes when the caller set the threshold (the server allows it)
CALLER_THRESHOLD_NOTE = "the threshold was set by the caller (this server allows per-request thresholds)"
LANG = OptionField("lang", _lang, {"type": "string", "enum": ["ko", "en"]}, "message language (default: the server's)")
CROPS = OptionField(
    "crops", parse_bool, {"type": "boolean", "default": False}, "include aligned crops as base64 PNG data URIs"
)
CROP_SIZE = number_option(
    "crop_size",
    "side of the square crops in pixels",
    integer=True,
    minimum=MIN_CROP_SIZE,
    maximum=MAX_CROP_SIZE,
    default=224,
)
PADDING = number_option(
    "padding",
    "margin added on every side of the aligned face, as a fraction of the crop's side",
    minimum=0.0,
    exclusive_maximum=MAX_PADDING,
    default=0.2,
)

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": text}
    for status, text in (
        (400, "invalid argument or malformed request"),
        (401, "missing or unknown API key"),
        (403, "a per-request threshold on a server that does not allow it (threshold_not_allowed)"),
        (408, "the request body was not received in time"),
        (413, "request or image too large"),
        (415, "unsupported image type or request media type"),
        (422, "unreadable image, no face, URL refused or failed"),
        (429, "rate limit exceeded (Retry-After)"),
        (503, "overloaded or not ready (Retry-After)"),
    )
}


def report_response(
    request: Request, report: dict[str, Any], error: FaceProofError | None, timings: dict[str, float]
) -> JSONResponse:
    """A result report as the HTTP answer: 200, or the error's status with the envelope."""
    rid = request_id_of(request)
    body: dict[str, Any] = {"request_id": rid, **report}
    body.pop("error", None)
    body["timings_ms"] = {**body.get("timings_ms", {}), **{k: round(v, 2) for k, v in timings.items()}}
    if error is None:
        return JSONResponse(body)
    state_of(request.scope)["error_code"] = error.code
    body.update(envelope(error.code, error.message, rid))
    return JSONResponse(body, status_code=http_status_of(error))


def server_timings(request: Request, waited_ms: float | None) -> dict[str, float]:
    """The service's own timings: the whole request so far and the wait for a worker."""
    started = state_of(request.scope).get("started", time.perf_counter())
    out = {"request": (time.perf_counter() - started) * 1000.0}
    if waited_ms is not None:
        out["queue_wait"] = waited_ms
    return out


def check_threshold(request: Request, options: dict[str, Any]) -> None:
    """Refuse a caller-supplied threshold unless the server allows it: who chooses the
    threshold chooses the verdict (``threshold=1e308`` makes anyone match)."""
    if options.get("threshold") is not None and not service_of(request).settings.allow_request_threshold:
        raise ThresholdNotAllowed(
            "this server does not accept a per-request threshold; the server's thresholds apply "
            "(an operator can allow it with FACEPROOF_ALLOW_REQUEST_THRESHOLD)"
        )


def note_caller_threshold(report: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    """The report, noting a caller-set threshold (its ``threshold_source`` is ``caller``)."""
    if options.get("threshold") is not None:
        report["notes"] = [*report.get("notes", []), CALLER_THRESHOLD_NOTE]
    return report


def check_model(request: Request, options: dict[str, Any]) -> None:
    model = options.get("model")
    served = service_of(request).models
    if model is not None and model not in served:
        raise UnknownBackend(f"model {model!r} is not served here; available: {', '.join(served)}", name=model)
