"""``POST /v1/check-profile``'s ``review`` option on a server without reviewers: refused
before any inference, never silently ignored (the caller would believe a case was opened).
The desk's own behaviour is tested in tests/review."""

from __future__ import annotations

import pytest

from .server_helpers import OBAMA_1, OBAMA_2

pytestmark = pytest.mark.testdata


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"review": "true", "member_id": "m-1"}, "review cases are off"),
        ({"review": "maybe", "member_id": "m-1"}, "review must be true or false"),
        ({"review": "false", "member_id": "m-1"}, "member_id is only used with review=true"),
    ],
)
def test_review_option_is_refused_without_the_desk(api, img, params, message) -> None:
    files = [("selfie", img(OBAMA_1)), ("photos", img(OBAMA_2))]
    r = api.post("/v1/check-profile", params=params, files=files)
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "invalid_argument" and message in r.json()["error"]["message"]
    assert "verdict" not in r.json()  # refused before the check ran


def test_review_false_changes_nothing(api, img) -> None:
    r = api.post(
        "/v1/check-profile", params={"review": "false"}, files=[("selfie", img(OBAMA_1)), ("photos", img(OBAMA_2))]
    )
    assert r.status_code == 200 and r.json()["verdict"] == "verified" and "review_case" not in r.json()
