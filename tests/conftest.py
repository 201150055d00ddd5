"""Shared fixtures. Test data is read from ../shared/testdata (never copied into the repo);
set FACEPROOF_TESTDATA to point elsewhere."""

from __future__ import annotations

import csv
import http.server
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _testdata_root() -> Path:
    env = os.environ.get("FACEPROOF_TESTDATA")
    root = Path(env) if env else REPO.parent / "shared" / "testdata"
    return root


TESTDATA = _testdata_root()
PHOTOS = TESTDATA / "photos"
LFW = TESTDATA / "lfw_view1"
UTK = TESTDATA / "utkface_dev"


def pytest_sessionstart(session: pytest.Session) -> None:
    if not (PHOTOS / "manifest.csv").is_file():
        raise pytest.UsageError(
            f"test data not found at {TESTDATA}: clone the repo beside shared/ or set FACEPROOF_TESTDATA"
        )


def manifest_rows() -> list[dict[str, str]]:
    with (PHOTOS / "manifest.csv").open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="session")
def fp():
    """One FaceProof with the default backends, shared by the tests (models load once)."""
    from faceproof import FaceProof

    return FaceProof()


@pytest.fixture(scope="session")
def photos() -> Path:
    return PHOTOS


@pytest.fixture(scope="session")
def lfw() -> Path:
    return LFW


@pytest.fixture(scope="session")
def local_http() -> Iterator[Callable[[type[http.server.BaseHTTPRequestHandler]], int]]:
    """Starts a threaded HTTP server with a handler on 127.0.0.1 (a free port) and
    returns its port; every server started is shut down at the end of the session."""
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(handler: type[http.server.BaseHTTPRequestHandler]) -> int:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return int(server.server_address[1])

    yield start
    for server in servers:
        server.shutdown()
