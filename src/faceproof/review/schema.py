"""Tables of the review desk (component ``review`` in the store).

``fp_review_cases`` holds one row per case: ids, timestamps, reason codes, the score
summary the summary page needs, the decision, and the check's result (JSON, no
embeddings) while the case is open. ``fp_review_images`` holds the case's images (the
selfie is index 0, profile photo *i* is index *i* + 1), re-encoded as JPEG without
metadata, only while the case is open: a decision deletes them in its own transaction,
the purge job deletes them when the review window ends. ``fp_review_pairs`` holds the
labelled face crops of decided cases for ``faceproof review export``, only when the
operator switched export on, and only until the export or the end of the window.
``fp_review_audit`` (every decision and expiry), ``fp_review_labels`` (per-photo labels
with their scores, no image) and ``fp_review_sessions`` (hashed session tokens) hold no
image data."""

from __future__ import annotations

from ..storage import Migration, Schema

__all__ = ["REVIEW_SCHEMA"]


def _tables(blob: str, serial: str) -> tuple[str, ...]:
    return (
        "CREATE TABLE fp_review_cases (id TEXT PRIMARY KEY, member_id TEXT NOT NULL, "
        "created_at DOUBLE PRECISION NOT NULL, expires_at DOUBLE PRECISION NOT NULL, status TEXT NOT NULL, "
        "reasons TEXT NOT NULL, metric TEXT NOT NULL, threshold DOUBLE PRECISION NOT NULL, "
        "best_distance DOUBLE PRECISION, score_leaning TEXT, photos INTEGER NOT NULL, result TEXT, "
        "decision TEXT, decided_by TEXT, decided_at DOUBLE PRECISION, note TEXT, purged_at DOUBLE PRECISION)",
        "CREATE INDEX fp_review_cases_queue ON fp_review_cases (status, created_at)",
        "CREATE INDEX fp_review_cases_expiry ON fp_review_cases (expires_at)",
        "CREATE TABLE fp_review_images (case_id TEXT NOT NULL REFERENCES fp_review_cases (id) ON DELETE CASCADE, "
        f"idx INTEGER NOT NULL, width INTEGER NOT NULL, height INTEGER NOT NULL, data {blob} NOT NULL, "
        "PRIMARY KEY (case_id, idx))",
        "CREATE TABLE fp_review_labels (case_id TEXT NOT NULL REFERENCES fp_review_cases (id) ON DELETE CASCADE, "
        "photo_index INTEGER NOT NULL, same INTEGER NOT NULL, distance DOUBLE PRECISION, "
        "PRIMARY KEY (case_id, photo_index))",
        f"CREATE TABLE fp_review_pairs (id {serial} PRIMARY KEY, case_id TEXT NOT NULL, photo_index INTEGER NOT NULL, "
        f"same INTEGER NOT NULL, selfie_crop {blob} NOT NULL, photo_crop {blob} NOT NULL, "
        "created_at DOUBLE PRECISION NOT NULL, expires_at DOUBLE PRECISION NOT NULL)",
        f"CREATE TABLE fp_review_audit (id {serial} PRIMARY KEY, at DOUBLE PRECISION NOT NULL, actor TEXT NOT NULL, "
        "case_id TEXT NOT NULL, action TEXT NOT NULL, note TEXT)",
        "CREATE INDEX fp_review_audit_case ON fp_review_audit (case_id)",
        "CREATE TABLE fp_review_sessions (token_hash TEXT PRIMARY KEY, reviewer TEXT NOT NULL, csrf TEXT NOT NULL, "
        "created_at DOUBLE PRECISION NOT NULL, expires_at DOUBLE PRECISION NOT NULL)",
    )


REVIEW_SCHEMA = Schema(
    "review",
    (
        Migration(
            1,
            sqlite=_tables("BLOB", "INTEGER"),
            postgresql=_tables("BYTEA", "BIGSERIAL"),
        ),
    ),
)
