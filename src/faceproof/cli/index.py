"""``faceproof index add|search|remove|purge|stats``: the member face index from the
command line. The database is ``--db URL`` (``sqlite:///members.db``, a file path, or
``postgresql://...``), else ``FACEPROOF_STORE_URL``.

Exit codes: 0 done (``search``: no candidate), 4 ``search`` found candidates for human
review, 2 bad input (unreadable image, no face, unknown member, another model's index),
3 internal error.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import click

from .main import EXIT_INPUT, detector_opt, echo_json, guarded, make_client

#: ``search`` found candidates (the meaning of check-profile's needs_review)
EXIT_CANDIDATES = 4

db_opt = click.option(
    "--db",
    "db",
    envvar="FACEPROOF_STORE_URL",
    required=True,
    help="The index database: sqlite:///members.db, a file path, or postgresql://... (env FACEPROOF_STORE_URL).",
)


def _open(db: str, fp: Any = None) -> Any:
    from ..index import MemberIndex, ModelId

    return MemberIndex(db, model=None if fp is None else ModelId.from_client(fp.pipeline), actor="cli")


def _subject_embedding(fp: Any, source: str) -> Any:
    """The embedding of an image's dominant face (the member in a selfie or portrait)."""
    from ..decision.subject import selfie_subject
    from ..errors import NoFaceError

    faces = fp.represent(source)
    if not faces:
        raise NoFaceError(f"no face was detected in {Path(source).name}")
    subject, _ = selfie_subject(faces, 0.5)
    return subject.embedding


@click.group(name="index")
def index_cmd() -> None:
    """The member face index (1:N): one face on several accounts, banned members coming back."""


@index_cmd.command(name="add")
@click.argument("member_id")
@click.argument("images", nargs=-1, required=True)
@db_opt
@click.option("--status", default=None, help="The member's label (new members: active), e.g. banned.")
@click.option("--photo-id", "photo_ids", multiple=True, help="One id per image (default: the file names).")
@detector_opt
@guarded
def add_cmd(
    member_id: str,
    images: tuple[str, ...],
    db: str,
    status: str | None,
    photo_ids: tuple[str, ...],
    detector: str | None,
) -> None:
    """Enrol the dominant face of each IMAGE under MEMBER_ID (only embeddings are stored)."""
    import numpy as np

    from ..errors import InvalidArgument

    if photo_ids and len(photo_ids) != len(images):
        raise InvalidArgument(f"{len(images)} images but {len(photo_ids)} --photo-id values")
    fp = make_client(detector=detector, attributes=())
    vectors = np.stack([_subject_embedding(fp, image) for image in images])
    ids = list(photo_ids) or [Path(image).name for image in images]
    with _open(db, fp) as index:
        written = index.enroll(member_id, vectors, ids, status=status)
        echo_json({"member_id": member_id, "enrolled": written, "photo_ids": ids, "stats": _stats(index)})


@index_cmd.command(name="search")
@click.argument("image")
@db_opt
@click.option("-k", "k", type=int, default=10, show_default=True, help="At most this many candidate accounts.")
@click.option("--threshold", type=float, default=None, help="Cosine similarity floor (default: the open-set one).")
@click.option("--exclude", "exclude", multiple=True, help="Member ids to leave out (the searching account).")
@detector_opt
@guarded
def search_cmd(
    image: str, db: str, k: int, threshold: float | None, exclude: tuple[str, ...], detector: str | None
) -> None:
    """Accounts whose enrolled face resembles IMAGE's dominant face: candidates for human
    review, never an automatic ban. Exit 4 when there are candidates, 0 when none."""
    fp = make_client(detector=detector, attributes=())
    vector = _subject_embedding(fp, image)
    with _open(db, fp) as index:
        found = index.search(vector, k=k, threshold=threshold, exclude_members=exclude)
    echo_json(found.to_dict())
    sys.exit(EXIT_CANDIDATES if found.needs_review else 0)


@index_cmd.command(name="remove")
@click.argument("member_id")
@db_opt
@guarded
def remove_cmd(member_id: str, db: str) -> None:
    """Erase every template of MEMBER_ID (right to erasure: really deleted)."""
    with _open(db) as index:
        removed = index.remove(member_id)
        echo_json({"member_id": member_id, "removed": removed, "stats": _stats(index)})


@index_cmd.command(name="purge")
@db_opt
@click.option("--older-than-days", type=float, required=True, help="Delete templates enrolled before this many days.")
@guarded
def purge_cmd(db: str, older_than_days: float) -> None:
    """Retention: delete templates enrolled more than N days ago."""
    from ..errors import InvalidArgument

    if not older_than_days > 0:
        raise InvalidArgument("--older-than-days must be positive")
    with _open(db) as index:
        removed = index.purge(timedelta(days=older_than_days))
        echo_json({"purged": removed, "stats": _stats(index)})


@index_cmd.command(name="stats")
@db_opt
@guarded
def stats_cmd(db: str) -> None:
    """Members, templates, statuses, the bound model and the database size."""
    with _open(db) as index:
        echo_json(_stats(index))


def _stats(index: Any) -> dict[str, Any]:
    s = index.stats()
    return {
        "backend": s.backend,
        "model": None if s.model is None else str(s.model),
        "members": s.members,
        "templates": s.templates,
        "members_by_status": dict(s.members_by_status),
        "size_bytes": s.size_bytes,
    }


__all__ = ["EXIT_CANDIDATES", "EXIT_INPUT", "index_cmd"]
