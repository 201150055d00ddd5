"""Tables of the member face index (component ``member_index`` in the store).

Only ids, labels, timestamps and embeddings are stored: never an image, a URL or a
file name. ``fp_index_model`` holds the one recognizer the index accepts, a generation
number bumped by every change of templates or statuses (search caches compare it) and
the template count (the gallery size of the FPIR estimate)."""

from __future__ import annotations

from ..storage import Migration, Schema

__all__ = ["INDEX_SCHEMA"]

_COMMON = (
    "CREATE TABLE fp_index_model (id INTEGER PRIMARY KEY CHECK (id = 1), name TEXT, weights_sha256 TEXT, "
    "dim INTEGER, bound_at DOUBLE PRECISION, generation BIGINT NOT NULL DEFAULT 0, "
    "templates BIGINT NOT NULL DEFAULT 0)",
    "INSERT INTO fp_index_model (id, generation, templates) VALUES (1, 0, 0)",
    "CREATE TABLE fp_index_members (member_id TEXT PRIMARY KEY, status TEXT NOT NULL, "
    "created_at DOUBLE PRECISION NOT NULL, updated_at DOUBLE PRECISION NOT NULL)",
)
_TAIL = (
    "CREATE INDEX fp_index_templates_member ON fp_index_templates (member_id)",
    "CREATE INDEX fp_index_templates_enrolled ON fp_index_templates (enrolled_at)",
    "CREATE INDEX fp_index_audit_at ON fp_index_audit (at)",
)

INDEX_SCHEMA = Schema(
    "member_index",
    (
        Migration(
            1,
            sqlite=(
                *_COMMON,
                "CREATE TABLE fp_index_templates (id INTEGER PRIMARY KEY, "
                "member_id TEXT NOT NULL REFERENCES fp_index_members (member_id) ON DELETE CASCADE, "
                "photo_id TEXT NOT NULL, embedding BLOB NOT NULL, enrolled_at DOUBLE PRECISION NOT NULL, "
                "UNIQUE (member_id, photo_id))",
                "CREATE TABLE fp_index_audit (id INTEGER PRIMARY KEY, at DOUBLE PRECISION NOT NULL, actor TEXT, "
                "action TEXT NOT NULL, member_id TEXT, detail TEXT)",
                *_TAIL,
            ),
            postgresql=(
                "CREATE EXTENSION IF NOT EXISTS vector",
                *_COMMON,
                # the column gets its dimension (and the HNSW index) when the model is bound
                "CREATE TABLE fp_index_templates (id BIGSERIAL PRIMARY KEY, "
                "member_id TEXT NOT NULL REFERENCES fp_index_members (member_id) ON DELETE CASCADE, "
                "photo_id TEXT NOT NULL, embedding vector NOT NULL, enrolled_at DOUBLE PRECISION NOT NULL, "
                "UNIQUE (member_id, photo_id))",
                "CREATE TABLE fp_index_audit (id BIGSERIAL PRIMARY KEY, at DOUBLE PRECISION NOT NULL, actor TEXT, "
                "action TEXT NOT NULL, member_id TEXT, detail TEXT)",
                *_TAIL,
            ),
        ),
    ),
)
