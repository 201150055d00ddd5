"""Service hardening, round two (issue 15): what a hostile client still got through.

Every request here goes to the in-process app or to servers on 127.0.0.1 only; loops
are bounded."""

from __future__ import annotations

import http.server
import io
import json
import logging
import socket
import time
from pathlib import Path
from typing import Any, ClassVar

import pytest

from .server_helpers import CHIRAC_1, OBAMA_1, OBAMA_2, assert_envelope, data_uri, running_app


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


# ------------------------------------------------------------------ 1. a client that disconnects mid-upload


def _asgi_scope(method: str, path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode("ascii"),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


def _call_asgi(api, scope: dict[str, Any], messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Runs one request through the running app (on its own event loop); ``messages`` are
    what ``receive`` gives, in order. Returns what the app sent."""
    sent: list[dict[str, Any]] = []

    async def run() -> None:
        pending = list(messages)

        async def receive() -> dict[str, Any]:
            if pending:
                return pending.pop(0)
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await api.app(scope, receive, send)

    api.portal.call(run)
    return sent


def test_a_client_that_disconnects_mid_upload_is_a_client_event_not_a_500(api, caplog):
    caplog.set_level(logging.INFO)
    headers = [
        (b"content-type", b"multipart/form-data; boundary=b"),
        (b"content-length", b"100000"),
        (b"x-request-id", b"disconnect-test-1"),
    ]
    first = b'--b\r\nContent-Disposition: form-data; name="origin"\r\n\r\n' + b"\xff\xd8" * 100
    sent = _call_asgi(
        api,
        _asgi_scope("POST", "/v1/verify", headers),
        [{"type": "http.request", "body": first, "more_body": True}, {"type": "http.disconnect"}],
    )
    assert not any(m["type"] == "http.response.start" and m["status"] >= 500 for m in sent), sent
    ours = [r for r in caplog.records if "disconnect-test-1" in r.getMessage()]
    assert ours, "no log line for the request"
    assert all(r.levelno == logging.INFO and r.exc_info is None for r in ours), [r.getMessage() for r in ours]
    access = [r.getMessage() for r in ours if r.name == "faceproof.server.access"]
    assert len(access) == 1 and " 499 client_disconnected " in access[0], access
    assert " 500 " not in access[0] and "internal_error" not in access[0]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text[-2000:]
    assert "Traceback" not in caplog.text and "ClientDisconnect" not in caplog.text


# ------------------------------------------------------------------ 2. no URL in the logs


class _PhotoHandler(http.server.BaseHTTPRequestHandler):
    body = b""

    def do_GET(self):
        if "/img.jpg" in self.path:
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(self.body)))
            self.end_headers()
            self.wfile.write(self.body)
        else:
            self.send_response(404)
            self.end_headers()

    def log_message(self, *args):
        pass


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_fetched_urls_never_reach_the_log(local_http, img, caplog):
    _PhotoHandler.body = img(OBAMA_1)
    port = local_http(_PhotoHandler)
    secret = "s3cr3t-signature-9f8e7d"
    member = "member-4711"
    good = f"http://localhost:{port}/{member}/img.jpg?sig={secret}"
    caplog.set_level(logging.INFO)
    with running_app(url_fetch=True, url_allowed_hosts=("localhost", "127.0.0.1")) as client:
        ok = client.post("/v1/verify", json={"origin": good, "target": data_uri(img(OBAMA_2))})
        assert ok.status_code == 200 and ok.json()["result_code"] == 2
        for failing, code in (
            (f"http://localhost:{port}/{member}/missing.jpg?sig={secret}", "url_fetch_failed"),
            (f"http://127.0.0.1:{_closed_port()}/{member}/img.jpg?sig={secret}", "url_fetch_failed"),
            (f"http://10.0.0.1:{port}/{member}/img.jpg?sig={secret}", "url_not_allowed"),
        ):
            r = client.post("/v1/verify", json={"origin": data_uri(img(OBAMA_2)), "target": failing})
            assert_envelope(r, 422, code)
    text = "\n".join(f"{r.name} {r.getMessage()}" for r in caplog.records)
    assert "POST /v1/verify 200" in text and "url_fetch_failed" in text  # the log was captured
    for leak in (secret, "sig=", member, "localhost", "10.0.0.1", "missing.jpg"):
        assert leak not in text, (leak, [line for line in text.splitlines() if leak in line])


# ------------------------------------------------------------------ 8. the caller does not choose the threshold


def test_a_caller_threshold_is_refused_by_default(api, img):
    pair = {"origin": ("o.jpg", img(OBAMA_1)), "target": ("t.jpg", img(CHIRAC_1))}
    for r in (
        api.post("/v1/verify", files=pair, params={"threshold": "1e308"}),
        api.post("/v1/verify", files=pair, data={"threshold": "0.99"}),
        api.post(
            "/v1/verify", json={"origin": data_uri(img(OBAMA_1)), "target": data_uri(img(CHIRAC_1)), "threshold": 1e308}
        ),
        api.post(
            "/v1/check-profile",
            files={"selfie": ("s.jpg", img(OBAMA_1)), "photos": ("p.jpg", img(CHIRAC_1))},
            params={"threshold": "1e308"},
        ),
        # an unreadable image does not get past the check either
        api.post(
            "/v1/verify", files={"origin": ("o.jpg", b"junk"), "target": pair["target"]}, params={"threshold": "9"}
        ),
    ):
        doc = assert_envelope(r, 403, "threshold_not_allowed")
        assert "result_code" not in doc and "verdict" not in doc
    # two different people stay different without the caller's threshold
    plain = api.post("/v1/verify", files=pair)
    assert plain.status_code == 200 and plain.json()["result_code"] == 0
    assert plain.json()["threshold_source"] != "caller" and plain.json()["notes"] == []
    assert api.get("/v1/models").json()["features"]["request_threshold"] is False


def test_an_allowed_caller_threshold_is_recorded_in_the_answer(api_caller_threshold, img):
    r = api_caller_threshold.post(
        "/v1/verify",
        files={"origin": ("o.jpg", img(OBAMA_1)), "target": ("t.jpg", img(OBAMA_2))},
        params={"threshold": "0.5"},
    )
    doc = r.json()
    assert r.status_code == 200 and doc["threshold"] == 0.5 and doc["threshold_source"] == "caller"
    assert any("set by the caller" in note for note in doc["notes"])
    profile = api_caller_threshold.post(
        "/v1/check-profile",
        files={"selfie": ("s.jpg", img(OBAMA_1)), "photos": ("p.jpg", img(OBAMA_2))},
        params={"threshold": "0.5"},
    ).json()
    assert profile["threshold_source"] == "caller" and any("set by the caller" in n for n in profile["notes"])
    assert api_caller_threshold.get("/v1/models").json()["features"]["request_threshold"] is True


# ------------------------------------------------------------------ 10. phone photos: HEIC and AVIF


def _phone_file(photo: bytes, fmt: str, size: tuple[int, int] | None = None) -> bytes:
    from PIL import Image

    if fmt == "HEIF":
        from pillow_heif import register_heif_opener

        register_heif_opener()
    im = Image.open(io.BytesIO(photo)).convert("RGB")
    if size is not None:
        im = im.resize(size)
    exif = Image.Exif()
    exif[0x0112] = 8  # stored turned: the reader must turn it back
    buf = io.BytesIO()
    im.transpose(Image.Transpose.ROTATE_270).save(buf, fmt, quality=90, exif=exif.tobytes())
    return buf.getvalue()


def test_heic_and_avif_uploads_are_verified(api, img):
    heic, avif = _phone_file(img(OBAMA_1), "HEIF"), _phone_file(img(OBAMA_2), "AVIF")
    r = api.post("/v1/verify", files={"origin": ("selfie.HEIC", heic), "target": ("p.avif", avif)})
    assert r.status_code == 200 and r.json()["result_code"] == 2, r.text[:300]
    other = api.post("/v1/verify", json={"origin": data_uri(heic, "image/heic"), "target": data_uri(img(CHIRAC_1))})
    assert other.status_code == 200 and other.json()["result_code"] == 0
    profile = api.post("/v1/check-profile", files={"selfie": ("s.heic", heic), "photos": ("p.avif", avif)})
    assert profile.status_code == 200 and profile.json()["photos"][0]["status"] == "person_present"


def test_heic_and_avif_obey_the_service_pixel_cap(img):
    with running_app(max_image_pixels=200_000) as client:
        for fmt in ("HEIF", "AVIF"):
            big = _phone_file(img(OBAMA_1), fmt, size=(500, 500))
            r = client.post("/v1/verify", files={"origin": ("o", big), "target": ("t", img(OBAMA_2))})
            assert assert_envelope(r, 413, "image_too_large")["result_code"] == -22


# ------------------------------------------------------------------ 5. one deadline for the whole URL fetch


class _TrickleHandler(http.server.BaseHTTPRequestHandler):
    """Answers with its status line and headers one byte every 0.2 s (for at most 8 s),
    recording per request path when it started and when the client hung up."""

    started: ClassVar[dict[str, float]] = {}
    closed: ClassVar[dict[str, float]] = {}

    def do_GET(self):
        type(self).started[self.path] = time.monotonic()
        head = b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nX-Padding: " + b"a" * 200 + b"\r\n\r\n"
        try:
            for i in range(40):
                self.wfile.write(head[i : i + 1])
                time.sleep(0.2)
        except OSError:
            pass
        type(self).closed[self.path] = time.monotonic()
        self.close_connection = True

    def log_message(self, *args):
        pass


def _hung_up_after(path: str, wait: float = 6.0) -> float:
    """Seconds from the slow server's start of ``path`` to the client hanging up."""
    deadline = time.monotonic() + wait
    while path not in _TrickleHandler.closed and time.monotonic() < deadline:
        time.sleep(0.05)
    assert path in _TrickleHandler.closed, f"the fetch of {path} was still connected"
    return _TrickleHandler.closed[path] - _TrickleHandler.started[path]


def test_a_url_that_trickles_its_headers_is_cut_at_the_overall_deadline(local_http, img):
    from faceproof.errors import URLFetchError
    from faceproof.runtime.io import URLPolicy, fetch_url

    port = local_http(_TrickleHandler)
    base = f"http://127.0.0.1:{port}"
    timeout = 1.5
    # the library: one deadline for connect + headers + body
    start = time.monotonic()
    with pytest.raises(URLFetchError):
        fetch_url(base + "/library.jpg", policy=URLPolicy(allow_private=True, timeout=timeout))
    assert time.monotonic() - start < timeout + 1.0
    assert _hung_up_after("/library.jpg") < timeout + 1.0
    # the service: answered within the documented timeout, and the fetch does not outlive the request
    with running_app(url_fetch=True, url_allowed_hosts=("127.0.0.1",), url_timeout=timeout) as client:
        start = time.monotonic()
        r = client.post("/v1/verify", json={"origin": base + "/service.jpg", "target": data_uri(img(OBAMA_2))})
        answered = time.monotonic() - start
        assert_envelope(r, 422, "url_fetch_failed")
        assert answered < timeout + 1.0, answered
        assert _hung_up_after("/service.jpg") < timeout + 1.0
    # a request timeout shorter than the URL timeout: the fetch ends with the request
    with running_app(url_fetch=True, url_allowed_hosts=("127.0.0.1",), url_timeout=5.0, request_timeout=1.0) as client:
        r = client.post("/v1/verify", json={"origin": base + "/short-request.jpg", "target": data_uri(img(OBAMA_2))})
        assert r.status_code in (408, 422), r.text[:300]
        assert _hung_up_after("/short-request.jpg") < 1.0 + 1.0


# ------------------------------------------------------------------ 3. bounded request headers


@pytest.mark.parametrize(
    "headers",
    [
        {f"x-h{i}": "v" for i in range(101)},  # too many
        {"x-big": "v" * 9000},  # one value too long
        {"x-" + "n" * 9000: "v"},  # one name too long
        {f"x-part{i}": "v" * 4000 for i in range(10)},  # each fine, 40 kB together
    ],
    ids=["count", "value", "name", "total"],
)
def test_request_headers_are_bounded_by_the_middleware(api, headers):
    r = api.get("/healthz", headers=headers)
    assert_envelope(r, 431, "headers_too_large")
    assert api.get("/healthz", headers={f"x-ok{i}": "v" * 100 for i in range(50)}).status_code == 200


class _UvicornThread:
    """A uvicorn server on 127.0.0.1 (a free port) with the bounded protocol and a tiny app."""

    def __init__(self) -> None:
        import threading

        import uvicorn

        from faceproof.server.protocol import BoundedHttpToolsProtocol

        async def app(scope, receive, send):
            if scope["type"] != "http":
                return
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
            await send({"type": "http.response.body", "body": b"ok"})

        self.port = _closed_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, http=BoundedHttpToolsProtocol, log_config=None, lifespan="off"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert self.server.started

    def exchange(self, head: bytes, *, then: bytes = b"", chunk: int = 65536) -> tuple[bytes, float]:
        """Sends ``head`` and then ``then`` in chunks until the server answers or closes."""
        start = time.monotonic()
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as sock:
            try:
                sock.sendall(head)
                for i in range(0, len(then), chunk):
                    sock.sendall(then[i : i + chunk])
            except OSError:  # the server answered and closed while we were still sending
                pass
            answer = b""
            try:
                while True:
                    data = sock.recv(65536)
                    if not data:
                        break
                    answer += data
                    if answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"ok"):
                        break
            except OSError:
                pass
        return answer, time.monotonic() - start

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def test_the_server_protocol_stops_reading_oversized_headers_and_answers_with_the_envelope():
    server = _UvicornThread()
    try:
        ok, _ = server.exchange(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        assert ok.startswith(b"HTTP/1.1 200")
        # a 4 MB header value: refused once the header section passes 32 kB, not parsed whole
        answer, took = server.exchange(b"GET / HTTP/1.1\r\nHost: t\r\nX-Big: ", then=b"a" * 4_000_000)
        assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
        body = json.loads(answer.split(b"\r\n\r\n", 1)[1])
        assert body["error"]["code"] == "headers_too_large" and body["error"]["request_id"]
        assert took < 5.0
        many = b"".join(b"X-H%d: v\r\n" % i for i in range(150))
        answer, _ = server.exchange(b"GET / HTTP/1.1\r\nHost: t\r\n" + many + b"\r\n")
        assert answer.startswith(b"HTTP/1.1 431 ") and b'"headers_too_large"' in answer
        # a request the HTTP parser refuses: the envelope, not uvicorn's plain text
        answer, _ = server.exchange(b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: x\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 400 ") and b"application/json" in answer, answer[:300]
        assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"]["code"] == "malformed_request"
        ok, _ = server.exchange(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        assert ok.startswith(b"HTTP/1.1 200")
    finally:
        server.stop()


# ------------------------------------------------------------------ 6. large JSON bodies


def test_healthz_stays_fast_while_a_large_json_body_is_posted(api):
    import threading

    # 8 MB: four million tiny values (the 28 MB of empty lists, scaled down)
    body = b'{"origin": [' + b"0," * 4_000_000 + b'0], "target": "x"}'
    answer: dict[str, Any] = {}

    def post() -> None:
        answer["r"] = api.post("/v1/verify", content=body, headers={"Content-Type": "application/json"})

    poster = threading.Thread(target=post)
    waits: list[float] = []
    poster.start()
    while poster.is_alive() and len(waits) < 200:
        start = time.monotonic()
        assert api.get("/healthz").status_code == 200
        waits.append(time.monotonic() - start)
    poster.join(timeout=30)
    assert waits and max(waits) < 0.5, sorted(waits)[-5:]
    assert_envelope(answer["r"], 400, "malformed_request")
    assert "values" in answer["r"].json()["error"]["message"]
    # a small malformed body is still refused as before
    assert_envelope(
        api.post("/v1/verify", content=b"[" * 40 + b"]" * 40, headers={"Content-Type": "application/json"}),
        400,
        "malformed_request",
    )


# ------------------------------------------------------------------ 7. documented ranges are the code's


def _numeric_options():
    from faceproof.server.docgen import endpoint_specs

    for endpoint, spec in endpoint_specs():
        for option in spec.options:
            if option.schema.get("type") in ("number", "integer"):
                yield endpoint, option


def test_every_numeric_option_parses_exactly_its_documented_range():
    from faceproof.errors import InvalidArgument

    seen = set()
    for endpoint, option in _numeric_options():
        seen.add(option.name)
        schema, parse = option.schema, option.parse
        step = 1 if schema["type"] == "integer" else 1e-6
        if "minimum" in schema:
            assert parse(option.name, schema["minimum"]) == schema["minimum"], (endpoint, option.name)
            with pytest.raises(InvalidArgument):
                parse(option.name, schema["minimum"] - step)
        if "maximum" in schema:
            assert parse(option.name, schema["maximum"]) == schema["maximum"], (endpoint, option.name)
            with pytest.raises(InvalidArgument):
                parse(option.name, schema["maximum"] + step)
        if "exclusiveMaximum" in schema:
            with pytest.raises(InvalidArgument):
                parse(option.name, schema["exclusiveMaximum"])
            parse(option.name, schema["exclusiveMaximum"] - step)
        if "default" in schema:
            assert parse(option.name, schema["default"]) == schema["default"]
    assert seen == {"threshold", "crop_size", "padding", "k"}  # k: the index search (issue 10)


def test_the_openapi_document_and_docs_state_the_code_s_ranges(api):
    from faceproof.server.docgen import END, endpoint_specs, options_table

    doc = (Path(__file__).resolve().parents[2] / "docs" / "service.md").read_text(encoding="utf-8")
    assert options_table() in doc and doc.index(options_table()) < doc.index(END)
    paths = api.get("/openapi.json").json()["paths"]
    for endpoint, spec in endpoint_specs():
        operation = paths[endpoint.split(" ", 1)[1]]["post"]
        params = {p["name"]: p["schema"] for p in operation["parameters"] if p["in"] == "query"}  # not path ids
        assert params == {o.name: o.schema for o in spec.options}, endpoint


def test_the_bounds_of_faces_options_work_end_to_end(api, img):
    from faceproof.server.common import CROP_SIZE, PADDING

    image = {"image": ("o.jpg", img(OBAMA_1))}
    high = {"crops": "true", "padding": str(PADDING.schema["exclusiveMaximum"] - 0.01), "crop_size": "16"}
    r = api.post("/v1/faces", files=image, params=high)
    assert r.status_code == 200 and r.json()["count"] == 1, r.text[:300]
    biggest = {"crops": "true", "crop_size": str(CROP_SIZE.schema["maximum"]), "padding": "0"}
    assert api.post("/v1/faces", files=image, params=biggest).status_code == 200
    refused = api.post("/v1/faces", files=image, params={"crops": "true", "padding": "0.75"})
    assert "< 0.5" in assert_envelope(refused, 400, "invalid_argument")["error"]["message"]


# ------------------------------------------------------------------ 9. keys: guessing is limited, docs need a key

KEY = "k" * 12 + "-valid-key"


def test_wrong_api_keys_are_rate_limited_and_docs_need_a_key():
    with running_app(api_keys=(KEY,), auth_failure_limit=6.0, auth_failure_burst=3) as client:
        # the API's description is behind the key too
        assert_envelope(client.get("/openapi.json"), 401, "unauthorized")
        assert_envelope(client.get("/docs"), 401, "unauthorized")
        spec = client.get("/openapi.json", headers={"X-API-Key": KEY})
        assert spec.status_code == 200 and "/v1/verify" in spec.json()["paths"]
        assert "/openapi.json" not in spec.json()["paths"]
        assert client.get("/docs", headers={"X-API-Key": KEY}).status_code == 200
        assert client.get("/healthz").status_code == 200  # health stays open
        # wrong keys: the third failure above was the docs' second; one more 401, then 429
        assert_envelope(client.get("/v1/models", headers={"X-API-Key": "guess-0000000000000"}), 401, "unauthorized")
        for i in range(5):
            r = client.get("/v1/models", headers={"X-API-Key": f"guess-{i:016d}"})
            assert_envelope(r, 429, "rate_limited")
            assert int(r.headers["retry-after"]) >= 1
        # the address is blocked until a token comes back, whatever key it sends
        assert_envelope(client.get("/v1/models", headers={"X-API-Key": KEY}), 429, "rate_limited")
    with running_app(api_keys=(KEY,), docs_public=True) as client:
        assert client.get("/openapi.json").status_code == 200 and client.get("/docs").status_code == 200
        assert_envelope(client.get("/v1/models"), 401, "unauthorized")
