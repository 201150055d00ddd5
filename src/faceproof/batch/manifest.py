"""Reading a batch manifest (CSV or Parquet) into tasks, one per input row.

A task is a plain JSON-ready dict (it crosses process and Ray boundaries as it is):
``{"row": 17, "id": "m-123" | None, ...the operation's fields...}``. ``row`` is the row's
0-based position in the manifest and is the key of resume: the output holds each ``row``
exactly once. The optional ``id`` column is carried through to the output.

Columns per operation (the first name of each group that is present is used):

* ``verify``: ``origin``/``selfie``/``path1`` and ``target``/``profile``/``path2``
* ``check-profile``: ``selfie`` and ``photos``
* ``enroll``: ``member_id`` and ``photos``; optional ``photo_ids`` and ``status``
* ``analyze``: ``image``/``path``

``photos`` and ``photo_ids`` are a list column in Parquet, or ``|``-separated in CSV.
Relative paths are resolved against ``root`` (the manifest's directory by default);
``http(s)://`` URLs are left as they are and fetched under the pipeline's URL policy.
Only a missing *column* fails the job; a bad value fails its row (in the worker).
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import Any

from ..errors import InvalidArgument
from ..runtime.io import is_url

__all__ = ["Operation", "file_digest", "pyarrow_parquet", "read_manifest"]

LIST_SEPARATOR = "|"


class Operation(StrEnum):
    CHECK_PROFILE = "check-profile"
    VERIFY = "verify"
    ENROLL = "enroll"
    ANALYZE = "analyze"

    @classmethod
    def parse(cls, value: str | Operation) -> Operation:
        try:
            return cls(str(value).strip().lower().replace("_", "-"))
        except ValueError:
            known = ", ".join(o.value for o in cls)
            raise InvalidArgument(f"unknown batch operation {value!r}; use one of: {known}") from None


#: field -> accepted column names, in order of preference; None marks optional fields
_COLUMNS: dict[Operation, dict[str, tuple[tuple[str, ...], bool]]] = {
    Operation.VERIFY: {
        "origin": (("origin", "selfie", "path1"), True),
        "target": (("target", "profile", "path2"), True),
    },
    Operation.CHECK_PROFILE: {"selfie": (("selfie",), True), "photos": (("photos",), True)},
    Operation.ENROLL: {
        "member_id": (("member_id",), True),
        "photos": (("photos",), True),
        "photo_ids": (("photo_ids",), False),
        "status": (("status",), False),
    },
    Operation.ANALYZE: {"image": (("image", "path"), True)},
}
_LIST_FIELDS = frozenset({"photos", "photo_ids"})
_PATH_FIELDS = frozenset({"origin", "target", "selfie", "photos", "image"})


def pyarrow_parquet() -> Any:
    """``pyarrow.parquet``, or a SetupError that says what to install."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        from ..errors import BackendUnavailable

        raise BackendUnavailable("Parquet needs pyarrow: pip install 'faceproof[batch]'") from None
    return pq


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file's bytes (the manifest's identity in ``job.json``)."""
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _read_rows(path: Path) -> tuple[list[str], list[dict[str, Any]]]:
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        table = pyarrow_parquet().read_table(path)
        return list(table.column_names), table.to_pylist()
    if suffix in (".csv", ".tsv", ".txt"):
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh, delimiter="\t" if suffix == ".tsv" else ",")
            rows = list(reader)
            return list(reader.fieldnames or []), rows
    raise InvalidArgument(f"manifest {path} must be .csv, .tsv or .parquet")


def _as_list(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [p.strip() for p in value.split(LIST_SEPARATOR) if p.strip()]
    if isinstance(value, Sequence):
        return [str(v) for v in value if v is not None and str(v).strip()]
    return [str(value)]


def _resolve(value: str, root: Path) -> str:
    value = value.strip()
    if not value or is_url(value):
        return value
    p = Path(value).expanduser()
    return str(p if p.is_absolute() else root / p)


def read_manifest(
    path: str | Path, operation: Operation | str, *, root: str | Path | None = None
) -> list[dict[str, Any]]:
    """The tasks of a manifest (see the module doc). Raises
    :class:`~faceproof.errors.InvalidArgument` when the file or a required column is missing."""
    op = Operation.parse(operation)
    mpath = Path(path)
    if not mpath.is_file():
        raise InvalidArgument(f"manifest {mpath} not found")
    base = Path(root) if root is not None else mpath.resolve().parent
    columns, rows = _read_rows(mpath)
    chosen: dict[str, str] = {}
    for name, (aliases, required) in _COLUMNS[op].items():
        found = next((a for a in aliases if a in columns), None)
        if found is None and required:
            raise InvalidArgument(
                f"manifest {mpath.name}: {op.value} needs a column {' or '.join(repr(a) for a in aliases)}; "
                f"it has {columns}"
            )
        if found is not None:
            chosen[name] = found
    id_column = next((c for c in ("id", "row_id") if c in columns), None)
    tasks: list[dict[str, Any]] = []
    for i, raw in enumerate(rows):
        task: dict[str, Any] = {"row": i, "id": None}
        if id_column is not None and raw.get(id_column) not in (None, ""):
            task["id"] = str(raw[id_column])
        for name, column in chosen.items():
            value = raw.get(column)
            if name in _LIST_FIELDS:
                items = _as_list(value)
                if items is not None and name in _PATH_FIELDS:
                    items = [_resolve(v, base) for v in items]
                task[name] = items
            else:
                text = None if value is None else str(value).strip()
                if text and name in _PATH_FIELDS:
                    text = _resolve(text, base)
                task[name] = text or None
        tasks.append(task)
    return tasks
