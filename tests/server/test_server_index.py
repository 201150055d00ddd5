"""The member face index over HTTP: enrol, search, erase, behind the API key, audited,
and 501 without a store. Real models on real photos; the store is a real SQLite file."""

from __future__ import annotations

import pytest

from faceproof.index import MemberIndex

from .server_helpers import CHIRAC_1, NO_FACE, OBAMA_1, OBAMA_2, assert_envelope, running_app

KEY = "k" * 24


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    db = tmp_path_factory.mktemp("index") / "members.db"
    with running_app(store_url=f"sqlite:///{db}", api_keys=(KEY,), allow_request_threshold=True) as client:
        yield client, db


def _auth() -> dict[str, str]:
    return {"X-API-Key": KEY}


def test_enrol_search_and_erase(indexed, img):
    client, db = indexed
    r = client.post(
        "/v1/index/members/acct-1/faces",
        files=[("images", ("a.jpg", img(OBAMA_1), "image/jpeg"))],
        data={"status": "banned", "photo_ids": "selfie-1"},
        headers=_auth(),
    )
    assert r.status_code == 200, r.text
    assert r.json()["enrolled"] == 1 and r.json()["photo_ids"] == ["selfie-1"]

    r = client.post(
        "/v1/index/search",
        files={"image": ("b.jpg", img(OBAMA_2), "image/jpeg")},
        data={"threshold": "0.4"},
        headers=_auth(),
    )
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["needs_review"] is True and doc["candidates"][0]["member_id"] == "acct-1"
    assert doc["candidates"][0]["status"] == "banned" and doc["gallery_size"] == 1

    r = client.post(
        "/v1/index/search",
        files={"image": ("c.jpg", img(CHIRAC_1), "image/jpeg")},
        data={"threshold": "0.4"},
        headers=_auth(),
    )
    assert r.status_code == 200 and r.json()["candidates"] == []

    r = client.delete("/v1/index/members/acct-1", headers=_auth())
    assert r.status_code == 200 and r.json()["removed"] == 1
    r = client.post(
        "/v1/index/search",
        files={"image": ("b.jpg", img(OBAMA_2), "image/jpeg")},
        data={"threshold": "0.4"},
        headers=_auth(),
    )
    assert r.json()["candidates"] == []  # the erasure is seen by the next search at once

    with MemberIndex(f"sqlite:///{db}") as index:
        log = index.audit_log()
    actions = [row["action"] for row in log]
    assert "search" in actions and "remove" in actions
    assert all(row["actor"].startswith("key:") for row in log if row["action"] in ("search", "remove"))
    assert KEY not in str(log)


def test_the_index_needs_the_api_key(indexed, img):
    client, _ = indexed
    r = client.post("/v1/index/search", files={"image": ("b.jpg", img(OBAMA_2), "image/jpeg")})
    assert_envelope(r, 401, "unauthorized")
    assert_envelope(client.delete("/v1/index/members/acct-1"), 401, "unauthorized")


def test_bad_input_is_a_clear_error(indexed, img):
    client, _ = indexed
    assert_envelope(client.delete("/v1/index/members/nobody", headers=_auth()), 404, "index_unknown_member")
    r = client.post(
        "/v1/index/members/acct-2/faces", files=[("images", ("cat.png", img(NO_FACE), "image/png"))], headers=_auth()
    )
    assert_envelope(r, 422, "no_face")
    r = client.post(
        "/v1/index/members/bad%20id/faces", files=[("images", ("a.jpg", img(OBAMA_1), "image/jpeg"))], headers=_auth()
    )
    assert_envelope(r, 400, "invalid_argument")
    r = client.post(
        "/v1/index/members/acct-2/faces",
        files=[("images", ("a.jpg", img(OBAMA_1), "image/jpeg"))],
        data={"photo_ids": "p1,p2"},
        headers=_auth(),
    )
    assert_envelope(r, 400, "invalid_argument")


def test_without_a_store_the_index_is_not_available(img):
    with running_app() as client:
        r = client.post("/v1/index/search", files={"image": ("b.jpg", img(OBAMA_2), "image/jpeg")})
        assert_envelope(r, 501, "backend_unavailable")
        assert client.get("/v1/models").json()["features"]["index"] is False


def test_a_callers_similarity_floor_is_refused_by_default(tmp_path, img):
    with running_app(store_url=f"sqlite:///{tmp_path / 'm.db'}") as client:
        r = client.post(
            "/v1/index/search", files={"image": ("b.jpg", img(OBAMA_2), "image/jpeg")}, data={"threshold": "0.99"}
        )
        assert_envelope(r, 403, "threshold_not_allowed")


def test_the_gallery_is_loaded_at_start_up(tmp_path, img):
    """With a store, the service loads the index's in-memory gallery after its models are
    ready, before any search; the first search then finds the member."""
    import time

    import numpy as np

    from faceproof.index import ModelId

    db = tmp_path / "members.db"
    with running_app(store_url=f"sqlite:///{db}", api_keys=(KEY,)) as client:  # enrol through the service
        r = client.post(
            "/v1/index/members/acct-9/faces",
            files=[("images", ("a.jpg", img(OBAMA_1), "image/jpeg"))],
            headers=_auth(),
        )
        assert r.status_code == 200, r.text
    with MemberIndex(f"sqlite:///{db}") as ix:
        model = ix.stats().model
        assert isinstance(model, ModelId)
        rng = np.random.default_rng(3)
        extra = rng.normal(size=(20, 128)).astype(np.float32)
        ix.bulk_load(
            [f"x{i}" for i in range(20)], ["p"] * 20, extra / np.linalg.norm(extra, axis=1, keepdims=True), model=model
        )
    with running_app(store_url=f"sqlite:///{db}", api_keys=(KEY,)) as client:
        state = client.app.state.service
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (state.index is None or state.index._gallery is None):
            time.sleep(0.05)
        assert state.index is not None and state.index._gallery is not None  # no search was made
        assert state.index._gallery.n == 21
        r = client.post("/v1/index/search", files={"image": ("b.jpg", img(OBAMA_2), "image/jpeg")}, headers=_auth())
        assert r.status_code == 200 and r.json()["candidates"][0]["member_id"] == "acct-9"
