"""The authenticity checks through the service: POST /v1/challenges, check-profile's
``challenge`` and ``member_id`` options, and two replicas sharing one store (a SQLite
file) that agree on spent tokens and remembered selfies."""

from __future__ import annotations

import time

import pytest

from faceproof.authenticity import new_challenge
from faceproof.errors import InvalidArgument
from faceproof.server.settings import ServiceSettings

from .server_helpers import OBAMA_1, OBAMA_2, assert_envelope, running_app

pytestmark = pytest.mark.testdata

SECRET = "s3cret-" + "x" * 30
OBAMA_3 = "pytopenface/obama3.jpg"


def test_settings_keep_the_secret_out_of_public_and_validate() -> None:
    s = ServiceSettings.from_env({"FACEPROOF_CHALLENGE_SECRET": SECRET, "FACEPROOF_REQUIRE_CHALLENGE": "true"})
    assert s.challenge_secret == SECRET and s.require_challenge and s.copy_check
    pub = s.public()
    assert (
        "challenge_secret" not in pub and pub["challenges"] is True and SECRET not in repr(s) and SECRET not in str(pub)
    )
    assert not s.replay_enabled and s.replace(store_url="sqlite:///x.db").replay_enabled
    assert not s.replace(store_url="sqlite:///x.db", replay_check=False).replay_enabled
    assert ServiceSettings.from_env(s.to_env()).challenge_secret == SECRET
    with pytest.raises(InvalidArgument, match="32 bytes"):
        ServiceSettings(challenge_secret="short")
    with pytest.raises(InvalidArgument, match="require_challenge"):
        ServiceSettings(require_challenge=True)


def test_copy_check_is_on_by_default_and_challenges_need_a_secret(api, img) -> None:
    assert_envelope(api.post("/v1/challenges"), 501, "backend_unavailable")
    # a profile photo re-submitted as the selfie: usable selfie, so 200, but not verified
    r = api.post(
        "/v1/check-profile", files=[("selfie", img(OBAMA_2)), ("photos", img(OBAMA_1)), ("photos", img(OBAMA_2))]
    )
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["verdict"] == "not_verified" and doc["reasons"][0] == "selfie_copied_from_profile"
    assert doc["authenticity"]["copy"]["best"]["photo_index"] == 1
    assert doc["authenticity"]["replay"]["checked"] is False  # no store configured
    token = new_challenge(SECRET.encode()).token
    r = api.post(
        "/v1/check-profile", data={"challenge": token}, files=[("selfie", img(OBAMA_1)), ("photos", img(OBAMA_2))]
    )
    assert_envelope(r, 501, "backend_unavailable")


def test_two_replicas_share_tokens_and_fingerprints(tmp_path, img) -> None:
    settings = {"challenge_secret": SECRET, "store_url": f"sqlite:///{tmp_path / 'shared.db'}"}
    files = [("selfie", img(OBAMA_1)), ("photos", img(OBAMA_2)), ("photos", img(OBAMA_3))]
    with running_app(**settings) as a, running_app(**settings) as b:
        r = a.post("/v1/challenges", json={"instruction": "look_straight"})
        assert r.status_code == 200 and "no-store" in r.headers["cache-control"]
        ch = r.json()
        assert ch["instruction"] == "look_straight" and ch["expires_at"] - ch["issued_at"] == 120
        assert set(a.post("/v1/challenges").json()) >= {"token", "instruction", "issued_at", "expires_at"}
        assert_envelope(a.post("/v1/challenges", json={"instruction": "smile"}), 400, "invalid_argument")

        # redeemed on replica b, accepted, the selfie remembered under the member
        r = b.post("/v1/check-profile", data={"challenge": ch["token"], "member_id": "m-1"}, files=files)
        assert r.status_code == 200, r.text
        doc = r.json()
        assert doc["verdict"] == "verified" and doc["authenticity"]["challenge"]["status"] == "passed"
        assert doc["authenticity"]["remembered"] is True

        # the same token on replica a: 409 with the result and the envelope
        r = a.post("/v1/check-profile", data={"challenge": ch["token"]}, files=files)
        body = assert_envelope(r, 409, "challenge_reused")
        assert body["verdict"] == "not_verified" and body["reasons"][0] == "challenge_reused"

        # the same selfie again, without a challenge, on replica a: a replay
        r = a.post("/v1/check-profile", data={"member_id": "m-2"}, files=files)
        assert r.status_code == 200
        doc = r.json()
        assert doc["verdict"] == "not_verified" and doc["reasons"][0] == "selfie_replayed"
        assert doc["authenticity"]["replay"]["match"]["member_id"] == "m-1"

        # forged, truncated, other secret, expired: refused before any inference
        token = a.post("/v1/challenges").json()["token"]
        forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
        for bad in (forged, token[:30], new_challenge(b"o" * 32).token, "garbage"):
            body = assert_envelope(
                a.post("/v1/check-profile", data={"challenge": bad}, files=files), 400, "challenge_invalid"
            )
            assert "verdict" not in body
        expired = new_challenge(SECRET.encode(), ttl=5, now=time.time() - 60).token
        assert_envelope(a.post("/v1/check-profile", data={"challenge": expired}, files=files), 410, "challenge_expired")


def test_require_challenge(tmp_path, img) -> None:
    with running_app(challenge_secret=SECRET, require_challenge=True, store_url=f"sqlite:///{tmp_path / 's.db'}") as c:
        features = c.get("/v1/models").json()["features"]["authenticity"]
        assert features["challenges"] is features["require_challenge"] is features["replays"] is True
        assert features["replay_retention_days"] == 90.0 and SECRET not in str(features)
        r = c.post("/v1/check-profile", files=[("selfie", img(OBAMA_1)), ("photos", img(OBAMA_2))])
        body = assert_envelope(r, 400, "invalid_argument")
        assert "requires a challenge" in body["error"]["message"]
        token = c.post("/v1/challenges").json()["token"]
        r = c.post(
            "/v1/check-profile", data={"challenge": token}, files=[("selfie", img(OBAMA_1)), ("photos", img(OBAMA_2))]
        )
        assert r.status_code == 200 and r.json()["authenticity"]["challenge"]["status"] in ("passed", "failed")
