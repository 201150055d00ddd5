"""Service hardening, round two (issue 15): what a hostile client still got through.

Every request here goes to the in-process app or to servers on 127.0.0.1 only; loops
are bounded."""

from __future__ import annotations

import logging
from typing import Any

from .server_helpers import OBAMA_1, OBAMA_2, assert_envelope


def test_a_trailing_slash_is_404_not_a_redirect_built_from_the_host_header(api, img):
    files = {"origin": ("o.jpg", img(OBAMA_1)), "target": ("t.jpg", img(OBAMA_2))}
    for method, path in (("POST", "/v1/verify/"), ("GET", "/healthz/"), ("GET", "/v1/models/")):
        r = api.request(
            method,
            path,
            headers={"Host": "evil.example"},
            files=files if method == "POST" else None,
            follow_redirects=False,
        )
        assert_envelope(r, 404, "not_found")
        assert "location" not in r.headers and "evil.example" not in r.text


# ------------------------------------------------------------------ 1. a client that disconnects mid-upload


def _asgi_scope(method: str, path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode("ascii"),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


def _call_asgi(api, scope: dict[str, Any], messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Runs one request through the running app (on its own event loop); ``messages`` are
    what ``receive`` gives, in order. Returns what the app sent."""
    sent: list[dict[str, Any]] = []

    async def run() -> None:
        pending = list(messages)

        async def receive() -> dict[str, Any]:
            if pending:
                return pending.pop(0)
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await api.app(scope, receive, send)

    api.portal.call(run)
    return sent


def test_a_client_that_disconnects_mid_upload_is_a_client_event_not_a_500(api, caplog):
    caplog.set_level(logging.INFO)
    headers = [
        (b"content-type", b"multipart/form-data; boundary=b"),
        (b"content-length", b"100000"),
        (b"x-request-id", b"disconnect-test-1"),
    ]
    first = b'--b\r\nContent-Disposition: form-data; name="origin"\r\n\r\n' + b"\xff\xd8" * 100
    sent = _call_asgi(
        api,
        _asgi_scope("POST", "/v1/verify", headers),
        [{"type": "http.request", "body": first, "more_body": True}, {"type": "http.disconnect"}],
    )
    assert not any(m["type"] == "http.response.start" and m["status"] >= 500 for m in sent), sent
    ours = [r for r in caplog.records if "disconnect-test-1" in r.getMessage()]
    assert ours, "no log line for the request"
    assert all(r.levelno == logging.INFO and r.exc_info is None for r in ours), [r.getMessage() for r in ours]
    access = [r.getMessage() for r in ours if r.name == "faceproof.server.access"]
    assert len(access) == 1 and " 499 client_disconnected " in access[0], access
    assert " 500 " not in access[0] and "internal_error" not in access[0]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text[-2000:]
    assert "Traceback" not in caplog.text and "ClientDisconnect" not in caplog.text
