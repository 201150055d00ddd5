"""The embedded backend: one SQLite file (stdlib ``sqlite3``), WAL journal,
``secure_delete`` on, ``synchronous=FULL`` (a committed enrolment survives a power cut)."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

from .base import Dialect, Row, Store, Tx
from .errors import StorageCorrupt, StorageError, StorageUnavailable

__all__ = ["SQLiteStore"]

logger = logging.getLogger(__name__)

_CORRUPT_HINTS = ("not a database", "malformed", "corrupt", "file is encrypted")
_UNAVAILABLE_HINTS = ("unable to open", "locked", "busy", "readonly", "disk i/o", "disk is full", "no such file")


def translate(exc: sqlite3.Error, location: str) -> StorageError:
    text = str(exc).lower()
    if any(h in text for h in _CORRUPT_HINTS):
        return StorageCorrupt(f"{location} is damaged or is not a SQLite database ({exc})", location=location)
    if any(h in text for h in _UNAVAILABLE_HINTS):
        return StorageUnavailable(f"{location} cannot be used now ({exc})", location=location)
    return StorageError(f"database error on {location} ({type(exc).__name__}: {exc})", location=location)


class _SQLiteTx(Tx):
    dialect: Dialect = "sqlite"

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self._conn.execute(sql, tuple(params)).rowcount

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self._conn.executemany(sql, rows)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self._conn.execute(sql, tuple(params)).fetchall()

    @property
    def raw(self) -> sqlite3.Connection:
        return self._conn


class SQLiteStore(Store):
    """A SQLite file. ``path=":memory:"`` keeps everything in memory (tests)."""

    dialect: ClassVar[Dialect] = "sqlite"

    def __init__(self, path: str | Path, *, busy_timeout: float = 10.0) -> None:
        self.path = str(path)
        self.location = f"sqlite:///{self.path}"
        self._lock = threading.RLock()
        self._busy_timeout = busy_timeout
        self._conn = self._connect()

    def _connect(self) -> sqlite3.Connection:
        if self.path != ":memory:" and not Path(self.path).parent.is_dir():
            raise StorageUnavailable(f"{self.location}: the folder does not exist", location=self.location)
        try:
            conn = sqlite3.connect(self.path, timeout=self._busy_timeout, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise translate(exc, self.location) from exc
        try:
            # the first statement reads the header: a file that is not a database fails here
            conn.execute("PRAGMA schema_version").fetchone()
            conn.execute("PRAGMA journal_mode=WAL").fetchone()
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA secure_delete=ON")
            conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as exc:
            conn.close()
            raise translate(exc, self.location) from exc
        return conn

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Tx]:
        with self._lock:
            conn = self._conn
            try:
                conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            except sqlite3.Error as exc:
                raise translate(exc, self.location) from exc
            try:
                yield _SQLiteTx(conn)
            except BaseException as exc:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    logger.warning("rollback failed on %s", self.location)
                if isinstance(exc, sqlite3.Error):
                    raise translate(exc, self.location) from exc
                raise
            else:
                try:
                    conn.execute("COMMIT")
                except sqlite3.Error as exc:
                    try:
                        conn.execute("ROLLBACK")
                    except sqlite3.Error:
                        pass
                    raise translate(exc, self.location) from exc

    def check(self) -> None:
        """``PRAGMA quick_check`` over the whole file; :class:`StorageCorrupt` when damaged.
        Reads every page: seconds for a large file."""
        with self._lock:
            try:
                rows = self._conn.execute("PRAGMA quick_check").fetchall()
            except sqlite3.Error as exc:
                raise translate(exc, self.location) from exc
        if [r[0] for r in rows] != ["ok"]:
            raise StorageCorrupt(f"{self.location} failed its integrity check", location=self.location)

    def compact(self) -> None:
        with self._lock:
            try:
                self._conn.execute("VACUUM")
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            except sqlite3.Error as exc:
                raise translate(exc, self.location) from exc

    def size_bytes(self) -> int:
        if self.path == ":memory:":
            with self._lock:
                pages = self._conn.execute("PRAGMA page_count").fetchone()[0]
                size = self._conn.execute("PRAGMA page_size").fetchone()[0]
            return int(pages * size)
        return sum(p.stat().st_size for p in (Path(self.path), Path(self.path + "-wal")) if p.exists())

    def close(self) -> None:
        with self._lock:
            try:
                self._conn.close()
            except sqlite3.Error:
                pass
