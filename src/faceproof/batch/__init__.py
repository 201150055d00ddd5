"""Batch jobs over a whole member base: ``faceproof batch`` and :func:`run`.

    from faceproof import PipelineConfig
    from faceproof.batch import run, read_results

    summary = run("members.parquet", "out/", "check-profile", PipelineConfig(), workers=2)
    summary.verdicts, summary.errors, summary.rows_per_s
    rows = read_results("out/")      # one record per manifest row

Resumable and exact: started again with the same arguments after any kill, a job skips
the rows done and ends with every manifest row in the output exactly once. Engines: a
local process pool (default) or Ray Data (``engine="ray"``, ``faceproof[ray]``). See
docs/batch.md.
"""

from __future__ import annotations

from .job import BatchSummary, run
from .manifest import Operation, read_manifest
from .operations import RECORD_FIELDS, Worker, WorkerSpec
from .output import JobDir, iter_records, read_results

__all__ = [
    "RECORD_FIELDS",
    "BatchSummary",
    "JobDir",
    "Operation",
    "Worker",
    "WorkerSpec",
    "iter_records",
    "read_manifest",
    "read_results",
    "run",
]
