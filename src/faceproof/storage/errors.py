"""Typed storage errors (subclasses of :class:`faceproof.errors.FaceProofError`).

Codes are stable. Messages name the store by its redacted location (never a password)
and never carry stored data.
"""

from __future__ import annotations

from ..errors import FaceProofError

__all__ = ["SchemaVersionError", "StorageCorrupt", "StorageError", "StorageUnavailable"]


class StorageError(FaceProofError):
    """A database operation failed for a reason that is not one of the subclasses."""

    code = "storage_error"


class StorageUnavailable(StorageError):
    """The database cannot be reached or opened now (server down, connection lost twice,
    file not openable, lock not obtained in time). Retrying later may work."""

    code = "storage_unavailable"


class StorageCorrupt(StorageError):
    """The database file is not a database or its content is damaged."""

    code = "storage_corrupt"


class SchemaVersionError(StorageError):
    """The database holds a schema this faceproof does not know (written by a newer
    version, or a table layout that is not ours)."""

    code = "storage_schema_version"
