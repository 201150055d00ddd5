"""Image URLs in JSON requests: off by default; when enabled, the address guard refuses
loopback/private targets unless allow-listed, re-checks redirects, caps bytes and reports
fetch failures with the seed's codes. Every request here goes to 127.0.0.1 only."""

from __future__ import annotations

import http.server

import pytest

from .server_helpers import OBAMA_1, OBAMA_2, assert_envelope, data_uri, running_app


class _ImageHandler(http.server.BaseHTTPRequestHandler):
    body = b""

    def do_GET(self):
        port = self.server.server_address[1]
        if self.path.startswith("/redirect-loopback"):
            # to another loopback address that is not allow-listed (traffic stays on this machine)
            self._redirect(f"http://127.0.0.2:{port}/img.jpg")
        elif self.path.startswith("/redirect-ip"):
            self._redirect(f"http://127.0.0.1:{port}/img.jpg")
        elif self.path.startswith("/img.jpg"):
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(self.body)))
            self.end_headers()
            self.wfile.write(self.body)
        else:
            self.send_response(404)
            self.end_headers()

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def image_server(photos, local_http):
    _ImageHandler.body = (photos / OBAMA_1).read_bytes()
    return local_http(_ImageHandler)


def test_urls_are_refused_when_fetching_is_off(api, image_server, img):
    r = api.post(
        "/v1/verify", json={"origin": data_uri(img(OBAMA_2)), "target": f"http://127.0.0.1:{image_server}/img.jpg"}
    )
    doc = assert_envelope(r, 422, "url_not_allowed")
    assert doc["result_code"] == -21 and "disabled" in doc["error"]["message"]


def test_loopback_is_refused_unless_allow_listed(image_server, img):
    url = f"http://127.0.0.1:{image_server}/img.jpg"
    with running_app(url_fetch=True) as client:
        refused = client.post("/v1/verify", json={"origin": url, "target": data_uri(img(OBAMA_2))})
        assert assert_envelope(refused, 422, "url_not_allowed")["result_code"] == -22
    with running_app(url_fetch=True, url_allowed_hosts=("127.0.0.1",)) as client:
        ok = client.post("/v1/verify", json={"origin": url, "target": data_uri(img(OBAMA_2))})
        assert ok.status_code == 200 and ok.json()["result_code"] == 2
        both = client.post("/v1/verify", json={"origin": url, "target": url + "?v=2"})
        assert both.status_code == 200 and both.json()["result_list"][0][0] == pytest.approx(1.0, abs=1e-4)


def test_redirects_are_rechecked(image_server, img):
    with running_app(url_fetch=True, url_allowed_hosts=("127.0.0.1",)) as client:
        to_private = client.post(
            "/v1/verify",
            json={"origin": data_uri(img(OBAMA_2)), "target": f"http://127.0.0.1:{image_server}/redirect-loopback"},
        )
        assert assert_envelope(to_private, 422, "url_not_allowed")["result_code"] == -21
    with running_app(url_fetch=True, url_allowed_hosts=("localhost",)) as client:
        # "localhost" is allow-listed by name; the redirect target 127.0.0.1 is not
        by_name = client.post(
            "/v1/verify",
            json={"origin": f"http://localhost:{image_server}/redirect-ip", "target": data_uri(img(OBAMA_2))},
        )
        assert assert_envelope(by_name, 422, "url_not_allowed")["result_code"] == -22


def test_fetch_failures_and_byte_cap(image_server, img):
    with running_app(url_fetch=True, url_allowed_hosts=("127.0.0.1",), max_image_bytes=150_000) as client:
        missing = client.post(
            "/v1/verify", json={"origin": f"http://127.0.0.1:{image_server}/nope.jpg", "target": data_uri(img(OBAMA_2))}
        )
        assert assert_envelope(missing, 422, "url_fetch_failed")["result_code"] == -22
        too_big = client.post(  # obama1.jpg is 204 kB
            "/v1/verify", json={"origin": data_uri(img(OBAMA_2)), "target": f"http://127.0.0.1:{image_server}/img.jpg"}
        )
        assert assert_envelope(too_big, 413, "image_too_large")["result_code"] == -21
        assert client.get("/healthz").status_code == 200


def test_a_host_allow_listed_by_name_is_fetched_and_no_other_name(monkeypatch, image_server, img):
    from url_fakes import FakeResolver  # tests/ is on sys.path (pytest rootdir-relative import)

    # no real DNS: both names are answered 127.0.0.1 by a scripted resolver
    FakeResolver({"images.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]}).install(monkeypatch)
    with running_app(url_fetch=True, url_allowed_hosts=("images.test",)) as client:
        ok = client.post(
            "/v1/verify",
            json={"origin": f"http://images.test:{image_server}/img.jpg", "target": data_uri(img(OBAMA_2))},
        )
        assert ok.status_code == 200 and ok.json()["result_code"] == 2
        other = client.post(
            "/v1/verify",
            json={"origin": f"http://other.test:{image_server}/img.jpg", "target": data_uri(img(OBAMA_2))},
        )
        assert assert_envelope(other, 422, "url_not_allowed")["result_code"] == -22
        with_credentials = client.post(
            "/v1/verify",
            json={"origin": data_uri(img(OBAMA_2)), "target": f"http://u:s3cret@images.test:{image_server}/img.jpg"},
        )
        doc = assert_envelope(with_credentials, 422, "url_not_allowed")
        assert doc["result_code"] == -21 and "s3cret" not in with_credentials.text
