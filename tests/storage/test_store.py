"""The storage interface, the same tests on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from faceproof.errors import FaceProofError, InvalidArgument
from faceproof.storage import (
    Counters,
    Marks,
    Migration,
    Schema,
    SchemaVersionError,
    StorageCorrupt,
    StorageError,
    StorageUnavailable,
    open_store,
)
from faceproof.storage.sqlite import SQLiteStore

T1 = Migration(
    1,
    sqlite=("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)",),
    postgresql=("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)",),
)
T2 = Migration(2, sqlite=("ALTER TABLE t ADD COLUMN w TEXT",), postgresql=("ALTER TABLE t ADD COLUMN w TEXT",))
V1 = Schema("demo", (T1,))
V2 = Schema("demo", (T1, T2))


def test_error_codes_are_stable_and_in_the_tree() -> None:
    assert StorageError.code == "storage_error"
    assert StorageUnavailable.code == "storage_unavailable"
    assert StorageCorrupt.code == "storage_corrupt"
    assert SchemaVersionError.code == "storage_schema_version"
    for cls in (StorageError, StorageUnavailable, StorageCorrupt, SchemaVersionError):
        assert issubclass(cls, FaceProofError)


def test_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with open_store(f"sqlite:///{tmp_path}/a.db") as s:
        assert isinstance(s, SQLiteStore) and s.path == f"{tmp_path}/a.db"
    with open_store(tmp_path / "b.db") as s:
        assert s.dialect == "sqlite"
    with open_store("sqlite:///:memory:") as s:
        assert s.dialect == "sqlite"
    monkeypatch.setenv("FACEPROOF_STORE_URL", f"sqlite:///{tmp_path}/env.db")
    with open_store() as s:
        assert s.path.endswith("env.db")  # type: ignore[attr-defined]
    for bad in ("mysql://x/y", "sqlite://relative.db", "sqlite:///"):
        with pytest.raises(InvalidArgument):
            open_store(bad)


def test_schema_created_migrated_and_newer_refused(store_url: str) -> None:
    with open_store(store_url) as store:
        assert store.schema_version("demo") is None
        assert store.ensure_schema(V1) == 1
        assert store.ensure_schema(V1) == 1  # idempotent
        with store.transaction() as tx:
            tx.execute("INSERT INTO t (k, v) VALUES (?, ?)", ("a", 1))
        assert store.ensure_schema(V2) == 2
        assert store.schema_version("demo") == 2
        assert store.run(lambda tx: tx.query("SELECT k, v, w FROM t"), write=False) == [("a", 1, None)]
    with open_store(store_url) as older, pytest.raises(SchemaVersionError) as exc:
        older.ensure_schema(V1)  # this "older faceproof" knows only version 1
    assert exc.value.code == "storage_schema_version"


def test_transaction_is_all_or_nothing(store_url: str) -> None:
    with open_store(store_url) as store:
        store.ensure_schema(V1)
        with pytest.raises(RuntimeError), store.transaction() as tx:
            tx.execute("INSERT INTO t (k, v) VALUES (?, ?)", ("a", 1))
            raise RuntimeError("boom")
        with pytest.raises(StorageError), store.transaction() as tx:
            tx.execute("INSERT INTO t (k, v) VALUES (?, ?)", ("b", 1))
            tx.execute("INSERT INTO t (k, v) VALUES (?, ?)", ("b", 2))  # primary key violation
        assert store.run(lambda tx: tx.scalar("SELECT count(*) FROM t")) == 0
        store.run(lambda tx: tx.executemany("INSERT INTO t (k, v) VALUES (?, ?)", [("x", 1), ("y", 2)]))
        assert store.run(lambda tx: tx.query("SELECT k FROM t ORDER BY k")) == [("x",), ("y",)]


def test_marks_first_writer_wins_across_stores(store_url: str) -> None:
    with open_store(store_url) as a, open_store(store_url) as b:
        ma, mb = Marks(a, "nonce"), Marks(b, "nonce")
        assert ma.add("n1", owner="m1", ttl=60, now=1000.0)
        assert not mb.add("n1", owner="m2", ttl=60, now=1001.0)  # the other replica sees it
        assert mb.seen("n1", now=1001.0)
        assert not mb.seen("n1", now=1061.0)  # expired
        assert mb.add("n1", owner="m2", ttl=60, now=1061.0)  # an expired mark may be reused
        assert Marks(a, "other").add("n1", now=1000.0)  # namespaces are separate
        assert ma.add("n2", owner="m2", now=1000.0)
        assert ma.remove_owner("m2") == 2
        assert ma.add("n3", ttl=1, now=1000.0)
        assert ma.purge_expired(now=2000.0) == 1


def test_marks_concurrent_adds_lose_nothing(store_url: str) -> None:
    won: list[str] = []
    lock = threading.Lock()

    errors: list[BaseException] = []

    def worker(w: int) -> None:
        try:
            with open_store(store_url) as s:
                m = Marks(s, "fp")  # every replica also races to create the schema
                for i in range(20):
                    if m.add(f"k{i}", owner=f"w{w}"):
                        with lock:
                            won.append(f"k{i}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(won) == sorted(f"k{i}" for i in range(20))  # each key won exactly once


def test_counters_fixed_window(store_url: str) -> None:
    with open_store(store_url) as s:
        c = Counters(s, "rate")
        assert [c.hit("key", window=10, now=100.0 + i) for i in range(3)] == [1, 2, 3]
        assert c.hit("other", window=10, now=101.0) == 1
        assert c.hit("key", window=10, now=110.5) == 1  # a new window
        assert c.hit("key", window=10, now=111.0) == 2


def test_sqlite_missing_folder_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(StorageUnavailable) as exc:
        open_store(f"sqlite:///{tmp_path}/nope/x.db")
    assert exc.value.code == "storage_unavailable"


def test_sqlite_garbage_file_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "garbage.db"
    path.write_bytes(b"this is not a database at all" * 200)
    with pytest.raises(StorageCorrupt) as exc:
        open_store(path)
    assert exc.value.code == "storage_corrupt"


def test_sqlite_damaged_pages_are_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "damaged.db"
    with open_store(path) as s:
        s.ensure_schema(V1)
        s.run(
            lambda tx: tx.executemany(
                "INSERT INTO t (k, v) VALUES (?, ?)", [(f"k{i:05d}" * 20, i) for i in range(3000)]
            )
        )
        s.compact()
    data = bytearray(path.read_bytes())
    data[4096 * 3 : 4096 * 40] = b"\xa5" * (4096 * 37)  # overwrite pages of the table's b-tree
    path.write_bytes(bytes(data))
    with pytest.raises(StorageCorrupt):
        s = open_store(path)
        try:
            s.check()
            s.run(lambda tx: tx.query("SELECT count(*), sum(v) FROM t"))
        finally:
            s.close()


def test_postgres_down_is_unavailable(tmp_path: Path) -> None:
    pytest.importorskip("psycopg")
    with pytest.raises(StorageUnavailable) as exc:
        open_store(f"postgresql://someone:secret@/faceproof?host={tmp_path}&connect_timeout=2")
    assert exc.value.code == "storage_unavailable"
    assert "secret" not in str(exc.value) and "secret" not in str(exc.value.to_dict())


@pytest.fixture
def pg_url(pg_server: object) -> str:
    return pg_server.fresh_url()  # type: ignore[attr-defined]


def test_postgres_connection_loss_is_retried_once(pg_url: str) -> None:
    import psycopg

    with open_store(pg_url) as store:
        store.ensure_schema(V1)
        pid = store.run(lambda tx: tx.scalar("SELECT pg_backend_pid()"))
        with psycopg.connect(pg_url, autocommit=True) as admin:  # the server drops our connection
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        store.run(lambda tx: tx.execute("INSERT INTO t (k, v) VALUES (?, ?)", ("after", 1)))
        assert store.run(lambda tx: tx.scalar("SELECT count(*) FROM t")) == 1


def test_postgres_lost_twice_is_unavailable_and_writes_nothing(pg_url: str) -> None:
    calls = []

    def doomed(tx):  # type: ignore[no-untyped-def]
        calls.append(1)
        tx.execute("INSERT INTO t (k, v) VALUES (?, ?)", (f"half{len(calls)}", 1))
        tx.execute("SELECT pg_terminate_backend(pg_backend_pid())")

    with open_store(pg_url) as store:
        store.ensure_schema(V1)
        with pytest.raises(StorageUnavailable) as exc:
            store.run(doomed)
        assert len(calls) == 2
        assert exc.value.code == "storage_unavailable"
        assert store.run(lambda tx: tx.scalar("SELECT count(*) FROM t")) == 0  # no half-written row
