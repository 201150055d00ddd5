"""The review desk's state in a running service: the reviewers, the case store (opened
on first use, so a database that is down at start-up is an error page, not a dead
server) and the opportunistic purge (at most once a minute, on the desk's own
requests; ``faceproof review purge`` from cron covers an idle server)."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from ...review import ReviewStore
from ...storage import StorageError
from ..settings import ServiceSettings
from .auth import Reviewers

__all__ = ["ReviewDesk"]

logger = logging.getLogger(__name__)
T = TypeVar("T")

SESSION_TTL_S = 8 * 3600.0
PURGE_EVERY_S = 60.0


class ReviewDesk:
    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self.reviewers = Reviewers(settings.review_users)
        self.window_s = settings.review_window_hours * 3600.0
        self._cases: ReviewStore | None = None
        self._lock = threading.Lock()
        self._last_purge = 0.0

    def cases(self) -> ReviewStore:
        """The case store; raises :class:`~faceproof.storage.StorageUnavailable` while the
        database cannot be opened (tried again on the next request)."""
        with self._lock:
            if self._cases is None:
                from ...storage import open_store

                self._cases = ReviewStore(open_store(self.settings.store_url))
            return self._cases

    async def call(self, fn: Callable[[ReviewStore], T]) -> T:
        """``fn(cases)`` in a thread (database work never blocks the event loop)."""

        def run() -> T:
            cases = self.cases()
            self._maybe_purge(cases)
            return fn(cases)

        return await asyncio.to_thread(run)

    def _maybe_purge(self, cases: ReviewStore) -> None:
        now = time.monotonic()
        if now - self._last_purge < PURGE_EVERY_S:
            return
        self._last_purge = now
        try:
            cases.purge()
        except StorageError as exc:  # the request's own work reports the problem
            logger.warning("review purge failed: %s", exc.code)

    def close(self) -> None:
        with self._lock:
            if self._cases is not None:
                self._cases.close()
                self._cases = None

    def describe(self) -> dict[str, Any]:
        return {
            "enabled": True,
            "window_hours": self.settings.review_window_hours,
            "export": self.settings.review_export,
        }
