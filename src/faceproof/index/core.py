"""The member face index (1:N): enrol templates, search a face among all members,
remove a member for good, purge by age.

Results are *candidates for human review*, never a decision to ban anyone: each carries
its similarity, the photo it matched, a band and the expected false-positive
identification rate (FPIR) of a threshold at its similarity for the current gallery size.

Why this module is long (~1,000 lines): one class, :class:`MemberIndex`, whose every
write and read is one transaction written once for two backends (SQLite or PostgreSQL,
searched exactly through an in-memory gallery kept in step with every process's writes,
or on PostgreSQL through pgvector's HNSW index); the result types and the gallery cache
belong to it. Split it when a third backend arrives.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..errors import InvalidArgument
from ..storage import Store, Tx, open_store
from .calibration import ImpostorDistribution, impostor_distribution
from .coarse import SEGMENT_ROWS, CoarseScorer, rows_dot
from .errors import CalibrationUnavailable, ModelMismatch, UnknownMember
from .model import ModelId
from .schema import INDEX_SCHEMA

__all__ = ["Candidate", "IndexStats", "MemberIndex", "OpenSetThreshold", "SearchResult"]

logger = logging.getLogger(__name__)

Band = Literal["strong", "review", "below"]
SearchMethod = Literal["exact", "hnsw"]
_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")
_STATUS = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_NORM_TOLERANCE = 1e-3
DEFAULT_TARGET_FPIR = 0.01
#: deletions remembered for caches to catch up with; an older cache reloads everything
TOMBSTONE_GENERATIONS = 10_000
#: pgvector HNSW build parameters (PostgreSQL). Face templates have little low-dimensional
#: structure (SFace: ~113 effective dimensions of 128), so the graph needs more links
#: than pgvector's defaults (16, 64) to reach the true top 10; measured in docs/index.md.
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 200
#: a new number whenever the gallery cache's row positions change (a reload, a compaction)
_LAYOUTS = itertools.count(1)


@dataclass(frozen=True)
class OpenSetThreshold:
    value: float
    target_fpir: float | None  # None: given by the caller, not derived
    gallery_size: int
    source: str


@dataclass(frozen=True)
class Candidate:
    """One enrolled member whose template resembles the probe. For human review."""

    rank: int
    member_id: str
    photo_id: str
    status: str
    similarity: float
    band: Band
    #: FPIR expected of a threshold at this similarity at the current gallery size
    expected_fpir: float | None


@dataclass(frozen=True)
class SearchResult:
    candidates: tuple[Candidate, ...]
    gallery_size: int  # templates searched
    threshold: OpenSetThreshold
    model: ModelId
    backend: str
    exact: bool  # False for approximate (pgvector HNSW) search
    elapsed_ms: float

    @property
    def needs_review(self) -> bool:
        return any(c.band != "below" for c in self.candidates)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["model"] = {"name": self.model.name, "weights_sha256": self.model.weights_sha256}
        out["needs_review"] = self.needs_review
        return out


@dataclass(frozen=True)
class IndexStats:
    backend: str
    model: ModelId | None
    dim: int | None
    members: int
    templates: int
    members_by_status: dict[str, int] = field(default_factory=dict)
    oldest_enrolment: float | None = None
    newest_enrolment: float | None = None
    size_bytes: int = 0


@dataclass
class _Gallery:
    """The in-memory copy of the templates (exact search). Rows ``[:n]`` of ``buffer``
    are in use; deleted rows stay until compaction, masked by ``alive``. Never changed in
    place once published: a sync builds a new one (sharing the buffer's used rows), so a
    search running on the old one is not disturbed."""

    generation: int
    layout: int  # row positions: the same number as long as no row moved (coarse segments)
    buffer: np.ndarray  # (capacity, d) float32
    n: int
    ids: np.ndarray  # (n,) int64 template ids, ascending (see _catch_up)
    alive: np.ndarray  # (n,) bool
    dead: int
    member_of: np.ndarray  # (n,) int32 index into members
    photo_ids: list[str]
    members: list[str]
    member_pos: dict[str, int]
    statuses: list[str | None]  # None: the member is gone
    #: the members' statuses as numbers (``status_names`` order), so that a search filtered
    #: by status builds its mask with array operations, not a Python loop over every member
    status_code: np.ndarray  # (len(members),) int32
    status_names: dict[str, int]

    @property
    def matrix(self) -> np.ndarray:
        return self.buffer[: self.n]


def _status_codes(statuses: Sequence[str | None], names: dict[str, int]) -> np.ndarray:
    """``statuses`` as numbers, adding new labels to ``names`` (-1: no status)."""
    return np.fromiter(
        (-1 if s is None else names.setdefault(s, len(names)) for s in statuses), dtype=np.int32, count=len(statuses)
    )


def _now(now: float | None) -> float:
    return time.time() if now is None else float(now)


def _check_id(value: str, what: str) -> str:
    if not isinstance(value, str) or not _ID.match(value):
        raise InvalidArgument(f"{what} must be 1-128 characters of letters, digits and ._:@/+=-")
    return value


def _check_status(status: str) -> str:
    if not isinstance(status, str) or not _STATUS.match(status):
        raise InvalidArgument("status must be a lowercase label such as 'active' or 'banned'")
    return status


def _as_embeddings(embeddings: Any, *, single: bool = False) -> np.ndarray:
    try:
        arr = np.asarray(embeddings, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise InvalidArgument("embeddings must be a numeric array") from exc
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0 or (single and arr.shape[0] != 1):
        want = "one embedding (d,) or (1, d)" if single else "an (n, d) array with n >= 1"
        raise InvalidArgument(f"expected {want}, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise InvalidArgument("embeddings contain NaN or infinity")
    norms = np.linalg.norm(arr, axis=1)
    if np.abs(norms - 1.0).max() > _NORM_TOLERANCE:
        raise InvalidArgument("embeddings must be L2-normalised (unit length)")
    return np.ascontiguousarray(arr)


def _largest(values: np.ndarray, take: int) -> np.ndarray:
    """Positions of the ``take`` largest ``values`` (in no order). On a large array a
    cut-off from a strided sample first keeps ~16 x ``take`` of them (one comparison pass,
    cheaper than partitioning everything); the full partition when the cut-off kept too few."""
    n = values.size
    if n >= 131_072 and take * 256 <= n:
        sample = values[:: n // 4096]
        above = max(2, round(sample.size * 16 * take / n))  # sample values expected above the cut-off
        cut = np.partition(sample, sample.size - above)[sample.size - above]
        kept = np.flatnonzero(values >= cut)
        if kept.size >= take:
            return kept[np.argpartition(values[kept], kept.size - take)[kept.size - take :]]
    return np.argpartition(values, n - take)[n - take :]


def _fetch_templates(tx: Tx, dim: int, since: int | None = None) -> tuple[list[tuple[int, str, str]], np.ndarray]:
    """(id, member_id, photo_id) of every template (or of those written after generation
    ``since``) in id order, and their embeddings as one (n, dim) float32 matrix."""
    if tx.dialect == "postgresql":
        # binary COPY, the vector column read as its raw bytes: int16 dim, int16 unused,
        # then big-endian float4s; parsed in one numpy step (no Python object per number)
        where = "WHERE gen > %s " if since is not None else ""
        sql = (
            f"COPY (SELECT id, member_id, photo_id, embedding FROM fp_index_templates {where}ORDER BY id) "
            "TO STDOUT WITH (FORMAT BINARY)"
        )
        meta: list[tuple[int, str, str]] = []
        blobs: list[bytes] = []
        with tx.raw.cursor() as cur, cur.copy(sql, (since,) if since is not None else None) as copy:
            copy.set_types(["int8", "text", "text", "bytea"])
            for tid, mid, pid, blob in copy.rows():
                meta.append((int(tid), mid, pid))
                blobs.append(blob)
        raw = np.frombuffer(b"".join(blobs), dtype=np.uint8).reshape(len(blobs), 4 + 4 * dim)
        return meta, raw[:, 4:].copy().view(">f4").astype(np.float32)
    if since is None:
        rows = tx.query("SELECT id, member_id, photo_id, embedding FROM fp_index_templates ORDER BY id")
    else:  # no ORDER BY: with it SQLite walks the whole table in id order instead of the gen index
        rows = sorted(
            tx.query("SELECT id, member_id, photo_id, embedding FROM fp_index_templates WHERE gen > ?", (since,))
        )
    matrix = np.frombuffer(b"".join(r[3] for r in rows), dtype=np.float32).reshape(len(rows), dim)
    return [(r[0], r[1], r[2]) for r in rows], matrix


def _cutoff(older_than: float | timedelta | datetime, now: float) -> float:
    if isinstance(older_than, datetime):
        return older_than.timestamp()
    seconds = older_than.total_seconds() if isinstance(older_than, timedelta) else float(older_than)
    if seconds < 0:
        raise InvalidArgument("older_than must not be negative")
    return now - seconds


class MemberIndex:
    """The member face index on a :class:`~faceproof.storage.Store`.

    Args:
        store: an open store, or a URL / path for :func:`faceproof.storage.open_store`.
        model: the default :class:`ModelId` of enrolments and queries (each call may
            pass its own); the index binds to the first model enrolled and refuses others.
        target_fpir: the FPIR the default open-set threshold is calibrated for.
        actor: who acts, for the audit log (each call may override).
        search: ``"exact"`` (default, both backends): every template is compared, from an
            in-memory copy of the gallery that each process keeps in step with the
            database (changes by any process are seen by the next search);
            ``"hnsw"`` (PostgreSQL only): pgvector's approximate HNSW index, for galleries
            too large for each replica's memory (~0.75 GB per million 128-D templates).
        coarse_rows: rows per 8-bit segment of the exact search (``coarse.SEGMENT_ROWS``);
            0 turns the coarse pass off (plain float32 products).
        hnsw_m, hnsw_ef_construction, ef_search: pgvector HNSW parameters (``search="hnsw"``).
    """

    def __init__(
        self,
        store: Store | str | Path | None = None,
        *,
        model: ModelId | None = None,
        target_fpir: float = DEFAULT_TARGET_FPIR,
        actor: str | None = None,
        search: SearchMethod = "exact",
        coarse_rows: int = SEGMENT_ROWS,
        hnsw_m: int = HNSW_M,
        hnsw_ef_construction: int = HNSW_EF_CONSTRUCTION,
        ef_search: int = 100,
    ) -> None:
        if not 0.0 < target_fpir < 1.0:
            raise InvalidArgument("target_fpir must be within (0, 1)")
        if search not in ("exact", "hnsw"):
            raise InvalidArgument("search must be 'exact' or 'hnsw'")
        if not isinstance(coarse_rows, int) or (coarse_rows != 0 and coarse_rows < 16):
            raise InvalidArgument("coarse_rows must be 0 (off) or at least 16")
        self._owns_store = not isinstance(store, Store)
        self.store: Store = store if isinstance(store, Store) else open_store(store)
        self.model = model
        self.target_fpir = target_fpir
        self.actor = actor
        self.hnsw_m, self.hnsw_ef_construction, self.ef_search = int(hnsw_m), int(hnsw_ef_construction), int(ef_search)
        self._gallery: _Gallery | None = None
        self._gallery_lock = threading.Lock()
        self._coarse = CoarseScorer(coarse_rows) if coarse_rows else None
        if search == "hnsw" and self.store.dialect != "postgresql":
            if self._owns_store:
                self.store.close()
            raise InvalidArgument("search='hnsw' needs the PostgreSQL backend (pgvector)")
        self.search_method: SearchMethod = search
        self.store.ensure_schema(INDEX_SCHEMA)
        if self.store.dialect == "postgresql":
            self._register_vector()

    # -- plumbing --------------------------------------------------------------------------

    @property
    def backend(self) -> str:
        return self.store.dialect

    def _register_vector(self) -> None:
        try:
            from pgvector.psycopg import register_vector
        except ImportError as exc:
            from ..errors import BackendUnavailable

            raise BackendUnavailable("the PostgreSQL index needs pgvector: pip install 'faceproof[postgres]'") from exc
        self.store.on_connect(register_vector)  # type: ignore[attr-defined]

    def close(self) -> None:
        self._gallery = None
        if self._coarse is not None:
            self._coarse.close()
        if self._owns_store:
            self.store.close()

    def __enter__(self) -> MemberIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _model(self, model: ModelId | None) -> ModelId:
        m = model or self.model
        if m is None:
            raise InvalidArgument("say which model made the embeddings: model=ModelId(name, weights_sha256)")
        return m

    def _actor(self, actor: str | None) -> str | None:
        return actor if actor is not None else self.actor

    @staticmethod
    def _audit(tx: Tx, now: float, actor: str | None, action: str, member_id: str | None, **detail: Any) -> None:
        tx.execute(
            "INSERT INTO fp_index_audit (at, actor, action, member_id, detail) VALUES (?, ?, ?, ?, ?)",
            (now, actor, action, member_id, json.dumps(detail, sort_keys=True) if detail else None),
        )

    @staticmethod
    def _bound(tx: Tx, *, lock: bool = False) -> tuple[ModelId | None, int | None, int, int]:
        """The bound model, dimension, generation and template count. ``lock``: every
        write transaction takes the model row first (PostgreSQL ``FOR UPDATE``; SQLite's
        ``BEGIN IMMEDIATE`` already serialises writers), so writers queue in one order
        and never deadlock."""
        sql = "SELECT name, weights_sha256, dim, generation, templates FROM fp_index_model WHERE id = 1"
        if lock and tx.dialect == "postgresql":
            sql += " FOR UPDATE"
        row = tx.one(sql)
        if row is None:
            raise InvalidArgument("the index's model row is missing: the database was altered by hand")
        name, sha, dim, generation, templates = row
        model = ModelId(name, sha) if name is not None else None
        return model, (int(dim) if dim is not None else None), int(generation), int(templates)

    def _check_model(self, tx: Tx, model: ModelId, dim: int, *, now: float) -> int:
        """Lock the model row, refuse a model other than the bound one, bind it when none
        is. Returns the generation this transaction writes (the current one + 1)."""
        bound, bound_dim, generation, _ = self._bound(tx, lock=True)
        if bound is None:
            tx.execute(
                "UPDATE fp_index_model SET name = ?, weights_sha256 = ?, dim = ?, bound_at = ? WHERE id = 1",
                (model.name, model.weights_sha256, dim, now),
            )
            if tx.dialect == "postgresql":
                tx.execute(f"ALTER TABLE fp_index_templates ALTER COLUMN embedding TYPE vector({int(dim)})")
                if self.search_method == "hnsw":
                    self._create_ann(tx)
            logger.info("member index bound to model %s (%d dims) on %s", model, dim, self.store.location)
            return generation + 1
        if bound != model:
            raise ModelMismatch(
                f"the index holds templates of {bound}, not {model}: re-enrol with the new model in a new index",
                index_model=bound.name,
                given_model=model.name,
            )
        if bound_dim != dim:
            raise ModelMismatch(f"the index holds {bound_dim}-D templates, got {dim}-D embeddings")
        return generation + 1

    def _lock(self, tx: Tx) -> int:
        """Lock the model row (writers queue); the generation this transaction writes."""
        return self._bound(tx, lock=True)[2] + 1

    @staticmethod
    def _tombstone(tx: Tx, gen: int, where: str, params: tuple[Any, ...]) -> None:
        """Record the ids of the templates about to be deleted (the exact search's cache
        drops them without a reload) and forget tombstones too old to matter."""
        tx.execute(
            f"INSERT INTO fp_index_deleted (gen, template_id) SELECT ?, id FROM fp_index_templates WHERE {where}",
            (gen, *params),
        )
        tx.execute("DELETE FROM fp_index_deleted WHERE gen <= ?", (gen - TOMBSTONE_GENERATIONS,))

    def _create_ann(self, tx: Tx) -> None:
        tx.execute(
            "CREATE INDEX IF NOT EXISTS fp_index_templates_hnsw ON fp_index_templates "
            f"USING hnsw (embedding vector_cosine_ops) WITH (m = {self.hnsw_m}, "
            f"ef_construction = {self.hnsw_ef_construction})"
        )

    @staticmethod
    def _changed(tx: Tx, gen: int, delta_templates: int) -> None:
        tx.execute(
            "UPDATE fp_index_model SET generation = ?, templates = templates + ? WHERE id = 1",
            (gen, int(delta_templates)),
        )

    def _blob(self, vector: np.ndarray) -> Any:
        return vector.tobytes() if self.backend == "sqlite" else vector

    # -- writes ----------------------------------------------------------------------------

    def enroll(
        self,
        member_id: str,
        embeddings: Any,
        photo_ids: Sequence[str],
        *,
        status: str | None = None,
        model: ModelId | None = None,
        actor: str | None = None,
        now: float | None = None,
    ) -> int:
        """Enrol ``embeddings`` (float32, L2-normalised, shape (n, d)) of ``member_id``,
        one per ``photo_ids`` entry (re-enrolling a photo id replaces its template), in one
        transaction. ``status`` sets the member's label (new members: ``"active"``).
        Returns the number of templates written."""
        _check_id(member_id, "member_id")
        emb = _as_embeddings(embeddings)
        photos = [_check_id(p, "photo_id") for p in photo_ids]
        if len(photos) != emb.shape[0]:
            raise InvalidArgument(f"{emb.shape[0]} embeddings but {len(photos)} photo ids")
        if len(set(photos)) != len(photos):
            raise InvalidArgument("photo ids repeat")
        if status is not None:
            _check_status(status)
        m = self._model(model)
        t = _now(now)

        def step(tx: Tx) -> int:
            gen = self._check_model(tx, m, emb.shape[1], now=t)
            tx.execute(
                "INSERT INTO fp_index_members (member_id, status, created_at, updated_at, changed_gen) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (member_id) DO NOTHING",
                (member_id, status or "active", t, t, gen),
            )
            if status is not None:
                tx.execute(
                    "UPDATE fp_index_members SET status = ?, updated_at = ?, changed_gen = ? WHERE member_id = ?",
                    (status, t, gen, member_id),
                )
            replaced = 0
            for p in photos:
                self._tombstone(tx, gen, "member_id = ? AND photo_id = ?", (member_id, p))
                replaced += tx.execute(
                    "DELETE FROM fp_index_templates WHERE member_id = ? AND photo_id = ?", (member_id, p)
                )
            tx.executemany(
                "INSERT INTO fp_index_templates (member_id, photo_id, embedding, enrolled_at, gen) "
                "VALUES (?, ?, ?, ?, ?)",
                [(member_id, p, self._blob(emb[i]), t, gen) for i, p in enumerate(photos)],
            )
            self._changed(tx, gen, len(photos) - replaced)
            self._audit(tx, t, self._actor(actor), "enroll", member_id, templates=len(photos), replaced=replaced)
            return len(photos)

        n = self.store.run(step)
        return n

    def bulk_load(
        self,
        member_ids: Sequence[str],
        photo_ids: Sequence[str],
        embeddings: np.ndarray,
        *,
        status: str = "active",
        model: ModelId | None = None,
        actor: str | None = None,
        batch: int = 20_000,
        rebuild_ann: bool = False,
        build_ann: bool = True,
        now: float | None = None,
    ) -> int:
        """Load many *new* templates (batch enrolment, a model migration): one transaction
        per ``batch``; a (member, photo) already enrolled fails its whole batch. With
        ``rebuild_ann`` (PostgreSQL) the HNSW index is dropped first and built once at the
        end (``build_ann=False`` leaves that to a later :meth:`build_ann` call), much faster
        than maintaining it row by row. Returns templates loaded."""
        emb = _as_embeddings(embeddings)
        if not (len(member_ids) == len(photo_ids) == emb.shape[0]):
            raise InvalidArgument("member_ids, photo_ids and embeddings differ in length")
        _check_status(status)
        m = self._model(model)
        t = _now(now)
        pg = self.backend == "postgresql"
        if pg and rebuild_ann:
            self.store.run(lambda tx: tx.execute("DROP INDEX IF EXISTS fp_index_templates_hnsw"))
        loaded = 0
        for start in range(0, emb.shape[0], batch):
            stop = min(start + batch, emb.shape[0])
            mids = [_check_id(x, "member_id") for x in member_ids[start:stop]]
            pids = [_check_id(x, "photo_id") for x in photo_ids[start:stop]]
            chunk = emb[start:stop]

            def step(tx: Tx, mids: list[str] = mids, pids: list[str] = pids, chunk: np.ndarray = chunk) -> int:
                gen = self._check_model(tx, m, chunk.shape[1], now=t)
                if pg and rebuild_ann:
                    tx.execute("DROP INDEX IF EXISTS fp_index_templates_hnsw")  # bind may have created it
                tx.executemany(
                    "INSERT INTO fp_index_members (member_id, status, created_at, updated_at, changed_gen) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (member_id) DO NOTHING",
                    [(x, status, t, t, gen) for x in dict.fromkeys(mids)],
                )
                if pg:
                    with tx.raw.cursor().copy(
                        "COPY fp_index_templates (member_id, photo_id, embedding, enrolled_at, gen) "
                        "FROM STDIN WITH (FORMAT BINARY)"
                    ) as copy:
                        copy.set_types(["text", "text", "vector", "float8", "int8"])
                        for i in range(len(mids)):
                            copy.write_row((mids[i], pids[i], chunk[i], t, gen))
                else:
                    tx.executemany(
                        "INSERT INTO fp_index_templates (member_id, photo_id, embedding, enrolled_at, gen) "
                        "VALUES (?, ?, ?, ?, ?)",
                        [(mids[i], pids[i], chunk[i].tobytes(), t, gen) for i in range(len(mids))],
                    )
                self._changed(tx, gen, len(mids))
                self._audit(tx, t, self._actor(actor), "bulk_load", None, templates=len(mids))
                return len(mids)

            loaded += self.store.run(step, retries=0)
        if pg and rebuild_ann and build_ann:
            self.build_ann()
        return loaded

    def build_ann(self, *, maintenance_work_mem: str = "1GB") -> None:
        """(PostgreSQL) Build the HNSW index if it is missing (after a bulk load)."""
        if self.backend != "postgresql":
            return

        def step(tx: Tx) -> None:
            if not re.match(r"^\d+(kB|MB|GB)$", maintenance_work_mem):
                raise InvalidArgument("maintenance_work_mem like '512MB' or '1GB'")
            tx.execute(f"SET LOCAL maintenance_work_mem = '{maintenance_work_mem}'")
            model, _, _, _ = self._bound(tx)
            if model is not None:
                self._create_ann(tx)

        self.store.run(step, retries=0)

    def set_status(self, member_id: str, status: str, *, actor: str | None = None, now: float | None = None) -> None:
        """Change a member's label (``"banned"``, ``"active"``, ...)."""
        _check_id(member_id, "member_id")
        _check_status(status)
        t = _now(now)

        def step(tx: Tx) -> None:
            gen = self._lock(tx)
            n = tx.execute(
                "UPDATE fp_index_members SET status = ?, updated_at = ?, changed_gen = ? WHERE member_id = ?",
                (status, t, gen, member_id),
            )
            if n == 0:
                raise UnknownMember(f"member {member_id!r} is not enrolled", member_id=member_id)
            self._changed(tx, gen, 0)
            self._audit(tx, t, self._actor(actor), "set_status", member_id, status=status)

        self.store.run(step)

    def remove(
        self, member_id: str, *, actor: str | None = None, compact: bool = True, now: float | None = None
    ) -> int:
        """Erase every template of ``member_id`` (right to erasure); the next search no
        longer sees it. ``compact`` then rewrites the SQLite file (``VACUUM``) so that the
        bytes are gone from disk, not only unreachable. Returns templates removed."""
        _check_id(member_id, "member_id")
        t = _now(now)

        def step(tx: Tx) -> int:
            gen = self._lock(tx)
            if tx.one("SELECT 1 FROM fp_index_members WHERE member_id = ?", (member_id,)) is None:
                raise UnknownMember(f"member {member_id!r} is not enrolled", member_id=member_id)
            self._tombstone(tx, gen, "member_id = ?", (member_id,))
            n = tx.execute("DELETE FROM fp_index_templates WHERE member_id = ?", (member_id,))
            tx.execute("DELETE FROM fp_index_members WHERE member_id = ?", (member_id,))
            self._changed(tx, gen, -n)
            self._audit(tx, t, self._actor(actor), "remove", member_id, templates=n)
            return n

        n = self.store.run(step)
        if compact:
            self.store.compact()
        return n

    def purge(
        self,
        older_than: float | timedelta | datetime,
        *,
        actor: str | None = None,
        compact: bool = True,
        now: float | None = None,
    ) -> int:
        """Delete templates enrolled before ``now - older_than`` (seconds or a timedelta;
        or before a datetime), and members left without templates. Returns templates deleted."""
        t = _now(now)
        cut = _cutoff(older_than, t)

        def step(tx: Tx) -> int:
            gen = self._lock(tx)
            self._tombstone(tx, gen, "enrolled_at < ?", (cut,))
            n = tx.execute("DELETE FROM fp_index_templates WHERE enrolled_at < ?", (cut,))
            gone = tx.execute(
                "DELETE FROM fp_index_members WHERE NOT EXISTS "
                "(SELECT 1 FROM fp_index_templates t WHERE t.member_id = fp_index_members.member_id)"
            )
            self._changed(tx, gen, -n)
            self._audit(tx, t, self._actor(actor), "purge", None, templates=n, members=gone, cutoff=cut)
            return n

        n = self.store.run(step)
        if compact and n:
            self.store.compact()
        return n

    # -- reads -----------------------------------------------------------------------------

    def threshold(
        self, gallery_size: int, target_fpir: float | None = None, *, model: ModelId | None = None
    ) -> OpenSetThreshold:
        """The open-set threshold for ``target_fpir`` (default: the index's) at ``gallery_size``."""
        m = self._model(model)
        f = self.target_fpir if target_fpir is None else float(target_fpir)
        dist = self._distribution(m)
        return OpenSetThreshold(
            value=dist.threshold(f, gallery_size),
            target_fpir=f,
            gallery_size=gallery_size,
            source=str(dist.provenance.get("summary", "impostor distribution shipped with faceproof")),
        )

    @staticmethod
    def _distribution(model: ModelId) -> ImpostorDistribution:
        dist = impostor_distribution(model)
        if dist is None:
            raise CalibrationUnavailable(f"no impostor score distribution ships for {model}: pass threshold=")
        return dist

    def search(
        self,
        embedding: Any,
        k: int = 10,
        *,
        model: ModelId | None = None,
        threshold: float | None = None,
        target_fpir: float | None = None,
        statuses: Iterable[str] | None = None,
        exclude_members: Iterable[str] = (),
        include_below: bool = False,
        actor: str | None = None,
    ) -> SearchResult:
        """The ``k`` enrolled members most similar to ``embedding`` (each with its best
        photo), among members with a status in ``statuses`` (all by default) and not in
        ``exclude_members`` (e.g. the searching member's own account).

        Candidates below the open-set threshold (``threshold`` if given, else the
        calibrated one for ``target_fpir`` at the current gallery size) are left out
        unless ``include_below``. An empty index answers no candidates."""
        t0 = time.perf_counter()
        if not isinstance(k, int) or not 1 <= k <= 1000:
            raise InvalidArgument("k must be an integer within [1, 1000]")
        q = _as_embeddings(embedding, single=True)[0]
        m = self._model(model)
        wanted = None if statuses is None else {_check_status(s) for s in statuses}
        excluded = {_check_id(x, "member_id") for x in exclude_members}
        dist = impostor_distribution(m)
        if threshold is None and dist is None:
            raise CalibrationUnavailable(f"no impostor score distribution ships for {m}: pass threshold=")
        if threshold is not None and not (isinstance(threshold, int | float) and -1.0 <= threshold <= 1.0):
            raise InvalidArgument("threshold is a cosine similarity within [-1, 1]")
        if target_fpir is not None and not (isinstance(target_fpir, int | float) and 0.0 < target_fpir < 1.0):
            raise InvalidArgument("target_fpir must be within (0, 1)")

        f = self.target_fpir if target_fpir is None else float(target_fpir)
        if self.search_method == "exact":

            def floor(gallery_size: int) -> float | None:
                if include_below:
                    return None
                if threshold is not None:
                    return float(threshold)
                assert dist is not None
                return dist.threshold(f, gallery_size)

            rows, gallery_size = self._search_exact(q, m, k, wanted, excluded, floor)
        else:
            rows, gallery_size = self._search_hnsw(q, m, k, wanted, excluded)

        if threshold is not None:
            thr = OpenSetThreshold(float(threshold), None, gallery_size, "given by the caller")
        else:
            assert dist is not None
            thr = OpenSetThreshold(
                dist.threshold(f, gallery_size), f, gallery_size, str(dist.provenance.get("summary", "shipped"))
            )
        strong = dist.threshold(thr.target_fpir / 10, gallery_size) if (dist and thr.target_fpir) else None
        candidates: list[Candidate] = []
        for member_id, photo_id, status, sim in rows:
            band: Band = (
                "below" if sim < thr.value else ("strong" if strong is not None and sim >= strong else "review")
            )
            if band == "below" and not include_below:
                continue
            fpir = dist.fpir(sim, gallery_size) if dist is not None else None
            candidates.append(Candidate(len(candidates) + 1, member_id, photo_id, status, float(sim), band, fpir))

        now = time.time()
        detail: dict[str, Any] = {
            "k": k,
            "gallery_size": gallery_size,
            "threshold": round(thr.value, 6),
            "candidates": [c.member_id for c in candidates],
        }
        if wanted is not None:
            detail["statuses"] = sorted(wanted)
        if excluded:
            detail["excluded"] = len(excluded)
        self.store.run(lambda tx: self._audit(tx, now, self._actor(actor), "search", None, **detail))
        return SearchResult(
            candidates=tuple(candidates),
            gallery_size=gallery_size,
            threshold=thr,
            model=m,
            backend=self.backend,
            exact=self.search_method == "exact",
            elapsed_ms=(time.perf_counter() - t0) * 1000,
        )

    def _load_gallery(self, m: ModelId, dim: int) -> _Gallery | None:
        """The cached gallery, brought up to the database's generation: changes since the
        cached generation (new rows, deleted ids, status changes; by this or any other
        process) are applied; a cache older than the kept tombstones is reloaded."""

        def sync(tx: Tx) -> _Gallery | None:
            if tx.dialect == "postgresql":  # one snapshot for the generation and the rows it names
                tx.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            bound, bound_dim, generation, _ = self._bound(tx)
            if bound is None:
                return None
            if bound != m or bound_dim != dim:
                raise ModelMismatch(
                    f"the index holds {bound_dim}-D templates of {bound}; the query is a {dim}-D embedding of {m}",
                    index_model=bound.name,
                    given_model=m.name,
                )
            g = self._gallery
            if g is not None and g.generation == generation:
                return g
            if g is None or g.generation < generation - TOMBSTONE_GENERATIONS + 1 or g.buffer.shape[1] != dim:
                return self._full_load(tx, generation, dim)
            return self._catch_up(tx, g, generation) or self._full_load(tx, generation, dim)

        with self._gallery_lock:
            g = self.store.run(sync, write=False)
            self._gallery = g
            return g

    @staticmethod
    def _full_load(tx: Tx, generation: int, dim: int) -> _Gallery:
        t0 = time.perf_counter()
        members = tx.query("SELECT member_id, status FROM fp_index_members")
        pos = {mid: i for i, (mid, _) in enumerate(members)}
        rows, matrix = _fetch_templates(tx, dim)
        n = len(rows)
        buffer = np.empty((n + n // 8 + 1024, dim), np.float32)
        buffer[:n] = matrix
        g = _Gallery(
            generation=generation,
            layout=next(_LAYOUTS),
            buffer=buffer,
            n=n,
            ids=np.fromiter((r[0] for r in rows), dtype=np.int64, count=n),
            alive=np.ones(n, bool),
            dead=0,
            member_of=np.fromiter((pos[r[1]] for r in rows), dtype=np.int32, count=n),
            photo_ids=[r[2] for r in rows],
            members=[r[0] for r in members],
            member_pos=pos,
            statuses=[r[1] for r in members],
            status_code=np.empty(0, np.int32),
            status_names={},
        )
        g.status_code = _status_codes(g.statuses, g.status_names)
        logger.info("loaded %d templates for exact search in %.0f ms", n, (time.perf_counter() - t0) * 1000)
        return g

    @staticmethod
    def _catch_up(tx: Tx, g: _Gallery, generation: int) -> _Gallery | None:
        """``g`` brought up to ``generation``, or None when only a reload can (new rows
        whose ids do not follow the cached ones: rows written outside this class)."""
        dead_ids = np.array(
            [r[0] for r in tx.query("SELECT template_id FROM fp_index_deleted WHERE gen > ?", (g.generation,))],
            dtype=np.int64,
        )
        new, new_matrix = _fetch_templates(tx, g.buffer.shape[1], since=g.generation)
        if new and g.n and new[0][0] <= g.ids[g.n - 1]:
            return None
        changed = tx.query("SELECT member_id, status FROM fp_index_members WHERE changed_gen > ?", (g.generation,))
        alive, dead = g.alive, g.dead
        if dead_ids.size:
            at = np.searchsorted(g.ids, dead_ids)
            inside = at < g.n
            at, wanted_ids = at[inside], dead_ids[inside]
            at = at[g.ids[at] == wanted_ids]  # ids added and deleted since the cache was made are not in it
            alive = alive.copy()
            alive[at] = False
            dead = int(g.n - alive.sum())
        members, member_pos, statuses = g.members, g.member_pos, list(g.statuses)
        names, status_code = g.status_names, g.status_code
        if changed:
            for mid, status in changed:
                if mid not in member_pos:
                    member_pos[mid] = len(members)
                    members.append(mid)
                    statuses.append(status)
                else:
                    statuses[member_pos[mid]] = status
            # a new array (the cached gallery's stays as it is), then every changed member's code
            status_code = np.concatenate([status_code, np.full(len(members) - status_code.size, -1, np.int32)])
            status_code[[member_pos[mid] for mid, _ in changed]] = _status_codes([s for _, s in changed], names)
        buffer, n, k = g.buffer, g.n, len(new)
        ids, member_of, photo_ids = g.ids, g.member_of, g.photo_ids
        if k:
            if n + k > buffer.shape[0]:
                grown = np.empty((max(2 * buffer.shape[0], n + k), buffer.shape[1]), np.float32)
                grown[:n] = buffer[:n]
                buffer = grown
            buffer[n : n + k] = new_matrix
            ids = np.concatenate([ids, np.fromiter((r[0] for r in new), dtype=np.int64, count=k)])
            member_of = np.concatenate(
                [member_of, np.fromiter((member_pos[r[1]] for r in new), dtype=np.int32, count=k)]
            )
            photo_ids = photo_ids + [r[2] for r in new]
            alive = np.concatenate([alive, np.ones(k, bool)])
        out = _Gallery(
            generation,
            g.layout,
            buffer,
            n + k,
            ids,
            alive,
            dead,
            member_of,
            photo_ids,
            members,
            member_pos,
            statuses,
            status_code,
            names,
        )
        if out.dead > max(256, out.n // 4):  # drop deleted rows from memory
            keep = out.alive
            out = _Gallery(
                generation,
                next(_LAYOUTS),
                out.matrix[keep].copy(),
                int(keep.sum()),
                out.ids[keep],
                np.ones(int(keep.sum()), bool),
                0,
                out.member_of[keep],
                [p for p, a in zip(out.photo_ids, keep, strict=True) if a],
                members,
                member_pos,
                statuses,
                status_code,
                names,
            )
        return out

    def _search_exact(
        self,
        q: np.ndarray,
        m: ModelId,
        k: int,
        wanted: set[str] | None,
        excluded: set[str],
        floor: Callable[[int], float | None],
    ) -> tuple[list[tuple[str, str, str, float]], int]:
        """The best ``k`` members by exact similarity. ``floor(gallery_size)``: a
        similarity below which no candidate is wanted (the open-set threshold of a search
        without ``include_below``) or None; only the templates at or above it are ranked.

        Ranking starts from coarse scores (within ``eps`` of the exact ones; ``eps`` 0
        without the coarse pass): the best ``take`` by coarse score are scored exactly,
        and the answer stands once no template outside them could reach the ``k``-th
        answer (its coarse score + eps below it); otherwise ``take`` grows."""
        g = self._load_gallery(m, q.shape[0])
        if g is None or g.n - g.dead == 0:
            return [], 0
        n = g.n
        lowest = floor(n - g.dead)
        if self._coarse is not None:
            scores, eps = self._coarse.scores(g.layout, g.matrix, q)
        else:  # float32 matrix-vector product: one pass over the gallery
            scores, eps = g.matrix @ q, 0.0
        if g.dead:
            scores[~g.alive] = -np.inf
        allowed = None
        if wanted is not None:  # per member: a status in ``wanted`` (table[-1], "no status", stays False)
            table = np.zeros(len(g.status_names) + 1, bool)
            table[[g.status_names[s] for s in wanted if s in g.status_names]] = True
            allowed = table[g.status_code]
        # rows worth ranking: all of them, or only those that may reach the floor (usually a handful)
        if lowest is None:
            pool = None
            if allowed is not None:
                scores[~allowed[g.member_of]] = -np.inf
        else:
            pool = np.flatnonzero(scores >= lowest - eps)
            if allowed is not None:
                pool = pool[allowed[g.member_of[pool]]]
        size = n if pool is None else pool.size
        take = min(size, 4 * k + 4 * len(excluded) + (64 if eps else 0))
        while True:
            if pool is None:
                top = _largest(scores, take) if take < n else np.arange(n)
            elif take < size:
                top = pool[np.argpartition(scores[pool], size - take)[size - take :]]
            else:
                top = pool
            coarse = scores[top]
            top = top[coarse > -np.inf]
            # the best coarse score left out of ``top``: nothing outside can score above it + eps
            outside = float(coarse.min()) if take < size and coarse.size else -np.inf
            exact = rows_dot(g.matrix[top], q) if eps else scores[top]
            order = np.argsort(-exact, kind="stable")
            out: list[tuple[str, str, str, float]] = []
            seen: set[int] = set()
            for i, s in zip(top[order], exact[order], strict=True):
                if lowest is not None and s < lowest:
                    break
                mi = int(g.member_of[i])
                if mi in seen:
                    continue
                seen.add(mi)
                if g.members[mi] in excluded:
                    continue
                out.append((g.members[mi], g.photo_ids[i], g.statuses[mi] or "", float(s)))
                if len(out) == k:
                    break
            if take >= size or (len(out) == k and (not eps or outside + eps < out[-1][3])):
                return out, n - g.dead
            take = min(size, take * 4)

    def _search_hnsw(
        self, q: np.ndarray, m: ModelId, k: int, wanted: set[str] | None, excluded: set[str]
    ) -> tuple[list[tuple[str, str, str, float]], int]:
        dim = q.shape[0]

        def step(tx: Tx) -> tuple[list[tuple[str, str, str, float]], int]:
            bound, bound_dim, _, templates = self._bound(tx)
            if bound is None or templates == 0:
                return [], 0
            if bound != m or bound_dim != dim:
                raise ModelMismatch(
                    f"the index holds {bound_dim}-D templates of {bound}; the query is a {dim}-D embedding of {m}",
                    index_model=bound.name,
                    given_model=m.name,
                )
            tx.execute(f"SET LOCAL hnsw.ef_search = {max(self.ef_search, k)}")
            tx.execute("SET LOCAL hnsw.iterative_scan = strict_order")
            limit = 4 * k
            while True:
                rows = tx.query(
                    "SELECT t.member_id, t.photo_id, t.embedding <=> ? AS d FROM fp_index_templates t "
                    "ORDER BY t.embedding <=> ? LIMIT ?",
                    (q, q, limit),
                )
                status: dict[str, str] = dict(
                    tx.query(
                        "SELECT member_id, status FROM fp_index_members WHERE member_id = ANY(?)",
                        (list({r[0] for r in rows}),),
                    )
                )
                out: list[tuple[str, str, str, float]] = []
                seen: set[str] = set()
                for mid, pid, d in rows:
                    st = status.get(mid)
                    if mid in seen or st is None or mid in excluded or (wanted is not None and st not in wanted):
                        continue
                    seen.add(mid)
                    out.append((mid, pid, st, 1.0 - float(d)))
                    if len(out) == k:
                        break
                if len(out) == k or len(rows) < limit or limit >= templates:
                    return out, templates
                limit = min(templates, limit * 4)

        return self.store.run(step, write=False)

    def warm(self) -> int:
        """Load the exact search's in-memory gallery and build its 8-bit segments now,
        not in the first search (a service does this at start-up: ~10 s per million
        templates). Returns the templates held in memory (0 with ``search="hnsw"`` or an
        empty index)."""
        if self.search_method != "exact":
            return 0
        bound, dim, _, _ = self.store.run(lambda tx: self._bound(tx), write=False)
        if bound is None or dim is None:
            return 0
        g = self._load_gallery(bound, dim)
        if g is None:
            return 0
        if self._coarse is not None:
            self._coarse.prepare(g.layout, g.matrix)
        return g.n - g.dead

    def stats(self) -> IndexStats:
        def step(tx: Tx) -> IndexStats:
            model, dim, _, templates = self._bound(tx)
            by_status = {
                str(s): int(c) for s, c in tx.query("SELECT status, count(*) FROM fp_index_members GROUP BY status")
            }
            oldest, newest = tx.one("SELECT min(enrolled_at), max(enrolled_at) FROM fp_index_templates") or (None, None)
            return IndexStats(
                backend=self.backend,
                model=model,
                dim=dim,
                members=sum(by_status.values()),
                templates=templates,
                members_by_status=by_status,
                oldest_enrolment=oldest,
                newest_enrolment=newest,
            )

        st = self.store.run(step, write=False)
        return IndexStats(**{**st.__dict__, "size_bytes": self.store.size_bytes()})

    def member(self, member_id: str) -> dict[str, Any]:
        """A member's status, photo ids and timestamps (no embeddings)."""
        _check_id(member_id, "member_id")

        def step(tx: Tx) -> dict[str, Any]:
            row = tx.one(
                "SELECT status, created_at, updated_at FROM fp_index_members WHERE member_id = ?", (member_id,)
            )
            if row is None:
                raise UnknownMember(f"member {member_id!r} is not enrolled", member_id=member_id)
            photos = tx.query(
                "SELECT photo_id, enrolled_at FROM fp_index_templates WHERE member_id = ? ORDER BY photo_id",
                (member_id,),
            )
            return {
                "member_id": member_id,
                "status": row[0],
                "created_at": row[1],
                "updated_at": row[2],
                "photos": [{"photo_id": p, "enrolled_at": e} for p, e in photos],
            }

        return self.store.run(step, write=False)

    def audit_log(self, limit: int = 100) -> list[dict[str, Any]]:
        """The most recent audit entries, newest first (who, what, when; no biometric data)."""
        rows = self.store.run(
            lambda tx: tx.query(
                "SELECT at, actor, action, member_id, detail FROM fp_index_audit ORDER BY id DESC LIMIT ?",
                (int(limit),),
            ),
            write=False,
        )
        return [
            {"at": at, "actor": actor, "action": action, "member_id": mid, "detail": json.loads(d) if d else {}}
            for at, actor, action, mid, d in rows
        ]
