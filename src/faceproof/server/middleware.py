"""The outermost ASGI layer: request ids, the request-body cap, the active-request cap,
``Cache-Control: no-store``, one access-log line per request and a last-resort 500
envelope (never a traceback to the caller).

The access log carries the request id, method, path (never the query string), status,
error code and duration: no image, embedding, URL or API key. A client that goes away
before its request was read (Starlette's ``ClientDisconnect``) is a client event: one
INFO access line with status 499 and ``client_disconnected``, no traceback, no answer.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from contextvars import ContextVar
from typing import Any

from starlette.requests import ClientDisconnect

from ..errors import FaceProofError, Overloaded
from .errors import HeadersTooLarge, MalformedRequest, RequestTooLarge, http_status_of, retry_after_of

__all__ = ["CLIENT_CLOSED", "REQUEST_ID", "ServiceMiddleware", "envelope", "error_headers"]

access_log = logging.getLogger("faceproof.server.access")
logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

REQUEST_ID: ContextVar[str] = ContextVar("faceproof_request_id", default="-")
_INCOMING_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_UNPRINTABLE = re.compile(r"[^\x21-\x7e]")
#: the status logged for a request whose client went away first (nginx's convention); never sent
CLIENT_CLOSED = 499


def envelope(code: str, message: str, request_id: str) -> dict[str, Any]:
    """The one error shape: ``{"error": {"code", "message", "request_id"}}``."""
    return {"error": {"code": code, "message": message, "request_id": request_id}}


def error_headers(exc: FaceProofError) -> dict[str, str]:
    seconds = retry_after_of(exc)
    return {"Retry-After": str(seconds)} if seconds is not None else {}


def state_of(scope: Scope) -> dict[str, Any]:
    state: dict[str, Any] = scope.setdefault("state", {})
    return state


class ServiceMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        max_active: int,
        guarded_prefix: str = "/v1/",
        max_header_count: int = 100,
        max_header_bytes: int = 8 * 1024,
        max_headers_total_bytes: int = 32 * 1024,
    ) -> None:
        self.app = app
        self.max_header_count = max_header_count
        self.max_header_bytes = max_header_bytes
        self.max_headers_total_bytes = max_headers_total_bytes
        self.max_body_bytes = max_body_bytes
        self.max_active = max_active
        self.guarded_prefix = guarded_prefix
        self.active = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        too_large = self._header_refusal(scope.get("headers", []))
        headers = {} if too_large else {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        incoming = headers.get("x-request-id", "")
        request_id = incoming if _INCOMING_ID.match(incoming) else uuid.uuid4().hex
        state = state_of(scope)
        state["request_id"] = request_id
        state["started"] = started
        token = REQUEST_ID.set(request_id)
        sent: dict[str, Any] = {"status": 0}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                sent["status"] = message["status"]
                extra = [(b"x-request-id", request_id.encode("ascii")), (b"cache-control", b"no-store")]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        guarded = scope.get("path", "").startswith(self.guarded_prefix)
        counted = False
        try:
            refusal = too_large or self._refusal(headers, guarded)
            if refusal is not None:
                state["error_code"] = refusal.code
                await self._send_error(send_wrapper, refusal, request_id)
                return
            if guarded:
                self.active += 1
                counted = True
            await self.app(scope, self._capped(receive), send_wrapper)
        except ClientDisconnect:
            # the client closed the connection mid-request: nobody to answer, nothing of ours failed
            state["error_code"] = "client_disconnected"
            if sent["status"] == 0:
                sent["status"] = CLIENT_CLOSED
        except Exception as exc:
            if isinstance(exc, FaceProofError):
                state["error_code"] = exc.code
                if sent["status"] == 0:
                    await self._send_error(send_wrapper, exc, request_id)
            else:
                state["error_code"] = "internal_error"
                logger.error(
                    "request %s failed: %s",
                    request_id,
                    type(exc).__name__,
                    exc_info=(type(exc), exc, exc.__traceback__),
                )
                if sent["status"] == 0:
                    await self._send_json(
                        send_wrapper, 500, envelope("internal_error", "internal server error", request_id), {}
                    )
        finally:
            if counted:
                self.active -= 1
            REQUEST_ID.reset(token)
            path = _UNPRINTABLE.sub("?", scope.get("path", ""))[:128]
            access_log.info(
                "%s %s %s %s %s %.1fms",
                request_id,
                scope.get("method", "-"),
                path,
                sent["status"],
                state.get("error_code", "-"),
                (time.perf_counter() - started) * 1000.0,
            )

    def _header_refusal(self, raw: list[tuple[bytes, bytes]]) -> FaceProofError | None:
        """The request headers' limits (the server may have enforced them already:
        ``faceproof serve`` runs uvicorn with :mod:`faceproof.server.protocol`)."""
        if len(raw) > self.max_header_count:
            return HeadersTooLarge(f"the request has more than {self.max_header_count} headers")
        total = 0
        for name, value in raw:
            size = len(name) + len(value)
            if size > self.max_header_bytes:
                return HeadersTooLarge(f"a request header is longer than {self.max_header_bytes} bytes")
            total += size + 4  # ": " and CRLF, as on the wire
        if total > self.max_headers_total_bytes:
            return HeadersTooLarge(f"the request headers are larger than {self.max_headers_total_bytes} bytes")
        return None

    def _refusal(self, headers: dict[str, str], guarded: bool) -> FaceProofError | None:
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                return MalformedRequest("the Content-Length header is not a number")
            if int(declared) > self.max_body_bytes:
                return RequestTooLarge(f"the request body is larger than {self.max_body_bytes} bytes")
        if guarded and self.active >= self.max_active:
            return Overloaded(f"the server is handling {self.active} requests; retry later", retry_after=1)
        return None

    def _capped(self, receive: Receive) -> Receive:
        received = 0
        limit = self.max_body_bytes

        async def capped_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise RequestTooLarge(f"the request body is larger than {limit} bytes")
            return message

        return capped_receive

    async def _send_error(self, send: Send, exc: FaceProofError, request_id: str) -> None:
        await self._send_json(
            send, http_status_of(exc), envelope(exc.code, exc.message, request_id), error_headers(exc)
        )

    @staticmethod
    async def _send_json(send: Send, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
        payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        raw_headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode("ascii")),
            *((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()),
        ]
        await send({"type": "http.response.start", "status": status, "headers": raw_headers})
        await send({"type": "http.response.body", "body": payload})
