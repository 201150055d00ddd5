"""The authenticity checks' state in a :class:`faceproof.storage.Store`, shared by every
replica that opens the same database:

* :class:`StoreNonceLedger`: the spent challenge nonces (a :class:`~faceproof.storage.Marks`
  namespace; single use across replicas, forgotten after the token's expiry);
* :class:`ReplayStore`: per accepted selfie, only its :class:`SelfieFingerprint` (SHA-256
  and the 256-bit codes, never the image), with the member id and the time, found again
  by exact SHA-256 or by a Hamming distance of at most ``max_distance`` (16) bits.

The Hamming search is a multi-index: each 256-bit code is cut into ``max_distance + 1``
bands (17: one of 16 bits, sixteen of 15). Two codes within 16 bits differ in at most 16
bands, so at least one band is identical: the store indexes ``(band, value)`` in SQL,
fetches the fingerprints that share a band with the new selfie's straight or mirrored
code, and checks the full distance of those few in Python.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidArgument
from ..storage import Marks, Migration, Schema, Store, Tx
from .fingerprint import CODE_BITS, DEFAULT_MAX_DISTANCE, SelfieFingerprint

__all__ = ["REPLAY_SCHEMA", "ReplayMatch", "ReplayStore", "StoreNonceLedger", "band_keys"]

NONCE_NAMESPACE = "challenge_nonce"
_DAY = 86400.0
#: Writes between two automatic purges of expired rows (per store object, i.e. per
#: process): the retention is applied without a scheduler; 0 turns it off.
DEFAULT_PURGE_EVERY = 500


def _check_purge_every(purge_every: int) -> int:
    if isinstance(purge_every, bool) or not isinstance(purge_every, int) or purge_every < 0:
        raise InvalidArgument(f"purge_every must be an integer >= 0, got {purge_every!r}")
    return purge_every


_REPLAY_SQL = (
    "CREATE TABLE faceproof_replay_fingerprints (id TEXT PRIMARY KEY, member_id TEXT NOT NULL, "
    "sha256 TEXT NOT NULL, code TEXT NOT NULL, code_mirrored TEXT NOT NULL, "
    "created_at DOUBLE PRECISION NOT NULL, expires_at DOUBLE PRECISION NOT NULL)",
    "CREATE INDEX faceproof_replay_sha256 ON faceproof_replay_fingerprints (sha256)",
    "CREATE INDEX faceproof_replay_member ON faceproof_replay_fingerprints (member_id)",
    "CREATE INDEX faceproof_replay_expiry ON faceproof_replay_fingerprints (expires_at)",
    "CREATE TABLE faceproof_replay_bands (band_key BIGINT NOT NULL, fingerprint_id TEXT NOT NULL, "
    "PRIMARY KEY (band_key, fingerprint_id))",
    "CREATE INDEX faceproof_replay_bands_fp ON faceproof_replay_bands (fingerprint_id)",
)
REPLAY_SCHEMA = Schema("replay", (Migration(1, sqlite=_REPLAY_SQL, postgresql=_REPLAY_SQL),))


class StoreNonceLedger:
    """:class:`~faceproof.authenticity.NonceLedger` on a store's :class:`Marks`: the first
    ``spend`` of a nonce wins on every replica sharing the database; the mark expires
    with the token (a token past its expiry is refused as expired before the ledger).
    Every ``purge_every`` spends the expired marks are deleted (``purge``)."""

    def __init__(self, store: Store, *, purge_every: int = DEFAULT_PURGE_EVERY) -> None:
        self.marks = Marks(store, NONCE_NAMESPACE)
        self.purge_every = _check_purge_every(purge_every)
        self._writes = 0
        self.purged = 0  # rows deleted by the automatic purges of this object

    def spend(self, nonce: str, expires_at: float, *, now: float | None = None) -> bool:
        t = time.time() if now is None else now
        fresh = self.marks.add(nonce, ttl=max(1.0, expires_at - t), now=t)
        self._writes += 1
        if self.purge_every and self._writes % self.purge_every == 0:
            self.purged += self.purge(now=t)
        return fresh

    def purge(self, *, now: float | None = None) -> int:
        """Forget the nonces whose token has expired; how many."""
        return self.marks.purge_expired(now=now)


def _bands(max_distance: int) -> tuple[tuple[int, int], ...]:
    """(shift, width) of each of ``max_distance + 1`` bands covering CODE_BITS bits."""
    n = max_distance + 1
    base, extra = divmod(CODE_BITS, n)
    out, shift = [], 0
    for i in range(n):
        width = base + (1 if i < extra else 0)
        out.append((shift, width))
        shift += width
    return tuple(out)


def band_keys(code: int, max_distance: int = DEFAULT_MAX_DISTANCE) -> list[int]:
    """One integer per band: ``band index << 32 | the band's bits``."""
    return [(i << 32) | ((code >> shift) & ((1 << width) - 1)) for i, (shift, width) in enumerate(_bands(max_distance))]


@dataclass(frozen=True, slots=True)
class ReplayMatch:
    """A stored selfie the new one matches: whose, when, and how closely."""

    member_id: str
    created_at: float
    distance: int
    exact: bool  # the same SHA-256 (the same file or pixels)

    def to_dict(self) -> dict[str, Any]:
        return {
            "member_id": self.member_id,
            "created_at": round(self.created_at, 3),
            "distance": self.distance,
            "exact": self.exact,
        }


class ReplayStore:
    """The fingerprints of accepted selfies, kept ``retention_days`` (90 by default).
    Every ``purge_every`` remembered selfies the expired ones are deleted (``purge``), so
    the retention holds without a scheduler; ``find`` ignores expired rows anyway."""

    def __init__(
        self,
        store: Store,
        retention_days: float = 90.0,
        max_distance: int = DEFAULT_MAX_DISTANCE,
        *,
        purge_every: int = DEFAULT_PURGE_EVERY,
    ) -> None:
        if not 0 < retention_days <= 3650:
            raise InvalidArgument(f"retention_days must be within (0, 3650], got {retention_days}")
        if not 0 <= max_distance < CODE_BITS // 8:
            raise InvalidArgument(f"max_distance must be within [0, {CODE_BITS // 8}), got {max_distance}")
        self.store, self.retention_days, self.max_distance = store, float(retention_days), int(max_distance)
        self.purge_every = _check_purge_every(purge_every)
        self._writes = 0
        self.purged = 0  # rows deleted by the automatic purges of this object
        store.ensure_schema(REPLAY_SCHEMA)

    def remember(self, member_id: str, fp: SelfieFingerprint, *, now: float | None = None) -> None:
        """Keep ``fp`` (an accepted selfie of ``member_id``) until the retention ends."""
        if not member_id:
            raise InvalidArgument("remember needs the member_id the selfie was accepted for")
        t = time.time() if now is None else now
        fid = uuid.uuid4().hex
        doc = fp.to_dict()
        keys = band_keys(fp.code, self.max_distance)

        def step(tx: Tx) -> None:
            tx.execute(
                "INSERT INTO faceproof_replay_fingerprints "
                "(id, member_id, sha256, code, code_mirrored, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (fid, member_id, doc["sha256"], doc["code"], doc["code_mirrored"], t, t + self.retention_days * _DAY),
            )
            tx.executemany(
                "INSERT INTO faceproof_replay_bands (band_key, fingerprint_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                [(k, fid) for k in keys],
            )

        self.store.run(step)
        self._writes += 1
        if self.purge_every and self._writes % self.purge_every == 0:
            self.purged += self.purge(now=t)

    def find(self, fp: SelfieFingerprint, *, now: float | None = None) -> ReplayMatch | None:
        """The closest unexpired stored selfie ``fp`` matches (same SHA-256, or within
        ``max_distance`` bits straight or mirrored), or None."""
        t = time.time() if now is None else now
        keys = sorted(set(band_keys(fp.code, self.max_distance)) | set(band_keys(fp.code_mirrored, self.max_distance)))
        marks = ", ".join("?" for _ in keys)
        sql = (
            "SELECT member_id, sha256, code, code_mirrored, created_at FROM faceproof_replay_fingerprints "
            "WHERE expires_at > ? AND (sha256 = ? OR id IN "
            f"(SELECT fingerprint_id FROM faceproof_replay_bands WHERE band_key IN ({marks})))"
        )
        rows = self.store.run(lambda tx: tx.query(sql, (t, fp.sha256, *keys)), write=False)
        best: ReplayMatch | None = None
        for member_id, sha, code, code_mirrored, created in rows:
            stored = SelfieFingerprint.from_dict({"sha256": sha, "code": code, "code_mirrored": code_mirrored})
            if not fp.matches(stored, self.max_distance):
                continue
            match = ReplayMatch(str(member_id), float(created), fp.distance(stored), sha == fp.sha256)
            if best is None or (not best.exact, best.distance) > (not match.exact, match.distance):
                best = match
        return best

    def purge(self, *, now: float | None = None) -> int:
        """Forget fingerprints past their retention; how many."""
        t = time.time() if now is None else now
        return self._delete("expires_at <= ?", (t,))

    def delete_member(self, member_id: str) -> int:
        """Forget every fingerprint of ``member_id`` (erasure); how many."""
        return self._delete("member_id = ?", (member_id,))

    def count(self) -> int:
        return int(
            self.store.run(lambda tx: tx.scalar("SELECT COUNT(*) FROM faceproof_replay_fingerprints"), write=False)
        )

    def _delete(self, where: str, params: Sequence[Any]) -> int:
        def step(tx: Tx) -> int:
            tx.execute(
                "DELETE FROM faceproof_replay_bands WHERE fingerprint_id IN "
                f"(SELECT id FROM faceproof_replay_fingerprints WHERE {where})",
                params,
            )
            return tx.execute(f"DELETE FROM faceproof_replay_fingerprints WHERE {where}", params)

        return self.store.run(step)
