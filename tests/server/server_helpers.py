"""Helpers for the HTTP service tests: apps with real models behind FastAPI's TestClient.

Each app is built with one inference worker (fast warm-up) unless a test needs more, and
is only handed out once ``GET /readyz`` says the warm-up inference passed.
"""

from __future__ import annotations

import contextlib
import io
import time
import warnings
from collections.abc import Iterator
from typing import Any

from PIL import Image

from faceproof.server import ServiceSettings, create_app

with warnings.catch_warnings():
    # Starlette >= 1.x prefers the httpx2 package for its TestClient; httpx still works
    warnings.filterwarnings("ignore", message=r".*install `httpx2` instead")
    from fastapi.testclient import TestClient

OBAMA_1 = "pytopenface/obama1.jpg"
OBAMA_2 = "pytopenface/obama2.jpg"
CHIRAC_1 = "pytopenface/chirac1.jpg"
GROUP = "kerns_dummy/obama_fatherhood_townhall.jpg"  # Biden and Obama
NO_FACE = "skimage/chelsea.png"  # a cat


@contextlib.contextmanager
def running_app(**overrides: Any) -> Iterator[TestClient]:
    """A ready app (warm-up passed) with ``ServiceSettings(threads=1, **overrides)``."""
    settings = ServiceSettings(**{"threads": 1, **overrides})
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        wait_ready(client)
        yield client


def wait_ready(client: TestClient, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.get("/readyz").status_code == 200:
            return
        time.sleep(0.05)
    raise AssertionError(f"the app did not become ready: {client.get('/readyz').json()}")


def encode(im: Image.Image, fmt: str, **kw: Any) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def data_uri(data: bytes, mime: str = "image/jpeg") -> str:
    import base64

    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def assert_envelope(response: Any, status: int, code: str) -> dict[str, Any]:
    """The response has ``status`` and the error envelope with ``code``; returns the body."""
    assert response.status_code == status, (response.status_code, response.text[:500])
    body = response.json()
    error = body["error"]
    assert set(error) == {"code", "message", "request_id"}, error
    assert error["code"] == code, error
    assert error["message"] and "Traceback" not in response.text
    assert error["request_id"] == response.headers["x-request-id"]
    return body
