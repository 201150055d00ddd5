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
from ..errors import ImageError
from ..runtime.compare import Metric
from ..runtime.verify import AnalyzeResult, VerifyResult
from .common import (
    CROP_SIZE,
    CROPS,
    ERROR_RESPONSES,
    LANG,
    METRIC,
    MODEL,
    PADDING,
    THRESHOLD,
    check_model,
    check_threshold,
    note_caller_threshold,
    report_response,
    server_timings,
)
from .errors import AttributesDisabled
from .inputs import ImageField, ParsedRequest, RequestSpec, read_request
from .schemas import DistinguishResponse, ErrorResponse, FacesResponse, VerifyResponse
from .state import deadline_of, service_of

__all__ = ["DISTINGUISH_SPEC", "FACES_SPEC", "VERIFY_SPEC", "report_response", "router", "server_timings"]

router = APIRouter(tags=["faces"])


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

# ------------------------------------------------------------------ verify


def _failed_verify(request: Request, exc: ImageError, options: dict[str, Any]) -> VerifyResult:
    """The verify result for an image the service itself could not take (bad base64,
    too large, URL refused): the same shape and seed codes as the library's."""
    role = exc.role if exc.role in ("origin", "target") else "origin"
    code = verify_code_for_error(exc, role)
    assert code is not None
    client = service_of(request).reference.client(options.get("model"))
    metric = Metric.parse(options.get("metric") or client.metric)
    threshold = client.pipeline.threshold_for(metric, options.get("threshold"))
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
    responses=ERROR_RESPONSES,
)
async def verify(request: Request) -> JSONResponse:
    parsed = ParsedRequest()
    try:
        await read_request(request, VERIFY_SPEC, service_of(request).settings, deadline_of(request), into=parsed)
    except ImageError as exc:
        check_model(request, parsed.options)
        check_threshold(request, parsed.options)
        failed = _failed_verify(request, exc, parsed.options)
        report = note_caller_threshold(failed.to_report(), parsed.options)
        return report_response(request, report, exc, server_timings(request, None))
    opts = parsed.options
    check_model(request, opts)
    check_threshold(request, opts)
    origin, target = parsed.image("origin"), parsed.image("target")

    def job(worker: Any) -> VerifyResult:
        return worker.client(opts.get("model")).verify(  # type: ignore[no-any-return]
            origin, target, opts.get("threshold"), metric=opts.get("metric"), lang=opts.get("lang")
        )

    result, waited = await service_of(request).pool.run(job, deadline=deadline_of(request))  # type: ignore[union-attr]
    report = note_caller_threshold(result.to_report(), opts)
    return report_response(request, report, result.error, server_timings(request, waited))


# ------------------------------------------------------------------ distinguish


@router.post(
    "/distinguish",
    summary="Gender and age of every face (never used in the verdict)",
    openapi_extra=DISTINGUISH_SPEC.openapi(),
    response_model=DistinguishResponse,
    responses={
        **ERROR_RESPONSES,
        403: {"model": ErrorResponse, "description": "attributes are disabled on this server"},
    },
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
    responses=ERROR_RESPONSES,
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
