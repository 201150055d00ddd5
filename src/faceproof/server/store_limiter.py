"""The rate limit kept in the service's store, so that replicas sharing one database
enforce one limit (``FACEPROOF_STORE_URL`` set and ``FACEPROOF_RATE_LIMIT`` > 0).

Same numbers and the same answer as the in-memory :class:`~.security.RateLimiter`
(``per_minute`` tokens a minute, at most ``burst`` saved up, ``429 rate_limited`` with
``Retry-After``), computed as GCRA, the token bucket's one-number form: each key has a
*theoretical arrival time* ``tat``; a request at ``t`` passes when
``max(tat, t) - t <= (burst - 1) * interval`` and then moves ``tat`` on by one
``interval`` (``60 / per_minute`` seconds). One atomic upsert per request decides it, so
concurrent requests on several replicas never both take the last token. A fixed-window
counter (``storage.Counters``) was not used: it lets twice the limit through around a
window's edge and has no burst size.

Time is the database's clock on PostgreSQL (replicas whose clocks drift still agree) and
the host's on SQLite (one node). A key's row is dead once its bucket is full again and is
purged from time to time. When the store cannot be used the limiter falls back to an
in-memory bucket per replica (logged; the store is tried again after
``retry_store_after`` seconds): a database outage neither opens the limit entirely nor
takes the whole service down. On PostgreSQL each decision has a time limit
(``statement_timeout_ms``, also its lock wait): a database that hangs, or a row lock held
by a stuck session, costs a request that long and then the fallback, never a stalled
service.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time

from ..storage import Migration, Schema, StorageError, StorageUnavailable, Store, Tx, open_store
from .errors import RateLimited
from .security import RateLimiter

__all__ = ["RATE_LIMIT_SCHEMA", "StoreRateLimiter", "take"]

logger = logging.getLogger(__name__)

_SQL = (
    "CREATE TABLE faceproof_rate_limits (key TEXT PRIMARY KEY, tat DOUBLE PRECISION NOT NULL, denied BIGINT NOT NULL)",
    "CREATE INDEX faceproof_rate_limits_tat ON faceproof_rate_limits (tat)",
)
RATE_LIMIT_SCHEMA = Schema("rate_limits", (Migration(1, sqlite=_SQL, postgresql=_SQL),))

# new tat: max(tat, t) + interval when the request passes; unchanged when it is refused.
# ``denied`` counts the refusals in a row (0 after a pass), so RETURNING says which it was.
_TAKE = (
    "INSERT INTO faceproof_rate_limits (key, tat, denied) VALUES (?, ?, 0) "
    "ON CONFLICT (key) DO UPDATE SET "
    "tat = CASE WHEN faceproof_rate_limits.tat - ? > ? THEN faceproof_rate_limits.tat "
    "WHEN faceproof_rate_limits.tat > ? THEN faceproof_rate_limits.tat + ? ELSE ? END, "
    "denied = CASE WHEN faceproof_rate_limits.tat - ? > ? THEN faceproof_rate_limits.denied + 1 ELSE 0 END "
    "RETURNING tat, denied"
)


class StoreRateLimiter:
    """Token buckets in a :class:`Store` shared by replicas (see the module's docstring).

    ``store`` is a URL (opened on first use, so a database that is down at startup does
    not keep the service from starting) or an open :class:`Store` (not closed here).
    """

    def __init__(
        self,
        store: str | Store,
        per_minute: float,
        burst: int,
        *,
        retry_store_after: float = 5.0,
        purge_every: float = 60.0,
        statement_timeout_ms: int = 2000,
    ) -> None:
        if statement_timeout_ms < 1:
            raise ValueError("statement_timeout_ms must be at least 1")
        self.rate = per_minute / 60.0
        self.statement_timeout_ms = int(statement_timeout_ms)
        self.burst = float(max(1, burst))
        self.retry_store_after = retry_store_after
        self.purge_every = purge_every
        self._url = store if isinstance(store, str) else None
        self._store: Store | None = None if isinstance(store, str) else store
        self._owns_store = isinstance(store, str)
        self._schema_ready = False
        self._lock = threading.Lock()
        self._down_until = 0.0  # monotonic: use the fallback until then
        self._next_purge = 0.0
        self.fallback = RateLimiter(per_minute, burst)
        self.fallbacks = 0  # requests decided by the in-memory fallback (for tests and metrics)

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    @property
    def interval(self) -> float:
        return 1.0 / self.rate

    def _ready_store(self) -> Store:
        with self._lock:
            if time.monotonic() < self._down_until:  # another request found it down while this one waited
                raise StorageUnavailable("the rate limit store was unavailable moments ago")
            if self._store is None:
                assert self._url is not None
                self._store = open_store(self._url)
            if not self._schema_ready:
                self._store.ensure_schema(RATE_LIMIT_SCHEMA)
                self._schema_ready = True
            return self._store

    def take(self, key: str, now: float | None = None) -> None:
        """Spend one token of ``key``'s shared bucket or raise :class:`RateLimited`.
        ``now`` (epoch seconds) replaces the clock, for tests."""
        if not self.enabled:
            return
        if time.monotonic() < self._down_until:
            self._take_locally(key)
            return
        try:
            store = self._ready_store()
            wait = store.run(lambda tx: self._spend(tx, key, now))
        except StorageError as exc:
            self._down_until = time.monotonic() + self.retry_store_after
            logger.warning(
                "rate limit store unavailable (%s); limiting per replica for %.0f s", exc.code, self.retry_store_after
            )
            self._take_locally(key)
            return
        if wait is not None:
            raise RateLimited(
                f"rate limit exceeded ({self.rate * 60:g} requests per minute); retry in {wait} s", retry_after=wait
            )

    def _take_locally(self, key: str) -> None:
        self.fallbacks += 1
        self.fallback.take(key)

    def _spend(self, tx: Tx, key: str, now: float | None) -> int | None:
        """None when the request passes, else the seconds to wait (at least 1)."""
        if tx.dialect == "postgresql":  # for this transaction only (SET LOCAL); QueryCanceled -> fallback
            ms = self.statement_timeout_ms
            tx.execute(f"SET LOCAL statement_timeout = {ms}")
            tx.execute(f"SET LOCAL lock_timeout = {ms}")
        t = now if now is not None else self._clock(tx)
        interval, tolerance = self.interval, (self.burst - 1.0) * self.interval
        row = tx.one(_TAKE, (key, t + interval, t, tolerance, t, interval, t + interval, t, tolerance))
        assert row is not None
        tat, denied = float(row[0]), int(row[1])
        if t >= self._next_purge:  # rows whose bucket is full again carry no information
            tx.execute("DELETE FROM faceproof_rate_limits WHERE tat < ?", (t,))
            self._next_purge = t + self.purge_every
        if denied == 0:
            return None
        return max(1, math.ceil(tat - tolerance - t))

    @staticmethod
    def _clock(tx: Tx) -> float:
        if tx.dialect == "postgresql":
            return float(tx.scalar("SELECT EXTRACT(EPOCH FROM clock_timestamp())::double precision"))
        return time.time()

    def close(self) -> None:
        with self._lock:
            if self._store is not None and self._owns_store:
                self._store.close()
                self._store = None
                self._schema_ready = False


async def take(limiter: RateLimiter | StoreRateLimiter, key: str) -> None:
    """``limiter.take(key)`` from the event loop: in a thread when it does database I/O."""
    if isinstance(limiter, StoreRateLimiter):
        if limiter.enabled:
            await asyncio.to_thread(limiter.take, key)
        return
    limiter.take(key)
