"""``faceproof.batch.run``: one batch job from a manifest to a resumable output directory."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, TextIO

from ..errors import InvalidArgument
from ..runtime.pipeline import PipelineConfig
from .engines import ENGINES, Batch, local_engine, ray_engine
from .manifest import Operation, file_digest, read_manifest
from .operations import WorkerSpec
from .output import FORMATS, JobDir
from .progress import Progress, format_seconds

__all__ = ["BatchSummary", "config_digest", "run"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchSummary:
    """What a run did (``summary.json``). ``verdicts`` / ``errors`` / ``rows_done`` count the
    whole job (this run and the runs before it); ``rows_this_run``, ``wall_s``,
    ``rows_per_s`` and ``cpu_ms_per_row`` this run only."""

    operation: str
    engine: str
    workers: int
    output: str
    rows_total: int
    rows_done: int
    rows_skipped: int  # done by earlier runs, skipped by this one
    rows_this_run: int
    duplicated_rows: int
    missing_rows: int
    verdicts: dict[str, int]
    errors: dict[str, int]
    wall_s: float
    rows_per_s: float
    cpu_ms_per_row: float | None
    worker_peak_rss_mb: dict[str, float] = field(default_factory=dict)
    parts: int = 0

    @property
    def complete(self) -> bool:
        return self.rows_done == self.rows_total and self.missing_rows == 0 and self.duplicated_rows == 0

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["complete"] = self.complete
        return out

    def lines(self) -> list[str]:
        out = [
            f"{self.operation}: {self.rows_done}/{self.rows_total} rows done "
            f"({self.rows_this_run} this run, {self.rows_skipped} skipped as already done), "
            f"{'complete' if self.complete else 'INCOMPLETE'}",
            f"this run: {self.wall_s:.1f} s, {self.rows_per_s:.2f} rows/s on {self.workers} {self.engine} workers"
            + (f", {self.cpu_ms_per_row:.0f} ms CPU per row" if self.cpu_ms_per_row is not None else ""),
            "verdicts: " + (", ".join(f"{k} {v}" for k, v in self.verdicts.items()) or "-"),
            "errors: " + (", ".join(f"{k} {v}" for k, v in self.errors.items()) or "none"),
            f"output: {self.output}/parts ({self.parts} parts), summary.json",
        ]
        if self.duplicated_rows or self.missing_rows:
            out.append(f"duplicated rows {self.duplicated_rows}, missing rows {self.missing_rows}")
        return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (set, frozenset)):
        return sorted(_jsonable(v) for v in value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def config_digest(config: PipelineConfig) -> dict[str, Any]:
    """The configuration as canonical JSON-ready data (``job.json``)."""
    return {f.name: _jsonable(dataclasses.asdict(config)[f.name]) for f in dataclasses.fields(config)}


def run(
    manifest: str | Path,
    output: str | Path,
    operation: Operation | str,
    config: PipelineConfig | None = None,
    *,
    engine: str = "local",
    workers: int | None = None,
    address: str | None = None,
    fmt: str = "parquet",
    root: str | Path | None = None,
    policy: Mapping[str, Any] | str | None = None,
    index: str | None = None,
    part_rows: int = 256,
    part_seconds: float = 30.0,
    chunk: int = 4,
    detail: bool = True,
    progress: str = "auto",
    log_every: float = 10.0,
    stream: TextIO | None = None,
) -> BatchSummary:
    """Run ``operation`` over every row of ``manifest`` into ``output`` (resumable).

    Args:
        manifest: a CSV or Parquet manifest (see :mod:`faceproof.batch.manifest`).
        output: the output directory (see :mod:`faceproof.batch.output`); started again
            with the same arguments, a job skips the rows already done.
        operation: ``"check-profile"``, ``"verify"``, ``"enroll"`` or ``"analyze"``.
        config: the one :class:`~faceproof.PipelineConfig` every worker builds its pipeline from.
        engine: ``"local"`` (a process pool) or ``"ray"`` (Ray Data actors; ``faceproof[ray]``).
        workers: worker processes / actors, each with one pipeline (default: one per CPU).
        address: ``engine="ray"``: an existing cluster (``"auto"``, ``"ray://host:10001"``);
            a local Ray instance with ``workers`` CPUs otherwise.
        fmt: ``"parquet"`` or ``"jsonl"`` parts.
        root: base directory of relative paths (default: the manifest's directory).
        policy: check-profile policy overrides (a mapping or a policy JSON file).
        index: enroll: the member index's store URL (``sqlite:///members.db``, ``postgresql://...``).
        part_rows / part_seconds: a part is written every ``part_rows`` finished rows or
            every ``part_seconds``, whichever comes first (what a kill can lose).
        chunk: rows per task sent to a worker.
        detail: keep the library's full report of each row as JSON (column ``detail``).
        progress: ``"auto"``, ``"bar"``, ``"log"`` or ``"none"``; ``log_every`` seconds between lines.

    A bad row never stops the job: it is recorded with its typed error code. Ctrl-C
    writes the rows already finished before stopping.
    """
    op = Operation.parse(operation)
    if engine not in ENGINES:
        raise InvalidArgument(f"engine must be one of {ENGINES}, got {engine!r}")
    if fmt not in FORMATS:
        raise InvalidArgument(f"format must be one of {FORMATS}, got {fmt!r}")
    workers = workers if workers is not None else max(1, os.cpu_count() or 1)
    if part_rows < 1 or chunk < 1 or workers < 1:
        raise InvalidArgument("part_rows, chunk and workers must be >= 1")
    cfg = config if config is not None else PipelineConfig()
    if not isinstance(cfg, PipelineConfig):
        raise InvalidArgument(f"config must be a PipelineConfig, got {type(cfg).__name__}")
    policy_arg: Any = (
        str(policy) if isinstance(policy, Path) else (dict(policy) if isinstance(policy, Mapping) else policy)
    )
    spec = WorkerSpec(op, cfg, policy=policy_arg, index_url=index, detail=detail)
    tasks = read_manifest(manifest, op, root=root)
    job = {
        "operation": op.value,
        "manifest_sha256": file_digest(manifest),
        "rows": len(tasks),
        "root": None if root is None else str(Path(root).resolve()),
        "config": config_digest(cfg),
        "policy": _jsonable(policy_arg),
        # a policy file is part of the job by its content, not only its name
        "policy_sha256": file_digest(policy_arg)
        if isinstance(policy_arg, str) and Path(policy_arg).is_file()
        else None,
        "index": index,
        "format": fmt,
        "detail": detail,
    }
    out = JobDir(output, fmt)
    out.open(job)
    todo = [t for t in tasks if t["row"] not in out.done]
    skipped = len(tasks) - len(todo)
    logger.info("batch %s: %d rows, %d already done, %d to do", op.value, len(tasks), skipped, len(todo))
    bar = Progress(
        len(tasks), skipped, label=f"faceproof batch {op.value}", mode=progress, every=log_every, stream=stream
    )
    memory: dict[str, float] = {}
    buffer: list[dict[str, Any]] = []
    cpu_ms = 0.0
    processed = 0
    start = time.perf_counter()
    last_flush = time.monotonic()

    def flush() -> None:
        nonlocal last_flush
        records = [r for r in buffer if r["row"] not in out.done]
        buffer.clear()  # first: a part interrupted half-way is either committed or redone, never written twice
        if records:
            out.write_part(records)
        last_flush = time.monotonic()

    batches: Iterator[Batch]
    if not todo:
        batches = iter(())
    elif engine == "ray":
        batches = ray_engine(spec, todo, workers=workers, chunk=chunk, address=address)
    else:
        batches = local_engine(spec, todo, workers=workers, chunk=chunk)
    try:
        for records, mem in batches:
            for w, mb in mem.items():
                memory[w] = max(memory.get(w, 0.0), mb)
            fresh = [r for r in records if r["row"] not in out.done]  # an engine retry never duplicates
            buffer.extend(fresh)
            processed += len(fresh)
            cpu_ms += sum(float(r.get("cpu_ms") or 0.0) for r in fresh)
            bar.advance(len(fresh), sum(1 for r in fresh if r.get("error_code")))
            if len(buffer) >= part_rows or time.monotonic() - last_flush >= part_seconds:
                flush()
        flush()
    except BaseException:
        # Ctrl-C or an engine failure: keep what is finished (a restart goes on from here)
        close = getattr(batches, "close", None)
        if close is not None:
            close()
        flush()
        raise
    finally:
        bar.close()
    wall = time.perf_counter() - start
    counts = out.counts()
    summary = BatchSummary(
        operation=op.value,
        engine=engine,
        workers=workers,
        output=str(out.path),
        rows_total=len(tasks),
        rows_done=counts["distinct_rows"],
        rows_skipped=skipped,
        rows_this_run=processed,
        duplicated_rows=counts["duplicated_rows"],
        missing_rows=len(tasks) - counts["distinct_rows"],
        verdicts=counts["verdicts"],
        errors=counts["errors"],
        wall_s=round(wall, 3),
        rows_per_s=round(processed / wall, 3) if wall > 0 else 0.0,
        cpu_ms_per_row=round(cpu_ms / processed, 1) if processed else None,
        worker_peak_rss_mb={k: round(v, 1) for k, v in sorted(memory.items())},
        parts=len(out.part_files()),
    )
    out.write_summary({**summary.to_dict(), "finished_at": time.time(), "pid": os.getpid()})
    logger.info("batch %s done in %s", op.value, format_seconds(wall))
    return summary


def summary_json(summary: BatchSummary) -> str:
    return json.dumps(summary.to_dict(), indent=2, sort_keys=True)
