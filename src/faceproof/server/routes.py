"""The versioned image endpoints: ``POST /v1/verify``, ``/v1/distinguish``, ``/v1/faces``.

Each endpoint is a :class:`~faceproof.server.inputs.RequestSpec` (images + options, which
also generates its OpenAPI body), a job run on an inference worker, and a response
builder. To add an endpoint: declare its spec, read it with ``read_request``, run the
work with ``service_of(request).pool.run(job, deadline=...)`` and answer with
``report_response`` (see ``docs/service.md``).

HTTP status of a verify/distinguish answer: 200 when the comparison (or analysis) was
made, whatever the verdict; for an input problem, the typed error's status (422 no face
or unreadable image, 413 too large, 415 unsupported type) with the seed's
``result_code``/``result_message`` *and* the error envelope in the same body.
"""

from __future__ import annotations

import base64
import time
from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ..codes import Lang, VerifyCode, analyze_code_for_error, check_lang, verify_code_for_error
from ..compare import Metric
from ..errors import FaceProofError, ImageError, InvalidArgument, UnknownBackend
from ..verify import AnalyzeResult, VerifyResult
from .app import deadline_of, request_id_of, service_of
from .errors import AttributesDisabled
from .inputs import ImageField, OptionField, ParsedRequest, RequestSpec, read_request
from .middleware import envelope, state_of
from .parsing import parse_bool, parse_choice, parse_float, parse_int
from .schemas import DistinguishResponse, ErrorResponse, FacesResponse, VerifyResponse

__all__ = ["DISTINGUISH_SPEC", "FACES_SPEC", "VERIFY_SPEC", "report_response", "router", "server_timings"]

router = APIRouter(tags=["faces"])


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
THRESHOLD = OptionField(
    "threshold",
    lambda n, v: parse_float(n, v, minimum=0.0),
    {"type": "number", "minimum": 0},
    "distance threshold; a pair matches when distance <= threshold (default: the model x metric table)",
)
LANG = OptionField("lang", _lang, {"type": "string", "enum": ["ko", "en"]}, "message language (default: the server's)")
CROPS = OptionField(
    "crops", parse_bool, {"type": "boolean", "default": False}, "include aligned crops as base64 PNG data URIs"
)
CROP_SIZE = OptionField(
    "crop_size",
    lambda n, v: parse_int(n, v, minimum=16, maximum=512),
    {"type": "integer", "minimum": 16, "maximum": 512, "default": 224},
    "side of the square crops in pixels",
)
PADDING = OptionField(
    "padding",
    lambda n, v: parse_float(n, v, minimum=0.0, maximum=1.0),
    {"type": "number", "minimum": 0, "maximum": 1, "default": 0.2},
    "margin around the aligned face, as a fraction of its size",
)

VERIFY_SPEC = RequestSpec(
    images=(
        ImageField("origin", "origin", "the verification selfie"),
        ImageField("target", "target", "the profile photo to search for the selfie's person"),
    ),
    options=(MODEL, METRIC, THRESHOLD, LANG),
)
DISTINGUISH_SPEC = RequestSpec(images=(ImageField("image", "image", "the photo to analyse"),), options=(LANG,))
FACES_SPEC = RequestSpec(
    images=(ImageField("image", "image", "the photo whose faces to find"),), options=(CROPS, CROP_SIZE, PADDING)
)

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": text}
    for status, text in (
        (400, "invalid argument or malformed request"),
        (401, "missing or unknown API key"),
        (408, "the request body was not received in time"),
        (413, "request or image too large"),
        (415, "unsupported image type or request media type"),
        (422, "unreadable image, no face, URL refused or failed"),
        (429, "rate limit exceeded (Retry-After)"),
        (503, "overloaded or not ready (Retry-After)"),
    )
}


# ------------------------------------------------------------------ shared helpers


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
    return JSONResponse(body, status_code=error.http_status)


def server_timings(request: Request, waited_ms: float | None) -> dict[str, float]:
    """The service's own timings: the whole request so far and the wait for a worker."""
    started = state_of(request.scope).get("started", time.perf_counter())
    out = {"request": (time.perf_counter() - started) * 1000.0}
    if waited_ms is not None:
        out["queue_wait"] = waited_ms
    return out


def _check_model(request: Request, options: dict[str, Any]) -> None:
    model = options.get("model")
    served = service_of(request).models
    if model is not None and model not in served:
        raise UnknownBackend(f"model {model!r} is not served here; available: {', '.join(served)}", name=model)


# ------------------------------------------------------------------ verify


def _failed_verify(request: Request, exc: ImageError, options: dict[str, Any]) -> VerifyResult:
    """The verify result for an image the service itself could not take (bad base64,
    too large, URL refused): the same shape and seed codes as the library's."""
    role = exc.role if exc.role in ("origin", "target") else "origin"
    code = verify_code_for_error(exc, role)
    assert code is not None
    client = service_of(request).reference.client(options.get("model"))
    metric = Metric.parse(options.get("metric") or client.metric)
    threshold = client.threshold_for(metric, options.get("threshold"))
    return VerifyResult.failed(
        VerifyCode(code),
        exc,
        metric=metric,
        threshold=threshold,
        model=client.recognizer.name,
        detector=client.detector.name,
        lang=options.get("lang") or client.lang,
    )


@router.post(
    "/verify",
    summary="Is the selfie's person in the profile photo?",
    openapi_extra=VERIFY_SPEC.openapi(),
    response_model=VerifyResponse,
    responses=_ERRORS,
)
async def verify(request: Request) -> JSONResponse:
    parsed = ParsedRequest()
    try:
        await read_request(request, VERIFY_SPEC, service_of(request).settings, deadline_of(request), into=parsed)
    except ImageError as exc:
        _check_model(request, parsed.options)
        failed = _failed_verify(request, exc, parsed.options)
        return report_response(request, failed.to_report(), exc, server_timings(request, None))
    opts = parsed.options
    _check_model(request, opts)
    origin, target = parsed.image("origin"), parsed.image("target")

    def job(worker: Any) -> VerifyResult:
        return worker.client(opts.get("model")).verify(  # type: ignore[no-any-return]
            origin, target, opts.get("threshold"), metric=opts.get("metric"), lang=opts.get("lang")
        )

    result, waited = await service_of(request).pool.run(job, deadline=deadline_of(request))  # type: ignore[union-attr]
    return report_response(request, result.to_report(), result.error, server_timings(request, waited))


# ------------------------------------------------------------------ distinguish


@router.post(
    "/distinguish",
    summary="Gender and age of every face (never used in the verdict)",
    openapi_extra=DISTINGUISH_SPEC.openapi(),
    response_model=DistinguishResponse,
    responses={**_ERRORS, 403: {"model": ErrorResponse, "description": "attributes are disabled on this server"}},
)
async def distinguish(request: Request) -> JSONResponse:
    svc = service_of(request)
    if not svc.reference.default.attribute_names:
        raise AttributesDisabled("gender and age estimation is switched off on this server")
    parsed = ParsedRequest()
    try:
        await read_request(request, DISTINGUISH_SPEC, svc.settings, deadline_of(request), into=parsed)
    except ImageError as exc:
        code = analyze_code_for_error(exc)
        assert code is not None
        lang: Lang = parsed.option("lang") or check_lang(svc.settings.lang)
        failed = AnalyzeResult(code=code, error=exc.with_role("image"), lang=lang)
        return report_response(request, failed.to_report(), exc, server_timings(request, None))
    image, lang = parsed.image("image"), parsed.option("lang")

    def job(worker: Any) -> AnalyzeResult:
        return worker.default.distinguish(image, lang=lang)  # type: ignore[no-any-return]

    result, waited = await svc.pool.run(job, deadline=deadline_of(request))  # type: ignore[union-attr]
    return report_response(request, result.to_report(), result.error, server_timings(request, waited))


# ------------------------------------------------------------------ faces


def _png_data_uri(rgb: np.ndarray) -> str:
    import cv2

    ok, encoded = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:  # pragma: no cover - PNG encoding of a uint8 array does not fail
        raise RuntimeError("PNG encoding failed")
    return "data:image/png;base64," + base64.b64encode(encoded.tobytes()).decode("ascii")


@router.post(
    "/faces",
    summary="Faces: boxes, scores, landmarks and optional aligned crops",
    openapi_extra=FACES_SPEC.openapi(),
    response_model=FacesResponse,
    responses=_ERRORS,
)
async def faces(request: Request) -> JSONResponse:
    svc = service_of(request)
    parsed = await read_request(request, FACES_SPEC, svc.settings, deadline_of(request))
    image = parsed.image("image")
    crops = bool(parsed.option("crops", False))
    size = parsed.option("crop_size")
    padding = parsed.option("padding")

    def job(worker: Any) -> tuple[list[dict[str, Any]], str, dict[str, float]]:
        fp = worker.default
        start = time.perf_counter()
        if crops:
            out = [
                {**c.face.to_dict(), "crop": _png_data_uri(c.image)}
                for c in fp.get_faces(image, size=size, padding=padding)
            ]
        else:
            out = [f.to_dict() for f in fp.detect(image)]
        return out, fp.detector.name, {"total": (time.perf_counter() - start) * 1000.0}

    (found, detector, timings), waited = await svc.pool.run(job, deadline=deadline_of(request))  # type: ignore[union-attr]
    report = {"count": len(found), "detector": detector, "faces": found, "timings_ms": timings}
    return report_response(request, report, None, server_timings(request, waited))
