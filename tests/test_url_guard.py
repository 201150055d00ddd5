"""The URL guard of ``faceproof.runtime.io.fetch_url``, each rule tested so that breaking it fails a
test: the name allow-list, the connection pinned to the checked address (DNS rebinding),
the redirect limit, credentials in a URL, the per-read timeout and the body deadline.

Every connection goes to a real HTTP server on 127.0.0.1 (the ``local_http`` fixture);
names are answered by a scripted resolver (``url_fakes.FakeResolver``), never by DNS.
No test here needs the shared test photos."""

from __future__ import annotations

import http.server
import logging
import socket
import ssl
import threading
import time
from typing import ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest
from url_fakes import FakeResolver

from faceproof import errors
from faceproof.runtime.io import ImageLimits, URLPolicy, fetch_url

BODY = bytes(range(256)) * 8
CHECKED = frozenset({"127.0.0.1/32"})  # the allow-list entry under which 127.0.0.1 passes the guard


class _Handler(http.server.BaseHTTPRequestHandler):
    """Routes: /img (BODY), /hops/N (N redirects, then BODY), /loop, /no-location,
    /to?url=U (redirect to U), /slow-body, /slow-headers, /silent."""

    seen: ClassVar[list[dict[str, str | None]]] = []

    def do_GET(self):
        self.seen.append(
            {
                "path": self.path,
                "host": self.headers.get("Host"),
                "authorization": self.headers.get("Authorization"),
                "user-agent": self.headers.get("User-Agent"),
            }
        )
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        try:
            if parts.path == "/img":
                self._send(BODY)
            elif parts.path.startswith("/hops/"):
                left = int(parts.path.rsplit("/", 1)[1])
                code = int(query.get("code", ["302"])[0])
                if left == 0:
                    self._send(BODY)
                else:
                    self._redirect(f"/hops/{left - 1}?code={code}", code)  # relative: resolved by the client
            elif parts.path == "/loop":
                self._redirect("/loop")
            elif parts.path == "/no-location":
                self.send_response(302)
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif parts.path == "/to":
                self._redirect(query["url"][0])
            elif parts.path == "/slow-body":
                # headers at once, then the body one byte every 0.1 s (4 s in all)
                self.send_response(200)
                self.send_header("Content-Length", "40")
                self.end_headers()
                for i in range(40):
                    self.wfile.write(bytes([i]))
                    time.sleep(0.1)
            elif parts.path == "/slow-headers":
                # the status line and headers one byte every 0.08 s (about 3 s), then a body
                for i in range(len(_SLOW_HEAD)):
                    self.wfile.write(_SLOW_HEAD[i : i + 1])
                    time.sleep(0.08)
                self.wfile.write(b"body")
            elif parts.path == "/no-length":
                # no Content-Length (the body ends when the connection closes), in 4 chunks
                self.send_response(200)
                self.end_headers()
                for i in range(0, len(BODY), 512):
                    self.wfile.write(BODY[i : i + 512])
                    time.sleep(0.02)
            elif parts.path == "/short":
                # declares 1 GB and sends 10 bytes
                self.send_response(200)
                self.send_header("Content-Length", str(10**9))
                self.end_headers()
                self.wfile.write(BODY[:10])
            elif parts.path == "/silent":
                time.sleep(2.0)
                self._send(BODY)
            else:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (deadline tests): expected

    def _send(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, location: str, code: int = 302) -> None:
        self.send_response(code)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


_SLOW_HEAD = b"HTTP/1.0 200 OK\r\nContent-Length: 4\r\n\r\n"


@pytest.fixture(scope="module")
def port(local_http) -> int:
    return local_http(_Handler)


@pytest.fixture
def seen() -> list[dict[str, str | None]]:
    """The requests the loopback server received during this test."""
    _Handler.seen.clear()
    return _Handler.seen


# ------------------------------------------------------------------ the allow-list


def test_a_host_allow_listed_by_name_is_fetched(monkeypatch, port, seen):
    FakeResolver({"images.test": ["127.0.0.1"]}).install(monkeypatch)
    body = fetch_url(f"http://images.test:{port}/img", policy=URLPolicy(allowed_hosts=frozenset({"images.test"})))
    assert body == BODY
    assert [r["host"] for r in seen] == [f"images.test:{port}"]


def test_the_name_allow_list_ignores_case(monkeypatch, port, seen):
    FakeResolver({"images.test": ["127.0.0.1"]}).install(monkeypatch)
    policy = URLPolicy(allowed_hosts=frozenset({"Images.TEST"}))
    assert fetch_url(f"http://IMAGES.test:{port}/img", policy=policy) == BODY


@pytest.mark.parametrize("name", ["other.test", "cdn.images.test", "images.test.evil.test", "images"])
def test_the_name_allow_list_matches_the_whole_name_only(monkeypatch, port, seen, name):
    FakeResolver({name: ["127.0.0.1"]}).install(monkeypatch)
    with pytest.raises(errors.URLNotAllowed):
        fetch_url(f"http://{name}:{port}/img", policy=URLPolicy(allowed_hosts=frozenset({"images.test"})))
    assert seen == []  # refused before any connection


def test_an_allow_listed_network_admits_any_name_that_resolves_into_it(monkeypatch, port, seen):
    FakeResolver({"a.test": ["127.0.0.1"], "b.test": ["127.0.0.1"]}).install(monkeypatch)
    policy = URLPolicy(allowed_hosts=frozenset({"not a network", "127.0.0.0/8"}))  # a bad entry is skipped
    assert fetch_url(f"http://a.test:{port}/img", policy=policy) == BODY
    assert fetch_url(f"http://b.test:{port}/img", policy=policy) == BODY
    with pytest.raises(errors.URLNotAllowed):
        fetch_url(f"http://a.test:{port}/img", policy=URLPolicy(allowed_hosts=frozenset({"10.0.0.0/8"})))


def test_a_network_entry_with_host_bits_set_means_its_network(monkeypatch, port, seen):
    FakeResolver({"a.test": ["127.0.0.1"]}).install(monkeypatch)
    assert fetch_url(f"http://a.test:{port}/img", policy=URLPolicy(allowed_hosts=frozenset({"127.9.9.9/8"}))) == BODY


def test_names_in_the_allow_list_do_not_hide_a_network_entry(monkeypatch, port, seen):
    # names are not networks: each is skipped, never the end of the search. (A set has no
    # order, so many names make it all but certain that some come before the network.)
    FakeResolver({"a.test": ["127.0.0.1"]}).install(monkeypatch)
    allowed = frozenset({f"cdn{i}.example" for i in range(40)} | {"127.0.0.0/8"})
    assert fetch_url(f"http://a.test:{port}/img", policy=URLPolicy(allowed_hosts=allowed)) == BODY


def test_allow_private_admits_loopback_without_an_allow_list(monkeypatch, port, seen):
    FakeResolver({"a.test": ["127.0.0.1"]}).install(monkeypatch)
    assert fetch_url(f"http://a.test:{port}/img", policy=URLPolicy(allow_private=True)) == BODY
    with pytest.raises(errors.URLNotAllowed):
        fetch_url(f"http://a.test:{port}/img", policy=URLPolicy())


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_a_public_address_passes_the_guard_without_any_allow_list(monkeypatch, scheme):
    """The guard's positive side, checked without connecting: the public address passes and
    the connection is then attempted at exactly that address (refused by the fake)."""
    resolver = FakeResolver({"public.test": ["93.184.215.14"]}).install(monkeypatch)
    attempted: list[object] = []

    def no_network(address, *args, **kwargs):
        attempted.append(address)
        raise ConnectionRefusedError("no network in tests")

    monkeypatch.setattr(socket, "create_connection", no_network)
    with pytest.raises(errors.URLFetchError) as info:
        fetch_url(f"{scheme}://public.test/img")
    assert not isinstance(info.value, errors.URLNotAllowed)
    assert resolver.lookups == ["public.test"]
    assert attempted == [("93.184.215.14", 443 if scheme == "https" else 80)]


# ------------------------------------------------------------------ pinning (DNS rebinding)


def test_the_connection_goes_to_the_checked_address_when_the_name_rebinds(monkeypatch, port, seen):
    # The first answer (the one the guard checks) is allow-listed; every later answer is
    # 127.0.0.2, which is not (and where nothing listens). A client that resolved the name
    # again to connect would go there; the pinned connection goes to the checked 127.0.0.1.
    resolver = FakeResolver({"rebind.test": ["127.0.0.1", "127.0.0.2"]}).install(monkeypatch)
    body = fetch_url(f"http://rebind.test:{port}/img", policy=URLPolicy(allowed_hosts=CHECKED))
    assert body == BODY
    assert resolver.lookups == ["rebind.test"]  # resolved once, by the guard
    assert [r["host"] for r in seen] == [f"rebind.test:{port}"]  # the server still sees the name


def test_a_redirect_is_resolved_checked_and_pinned_again(monkeypatch, port, seen):
    resolver = FakeResolver({"a.test": ["127.0.0.1", "127.0.0.2"], "b.test": ["127.0.0.1", "127.0.0.2"]})
    resolver.install(monkeypatch)
    body = fetch_url(f"http://a.test:{port}/to?url=http://b.test:{port}/img", policy=URLPolicy(allowed_hosts=CHECKED))
    assert body == BODY
    assert resolver.lookups == ["a.test", "b.test"]
    assert [r["host"] for r in seen] == [f"a.test:{port}", f"b.test:{port}"]


# ------------------------------------------------------------------ redirects


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
def test_redirects_up_to_the_limit_are_followed(port, seen, code):
    policy = URLPolicy(allow_private=True, max_redirects=2)
    assert fetch_url(f"http://127.0.0.1:{port}/hops/2?code={code}", policy=policy) == BODY
    assert [r["path"] for r in seen] == [f"/hops/{n}?code={code}" for n in (2, 1, 0)]


def test_one_redirect_more_than_the_limit_is_a_typed_error(port, seen):
    policy = URLPolicy(allow_private=True, max_redirects=2)
    with pytest.raises(errors.URLFetchError, match="more than 2 redirects"):
        fetch_url(f"http://127.0.0.1:{port}/hops/3", policy=policy)
    assert [r["path"] for r in seen] == ["/hops/3", "/hops/2?code=302", "/hops/1?code=302"]  # the 4th is never asked


def test_max_redirects_zero_follows_none(port, seen):
    policy = URLPolicy(allow_private=True, max_redirects=0)
    assert fetch_url(f"http://127.0.0.1:{port}/hops/0", policy=policy) == BODY
    with pytest.raises(errors.URLFetchError, match="more than 0 redirects"):
        fetch_url(f"http://127.0.0.1:{port}/hops/1", policy=policy)


def test_the_default_limit_is_three_redirects(port, seen):
    policy = URLPolicy(allow_private=True)
    assert policy.max_redirects == 3
    assert fetch_url(f"http://127.0.0.1:{port}/hops/3", policy=policy) == BODY
    with pytest.raises(errors.URLFetchError):
        fetch_url(f"http://127.0.0.1:{port}/hops/4", policy=policy)


def test_a_redirect_loop_ends_in_a_typed_error(port, seen):
    with pytest.raises(errors.URLFetchError, match="redirects"):
        fetch_url(f"http://127.0.0.1:{port}/loop", policy=URLPolicy(allow_private=True, max_redirects=5))
    assert len(seen) == 6


def test_a_redirect_without_location_is_a_typed_error(port, seen):
    with pytest.raises(errors.URLFetchError, match="Location"):
        fetch_url(f"http://127.0.0.1:{port}/no-location", policy=URLPolicy(allow_private=True))


@pytest.mark.parametrize("target", ["ftp://127.0.0.1/img", "file:///etc/passwd", "http://:80/img"])
def test_a_redirect_to_a_non_http_url_or_no_host_is_refused(port, seen, target):
    with pytest.raises(errors.URLNotAllowed):
        fetch_url(f"http://127.0.0.1:{port}/to?url={target}", policy=URLPolicy(allow_private=True))


def test_negative_max_redirects_or_timeout_is_an_invalid_argument():
    with pytest.raises(errors.InvalidArgument):
        URLPolicy(max_redirects=-1)
    with pytest.raises(errors.InvalidArgument):
        URLPolicy(timeout=0)
    assert URLPolicy(max_redirects=0).max_redirects == 0


# ------------------------------------------------------------------ credentials


@pytest.mark.parametrize("userinfo", ["user:s3cret@", "user@", ":s3cret@", "user:@"])
def test_a_url_with_credentials_is_refused_before_connecting(port, seen, userinfo):
    with pytest.raises(errors.URLNotAllowed) as info:
        fetch_url(f"http://{userinfo}127.0.0.1:{port}/img", policy=URLPolicy(allow_private=True))
    assert "credentials" in str(info.value) and "s3cret" not in str(info.value)
    assert seen == []  # nothing was sent, so no Authorization header left this process


def test_a_redirect_to_a_url_with_credentials_is_refused(port, seen):
    with pytest.raises(errors.URLNotAllowed, match="credentials"):
        fetch_url(
            f"http://127.0.0.1:{port}/to?url=http://u:p@127.0.0.1:{port}/img", policy=URLPolicy(allow_private=True)
        )
    assert [r["authorization"] for r in seen] == [None]


def test_a_bad_port_is_refused(port):
    with pytest.raises(errors.URLNotAllowed, match="port"):
        fetch_url("http://127.0.0.1:99999/img", policy=URLPolicy(allow_private=True))


# ------------------------------------------------------------------ timeouts and the deadline


def test_a_server_that_does_not_answer_times_out(port, seen):
    start = time.monotonic()
    with pytest.raises(errors.URLFetchError, match="timed out"):
        fetch_url(f"http://127.0.0.1:{port}/silent", policy=URLPolicy(allow_private=True, timeout=0.3))
    assert time.monotonic() - start < 1.5  # the server answers after 2 s


def test_a_body_trickled_past_the_timeout_is_cut_at_the_deadline(port, seen):
    # one byte every 0.1 s never trips the 0.5 s per-read timeout; the fetch deadline
    # (checked after every chunk of the body) ends it after about 0.5 s, not 4 s
    start = time.monotonic()
    with pytest.raises(errors.URLFetchError, match=r"timed out after 0\.5s"):  # issue 15 item 5's one deadline
        fetch_url(f"http://127.0.0.1:{port}/slow-body", policy=URLPolicy(allow_private=True, timeout=0.5))
    assert time.monotonic() - start < 2.0


def test_headers_trickled_past_the_timeout_are_cut_at_the_deadline(port, seen):
    start = time.monotonic()
    with pytest.raises(errors.URLFetchError):
        fetch_url(f"http://127.0.0.1:{port}/slow-headers", policy=URLPolicy(allow_private=True, timeout=0.5))
    assert time.monotonic() - start < 2.0


# ------------------------------------------------------------------ the byte cap


@pytest.mark.parametrize("path", ["/img", "/no-length"])
def test_the_byte_cap_admits_exactly_max_bytes(port, seen, path):
    url = f"http://127.0.0.1:{port}{path}"
    policy = URLPolicy(allow_private=True)
    assert fetch_url(url, policy=policy, limits=ImageLimits(max_bytes=len(BODY))) == BODY
    for cap in (len(BODY) - 1, 1000):  # 1000: more than any one 512-byte chunk of /no-length
        with pytest.raises(errors.ImageTooLarge) as info:
            fetch_url(url, policy=policy, limits=ImageLimits(max_bytes=cap))
        assert info.value.detail == {"max_bytes": cap}
        assert str(info.value) == f"the image is larger than {cap} bytes"


def test_a_declared_length_over_the_cap_is_refused_before_reading(port, seen):
    # the server sends 10 of the 1 GB it declares: refused for size, not failed for truncation
    with pytest.raises(errors.ImageTooLarge):
        fetch_url(f"http://127.0.0.1:{port}/short", policy=URLPolicy(allow_private=True))


# ------------------------------------------------------------------ what each refusal says


@pytest.mark.parametrize("address", ["224.0.0.1", "ff02::1", "4000::1", "::ffff:10.1.2.3"])
def test_multicast_reserved_and_mapped_private_addresses_are_refused(monkeypatch, address):
    # multicast and reserved IPv6 space count as "global" to ipaddress: refused by their own tests
    FakeResolver({"odd.test": [address]}).install(monkeypatch)
    with pytest.raises(errors.URLNotAllowed):
        fetch_url("http://odd.test/img")


def test_each_refusal_names_its_rule_and_carries_its_detail(monkeypatch, port, seen):
    FakeResolver({"a.test": ["127.0.0.1"], "empty.test": []}).install(monkeypatch)
    private = URLPolicy(allow_private=True)

    def error_of(url: str, policy: URLPolicy = private) -> errors.FaceProofError:
        with pytest.raises(errors.ImageError) as info:
            fetch_url(url, policy=policy)
        return info.value

    e = error_of("http://a.test/img", URLPolicy(enabled=False))
    assert isinstance(e, errors.URLNotAllowed) and str(e) == "fetching images by URL is disabled"
    e = error_of(f"http://127.0.0.1:{port}/to?url=ftp://127.0.0.1/img")
    assert isinstance(e, errors.URLNotAllowed) and e.detail == {"scheme": "ftp"}
    assert str(e) == "only http:// and https:// URLs are accepted"
    e = error_of(f"http://127.0.0.1:{port}/to?url=http://:80/img")
    assert isinstance(e, errors.URLNotAllowed) and str(e) == "the URL has no host"
    e = error_of("http://u:p@a.test/img")
    assert isinstance(e, errors.URLNotAllowed) and str(e) == "URLs with credentials are not accepted"
    e = error_of(f"http://a.test:{port}/img", URLPolicy())
    assert isinstance(e, errors.URLNotAllowed) and e.detail == {"host": "a.test"}
    assert str(e) == (
        "refusing to fetch from 'a.test': it resolves to a private, loopback, "
        "link-local or otherwise non-public address"
    )
    e = error_of("http://nowhere.test/img")
    assert isinstance(e, errors.URLFetchError) and e.detail == {"host": "nowhere.test"}
    assert str(e) == "cannot resolve host 'nowhere.test'"
    e = error_of("http://empty.test/img")
    assert isinstance(e, errors.URLFetchError) and e.detail == {"host": "empty.test"}
    assert str(e) == "host 'empty.test' has no address"
    e = error_of(f"http://127.0.0.1:{port}/missing")
    assert isinstance(e, errors.URLFetchError) and e.detail == {"status": 404}
    assert str(e) == "the server answered HTTP 404"
    e = error_of(f"http://127.0.0.1:{port}/no-location")
    assert isinstance(e, errors.URLFetchError) and str(e) == "redirect without a Location header"
    with pytest.raises(errors.InvalidArgument) as info:
        URLPolicy(timeout=-1)
    assert str(info.value) == "URL timeout must be positive"
    with pytest.raises(errors.InvalidArgument) as info:
        URLPolicy(max_redirects=-1)
    assert str(info.value) == "max_redirects must be >= 0"


def test_a_failed_fetch_names_the_failure_and_logs_no_query_string(caplog):
    with socket.socket() as probe:  # a loopback port where nothing listens
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    caplog.set_level(logging.INFO)
    with pytest.raises(errors.URLFetchError) as info:
        fetch_url(f"http://127.0.0.1:{dead}/p/photo.jpg?sig=SECRET", policy=URLPolicy(allow_private=True))
    assert str(info.value) == "fetching the URL failed: ConnectError"
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("faceproof")]
    # issue 15 item 2: the log names the failure, never the URL (host, path or query)
    assert ours == ["URL fetch failed: url_fetch_failed (ConnectError)"]


# ------------------------------------------------------------------ what the request carries


def test_the_request_carries_the_policy_user_agent(port, seen):
    fetch_url(f"http://127.0.0.1:{port}/img", policy=URLPolicy(allow_private=True))
    fetch_url(f"http://127.0.0.1:{port}/img", policy=URLPolicy(allow_private=True, user_agent="probe/1"))
    assert [r["user-agent"] for r in seen] == ["faceproof", "probe/1"]


def test_an_empty_userinfo_is_no_credential_and_not_part_of_the_host_header(monkeypatch, port, seen):
    FakeResolver({"a.test": ["127.0.0.1"]}).install(monkeypatch)
    assert fetch_url(f"http://@a.test:{port}/img", policy=URLPolicy(allowed_hosts=CHECKED)) == BODY
    assert [(r["host"], r["authorization"]) for r in seen] == [(f"a.test:{port}", None)]


def test_proxy_settings_in_the_environment_are_ignored(monkeypatch, port, seen, local_http):
    # a proxy would receive the request instead of the checked address: the environment
    # of the process (HTTP_PROXY ...) must not redirect a guarded fetch
    class _Proxy(http.server.BaseHTTPRequestHandler):
        hits: ClassVar[list[str]] = []

        def do_GET(self):
            self.hits.append(self.path)
            self.send_response(502)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    proxy = f"http://127.0.0.1:{local_http(_Proxy)}"
    for var in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(var, proxy)
    for var in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(var, raising=False)
    assert fetch_url(f"http://127.0.0.1:{port}/img", policy=URLPolicy(allow_private=True)) == BODY
    assert _Proxy.hits == [] and len(seen) == 1


def test_https_sends_the_url_name_as_sni_not_the_pinned_address(monkeypatch):
    # a loopback TLS listener without a certificate: it records the server name the client
    # hello carries, then the handshake fails (the fetch fails; the name is what is checked)
    names: list[str | None] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.sni_callback = lambda _sock, name, _ctx: names.append(name)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)

    def serve_one() -> None:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            try:
                context.wrap_socket(conn, server_side=True)
            except (ssl.SSLError, OSError):
                pass

    server = threading.Thread(target=serve_one, daemon=True)
    server.start()
    FakeResolver({"images.test": ["127.0.0.1"]}).install(monkeypatch)
    try:
        with pytest.raises(errors.URLFetchError):
            fetch_url(
                f"https://images.test:{listener.getsockname()[1]}/img",
                policy=URLPolicy(allowed_hosts=frozenset({"images.test"}), timeout=5),
            )
        server.join(10)
    finally:
        listener.close()
    assert names == ["images.test"]
