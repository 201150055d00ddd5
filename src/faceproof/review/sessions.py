"""Reviewer sessions and sign-in failure counts, in the review component's tables.

A session is a random token given to the browser; only its SHA-256 is stored, with the
reviewer's name, the session's CSRF token and its end. Failed sign-ins are counted per
name (hashed) in a fixed window shared by every process (:class:`faceproof.storage.Counters`)."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

from ..storage import Counters, Store

__all__ = ["Session", "Sessions"]


@dataclass(frozen=True)
class Session:
    reviewer: str
    csrf: str
    expires_at: float


class Sessions:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._logins = Counters(store, "review_login")

    def open(self, reviewer: str, *, ttl_s: float, now: float | None = None) -> tuple[str, Session]:
        """A new session: the token for the cookie (only its SHA-256 is stored) and the
        session with its CSRF token."""
        t = time.time() if now is None else now
        token = secrets.token_urlsafe(32)
        session = Session(reviewer, secrets.token_urlsafe(32), t + ttl_s)
        self.store.run(
            lambda tx: tx.execute(
                "INSERT INTO fp_review_sessions (token_hash, reviewer, csrf, created_at, expires_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (_hash(token), reviewer, session.csrf, t, session.expires_at),
            )
        )
        return token, session

    def get(self, token: str | None, *, now: float | None = None) -> Session | None:
        if not token or len(token) > 200:
            return None
        t = time.time() if now is None else now
        row = self.store.run(
            lambda tx: tx.one(
                "SELECT reviewer, csrf, expires_at FROM fp_review_sessions WHERE token_hash = ? AND expires_at > ?",
                (_hash(token), t),
            ),
            write=False,
        )
        return None if row is None else Session(row[0], row[1], float(row[2]))

    def end(self, token: str | None) -> None:
        if token:
            self.store.run(
                lambda tx: tx.execute("DELETE FROM fp_review_sessions WHERE token_hash = ?", (_hash(token),))
            )

    def count_login_failure(self, name: str, *, window_s: float = 900.0, now: float | None = None) -> int:
        """Failed logins for ``name`` in the current window (rate limit across processes)."""
        return self._logins.hit(_hash(name.lower())[:32], window=window_s, now=now)

    def login_failures(self, name: str, *, window_s: float = 900.0, now: float | None = None) -> int:
        t = time.time() if now is None else now
        row = self.store.run(
            lambda tx: tx.one(
                "SELECT count, window_start FROM faceproof_counters WHERE namespace = 'review_login' AND key = ?",
                (_hash(name.lower())[:32],),
            ),
            write=False,
        )
        if row is None or float(row[1]) <= t - window_s:
            return 0
        return int(row[0])


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
