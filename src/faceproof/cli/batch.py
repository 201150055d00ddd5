"""``faceproof batch OPERATION MANIFEST --out DIR``: a resumable batch job (docs/batch.md).

Exit codes: 0 the job finished with every manifest row in the output (rows that failed
are in it too, with their error codes), 2 bad usage (missing column, another job in the
output directory, missing extra), 3 internal error, 130 interrupted (run the same command
again to resume).
"""

from __future__ import annotations

import sys

import click

from .main import EXIT_INTERNAL, confidence_opt, detector_opt, echo_json, guarded

OPERATIONS = ("check-profile", "verify", "enroll", "analyze")


@click.command(name="batch")
@click.argument("operation", type=click.Choice(OPERATIONS))
@click.argument("manifest", type=click.Path(dir_okay=False))
@click.option("--out", "output", required=True, type=click.Path(file_okay=False), help="Output directory.")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True)
@click.option("--address", default=None, help="Ray cluster address (engine ray); a local Ray instance without it.")
@click.option("--workers", type=int, default=None, help="Worker processes / Ray actors [default: one per CPU].")
@click.option("--format", "fmt", type=click.Choice(["parquet", "jsonl"]), default="parquet", show_default=True)
@click.option("--root", default=None, help="Base directory of relative paths (default: the manifest's directory).")
@click.option("--index", "index_url", default=None, help="enroll: the member index (sqlite:///members.db, ...).")
@click.option("--policy", "policy_path", default=None, help="check-profile: JSON file overriding policy knobs.")
@click.option("--model", default=None, help="Recognition model: sface (default) or dlib.")
@click.option("--metric", default=None, help="cosine (default), euclidean or euclidean_l2.")
@click.option("--threshold", type=float, default=None, help="Distance threshold (default: the model x metric table).")
@detector_opt
@confidence_opt
@click.option("--no-flip", is_flag=True, help="Embed without flip test-time augmentation.")
@click.option("--allow-private-urls", is_flag=True, help="Allow URLs that resolve to private/loopback addresses.")
@click.option("--part-rows", type=int, default=256, show_default=True, help="Rows per output part.")
@click.option("--chunk", type=int, default=4, show_default=True, help="Rows per task sent to a worker.")
@click.option("--no-detail", is_flag=True, help="Leave out the full per-row report (column detail).")
@click.option(
    "--progress",
    type=click.Choice(["auto", "bar", "log", "none"]),
    default="auto",
    show_default=True,
    help="auto: a bar on a terminal, log lines otherwise.",
)
@click.option("--log-every", type=float, default=10.0, show_default=True, help="Seconds between progress lines.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@guarded
def batch_cmd(
    operation: str,
    manifest: str,
    output: str,
    engine: str,
    address: str | None,
    workers: int | None,
    fmt: str,
    root: str | None,
    index_url: str | None,
    policy_path: str | None,
    model: str | None,
    metric: str | None,
    threshold: float | None,
    detector: str | None,
    min_detection_confidence: float | None,
    no_flip: bool,
    allow_private_urls: bool,
    part_rows: int,
    chunk: int,
    no_detail: bool,
    progress: str,
    log_every: float,
    as_json: bool,
) -> None:
    """Run OPERATION (check-profile, verify, enroll, analyze) over every row of MANIFEST
    (CSV or Parquet) into Parquet (or JSON lines) parts under --out. Killed and started
    again with the same arguments, it skips the rows already done."""
    from ..batch import run
    from ..runtime.io import URLPolicy
    from ..runtime.pipeline import PipelineConfig

    options: dict[str, object] = {
        k: v
        for k, v in {
            "detector": detector,
            "model": model,
            "metric": metric,
            "threshold": threshold,
            "min_detection_confidence": min_detection_confidence,
        }.items()
        if v is not None
    }
    config = PipelineConfig(
        **options,  # type: ignore[arg-type]
        flip=not no_flip,
        attributes=("gender", "age") if operation == "analyze" else (),
        url_policy=URLPolicy(allow_private=allow_private_urls),
    )
    try:
        summary = run(
            manifest,
            output,
            operation,
            config,
            engine=engine,
            workers=workers,
            address=address,
            fmt=fmt,
            root=root,
            policy=policy_path,
            index=index_url,
            part_rows=part_rows,
            chunk=chunk,
            detail=not no_detail,
            progress=progress,
            log_every=log_every,
        )
    except KeyboardInterrupt:
        click.echo("faceproof: interrupted; finished rows are saved: run the same command again to resume", err=True)
        sys.exit(130)
    if as_json:
        echo_json(summary.to_dict())
    else:
        for line in summary.lines():
            click.echo(line)
    if not summary.complete:
        sys.exit(EXIT_INTERNAL)
