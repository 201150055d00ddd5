"""Two generic primitives on a :class:`Store` for the state the service shares between
replicas: :class:`Marks` (a key seen once: spent challenge nonces, selfie fingerprints —
with an owner for deletion by member and an expiry for retention) and :class:`Counters`
(fixed-window counters: rate limits). Keys should be hashes or ids, never images."""

from __future__ import annotations

import time

from .base import Migration, Schema, Store, Tx

__all__ = ["CORE_SCHEMA", "Counters", "Marks"]

_SQL = (
    "CREATE TABLE faceproof_marks (namespace TEXT NOT NULL, key TEXT NOT NULL, owner TEXT, "
    "created_at DOUBLE PRECISION NOT NULL, expires_at DOUBLE PRECISION, PRIMARY KEY (namespace, key))",
    "CREATE INDEX faceproof_marks_owner ON faceproof_marks (namespace, owner)",
    "CREATE INDEX faceproof_marks_expiry ON faceproof_marks (expires_at)",
    "CREATE TABLE faceproof_counters (namespace TEXT NOT NULL, key TEXT NOT NULL, "
    "window_start DOUBLE PRECISION NOT NULL, count BIGINT NOT NULL, PRIMARY KEY (namespace, key))",
)
CORE_SCHEMA = Schema("core", (Migration(1, sqlite=_SQL, postgresql=_SQL),))


class Marks:
    """A set of keys per ``namespace`` with first-writer-wins semantics across processes."""

    def __init__(self, store: Store, namespace: str) -> None:
        self.store, self.namespace = store, namespace
        store.ensure_schema(CORE_SCHEMA)

    def add(self, key: str, *, owner: str | None = None, ttl: float | None = None, now: float | None = None) -> bool:
        """Record ``key``; True if it was new (or its earlier mark had expired), False if
        it is already there: the caller refuses the replay / the reused nonce."""
        t = time.time() if now is None else now
        expires = None if ttl is None else t + ttl

        def step(tx: Tx) -> bool:
            tx.execute(
                "DELETE FROM faceproof_marks WHERE namespace = ? AND key = ? AND expires_at <= ?",
                (self.namespace, key, t),
            )
            inserted = tx.execute(
                "INSERT INTO faceproof_marks (namespace, key, owner, created_at, expires_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (namespace, key) DO NOTHING",
                (self.namespace, key, owner, t, expires),
            )
            return inserted == 1

        return self.store.run(step)

    def seen(self, key: str, *, now: float | None = None) -> bool:
        t = time.time() if now is None else now
        row = self.store.run(
            lambda tx: tx.one(
                "SELECT 1 FROM faceproof_marks WHERE namespace = ? AND key = ? "
                "AND (expires_at IS NULL OR expires_at > ?)",
                (self.namespace, key, t),
            ),
            write=False,
        )
        return row is not None

    def remove_owner(self, owner: str) -> int:
        """Delete every mark of ``owner`` (erasure by member); how many."""
        return self.store.run(
            lambda tx: tx.execute(
                "DELETE FROM faceproof_marks WHERE namespace = ? AND owner = ?", (self.namespace, owner)
            )
        )

    def purge_expired(self, *, now: float | None = None) -> int:
        t = time.time() if now is None else now
        return self.store.run(
            lambda tx: tx.execute(
                "DELETE FROM faceproof_marks WHERE namespace = ? AND expires_at <= ?", (self.namespace, t)
            )
        )


class Counters:
    """Fixed-window counters per ``namespace`` (one row per key, atomic upsert)."""

    def __init__(self, store: Store, namespace: str) -> None:
        self.store, self.namespace = store, namespace
        store.ensure_schema(CORE_SCHEMA)

    def hit(self, key: str, *, window: float, now: float | None = None) -> int:
        """Count one event for ``key``; the number of events in the current window
        (which starts at the first event after the previous window ended)."""
        t = time.time() if now is None else now
        row = self.store.run(
            lambda tx: tx.one(
                "INSERT INTO faceproof_counters (namespace, key, window_start, count) VALUES (?, ?, ?, 1) "
                "ON CONFLICT (namespace, key) DO UPDATE SET "
                "count = CASE WHEN faceproof_counters.window_start <= ? THEN 1 ELSE faceproof_counters.count + 1 END, "
                "window_start = CASE WHEN faceproof_counters.window_start <= ? THEN ? "
                "ELSE faceproof_counters.window_start END "
                "RETURNING count",
                (self.namespace, key, t, t - window, t - window, t),
            )
        )
        assert row is not None
        return int(row[0])
