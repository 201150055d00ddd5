"""The output directory of a batch job: written in parts, atomically, resumable.

Layout of ``OUT/``::

    job.json          what the job is (operation, manifest digest, configuration); a
                      restart with other arguments is refused
    parts/part-000003.parquet   (or .jsonl) finished rows; each row is in exactly one part
    _parts.jsonl      the manifest of finished parts: one line per part (rows, digest)
    summary.json      counts per verdict and error, throughput (written at the end)

A part is written to ``parts/.part-NNNNNN.<ext>.tmp``, flushed to disk (fsync) and renamed
into place: the rename is the commit, so a reader of ``parts/`` (``pyarrow.dataset``
ignores dot files) never sees half a part. The part is then recorded in ``_parts.jsonl``.
On resume the record is reconciled with the directory: a part renamed but not recorded
(killed between the two steps) is adopted, a record whose file is gone is dropped (its
rows are done again), temp files are deleted. The rows done are the union of the
recorded parts' rows; the rest are done again. Every input row therefore ends up in the
output exactly once.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import InvalidArgument
from .manifest import pyarrow_parquet

__all__ = ["FORMATS", "JobDir", "read_results"]

FORMATS = ("parquet", "jsonl")
_PART = re.compile(r"^part-(\d{6,})\.(parquet|jsonl)$")


def _schema() -> Any:
    pyarrow_parquet()
    import pyarrow as pa

    return pa.schema(
        [
            ("row", pa.int64()),
            ("id", pa.string()),
            ("operation", pa.string()),
            ("ok", pa.bool_()),
            ("verdict", pa.string()),
            ("code", pa.int32()),
            ("reasons", pa.list_(pa.string())),
            ("similarity", pa.float64()),
            ("distance", pa.float64()),
            ("threshold", pa.float64()),
            ("faces", pa.int32()),
            ("error_code", pa.string()),
            ("error_message", pa.string()),
            ("elapsed_ms", pa.float64()),
            ("cpu_ms", pa.float64()),
            ("timings_ms", pa.map_(pa.string(), pa.float64())),
            ("worker", pa.string()),
            ("detail", pa.string()),
        ]
    )


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _part_rows(path: Path) -> list[int]:
    if path.suffix == ".parquet":
        table = pyarrow_parquet().read_table(path, columns=["row"])
        return [int(v) for v in table.column("row").to_pylist()]
    with path.open(encoding="utf-8") as fh:
        return [int(json.loads(line)["row"]) for line in fh if line.strip()]


class JobDir:
    """One job's output directory (see the module doc)."""

    def __init__(self, path: str | Path, fmt: str = "parquet") -> None:
        if fmt not in FORMATS:
            raise InvalidArgument(f"format must be one of {FORMATS}, got {fmt!r}")
        self.path = Path(path)
        self.fmt = fmt
        self.parts = self.path / "parts"
        self.log = self.path / "_parts.jsonl"
        self.job_file = self.path / "job.json"
        self.summary_file = self.path / "summary.json"
        self._next = 0
        self.done: dict[int, str] = {}  # row -> part name

    # ------------------------------------------------------------------ job identity

    def open(self, job: dict[str, Any]) -> None:
        """Create the directory or check that it holds this same job, then reconcile the
        finished parts with the directory (see the module doc)."""
        self.parts.mkdir(parents=True, exist_ok=True)
        if self.job_file.is_file():
            old = json.loads(self.job_file.read_text(encoding="utf-8"))
            diff = sorted(k for k in set(old) | set(job) if old.get(k) != job.get(k))
            if diff:
                raise InvalidArgument(
                    f"{self.path} holds another job (differs in {', '.join(diff)}); "
                    "restart with the same arguments or use a new output directory"
                )
        else:
            _atomic_write_text(self.job_file, json.dumps(job, indent=2, sort_keys=True) + "\n")
        self._reconcile()

    def _reconcile(self) -> None:
        for tmp in self.parts.glob(".*.tmp"):
            tmp.unlink()
        recorded: dict[str, dict[str, Any]] = {}
        if self.log.is_file():
            with self.log.open(encoding="utf-8") as fh:
                for line in fh:
                    try:
                        entry = json.loads(line)
                        recorded[str(entry["part"])] = entry
                    except (ValueError, KeyError, TypeError):
                        continue  # a line torn by a kill: its part is adopted below if it exists
        on_disk = {p.name: p for p in self.parts.iterdir() if _PART.match(p.name)}
        entries: list[dict[str, Any]] = []
        for name in sorted(on_disk):
            entry = recorded.get(name)
            if entry is None or entry.get("format") != on_disk[name].suffix[1:]:
                rows = _part_rows(on_disk[name])  # renamed (committed) but not recorded: adopt it
                entry = self._entry(on_disk[name], rows)
            entries.append(entry)
        # rewrite the record so that it lists exactly the parts present (atomically)
        _atomic_write_text(self.log, "".join(json.dumps(e, sort_keys=True) + "\n" for e in entries))
        self.done = {}
        for entry in entries:
            for r in _expand(entry["rows"]):
                if r in self.done:
                    raise InvalidArgument(
                        f"row {r} is in two parts ({self.done[r]}, {entry['part']}): output corrupted"
                    )
                self.done[r] = entry["part"]
        numbers = [int(m.group(1)) for n in (set(on_disk) | set(recorded)) if (m := _PART.match(n))]
        self._next = max(numbers, default=-1) + 1

    def _entry(self, path: Path, rows: list[int]) -> dict[str, Any]:
        return {
            "part": path.name,
            "format": path.suffix[1:],
            "n": len(rows),
            "rows": _compress(rows),
            "bytes": path.stat().st_size,
            "sha256": _sha256(path),
        }

    # ------------------------------------------------------------------ writing

    def write_part(self, records: list[dict[str, Any]]) -> str:
        """Write one part atomically and record it; returns its name."""
        if not records:
            raise ValueError("empty part")
        rows = [int(r["row"]) for r in records]
        clash = [r for r in rows if r in self.done]
        if clash or len(set(rows)) != len(rows):
            raise RuntimeError(f"rows {clash[:5] or rows[:5]} would be written twice")  # a bug, never data
        name = f"part-{self._next:06d}.{self.fmt}"
        self._next += 1
        final = self.parts / name
        tmp = self.parts / f".{name}.tmp"
        if self.fmt == "parquet":
            import pyarrow as pa

            schema = _schema()
            pq = pyarrow_parquet()
            cols = {f.name: [_cell(f.name, r.get(f.name)) for r in records] for f in schema}
            table = pa.Table.from_pydict(cols, schema=schema)
            with tmp.open("wb") as fh:
                pq.write_table(table, fh, compression="zstd")
                fh.flush()
                os.fsync(fh.fileno())
        else:
            with tmp.open("w", encoding="utf-8") as fh:
                for r in records:
                    fh.write(json.dumps(r, ensure_ascii=False, sort_keys=False) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, final)  # the commit
        for row in rows:  # at once: an interruption from here on must not write them again
            self.done[row] = name
        _fsync_dir(self.parts)
        entry = self._entry(final, rows)
        with self.log.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry, sort_keys=True) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        return name

    def write_summary(self, summary: dict[str, Any]) -> None:
        _atomic_write_text(self.summary_file, json.dumps(summary, indent=2, sort_keys=True) + "\n")

    # ------------------------------------------------------------------ reading

    def part_files(self) -> list[Path]:
        return sorted(p for p in self.parts.iterdir() if _PART.match(p.name))

    def counts(self) -> dict[str, Any]:
        """Counts over every finished row: per verdict, per error code, rows and duplicates."""
        verdicts: Counter[str] = Counter()
        errors: Counter[str] = Counter()
        seen: Counter[int] = Counter()
        cpu = 0.0
        for rec in iter_records(self.path, columns=["row", "verdict", "error_code", "cpu_ms"]):
            seen[int(rec["row"])] += 1
            verdicts[rec["verdict"] or "none"] += 1
            if rec["error_code"]:
                errors[rec["error_code"]] += 1
            cpu += float(rec["cpu_ms"] or 0.0)
        return {
            "rows": sum(seen.values()),
            "distinct_rows": len(seen),
            "duplicated_rows": sum(n - 1 for n in seen.values() if n > 1),
            "verdicts": dict(sorted(verdicts.items())),
            "errors": dict(sorted(errors.items())),
            "cpu_ms_total": round(cpu, 1),
        }


def _cell(name: str, value: Any) -> Any:
    if name == "timings_ms":
        return list((value or {}).items())
    return value


def _compress(rows: Iterable[int]) -> list[list[int]]:
    """Sorted rows as inclusive ranges: [[0, 9], [12, 12]]."""
    out: list[list[int]] = []
    for r in sorted(rows):
        if out and r == out[-1][1] + 1:
            out[-1][1] = r
        else:
            out.append([r, r])
    return out


def _expand(ranges: list[list[int]]) -> Iterable[int]:
    for a, b in ranges:
        yield from range(int(a), int(b) + 1)


def iter_records(output: str | Path, columns: list[str] | None = None) -> Iterable[dict[str, Any]]:
    """Every finished record of a job's output directory (any format), part by part."""
    parts = Path(output) / "parts"
    if not parts.is_dir():
        return
    for path in sorted(p for p in parts.iterdir() if _PART.match(p.name)):
        if path.suffix == ".parquet":
            for rec in pyarrow_parquet().read_table(path, columns=columns).to_pylist():
                if "timings_ms" in rec and isinstance(rec["timings_ms"], list):
                    rec["timings_ms"] = dict(rec["timings_ms"])
                yield rec
        else:
            with path.open(encoding="utf-8") as fh:
                for line in fh:
                    if line.strip():
                        rec = json.loads(line)
                        yield rec if columns is None else {c: rec.get(c) for c in columns}


def read_results(output: str | Path) -> list[dict[str, Any]]:
    """Every finished record of a job, sorted by ``row`` (small jobs, tests; for large
    ones read ``OUT/parts`` with ``pyarrow.dataset``)."""
    return sorted(iter_records(output), key=lambda r: int(r["row"]))
