"""``faceproof evaluate-gender``: measure gender and age against a labels CSV, per group.

Registered lazily in :data:`faceproof.cli.main.LAZY_COMMANDS`; imported only when invoked.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import click

from .main import echo_json, guarded, make_client


@click.command(name="evaluate-gender")
@click.option(
    "--labels",
    "labels_csv",
    type=click.Path(path_type=Path),
    required=True,
    help="CSV with a 'path' column and 'gender' and/or 'age' (and e.g. 'race') columns.",
)
@click.option(
    "--root",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder the paths are relative to (default: the CSV's folder).",
)
@click.option(
    "--by",
    "group_columns",
    multiple=True,
    help="Grouping column (repeatable; default: every label column with at most 30 values).",
)
@click.option("--limit", type=int, default=None, help="Only the first N rows.")
@click.option(
    "--min-gender-confidence",
    type=float,
    default=None,
    help="Abstain ('Unknown') below this calibrated confidence (default: the model's).",
)
@click.option("--detector", default=None, help="yunet (default), dlib, or yunet+dlib.")
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON instead of tables.")
@click.option(
    "--markdown", "markdown_out", type=click.Path(path_type=Path), default=None, help="Also write the tables here."
)
@click.option(
    "--predictions",
    "predictions_out",
    type=click.Path(path_type=Path),
    default=None,
    help="Also write one CSV row per image (prediction, probability, age, range).",
)
@click.option("--quiet", is_flag=True, help="No progress on stderr.")
@guarded
def evaluate_gender_cmd(
    labels_csv: Path,
    root: Path | None,
    group_columns: tuple[str, ...],
    limit: int | None,
    min_gender_confidence: float | None,
    detector: str | None,
    as_json: bool,
    markdown_out: Path | None,
    predictions_out: Path | None,
    quiet: bool,
) -> None:
    """Gender accuracy, per-class recall, confusion, no-face count and age error, overall
    and per group (race, age band, gender, ...), on the images a labels CSV lists."""
    from ..evaluation.attributes import run_evaluation

    fp = make_client(detector=detector, min_gender_confidence=min_gender_confidence)

    def progress(done: int, total: int) -> None:
        if not quiet and (done % 250 == 0 or done == total):
            click.echo(f"  {done}/{total} images", err=True)

    report, outcomes = run_evaluation(
        fp, labels_csv, root, limit=limit, group_columns=group_columns or None, progress=progress
    )
    if markdown_out is not None:
        markdown_out.write_text(report.to_markdown(), encoding="utf-8")
    if predictions_out is not None:
        with predictions_out.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(
                [
                    "path",
                    "status",
                    "faces",
                    "true_gender",
                    "predicted",
                    "p_woman",
                    "true_age",
                    "age",
                    "age_low",
                    "age_high",
                ]
            )
            for o in outcomes:
                lo, hi = o.age_range if o.age_range is not None else (None, None)
                writer.writerow(
                    [
                        o.row.path,
                        o.status,
                        o.faces,
                        o.row.gender or "",
                        o.predicted,
                        "" if o.p_woman is None else f"{o.p_woman:.6f}",
                        "" if o.row.age is None else f"{o.row.age:g}",
                        "" if o.age is None else f"{o.age:.2f}",
                        "" if lo is None else f"{lo:g}",
                        "" if hi is None else f"{hi:g}",
                    ]
                )
    if as_json:
        echo_json(report.to_dict())
    else:
        click.echo(f"{report.labels}: {report.config.get('images')} images in {report.seconds:.0f} s")
        click.echo(report.to_markdown())
    sys.exit(0)
