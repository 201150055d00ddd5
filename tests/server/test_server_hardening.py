"""Service hardening, round two (issue 15): what a hostile client still got through.

Every request here goes to the in-process app or to servers on 127.0.0.1 only; loops
are bounded."""

from __future__ import annotations

from .server_helpers import OBAMA_1, OBAMA_2, assert_envelope


def test_a_trailing_slash_is_404_not_a_redirect_built_from_the_host_header(api, img):
    files = {"origin": ("o.jpg", img(OBAMA_1)), "target": ("t.jpg", img(OBAMA_2))}
    for method, path in (("POST", "/v1/verify/"), ("GET", "/healthz/"), ("GET", "/v1/models/")):
        r = api.request(
            method,
            path,
            headers={"Host": "evil.example"},
            files=files if method == "POST" else None,
            follow_redirects=False,
        )
        assert_envelope(r, 404, "not_found")
        assert "location" not in r.headers and "evil.example" not in r.text
