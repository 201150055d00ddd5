"""Tables of the member face index (component ``member_index`` in the store).

Only ids, labels, timestamps and embeddings are stored: never an image, a URL or a
file name. ``fp_index_model`` holds the one recognizer the index accepts, a generation
number bumped by every change of templates or statuses and the template count (the
gallery size of the FPIR estimate). Rows carry the generation that wrote them and
``fp_index_deleted`` the ids deleted per generation (the last
``TOMBSTONE_GENERATIONS``), so the exact-search cache applies changes instead of reloading."""

from __future__ import annotations

from ..storage import Migration, Schema

__all__ = ["INDEX_SCHEMA"]

_COMMON = (
    "CREATE TABLE fp_index_model (id INTEGER PRIMARY KEY CHECK (id = 1), name TEXT, weights_sha256 TEXT, "
    "dim INTEGER, bound_at DOUBLE PRECISION, generation BIGINT NOT NULL DEFAULT 0, "
    "templates BIGINT NOT NULL DEFAULT 0)",
    "INSERT INTO fp_index_model (id, generation, templates) VALUES (1, 0, 0)",
    "CREATE TABLE fp_index_members (member_id TEXT PRIMARY KEY, status TEXT NOT NULL, "
    "created_at DOUBLE PRECISION NOT NULL, updated_at DOUBLE PRECISION NOT NULL, changed_gen BIGINT NOT NULL)",
    # template ids deleted at each generation (ids only): lets a search cache catch up without a reload
    "CREATE TABLE fp_index_deleted (gen BIGINT NOT NULL, template_id BIGINT NOT NULL)",
    "CREATE INDEX fp_index_deleted_gen ON fp_index_deleted (gen)",
    "CREATE INDEX fp_index_members_changed ON fp_index_members (changed_gen)",
)
_TAIL = (
    "CREATE INDEX fp_index_templates_member ON fp_index_templates (member_id)",
    "CREATE INDEX fp_index_templates_enrolled ON fp_index_templates (enrolled_at)",
    "CREATE INDEX fp_index_templates_gen ON fp_index_templates (gen)",
    "CREATE INDEX fp_index_audit_at ON fp_index_audit (at)",
)

INDEX_SCHEMA = Schema(
    "member_index",
    (
        Migration(
            1,
            sqlite=(
                *_COMMON,
                # AUTOINCREMENT: ids never reused, so a cache can tell new rows from old
                "CREATE TABLE fp_index_templates (id INTEGER PRIMARY KEY AUTOINCREMENT, "
                "member_id TEXT NOT NULL REFERENCES fp_index_members (member_id) ON DELETE CASCADE, "
                "photo_id TEXT NOT NULL, embedding BLOB NOT NULL, enrolled_at DOUBLE PRECISION NOT NULL, "
                "gen BIGINT NOT NULL, UNIQUE (member_id, photo_id))",
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
                "gen BIGINT NOT NULL, UNIQUE (member_id, photo_id))",
                "CREATE TABLE fp_index_audit (id BIGSERIAL PRIMARY KEY, at DOUBLE PRECISION NOT NULL, actor TEXT, "
                "action TEXT NOT NULL, member_id TEXT, detail TEXT)",
                *_TAIL,
            ),
        ),
    ),
)
