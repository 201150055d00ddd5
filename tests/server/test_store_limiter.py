"""The store-backed rate limiter on a real SQLite file: the token bucket's numbers, two
limiters (two replicas) sharing one file, concurrent takers, and the fallback when the
store cannot be used. PostgreSQL: tests/server/test_server_replicas.py."""

from __future__ import annotations

import threading

import pytest

from faceproof.server.errors import RateLimited
from faceproof.server.security import RateLimiter
from faceproof.server.store_limiter import StoreRateLimiter
from faceproof.storage import StorageUnavailable, open_store


def _passes(limiter: StoreRateLimiter | RateLimiter, key: str, now: float) -> bool:
    try:
        limiter.take(key, now=now)
    except RateLimited:
        return False
    return True


def test_same_numbers_as_the_in_memory_bucket(tmp_path):
    shared = StoreRateLimiter(f"sqlite:///{tmp_path / 's.db'}", per_minute=6, burst=3)
    local = RateLimiter(6, 3)
    # a burst, a refusal, then one token every 10 s; the same for both limiters
    times = [1000.0, 1000.1, 1000.2, 1000.3, 1005.0, 1010.2, 1010.3, 1031.0, 1031.1, 1031.2, 1031.3]
    expected = [True, True, True, False, False, True, False, True, True, False, False]
    assert [_passes(shared, "k", t) for t in times] == expected
    assert [_passes(local, "k", t) for t in times] == expected
    assert _passes(shared, "other", 1031.3)  # one bucket per key
    with pytest.raises(RateLimited) as exc:
        shared.take("k", now=1031.4)
    assert exc.value.detail["retry_after"] == 9  # the next token comes at 1040
    shared.close()


def test_two_limiters_on_one_file_share_the_bucket(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    a, b = StoreRateLimiter(url, 6, 4), StoreRateLimiter(url, 6, 4)
    results = [_passes(a if i % 2 else b, "key:1", 50.0 + i / 100) for i in range(8)]
    assert results == [True] * 4 + [False] * 4  # in memory each would have let 4 through
    a.close(), b.close()


def test_concurrent_takers_never_overspend(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    limiters = [StoreRateLimiter(url, 1, 10) for _ in range(3)]
    passed: list[bool] = []
    lock = threading.Lock()

    def hammer(limiter: StoreRateLimiter) -> None:
        for _ in range(10):
            ok = _passes(limiter, "key:hot", 500.0)
            with lock:
                passed.append(ok)

    threads = [threading.Thread(target=hammer, args=(lim,)) for lim in limiters]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(passed) == 30 and sum(passed) == 10
    for lim in limiters:
        lim.close()


def test_dead_rows_are_purged(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    limiter = StoreRateLimiter(store, 60, 2, purge_every=10.0)
    for i in range(5):
        limiter.take(f"addr:10.0.0.{i}", now=100.0)
    count = "SELECT COUNT(*) FROM faceproof_rate_limits"
    assert store.run(lambda tx: tx.scalar(count), write=False) == 5
    limiter.take("addr:10.0.0.9", now=200.0)  # every earlier bucket is full again by now
    assert store.run(lambda tx: tx.scalar(count), write=False) == 1
    store.close()


def test_a_store_that_cannot_be_opened_falls_back_to_one_replica_limits(tmp_path, caplog):
    limiter = StoreRateLimiter(f"sqlite:///{tmp_path / 'missing-folder' / 's.db'}", 6, 2, retry_store_after=60)
    with caplog.at_level("WARNING", logger="faceproof.server.store_limiter"):
        assert [_passes(limiter, "k", 0.0) for _ in range(3)] == [True, True, False]
    assert limiter.fallbacks == 3
    assert "rate limit store unavailable (storage_unavailable)" in caplog.text
    assert "missing-folder" not in caplog.text  # the store's location is not logged here
    with pytest.raises(StorageUnavailable):
        open_store(f"sqlite:///{tmp_path / 'missing-folder' / 's.db'}")


def test_a_row_lock_held_on_postgresql_costs_the_timeout_then_the_fallback(pg_server):
    """A stuck session holding the key's row (or a hung server) must not stall requests:
    the decision gives up after ``statement_timeout_ms`` and the replica limits alone."""
    import time

    url = pg_server.fresh_url()
    limiter = StoreRateLimiter(url, 60, 5, statement_timeout_ms=300, retry_store_after=60)
    assert _passes(limiter, "key:stuck", 100.0) and limiter.fallbacks == 0  # the row exists now
    holder = open_store(url)
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        def step(tx) -> None:
            tx.execute("SELECT tat FROM faceproof_rate_limits WHERE key = ? FOR UPDATE", ("key:stuck",))
            locked.set()
            release.wait(30)

        holder.run(step)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert locked.wait(10)
        start = time.monotonic()
        assert _passes(limiter, "key:stuck", 101.0)  # decided by the in-memory fallback
        waited = time.monotonic() - start
        assert limiter.fallbacks == 1
        assert 0.25 <= waited < 10, waited  # it did wait for the lock, then gave up
    finally:
        release.set()
        thread.join(30)
        holder.close()
        limiter.close()
