"""The FastAPI application: lifespan (models load once, warm-up in the background),
the error envelope, health/readiness/models endpoints and the versioned API router.

``create_app(settings)`` builds an app; ``app_from_env()`` is the factory uvicorn's
worker processes call (settings from ``FACEPROOF_*``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from .._version import __version__
from ..decision.policy import Policy
from ..errors import FaceProofError, InvalidArgument
from .challenge_routes import router as challenge_router
from .errors import MethodNotAllowed, NotFound, ServiceNotReady
from .index_routes import router as index_router
from .middleware import ServiceMiddleware, envelope, state_of
from .pool import InferencePool
from .profile_routes import build_router as check_profile_router
from .review import install as install_review_desk
from .routes import router as v1_router
from .security import API_KEY_HEADER, KeyRing, RateLimiter, authenticate
from .settings import ServiceSettings
from .state import ServiceState, deadline_of, error_response, request_id_of, service_of
from .store_limiter import StoreRateLimiter
from .store_limiter import take as take_token
from .workers import build_worker

__all__ = ["ServiceState", "app_from_env", "create_app", "deadline_of", "request_id_of", "service_of"]


logger = logging.getLogger(__name__)

#: loggers of libraries that would log a fetched URL (query string included) at INFO
_URL_LOGGERS = ("httpx", "httpcore")


# ------------------------------------------------------------------ guards (dependencies)


def _client_of(request: Request) -> str:
    return request.client.host if request.client is not None else "-"


def _key_id(request: Request) -> str | None:
    """The caller's key id when keys are on (wrong keys are rate-limited per address)."""
    svc = service_of(request)
    if not svc.keyring.enabled:
        return None
    return authenticate(svc.keyring, svc.auth_failures, request.headers.get(API_KEY_HEADER), _client_of(request))


async def guard_docs(request: Request) -> None:
    """``/docs`` and ``/openapi.json`` when API keys are on and the docs are not public."""
    _key_id(request)


async def guard_v1(request: Request) -> None:
    """API key, rate limit and readiness, checked before any body is read."""
    svc = service_of(request)
    key_id = _key_id(request)
    state_of(request.scope)["key_id"] = key_id  # who acts, for audit rows (an id, never the key)
    await take_token(svc.limiter, f"key:{key_id}" if key_id else f"addr:{_client_of(request)}")
    if not svc.ready:
        if svc.warmup_error is not None:
            raise ServiceNotReady(f"the models failed to load: {svc.warmup_error.message}", retry_after=30)
        raise ServiceNotReady("the models are still loading; retry shortly", retry_after=1)


# ------------------------------------------------------------------ lifespan


async def _warm_up(state: ServiceState) -> None:
    assert state.pool is not None
    start = time.perf_counter()
    try:
        await state.pool.run_on_all(lambda w: w.warmup())
    except FaceProofError as exc:
        state.warmup_error = exc
        logger.error("warm-up failed: %s: %s", exc.code, exc.message)
        return
    except Exception as exc:
        state.warmup_error = FaceProofError(f"warm-up failed: {type(exc).__name__}: {exc}")
        logger.error("warm-up failed", exc_info=True)
        return
    state.warmup_ms = (time.perf_counter() - start) * 1000.0
    state.ready = True
    logger.info("ready: %d inference workers warmed up in %.0f ms", state.pool.size, state.warmup_ms)
    if state.settings.store_url is not None:
        await _warm_index(state)


async def _warm_index(state: ServiceState) -> None:
    """Load the member index's gallery for exact search after the models are ready (the
    service answers meanwhile; a search that comes first waits for the load). A database
    that is down is no reason to stop: the index routes answer 503 until it is back."""
    start = time.perf_counter()
    try:
        held = await asyncio.to_thread(lambda: state.member_index().warm())
    except FaceProofError as exc:
        logger.warning("member index not loaded at start-up: %s: %s", exc.code, exc.message)
        return
    except Exception as exc:
        logger.warning("member index not loaded at start-up: %s", type(exc).__name__)
        return
    logger.info("member index: %d templates in memory in %.0f ms", held, (time.perf_counter() - start) * 1000.0)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    state: ServiceState = app.state.service
    settings = state.settings
    threads = settings.opencv_threads
    previous_threads: int | None = None
    if threads is not None:
        import cv2

        previous_threads = cv2.getNumThreads()
        cv2.setNumThreads(threads)
    workers = [state.reference, *(build_worker(i, settings) for i in range(1, settings.slots))]
    state.pool = InferencePool(workers, settings.max_queue)
    state._warmup_task = asyncio.create_task(_warm_up(state))
    logger.info(
        "faceproof %s: %d inference workers, models %s, queue %d, OpenCV threads %s",
        __version__,
        len(workers),
        ",".join(state.models),
        settings.max_queue,
        threads if threads is not None else "default",
    )
    try:
        yield
    finally:
        state.ready = False
        if state._warmup_task is not None and not state._warmup_task.done():
            state._warmup_task.cancel()
        await asyncio.to_thread(state.pool.shutdown)
        state.close_index()
        if isinstance(state.limiter, StoreRateLimiter):
            await asyncio.to_thread(state.limiter.close)
        state.close_auth()
        if previous_threads is not None:  # OpenCV's setting is process-wide: leave it as found
            import cv2

            cv2.setNumThreads(previous_threads)


# ------------------------------------------------------------------ the app


def _limiter(settings: ServiceSettings) -> RateLimiter | StoreRateLimiter:
    """In the store when there is one (one limit for all replicas sharing it), else in memory."""
    if settings.store_url is not None and settings.rate_limit > 0:
        return StoreRateLimiter(settings.store_url, settings.rate_limit, settings.rate_bucket)
    return RateLimiter(settings.rate_limit, settings.rate_bucket)


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    """A FastAPI app serving faceproof with these settings (default: from the environment).

    Backend names are checked now; models load in the lifespan and warm up in the
    background (``GET /readyz`` turns 200 when done).
    """
    settings = ServiceSettings.from_env() if settings is None else settings
    for name in _URL_LOGGERS:  # httpx logs "HTTP Request: GET <url>" per fetch at INFO
        logging.getLogger(name).setLevel(logging.WARNING)
    policy = Policy.default() if settings.policy is None else Policy.from_file(settings.policy)
    if settings.max_photos > policy.max_photos:
        raise InvalidArgument(
            f"max_photos ({settings.max_photos}) exceeds the policy's max_photos ({policy.max_photos})"
        )
    state = ServiceState(
        settings=settings,
        reference=build_worker(0, settings),
        keyring=KeyRing(settings.api_keys),
        limiter=_limiter(settings),
        policy=policy,
        auth_failures=RateLimiter(settings.auth_failure_limit, settings.auth_failure_burst),
    )
    # with keys on, the API's description is for key holders too, unless made public
    docs_behind_key = settings.docs and settings.auth_enabled and not settings.docs_public
    if not state.check_profile_available:
        logger.warning("POST /v1/check-profile will answer 501: %s", state.reference.confirmer_missing)
    app = FastAPI(
        title="faceproof",
        version=__version__,
        summary="Offline face verification: is the person in the selfie the person in the profile photos?",
        lifespan=lifespan,
        docs_url="/docs" if settings.docs and not docs_behind_key else None,
        redoc_url=None,
        openapi_url="/openapi.json" if settings.docs and not docs_behind_key else None,
        # no 307 to the same path with a slash added or removed: its Location would be built
        # from the client's Host header; a path that is not a route is a 404 envelope
        redirect_slashes=False,
    )
    app.state.service = state

    @app.exception_handler(FaceProofError)
    async def on_faceproof_error(request: Request, exc: FaceProofError) -> JSONResponse:
        return error_response(request, exc)

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            return error_response(request, NotFound(f"no such endpoint: {request.method} {request.url.path[:100]}"))
        if exc.status_code == 405:
            response = error_response(request, MethodNotAllowed(f"{request.method} is not allowed here"))
            allow = (exc.headers or {}).get("Allow")
            if allow:  # RFC 9110 15.5.6: a 405 names the methods the resource allows
                response.headers["Allow"] = allow
            return response
        error = FaceProofError(str(exc.detail)[:200])
        state_of(request.scope)["error_code"] = "http_error"
        return JSONResponse(envelope("http_error", error.message, request_id_of(request)), status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        from ..errors import InvalidArgument

        where = "; ".join(".".join(str(p) for p in e.get("loc", ())) + ": " + str(e.get("msg")) for e in exc.errors())
        return error_response(request, InvalidArgument(f"invalid request: {where[:300]}"))

    @app.get("/healthz", tags=["health"], summary="The process is up")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "version": __version__}

    @app.get("/readyz", tags=["health"], summary="Models loaded and a warm-up inference passed")
    async def readyz(request: Request) -> JSONResponse:
        svc = service_of(request)
        stats = svc.pool.stats() if svc.pool is not None else {}
        if svc.ready:
            return JSONResponse({"ready": True, "warmup_ms": round(svc.warmup_ms or 0.0, 1), "pool": stats})
        # a failed warm-up will not fix itself (a missing or altered model file): the same
        # "retry much later" as the /v1 routes give, not a 1 s probe loop
        if svc.warmup_error is not None:
            message = f"warm-up failed: {svc.warmup_error.code}: {svc.warmup_error.message}"
            retry_after = "30"
        else:
            message = "the models are still loading"
            retry_after = "1"
        state_of(request.scope)["error_code"] = "not_ready"
        body = {"ready": False, **envelope("not_ready", message, request_id_of(request))}
        return JSONResponse(body, status_code=503, headers={"Retry-After": retry_after})

    models_router = APIRouter(prefix="/v1", dependencies=[Depends(guard_v1)], tags=["models"])

    @models_router.get("/models", summary="Models, versions, SHA-256, licences, thresholds and limits")
    async def models(request: Request) -> dict[str, Any]:
        return service_of(request).describe()

    app.include_router(models_router)

    if docs_behind_key:
        from fastapi.openapi.docs import get_swagger_ui_html
        from fastapi.responses import HTMLResponse

        docs_router = APIRouter(dependencies=[Depends(guard_docs)], include_in_schema=False)

        @docs_router.get("/openapi.json")
        async def openapi_document() -> JSONResponse:
            return JSONResponse(app.openapi())

        @docs_router.get("/docs")
        async def swagger_ui() -> HTMLResponse:
            return get_swagger_ui_html(openapi_url="/openapi.json", title="faceproof")

        app.include_router(docs_router)
    app.include_router(v1_router, prefix="/v1", dependencies=[Depends(guard_v1)])
    app.include_router(index_router, prefix="/v1", dependencies=[Depends(guard_v1)])
    app.include_router(check_profile_router(settings), prefix="/v1", dependencies=[Depends(guard_v1)])
    app.include_router(challenge_router, prefix="/v1", dependencies=[Depends(guard_v1)])
    install_review_desk(app, settings)  # /review/..., only when reviewers are configured

    if settings.cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", API_KEY_HEADER, "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After"],
        )
    app.add_middleware(
        ServiceMiddleware,
        max_body_bytes=settings.max_body_bytes,
        max_active=settings.max_active,
        max_header_count=settings.max_header_count,
        max_header_bytes=settings.max_header_bytes,
        max_headers_total_bytes=settings.max_headers_total_bytes,
    )  # added last: outermost
    return app


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` (worker processes): settings from the environment."""
    return create_app(ServiceSettings.from_env())
