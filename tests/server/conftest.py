"""Fixtures for the HTTP service tests: apps with real models behind FastAPI's TestClient.
Helpers live in ``server_helpers.py``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .server_helpers import TestClient, running_app


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
