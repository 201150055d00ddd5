"""uvicorn's httptools protocol with bounded request headers and the JSON envelope on
protocol-level errors.

uvicorn's httptools protocol sets no limit on request headers: a 32 MB header, a 1 MB
header name or 10,000 headers are parsed whole (httptools accumulates a long header
value chunk by chunk, which costs quadratic time and stalls every other request on the
event loop). This protocol stops reading a request whose header section (request line
and headers) grows past ``max_headers_total_bytes`` before it is complete, and refuses a
header beyond ``max_header_count`` or longer than ``max_header_bytes`` as soon as it is
parsed: ``431 headers_too_large`` in the service's JSON envelope, then the connection is
closed. A request the HTTP parser rejects (a broken request line, bad chunked encoding)
gets ``400 malformed_request`` in the envelope instead of uvicorn's plain text.

The limits are the app's settings (``app.state.service.settings``) when the loaded app is
the service, else the defaults of :class:`ServiceSettings`. ``ServiceMiddleware`` checks
the same limits on every request, whatever the server (TestClient, another ASGI server),
but only a server-level bound keeps the parsing cost down.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .middleware import envelope
from .settings import ServiceSettings

__all__ = ["BoundedHttpToolsProtocol", "HeaderLimits"]

access_log = logging.getLogger("faceproof.server.access")

_REASONS = {400: b"Bad Request", 431: b"Request Header Fields Too Large"}


class HeaderLimits:
    """The three header limits of a settings object."""

    def __init__(self, settings: ServiceSettings) -> None:
        self.count = settings.max_header_count
        self.size = settings.max_header_bytes
        self.total = settings.max_headers_total_bytes


class _Refused(Exception):
    """Raised from a parser callback to stop parsing a request whose headers are refused."""


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """``uvicorn.run(..., http=BoundedHttpToolsProtocol)``: see the module's docstring."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        service = getattr(getattr(self.app, "state", None), "service", None)
        settings = getattr(service, "settings", None)
        self.header_limits = HeaderLimits(settings if isinstance(settings, ServiceSettings) else ServiceSettings())
        self._in_head = True  # reading a request line and headers
        self._head_bytes = 0  # bytes received while in the header section
        self._header_count = 0
        self._refusal: str | None = None  # set once a request was refused (the connection is closing)

    # ------------------------------------------------------------------ parser callbacks

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._header_count = 0

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        limits = self.header_limits
        if self._header_count > limits.count:
            self._refusal = f"the request has more than {limits.count} headers"
            raise _Refused
        if len(name) + len(value) > limits.size:
            self._refusal = f"a request header is longer than {limits.size} bytes"
            raise _Refused
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head = True
        self._head_bytes = 0

    # ------------------------------------------------------------------ transport

    def data_received(self, data: bytes) -> None:
        if self._refusal is not None:
            return  # refused: the answer is sent, the connection is closing
        if self._in_head:
            self._head_bytes += len(data)
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError:
            if self._refusal is not None:
                self._refuse(431, "headers_too_large", self._refusal)
            else:
                self._refuse(400, "malformed_request", "the HTTP request is malformed")
            return
        if self._in_head and self._head_bytes > self.header_limits.total:
            self._refusal = f"the request headers are larger than {self.header_limits.total} bytes"
            self._refuse(431, "headers_too_large", self._refusal)

    def send_400_response(self, msg: str) -> None:
        self._refuse(400, "malformed_request", "the HTTP request is malformed")

    def _refuse(self, status: int, code: str, message: str) -> None:
        """Answer with the envelope, log one access line, close the connection."""
        if self._refusal is None:
            self._refusal = message
        request_id = uuid.uuid4().hex
        body = json.dumps(envelope(code, message, request_id), separators=(",", ":")).encode("utf-8")
        head = [
            b"HTTP/1.1 %d %s\r\n" % (status, _REASONS[status]),
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"x-request-id: " + request_id.encode("ascii") + b"\r\n",
            b"cache-control: no-store\r\n",
            b"connection: close\r\n\r\n",
        ]
        if not self.transport.is_closing():
            self.transport.write(b"".join(head) + body)
            self.transport.close()
        access_log.info("%s - - %d %s %.1fms", request_id, status, code, 0.0)
