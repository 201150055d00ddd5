"""Fixtures for the HTTP service tests: apps with real models behind FastAPI's TestClient.
Helpers live in ``server_helpers.py``."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import pytest

from .server_helpers import TestClient, running_app


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []
        self.tracebacks: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name}: {record.getMessage()}")
        if record.exc_info or "Traceback (most recent call last)" in record.getMessage():
            exc = record.exc_info[1] if record.exc_info else None
            self.tracebacks.append(f"{record.name}: {record.getMessage()} [{type(exc).__name__}: {exc}]")


#: a URL in a log line, except the tests' own calls to the service (TestClient's base URL, or
#: the service's endpoints when a test talks to ``faceproof serve`` with httpx): image URLs
#: that the service fetched are what must never appear
_URL = re.compile(r"https?://(?!testserver\b)(?![^/\s]+/(v1/|readyz|healthz|openapi\.json|docs)\b)")
_NOT_FETCHED = ("Uvicorn running on",)
#: the fault a test injects on purpose to see an internal error answered without a traceback
_DELIBERATE = "RuntimeError: secret internal detail"  # test_unexpected_exception_is_a_500_envelope_...


@pytest.fixture(scope="session", autouse=True)
def no_url_in_any_log_line() -> Iterator[None]:
    """After the whole server suite (which fetches image URLs with query strings, refused
    and failing ones included, and sends malformed, oversized and disconnecting requests):
    no log line at INFO or above carries a URL, and none a traceback except the one
    deliberate internal error (issue 15)."""
    root = logging.getLogger()
    handler, level = _Collect(), root.level
    root.addHandler(handler)
    root.setLevel(min(level, logging.INFO) if level else logging.INFO)
    yield
    root.removeHandler(handler)
    root.setLevel(level)
    leaks = [line for line in handler.lines if _URL.search(line) and not any(n in line for n in _NOT_FETCHED)]
    assert handler.lines and not leaks, leaks[:5]
    unexpected = [t for t in handler.tracebacks if _DELIBERATE not in t]
    assert not unexpected, unexpected[:3]


@pytest.fixture(scope="session")
def api() -> Iterator[TestClient]:
    """The default-settings app (one worker), shared by the tests that do not change settings."""
    with running_app() as client:
        yield client


@pytest.fixture(scope="session")
def api_caller_threshold() -> Iterator[TestClient]:
    """An app that accepts per-request thresholds (``allow_request_threshold``; refused by default)."""
    with running_app(allow_request_threshold=True) as client:
        yield client


@pytest.fixture(scope="session")
def img(photos):
    """Bytes of a test photo by its manifest path."""
    cache: dict[str, bytes] = {}

    def get(rel: str) -> bytes:
        if rel not in cache:
            cache[rel] = (photos / rel).read_bytes()
        return cache[rel]

    return get
