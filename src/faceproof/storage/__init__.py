"""One small storage interface for everything faceproof remembers (member face index,
and the selfie fingerprints, challenge nonces, rate-limit counters and review cases to
come), with two backends: a SQLite file (default, stdlib) and PostgreSQL (psycopg 3).

    from faceproof.storage import open_store
    store = open_store("sqlite:///members.db")          # or "postgresql://user@host/db"
    store.ensure_schema(MY_SCHEMA)                      # create / migrate, versioned
    with store.transaction() as tx:                     # commit or roll back as a whole
        tx.execute("INSERT INTO t (a) VALUES (?)", (1,))
    store.run(lambda tx: ...)                           # retried once if the connection broke

Errors are :class:`StorageUnavailable`, :class:`StorageCorrupt`,
:class:`SchemaVersionError` (all :class:`StorageError`, all ``FaceProofError``).
"""

from __future__ import annotations

import os
from pathlib import Path

from .base import ConnectionLost, Dialect, Migration, Schema, Store, Tx
from .errors import SchemaVersionError, StorageCorrupt, StorageError, StorageUnavailable
from .marks import Counters, Marks

__all__ = [
    "DEFAULT_URL",
    "ConnectionLost",
    "Counters",
    "Dialect",
    "Marks",
    "Migration",
    "Schema",
    "SchemaVersionError",
    "StorageCorrupt",
    "StorageError",
    "StorageUnavailable",
    "Store",
    "Tx",
    "open_store",
]

#: used when neither an argument nor ``FACEPROOF_STORE_URL`` names a store
DEFAULT_URL = "sqlite:///faceproof.db"


def open_store(url: str | Path | None = None, **options: object) -> Store:
    """Open the store at ``url``: ``sqlite:///relative/path.db``, ``sqlite:////abs/path.db``,
    ``sqlite:///:memory:``, a plain file path (SQLite), or ``postgresql://...`` /
    ``postgres://...`` (any libpq URL). ``None`` reads ``FACEPROOF_STORE_URL``, else
    :data:`DEFAULT_URL`. ``options`` go to the backend (``busy_timeout``, ``connect_timeout``)."""
    from ..errors import InvalidArgument

    if url is None:
        url = os.environ.get("FACEPROOF_STORE_URL") or DEFAULT_URL
    text = str(url)
    if text.startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresStore

        return PostgresStore(text, **options)  # type: ignore[arg-type]
    if text.startswith("sqlite://"):
        rest = text[len("sqlite://") :]
        if not rest.startswith("/") or rest == "/":
            raise InvalidArgument("a SQLite URL is sqlite:///relative.db or sqlite:////absolute/path.db")
        path = rest[1:]
    elif "://" in text:
        raise InvalidArgument(f"unknown store URL scheme {text.split('://', 1)[0]!r}: use sqlite:/// or postgresql://")
    else:
        path = text
    from .sqlite import SQLiteStore

    return SQLiteStore(path, **options)  # type: ignore[arg-type]
