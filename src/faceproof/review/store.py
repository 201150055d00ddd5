"""The review cases, on the shared storage interface (:mod:`faceproof.storage`).

A case is opened when the service answers ``needs_review`` and the caller asked for a
case. It keeps the check's result and its images for the review window only; a decision
deletes the images in the same transaction that records it, and :meth:`ReviewStore.purge`
expires the cases whose window ended. A decision is a conditional update (``WHERE status
= 'open'``): of two reviewers deciding at once, exactly one wins; the other gets
:class:`CaseAlreadyDecided` naming who decided and what.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import InvalidArgument
from ..storage import Store, Tx, open_store
from .errors import CaseAlreadyDecided, CaseExpired, CaseNotFound, NoteTooLong
from .images import CaseImage, centred_crop, decode, encode_jpeg
from .schema import REVIEW_SCHEMA
from .sessions import Session, Sessions
from .summary import DECISIONS, summarize

__all__ = [
    "DECISIONS",
    "MAX_MEMBER_ID_CHARS",
    "MAX_NOTE_CHARS",
    "Case",
    "CaseSummary",
    "ExportPair",
    "PurgeReport",
    "ReviewStore",
    "Session",
]

logger = logging.getLogger(__name__)

Decision = Literal["approved", "rejected", "new_selfie"]
MAX_NOTE_CHARS = 2000
MAX_MEMBER_ID_CHARS = 128
_CASE_ID = re.compile(r"^[0-9a-f]{32}$")
_REASON = re.compile(r"^[a-z][a-z_]{0,63}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_COMPARABLE = ("person_present", "person_absent", "uncertain")
SYSTEM_ACTOR = "system"


@dataclass(frozen=True)
class CaseSummary:
    """A row of the queue."""

    id: str
    member_id: str
    created_at: float
    expires_at: float
    reasons: tuple[str, ...]
    metric: str
    threshold: float
    best_distance: float | None
    photos: int


@dataclass(frozen=True)
class Case(CaseSummary):
    """A whole case. ``result`` (the check's JSON) and the images exist only while it is
    open; after a decision or expiry only the summary columns and the decision remain."""

    status: str = "open"
    score_leaning: str | None = None
    result: Mapping[str, Any] | None = None
    image_sizes: Mapping[int, tuple[int, int]] = field(default_factory=dict)  # stored image -> (width, height)
    decision: str | None = None
    decided_by: str | None = None
    decided_at: float | None = None
    note: str | None = None

    @property
    def open(self) -> bool:
        return self.status == "open"


@dataclass(frozen=True)
class PurgeReport:
    expired: int  # open cases whose window ended (now status "expired", images deleted)
    images: int  # image rows deleted
    pairs: int  # unexported labelled crops past their window
    sessions: int  # ended reviewer sessions

    def to_dict(self) -> dict[str, int]:
        return {"expired": self.expired, "images": self.images, "pairs": self.pairs, "sessions": self.sessions}


@dataclass(frozen=True)
class ExportPair:
    id: int
    case_id: str
    photo_index: int
    same: bool
    selfie_crop: bytes
    photo_crop: bytes


def _reasons_text(reasons: Sequence[str]) -> str:
    # " a b c ": a LIKE '% b %' filter matches whole codes only
    return " " + " ".join(reasons) + " " if reasons else " "


def check_member_id(member_id: str) -> str:
    if not isinstance(member_id, str) or not member_id.strip():
        raise InvalidArgument("member_id must be a non-empty string")
    member_id = member_id.strip()
    if len(member_id) > MAX_MEMBER_ID_CHARS or _CONTROL.search(member_id) or "\n" in member_id or "\r" in member_id:
        raise InvalidArgument(f"member_id must be at most {MAX_MEMBER_ID_CHARS} printable characters")
    return member_id


def check_note(note: str | None) -> str | None:
    if note is None:
        return None
    note = _CONTROL.sub("", note.replace("\r\n", "\n")).strip()
    if len(note) > MAX_NOTE_CHARS:
        raise NoteTooLong(
            f"the note has {len(note)} characters; at most {MAX_NOTE_CHARS} are kept", limit=MAX_NOTE_CHARS
        )
    return note or None


def best_distance(result: Mapping[str, Any]) -> float | None:
    """The closest comparison among the comparable photos (None: nothing compared)."""
    values = [
        float(p["distance"])
        for p in result.get("photos", ())
        if p.get("status") in _COMPARABLE and p.get("distance") is not None
    ]
    return min(values) if values else None


class ReviewStore:
    """Review cases, their audit trail and reviewer sessions in one :class:`Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store
        store.ensure_schema(REVIEW_SCHEMA)
        self.sessions = Sessions(store)

    @classmethod
    def open(cls, url: str | None = None) -> ReviewStore:
        return cls(open_store(url))

    def close(self) -> None:
        self.store.close()

    # ------------------------------------------------------------------ cases

    def create(
        self,
        result: Mapping[str, Any],
        images: Sequence[CaseImage],
        *,
        member_id: str,
        window_s: float,
        now: float | None = None,
    ) -> Case:
        """Open a case for a ``needs_review`` result (its JSON, without embeddings) and its
        images, kept until ``now + window_s``."""
        member_id = check_member_id(member_id)
        if window_s <= 0:
            raise InvalidArgument("the review window must be > 0 seconds")
        t = time.time() if now is None else now
        case_id = secrets.token_hex(16)
        reasons = tuple(str(r) for r in result.get("reasons", ()))
        best = best_distance(result)
        threshold = float(result["threshold"])
        leaning = None if best is None else ("same" if best <= threshold else "different")
        doc = json.dumps(result, ensure_ascii=False, separators=(",", ":"))

        def step(tx: Tx) -> None:
            tx.execute(
                "INSERT INTO fp_review_cases (id, member_id, created_at, expires_at, status, reasons, metric, "
                "threshold, best_distance, score_leaning, photos, result) "
                "VALUES (?, ?, ?, ?, 'open', ?, ?, ?, ?, ?, ?, ?)",
                (
                    case_id,
                    member_id,
                    t,
                    t + window_s,
                    _reasons_text(reasons),
                    str(result.get("metric", "")),
                    threshold,
                    best,
                    leaning,
                    len(result.get("photos", ())),
                    doc,
                ),
            )
            tx.executemany(
                "INSERT INTO fp_review_images (case_id, idx, width, height, data) VALUES (?, ?, ?, ?, ?)",
                [(case_id, im.index, im.width, im.height, im.data) for im in images],
            )
            tx.execute(
                "INSERT INTO fp_review_audit (at, actor, case_id, action, note) VALUES (?, ?, ?, 'opened', NULL)",
                (t, SYSTEM_ACTOR, case_id),
            )

        self.store.run(step)
        return self.get(case_id)

    def queue(self, *, reason: str | None = None, now: float | None = None, limit: int = 200) -> list[CaseSummary]:
        """Open cases inside their window, newest first; ``reason`` keeps those with it."""
        t = time.time() if now is None else now
        sql = (
            "SELECT id, member_id, created_at, expires_at, reasons, metric, threshold, best_distance, photos "
            "FROM fp_review_cases WHERE status = 'open' AND expires_at > ?"
        )
        params: list[Any] = [t]
        if reason:
            if not _REASON.match(reason):
                raise InvalidArgument("reason must be a reason code")
            sql += " AND reasons LIKE ?"  # '_' in a code matches itself too: exactness is checked below
            params.append(f"% {reason} %")
        sql += " ORDER BY created_at DESC, id LIMIT ?"
        params.append(int(limit))
        rows = self.store.run(lambda tx: tx.query(sql, params), write=False)
        out = [
            CaseSummary(
                r[0],
                r[1],
                float(r[2]),
                float(r[3]),
                tuple(r[4].split()),
                r[5],
                float(r[6]),
                None if r[7] is None else float(r[7]),
                int(r[8]),
            )
            for r in rows
        ]
        return [c for c in out if reason is None or reason in c.reasons]

    def queue_reasons(self, *, now: float | None = None) -> dict[str, int]:
        """Open cases per reason code (for the queue's filter)."""
        t = time.time() if now is None else now
        rows = self.store.run(
            lambda tx: tx.query("SELECT reasons FROM fp_review_cases WHERE status = 'open' AND expires_at > ?", (t,)),
            write=False,
        )
        counts: dict[str, int] = {}
        for (text,) in rows:
            for code in text.split():
                counts[code] = counts.get(code, 0) + 1
        return dict(sorted(counts.items()))

    def get(self, case_id: str) -> Case:
        if not isinstance(case_id, str) or not _CASE_ID.match(case_id):
            raise CaseNotFound("no such review case")

        def read(tx: Tx) -> tuple[Any, list[Any]] | None:
            row = tx.one(
                "SELECT id, member_id, created_at, expires_at, reasons, metric, threshold, best_distance, photos, "
                "status, score_leaning, result, decision, decided_by, decided_at, note "
                "FROM fp_review_cases WHERE id = ?",
                (case_id,),
            )
            if row is None:
                return None
            idx = tx.query("SELECT idx, width, height FROM fp_review_images WHERE case_id = ? ORDER BY idx", (case_id,))
            return row, idx

        got = self.store.run(read, write=False)
        if got is None:
            raise CaseNotFound("no such review case")
        r, idx = got
        return Case(
            id=r[0],
            member_id=r[1],
            created_at=float(r[2]),
            expires_at=float(r[3]),
            reasons=tuple(r[4].split()),
            metric=r[5],
            threshold=float(r[6]),
            best_distance=None if r[7] is None else float(r[7]),
            photos=int(r[8]),
            status=r[9],
            score_leaning=r[10],
            result=None if r[11] is None else json.loads(r[11]),
            image_sizes={int(i[0]): (int(i[1]), int(i[2])) for i in idx},
            decision=r[12],
            decided_by=r[13],
            decided_at=None if r[14] is None else float(r[14]),
            note=r[15],
        )

    def image(self, case_id: str, index: int) -> CaseImage | None:
        """A stored image of an open case inside its window (None when the case has no such
        image, is closed, or its window ended and the purge job has not run yet)."""
        case = self.get(case_id)  # CaseNotFound for an unknown id
        if not case.open or case.expires_at <= time.time():
            return None
        row = self.store.run(
            lambda tx: tx.one(
                "SELECT width, height, data FROM fp_review_images WHERE case_id = ? AND idx = ?", (case_id, int(index))
            ),
            write=False,
        )
        return None if row is None else CaseImage(int(index), int(row[0]), int(row[1]), bytes(row[2]))

    def decide(
        self,
        case_id: str,
        *,
        reviewer: str,
        decision: str,
        note: str | None = None,
        labels: Mapping[int, bool] | None = None,
        keep_pairs: bool = False,
        pair_window_s: float = 72 * 3600.0,
        now: float | None = None,
    ) -> Case:
        """Record a decision on an open case, once: the case's status changes only if it is
        still open and inside its window (one conditional UPDATE), and in the same
        transaction its audit row is written, its per-photo ``labels`` (photo index ->
        same person?) stored with their scores, and its images and result deleted.
        ``keep_pairs`` also keeps the labelled face crops for ``faceproof review export``
        until ``now + pair_window_s``."""
        if decision not in DECISIONS:
            raise InvalidArgument(f"decision must be one of {', '.join(DECISIONS)}, got {str(decision)[:30]!r}")
        if not reviewer:
            raise InvalidArgument("a decision needs the reviewer's name")
        note = check_note(note)
        t = time.time() if now is None else now
        case = self.get(case_id)
        self._refuse_closed(case, t)
        assert case.result is not None
        photos = list(case.result.get("photos", ()))
        label_rows: list[tuple[int, bool, float | None]] = []
        for index, same in sorted((labels or {}).items()):
            if not 0 <= index < len(photos) or photos[index].get("face_index") is None:
                raise InvalidArgument(f"photo {index} has no compared face to label")
            label_rows.append((index, bool(same), photos[index].get("distance")))
        pairs = self._crops(case, label_rows) if keep_pairs and label_rows else []

        def step(tx: Tx) -> int:
            changed = tx.execute(
                "UPDATE fp_review_cases SET status = ?, decision = ?, decided_by = ?, decided_at = ?, note = ?, "
                "result = NULL, purged_at = ? WHERE id = ? AND status = 'open' AND expires_at > ?",
                (decision, decision, reviewer, t, note, t, case_id, t),
            )
            if changed != 1:
                return changed
            tx.execute("DELETE FROM fp_review_images WHERE case_id = ?", (case_id,))
            tx.executemany(
                "INSERT INTO fp_review_labels (case_id, photo_index, same, distance) VALUES (?, ?, ?, ?)",
                [(case_id, i, int(same), d) for i, same, d in label_rows],
            )
            tx.executemany(
                "INSERT INTO fp_review_pairs (case_id, photo_index, same, selfie_crop, photo_crop, created_at, "
                "expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(case_id, i, int(same), a, b, t, t + pair_window_s) for i, same, a, b in pairs],
            )
            tx.execute(
                "INSERT INTO fp_review_audit (at, actor, case_id, action, note) VALUES (?, ?, ?, ?, ?)",
                (t, reviewer, case_id, decision, note),
            )
            return changed

        if self.store.run(step) != 1:
            self._refuse_closed(self.get(case_id), t)  # someone else won the race
            raise CaseAlreadyDecided("the case was decided by another reviewer")  # pragma: no cover
        return self.get(case_id)

    @staticmethod
    def _refuse_closed(case: Case, now: float) -> None:
        if case.status == "expired" or (case.open and case.expires_at <= now):
            raise CaseExpired("the review window of this case has ended; its images were deleted")
        if not case.open:
            raise CaseAlreadyDecided(
                f"this case was already decided by {case.decided_by}: {case.decision}",
                decided_by=case.decided_by,
                decision=case.decision,
                decided_at=case.decided_at,
            )

    def _crops(
        self, case: Case, labels: Sequence[tuple[int, bool, float | None]]
    ) -> list[tuple[int, bool, bytes, bytes]]:
        assert case.result is not None
        selfie_face = (case.result.get("selfie") or {}).get("face") or {}
        selfie_img = self.image(case.id, 0)
        if selfie_img is None or "bbox" not in selfie_face:
            return []
        selfie = encode_jpeg(centred_crop(decode(selfie_img.data), selfie_face["bbox"]), quality=95)
        out = []
        for index, same, _ in labels:
            photo = case.result["photos"][index]
            stored = self.image(case.id, index + 1)
            if stored is None or photo.get("bbox") is None:
                continue
            crop = encode_jpeg(centred_crop(decode(stored.data), photo["bbox"]), quality=95)
            out.append((index, same, selfie, crop))
        return out

    # ------------------------------------------------------------------ retention

    def purge(self, *, now: float | None = None) -> PurgeReport:
        """Expire the open cases whose window ended (images and result deleted, an audit
        row by ``system``), delete unexported crops and sessions past their end, and any
        image left on a case that is no longer open. Safe to run at any time, from any
        number of processes."""
        t = time.time() if now is None else now

        def step(tx: Tx) -> PurgeReport:
            ended = [
                r[0] for r in tx.query("SELECT id FROM fp_review_cases WHERE status = 'open' AND expires_at <= ?", (t,))
            ]
            for case_id in ended:
                if (
                    tx.execute(
                        "UPDATE fp_review_cases SET status = 'expired', result = NULL, purged_at = ? "
                        "WHERE id = ? AND status = 'open'",
                        (t, case_id),
                    )
                    == 1
                ):
                    tx.execute(
                        "INSERT INTO fp_review_audit (at, actor, case_id, action, note) "
                        "VALUES (?, ?, ?, 'expired', NULL)",
                        (t, SYSTEM_ACTOR, case_id),
                    )
            images = tx.execute(
                "DELETE FROM fp_review_images WHERE case_id IN (SELECT id FROM fp_review_cases WHERE status <> 'open')"
            )
            pairs = tx.execute("DELETE FROM fp_review_pairs WHERE expires_at <= ?", (t,))
            sessions = tx.execute("DELETE FROM fp_review_sessions WHERE expires_at <= ?", (t,))
            return PurgeReport(len(ended), max(0, images), max(0, pairs), max(0, sessions))

        report = self.store.run(step)
        if report.expired or report.images or report.pairs:
            logger.info("review purge: %s", report.to_dict())
        return report

    # ------------------------------------------------------------------ audit, summary, export

    def audit(self, case_id: str | None = None, *, limit: int = 100) -> list[dict[str, Any]]:
        sql = "SELECT id, at, actor, case_id, action, note FROM fp_review_audit"
        params: list[Any] = []
        if case_id is not None:
            sql += " WHERE case_id = ?"
            params.append(case_id)
        sql += " ORDER BY at DESC, id DESC LIMIT ?"
        params.append(int(limit))
        rows = self.store.run(lambda tx: tx.query(sql, params), write=False)
        return [
            {"id": int(r[0]), "at": float(r[1]), "actor": r[2], "case_id": r[3], "action": r[4], "note": r[5]}
            for r in rows
        ]

    def summary(self, *, now: float | None = None) -> dict[str, Any]:
        """Review volume, decisions, reviewers, time to decision and overrules of the score
        (:func:`faceproof.review.summary.summarize`)."""
        return summarize(self.store, now=now)

    def pairs(self, *, now: float | None = None) -> list[ExportPair]:
        """The labelled crops kept for export, inside their window, oldest first."""
        t = time.time() if now is None else now
        rows = self.store.run(
            lambda tx: tx.query(
                "SELECT id, case_id, photo_index, same, selfie_crop, photo_crop FROM fp_review_pairs "
                "WHERE expires_at > ? ORDER BY id",
                (t,),
            ),
            write=False,
        )
        return [ExportPair(int(r[0]), r[1], int(r[2]), bool(int(r[3])), bytes(r[4]), bytes(r[5])) for r in rows]

    def drop_pairs(self, ids: Sequence[int]) -> int:
        """Delete exported crops from the database."""
        if not ids:
            return 0
        return int(
            self.store.run(
                lambda tx: sum(max(0, tx.execute("DELETE FROM fp_review_pairs WHERE id = ?", (i,))) for i in ids)
            )
        )
