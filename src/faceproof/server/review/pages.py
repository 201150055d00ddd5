"""The review desk's pages (``/review/...``): sign-in, the queue, a case, its images and
face crops, the decision form and the summary. Server-rendered (Jinja2, autoescaped),
one small script for keyboard shortcuts, no third-party front-end code.

Every page but sign-in needs a reviewer session (a random token in a ``Secure``,
``HttpOnly``, ``SameSite=Strict`` cookie scoped to ``/review``; only its SHA-256 is
stored). Every form carries a CSRF token checked with a constant-time comparison: the
session's for signed-in forms, a double-submit cookie for the sign-in form. Errors are
pages with the error's stable code, never the JSON envelope.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from ...errors import FaceProofError, InvalidArgument
from ...review import MAX_NOTE_CHARS, Case, CaseAlreadyDecided, NoteTooLong, ReviewStore, Session
from ...review.images import aligned_crop, decode, encode_png
from ..errors import http_status_of
from ..state import request_id_of
from .desk import SESSION_TTL_S, ReviewDesk
from .texts import Texts, texts
from .view import case_view

__all__ = ["HERE", "build_router"]

HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "faceproof_review"
LOGIN_COOKIE = "faceproof_review_login"
LANG_COOKIE = "faceproof_review_lang"
MAX_LOGIN_FAILURES = 10
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; img-src 'self'; style-src 'self'; script-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

_env = Environment(
    loader=FileSystemLoader(str(HERE / "templates")),
    autoescape=select_autoescape(["html"], default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _short(ts: float | None) -> str:
    return "-" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%m-%d %H:%M")


_env.filters["when"] = _when
_env.filters["short"] = _short

Handler = Callable[..., Awaitable[Response]]


def desk_of(request: Request) -> ReviewDesk:
    desk: ReviewDesk = request.app.state.review
    return desk


def _lang(request: Request) -> Texts:
    lang = request.cookies.get(LANG_COOKIE) or desk_of(request).settings.lang
    return texts(lang)


def render(request: Request, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
    t = ctx.pop("t", None) or _lang(request)
    html = _env.get_template(name).render(t=t, lang=t.lang, path=request.url.path, **ctx)
    return HTMLResponse(html, status_code=status, headers=_SECURITY_HEADERS)


def error_page(request: Request, exc: FaceProofError, message: str | None = None, **ctx: Any) -> HTMLResponse:
    request.scope.setdefault("state", {})["error_code"] = exc.code
    t = _lang(request)
    status = http_status_of(exc)
    if message is None:
        message = {
            404: t("not_found"),
            410: t("expired_msg"),
            503: t("db_down"),
        }.get(status, exc.message)
    return render(
        request, "error.html", status, t=t, code=exc.code, message=message, request_id=request_id_of(request), **ctx
    )


def pages(handler: Handler) -> Handler:
    """Errors of a page handler as error pages (the app's handler would answer JSON)."""

    @wraps(handler)
    async def wrapper(request: Request, *args: Any, **kwargs: Any) -> Response:
        try:
            return await handler(request, *args, **kwargs)
        except FaceProofError as exc:
            return error_page(request, exc)

    return wrapper


async def current_session(request: Request) -> Session | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    return await desk_of(request).call(lambda cases: cases.sessions.get(token))


def _to_login(request: Request) -> RedirectResponse:
    return RedirectResponse(f"/review/login?next={quote(request.url.path)}", status_code=303)


def _safe_next(value: str | None) -> str:
    if value and value.startswith("/review/") and "//" not in value and "\\" not in value and len(value) < 200:
        return value
    return "/review/"


class Forbidden(FaceProofError):
    code = "review_csrf"


class Unauthenticated(FaceProofError):
    code = "unauthorized"


def _csrf_ok(expected: str | None, given: Any) -> bool:
    if not expected or not isinstance(given, str):
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


def build_router(desk: ReviewDesk) -> APIRouter:
    router = APIRouter(prefix="/review", include_in_schema=False)
    secure = desk.settings.review_cookie_secure

    def set_cookie(response: Response, name: str, value: str, max_age: int | None) -> None:
        response.set_cookie(
            name, value, max_age=max_age, path="/review", secure=secure, httponly=True, samesite="strict"
        )

    # ------------------------------------------------------------------ sign-in

    @router.get("/login")
    @pages
    async def login_form(request: Request, next: str | None = None) -> Response:
        if await current_session(request) is not None:
            return RedirectResponse(_safe_next(next), status_code=303)
        return _login_page(request, next)

    def _login_page(request: Request, next_: str | None, *, error: str | None = None, status: int = 200) -> Response:
        token = secrets.token_urlsafe(24)
        response = render(request, "login.html", status, csrf=token, next=_safe_next(next_), error=error)
        set_cookie(response, LOGIN_COOKIE, token, 3600)
        return response

    @router.post("/login")
    @pages
    async def login(request: Request) -> Response:
        form = await request.form()
        t = _lang(request)
        if not _csrf_ok(request.cookies.get(LOGIN_COOKIE), form.get("csrf")):
            return error_page(request, Forbidden("missing or wrong CSRF token"), t("csrf"))
        name, password = str(form.get("name") or "")[:64], str(form.get("password") or "")
        next_ = str(form.get("next") or "")
        failures = await desk.call(lambda cases: cases.sessions.login_failures(name))
        if failures >= MAX_LOGIN_FAILURES:
            request.scope.setdefault("state", {})["error_code"] = "rate_limited"
            return _login_page(request, next_, error=t("too_many"), status=429)
        reviewer = await asyncio.to_thread(desk.reviewers.check, name, password)
        if reviewer is None:
            await desk.call(lambda cases: cases.sessions.count_login_failure(name))
            request.scope.setdefault("state", {})["error_code"] = "unauthorized"
            return _login_page(request, next_, error=t("wrong_login"), status=401)
        token, _ = await desk.call(lambda cases: cases.sessions.open(reviewer, ttl_s=SESSION_TTL_S))
        response = RedirectResponse(_safe_next(next_), status_code=303)
        set_cookie(response, SESSION_COOKIE, token, int(SESSION_TTL_S))
        response.delete_cookie(LOGIN_COOKIE, path="/review")
        return response

    @router.post("/logout")
    @pages
    async def logout(request: Request) -> Response:
        session = await current_session(request)
        form = await request.form()
        if session is None:
            return _to_login(request)
        if not _csrf_ok(session.csrf, form.get("csrf")):
            return error_page(request, Forbidden("missing or wrong CSRF token"), _lang(request)("csrf"))
        token = request.cookies.get(SESSION_COOKIE)
        await desk.call(lambda cases: cases.sessions.end(token))
        response = RedirectResponse("/review/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/review")
        return response

    @router.get("/lang/{lang}")
    async def set_lang(request: Request, lang: str, next: str | None = None) -> Response:
        response = RedirectResponse(_safe_next(next), status_code=303)
        set_cookie(response, LANG_COOKIE, "ko" if lang == "ko" else "en", 365 * 86400)
        return response

    # ------------------------------------------------------------------ queue and summary

    @router.get("")
    async def root() -> Response:
        return RedirectResponse("/review/", status_code=303)

    @router.get("/")
    @pages
    async def queue(request: Request, reason: str | None = None, done: str | None = None) -> Response:
        session = await current_session(request)
        if session is None:
            return _to_login(request)
        reason = reason or None
        if reason is not None and not reason.replace("_", "").isalpha():
            raise InvalidArgument("reason must be a reason code")
        rows, reasons = await desk.call(lambda cases: (cases.queue(reason=reason), cases.queue_reasons()))
        return render(
            request,
            "queue.html",
            session=session,
            cases=rows,
            reasons=reasons,
            reason=reason,
            done=done if done in ("approved", "rejected", "new_selfie") else None,
            now=time.time(),
        )

    @router.get("/summary")
    @pages
    async def summary(request: Request) -> Response:
        session = await current_session(request)
        if session is None:
            return _to_login(request)
        stats, audit = await desk.call(lambda cases: (cases.summary(), cases.audit(limit=50)))
        return render(request, "summary.html", session=session, stats=stats, audit=audit)

    # ------------------------------------------------------------------ a case

    async def _case_page(
        request: Request,
        session: Session,
        case: Case,
        *,
        status: int = 200,
        error: str | None = None,
        note: str = "",
        labels: dict[int, str] | None = None,
    ) -> Response:
        t = _lang(request)
        if not case.open or case.expires_at <= time.time():
            audit = await desk.call(lambda cases: cases.audit(case.id))
            shown = "expired" if case.open else case.status  # past its window, not purged yet
            return render(
                request, "closed.html", status, session=session, case=case, shown=shown, audit=audit, error=error
            )
        view = case_view(case, t)
        audit = await desk.call(lambda cases: cases.audit(case.id))
        return render(
            request,
            "case.html",
            status,
            t=t,
            session=session,
            case=case,
            view=view,
            audit=audit,
            error=error,
            note=note,
            labels=labels or {},
            max_note=MAX_NOTE_CHARS,
        )

    @router.get("/cases/{case_id}")
    @pages
    async def case_page(request: Request, case_id: str) -> Response:
        session = await current_session(request)
        if session is None:
            return _to_login(request)
        case = await desk.call(lambda cases: cases.get(case_id))
        return await _case_page(request, session, case)

    @router.get("/cases/{case_id}/images/{index}")
    @pages
    async def case_image(request: Request, case_id: str, index: int) -> Response:
        if await current_session(request) is None:
            raise Unauthenticated("sign in to see case images")
        image = await desk.call(lambda cases: cases.image(case_id, index))
        if image is None:
            return error_page(request, _NoImage("no such image"))
        return Response(image.data, media_type="image/jpeg", headers={**_SECURITY_HEADERS, "Cache-Control": "no-store"})

    @router.get("/cases/{case_id}/crops/{index}/{face}")
    @pages
    async def case_crop(request: Request, case_id: str, index: int, face: int) -> Response:
        if await current_session(request) is None:
            raise Unauthenticated("sign in to see case images")

        def crop(cases: ReviewStore) -> bytes | None:
            case = cases.get(case_id)
            image = cases.image(case_id, index)
            if image is None or case.result is None:
                return None
            if index == 0:
                faces = (case.result.get("selfie") or {}).get("faces") or []
            else:
                photos = case.result.get("photos") or []
                faces = photos[index - 1].get("faces", []) if 0 < index <= len(photos) else []
            if not 0 <= face < len(faces) or "landmarks" not in faces[face]:
                return None
            return encode_png(aligned_crop(decode(image.data), faces[face]["landmarks"]))

        data = await desk.call(crop)
        if data is None:
            return error_page(request, _NoImage("no such face"))
        return Response(data, media_type="image/png", headers={**_SECURITY_HEADERS, "Cache-Control": "no-store"})

    @router.post("/cases/{case_id}/decision")
    @pages
    async def decide(request: Request, case_id: str) -> Response:
        session = await current_session(request)
        if session is None:
            return _to_login(request)
        form = await request.form()
        t = _lang(request)
        if not _csrf_ok(session.csrf, form.get("csrf")):
            return error_page(request, Forbidden("missing or wrong CSRF token"), t("csrf"))
        decision = str(form.get("decision") or "")
        note = str(form.get("note") or "")
        labels: dict[int, bool] = {}
        raw_labels: dict[int, str] = {}
        for key, value in form.multi_items():
            if key.startswith("label_") and key[6:].isdigit() and value in ("same", "different"):
                labels[int(key[6:])] = value == "same"
                raw_labels[int(key[6:])] = str(value)
        try:
            await desk.call(
                lambda cases: cases.decide(
                    case_id,
                    reviewer=session.reviewer,
                    decision=decision,
                    note=note,
                    labels=labels,
                    keep_pairs=desk.settings.review_export,
                    pair_window_s=desk.window_s,
                )
            )
        except NoteTooLong as exc:
            request.scope.setdefault("state", {})["error_code"] = exc.code
            case = await desk.call(lambda cases: cases.get(case_id))
            return await _case_page(
                request,
                session,
                case,
                status=400,
                error=t("note_too_long", n=MAX_NOTE_CHARS),
                note=note[: MAX_NOTE_CHARS * 2],
                labels=raw_labels,
            )
        except CaseAlreadyDecided as exc:
            request.scope.setdefault("state", {})["error_code"] = exc.code
            case = await desk.call(lambda cases: cases.get(case_id))
            message = t("already", who=case.decided_by or "?", what=t.code(case.decision or "?"))
            audit = await desk.call(lambda cases: cases.audit(case.id))
            return render(
                request, "closed.html", 409, session=session, case=case, shown=case.status, audit=audit, error=message
            )
        return RedirectResponse(f"/review/?done={decision}", status_code=303)

    return router


class _NoImage(FaceProofError):
    code = "not_found"
