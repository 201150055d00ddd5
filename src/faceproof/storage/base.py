"""The storage interface: a :class:`Store` runs transactions (:class:`Tx`) and keeps each
component's schema at a known version (:class:`Schema`, :meth:`Store.ensure_schema`).

SQL given to :meth:`Tx.execute` is written once for both backends: ``?`` placeholders,
``INSERT ... ON CONFLICT``, ``RETURNING``, REAL/DOUBLE PRECISION epoch-second timestamps.
Where the dialects differ (column types, vectors), a :class:`Migration` carries one
statement list per dialect and code branches on :attr:`Store.dialect`.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, TypeVar

from .errors import SchemaVersionError, StorageUnavailable

__all__ = ["ConnectionLost", "Dialect", "Migration", "Schema", "Store", "Tx"]

logger = logging.getLogger(__name__)

Dialect = Literal["sqlite", "postgresql"]
T = TypeVar("T")
Row = tuple[Any, ...]

SCHEMA_TABLE = "faceproof_schema"


class ConnectionLost(StorageUnavailable):
    """The connection broke during a transaction (which the server rolled back).
    :meth:`Store.run` reconnects and runs the transaction once more."""


class Tx(ABC):
    """One open transaction. Commits when the ``with`` block ends normally, rolls back
    when it raises."""

    dialect: Dialect

    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; the number of rows it changed (-1 when not applicable)."""

    @abstractmethod
    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement for each parameter row."""

    @abstractmethod
    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run a query and return all its rows."""

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self.one(sql, params)
        return None if row is None else row[0]

    @property
    @abstractmethod
    def raw(self) -> Any:
        """The driver's connection (``sqlite3.Connection`` / ``psycopg.Connection``), for
        backend-specific work such as PostgreSQL ``COPY``."""


@dataclass(frozen=True)
class Migration:
    """The statements that take a component's schema from ``version - 1`` to ``version``.

    ``apply`` (optional) runs after the statements, inside the same transaction, for
    steps SQL alone cannot express."""

    version: int
    sqlite: tuple[str, ...] = ()
    postgresql: tuple[str, ...] = ()
    apply: Callable[[Tx], None] | None = field(default=None, compare=False)

    def statements(self, dialect: Dialect) -> tuple[str, ...]:
        return self.sqlite if dialect == "sqlite" else self.postgresql


@dataclass(frozen=True)
class Schema:
    """A component's tables (``name`` such as ``"member_index"``), versioned by its
    migrations 1..N. Several components share one store; each keeps its own version."""

    name: str
    migrations: tuple[Migration, ...]

    def __post_init__(self) -> None:
        versions = [m.version for m in self.migrations]
        if versions != list(range(1, len(versions) + 1)):
            raise ValueError(f"schema {self.name!r}: migrations must be numbered 1..N, got {versions}")

    @property
    def version(self) -> int:
        return len(self.migrations)


class Store(ABC):
    """A database holding everything faceproof remembers. Open with
    :func:`faceproof.storage.open_store`; thread-safe; close when done (or use ``with``)."""

    dialect: ClassVar[Dialect]
    #: where the store is, without credentials (safe to log and to put in errors)
    location: str

    @abstractmethod
    def transaction(self, *, write: bool = True) -> AbstractContextManager[Tx]:
        """A transaction as a context manager. ``write=False`` for read-only work (SQLite
        then does not take the write lock)."""

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def compact(self) -> None:
        """Make deleted data unrecoverable from the database files where the backend
        can: SQLite ``VACUUM`` and a WAL checkpoint that truncates the log (deleted pages
        are also zeroed by ``secure_delete``). PostgreSQL: nothing (see docs/index.md)."""

    @abstractmethod
    def size_bytes(self) -> int:
        """Bytes the database takes on disk (SQLite: file + WAL; PostgreSQL: the database)."""

    def _reset_connection(self) -> None:  # noqa: B027 - optional hook
        """Drop a broken connection so that the next transaction opens a new one."""

    # -- generic helpers ------------------------------------------------------------------

    def run(self, fn: Callable[[Tx], T], *, write: bool = True, retries: int = 1) -> T:
        """``fn(tx)`` in one transaction; when the connection is lost mid-way (nothing was
        committed), reconnect and run it again, ``retries`` times at most, then raise
        :class:`StorageUnavailable`. ``fn`` must therefore be safe to re-run."""
        attempt = 0
        while True:
            try:
                with self.transaction(write=write) as tx:
                    return fn(tx)
            except ConnectionLost as exc:
                self._reset_connection()
                if attempt >= retries:
                    raise StorageUnavailable(
                        f"lost the connection to {self.location} {attempt + 1} times; giving up", location=self.location
                    ) from exc
                attempt += 1
                logger.warning(
                    "connection to %s lost; retrying the transaction (%d/%d)", self.location, attempt, retries
                )

    def ensure_schema(self, schema: Schema) -> int:
        """Create or migrate ``schema`` to its version in one transaction; refuse a
        database whose version of it is newer than this code. Returns the version."""

        def step(tx: Tx) -> int:
            if tx.dialect == "postgresql":  # serialise concurrent migrators (SQLite: BEGIN IMMEDIATE does)
                tx.execute("SELECT pg_advisory_xact_lock(7312001)")
            tx.execute(
                f"CREATE TABLE IF NOT EXISTS {SCHEMA_TABLE} ("
                "component TEXT PRIMARY KEY, version INTEGER NOT NULL, updated_at DOUBLE PRECISION NOT NULL)"
            )
            current = tx.scalar(f"SELECT version FROM {SCHEMA_TABLE} WHERE component = ?", (schema.name,))
            current = int(current or 0)
            if current > schema.version:
                raise SchemaVersionError(
                    f"{self.location} holds {schema.name!r} schema version {current}; this faceproof knows "
                    f"versions up to {schema.version}: upgrade faceproof or use another database",
                    component=schema.name,
                    found=current,
                    supported=schema.version,
                )
            for migration in schema.migrations[current:]:
                for statement in migration.statements(tx.dialect):
                    tx.execute(statement)
                if migration.apply is not None:
                    migration.apply(tx)
                logger.info("schema %s migrated to version %d on %s", schema.name, migration.version, self.location)
            if current != schema.version:
                tx.execute(
                    f"INSERT INTO {SCHEMA_TABLE} (component, version, updated_at) VALUES (?, ?, ?) "
                    "ON CONFLICT (component) DO UPDATE SET "
                    "version = excluded.version, updated_at = excluded.updated_at",
                    (schema.name, schema.version, time.time()),
                )
            return schema.version

        return self.run(step)

    def schema_version(self, name: str) -> int | None:
        """The version of component ``name`` in this database (None: never created)."""

        def read(tx: Tx) -> int | None:
            if not self._has_table(tx, SCHEMA_TABLE):
                return None
            value = tx.scalar(f"SELECT version FROM {SCHEMA_TABLE} WHERE component = ?", (name,))
            return None if value is None else int(value)

        return self.run(read, write=False)

    @staticmethod
    def _has_table(tx: Tx, table: str) -> bool:
        if tx.dialect == "sqlite":
            sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
        else:
            sql = "SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ?"
        return tx.one(sql, (table,)) is not None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.location!r})"


def chunks(rows: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]
