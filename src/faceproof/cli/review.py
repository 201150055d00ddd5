"""``faceproof review ...``: the review desk's jobs (docs/review.md).

faceproof review purge [--store URL]                 # expire cases past their window (cron)
faceproof review export OUT_DIR [--store URL]        # labelled pairs for evaluate / calibrate
faceproof review summary [--store URL]               # volume, decisions, overrules (JSON)
faceproof review hash-password                       # a FACEPROOF_REVIEW_USERS entry
"""

from __future__ import annotations

from pathlib import Path

import click

from .main import echo_json, guarded

__all__ = ["review"]

store_opt = click.option(
    "--store",
    "store_url",
    default=None,
    help="sqlite:///path.db or postgresql://... [FACEPROOF_STORE_URL, else sqlite:///faceproof.db].",
)


def _cases(store_url: str | None):  # type: ignore[no-untyped-def]
    from ..review import ReviewStore

    return ReviewStore.open(store_url)


@click.group(name="review")
def review() -> None:
    """The review desk's jobs: purge, export, summary, hash-password."""


@review.command(name="purge")
@store_opt
@guarded
def purge_cmd(store_url: str | None) -> None:
    """Expire the open cases whose review window ended (their images and result are
    deleted, an audit row written), delete unexported crops and ended sessions, then make
    the deleted bytes unrecoverable where the backend can (SQLite VACUUM). Prints counts."""
    cases = _cases(store_url)
    try:
        report = cases.purge()
        cases.store.compact()
    finally:
        cases.close()
    echo_json(report.to_dict())


@review.command(name="export")
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@store_opt
@guarded
def export_cmd(out_dir: Path, store_url: str | None) -> None:
    """Write the labelled face pairs of decided cases to OUT_DIR (pairs.csv + faces/*.jpg)
    for `faceproof evaluate --pairs OUT_DIR/pairs.csv` and `faceproof calibrate --pairs ...`;
    the exported crops leave the database."""
    from ..review import export_pairs

    cases = _cases(store_url)
    try:
        report = export_pairs(cases, out_dir)
    finally:
        cases.close()
    echo_json(report.to_dict())


@review.command(name="summary")
@store_opt
@guarded
def summary_cmd(store_url: str | None) -> None:
    """Review volume, decisions and how often reviewers overruled the score, as JSON."""
    cases = _cases(store_url)
    try:
        echo_json(cases.summary())
    finally:
        cases.close()


@review.command(name="hash-password")
@click.option("--name", prompt="Reviewer name", help="The reviewer's sign-in name.")
@click.password_option("--password", prompt="Password", help="At least 12 characters (prompted, never echoed).")
@guarded
def hash_password_cmd(name: str, password: str) -> None:
    """Print a FACEPROOF_REVIEW_USERS entry (name:scrypt$...) for a reviewer."""
    from ..server.review.auth import Reviewers, hash_password

    entry = f"{name}:{hash_password(password)}"
    Reviewers([entry])  # the name is checked like the server will
    click.echo(entry)
