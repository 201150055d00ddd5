"""The server backend: PostgreSQL through psycopg 3 (``pip install 'faceproof[postgres]'``).

One connection per store, opened lazily and re-opened after a loss; :meth:`Store.run`
retries a transaction once when the connection broke under it (the server rolled it
back, so nothing was half-written), then raises :class:`StorageUnavailable`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, ClassVar

from ..errors import BackendUnavailable
from .base import ConnectionLost, Dialect, Row, Store, Tx
from .errors import StorageCorrupt, StorageError, StorageUnavailable

__all__ = ["PostgresStore"]

logger = logging.getLogger(__name__)


@lru_cache(maxsize=512)
def _pg_sql(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


def _import_psycopg() -> Any:
    try:
        import psycopg
    except ImportError as exc:
        raise BackendUnavailable(
            "the PostgreSQL store needs psycopg 3: pip install 'faceproof[postgres]'", backend="postgresql"
        ) from exc
    return psycopg


def redact(dsn: str) -> str:
    """``postgresql://user@host:port/db`` without password or other parameters."""
    psycopg = _import_psycopg()
    try:
        info = psycopg.conninfo.conninfo_to_dict(dsn)
    except Exception:
        return "postgresql://<unparseable DSN>"
    host = str(info.get("host") or "localhost")
    port = f":{info['port']}" if info.get("port") else ""
    user = f"{info['user']}@" if info.get("user") else ""
    return f"postgresql://{user}{host}{port}/{info.get('dbname') or ''}"


class _PgTx(Tx):
    dialect: Dialect = "postgresql"

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        cur = self._conn.execute(_pg_sql(sql), tuple(params) or None)
        return int(cur.rowcount)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self._conn.cursor() as cur:
            cur.executemany(_pg_sql(sql), [tuple(r) for r in rows])

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return list(self._conn.execute(_pg_sql(sql), tuple(params) or None).fetchall())

    @property
    def raw(self) -> Any:
        return self._conn


class PostgresStore(Store):
    """A PostgreSQL database given by a libpq DSN or URL."""

    dialect: ClassVar[Dialect] = "postgresql"

    def __init__(self, dsn: str, *, connect_timeout: float = 5.0) -> None:
        self._psycopg = _import_psycopg()
        self.dsn = dsn
        self.location = redact(dsn)
        self._connect_timeout = connect_timeout
        self._lock = threading.RLock()
        self._conn: Any = None
        self._on_connect: list[Callable[[Any], None]] = []
        with self._lock:
            self._connection()  # fail now, with a typed error, when the server is not there

    def _connection(self) -> Any:
        if self._conn is not None and not self._conn.closed and not self._conn.broken:
            return self._conn
        self._reset_connection()
        try:
            conn = self._psycopg.connect(self.dsn, autocommit=True, connect_timeout=max(1, int(self._connect_timeout)))
        except self._psycopg.Error as exc:
            raise StorageUnavailable(
                f"cannot connect to {self.location} ({_first_line(exc)})", location=self.location
            ) from exc
        try:
            for hook in self._on_connect:
                hook(conn)
        except self._psycopg.Error as exc:
            conn.close()
            raise self._translate(exc) from exc
        self._conn = conn
        return conn

    def on_connect(self, hook: Callable[[Any], None]) -> None:
        """Run ``hook(connection)`` now and on every new connection (type adapters)."""
        with self._lock:
            self._on_connect.append(hook)
            if self._conn is not None and not self._conn.closed:
                hook(self._conn)

    def _reset_connection(self) -> None:
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.close()
                except Exception:
                    pass
            self._conn = None

    def _translate(self, exc: BaseException) -> StorageError:
        psycopg = self._psycopg
        conn = self._conn
        lost = conn is None or conn.closed or conn.broken
        if isinstance(exc, psycopg.OperationalError) and lost:
            return ConnectionLost(f"connection to {self.location} lost ({_first_line(exc)})", location=self.location)
        if isinstance(exc, psycopg.errors.DataCorrupted | psycopg.errors.IndexCorrupted):
            return StorageCorrupt(f"{self.location} reports damaged data ({_first_line(exc)})", location=self.location)
        if isinstance(exc, psycopg.OperationalError):
            return StorageUnavailable(
                f"{self.location} cannot be used now ({_first_line(exc)})", location=self.location
            )
        return StorageError(f"database error on {self.location} ({type(exc).__name__}: {_first_line(exc)})")

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Tx]:
        psycopg = self._psycopg
        with self._lock:
            conn = self._connection()
            try:
                with conn.transaction():
                    yield _PgTx(conn)
            except psycopg.Error as exc:
                raise self._translate(exc) from exc

    def compact(self) -> None:
        """Nothing: deleted rows are gone from every query at commit; their bytes stay in
        the table's pages until PostgreSQL reuses them (autovacuum)."""

    def size_bytes(self) -> int:
        return int(self.run(lambda tx: tx.scalar("SELECT pg_database_size(current_database())"), write=False))

    def close(self) -> None:
        self._reset_connection()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
