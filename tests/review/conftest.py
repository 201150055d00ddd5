"""Review fixtures: a real ``needs_review`` check. The store fixtures (SQLite and a real
PostgreSQL, one server per session) are in tests/conftest.py."""

from __future__ import annotations

import pytest


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
