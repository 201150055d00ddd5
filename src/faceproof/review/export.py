"""``faceproof review export``: the labelled face pairs of decided cases as a pair list
that ``faceproof evaluate`` and ``faceproof calibrate`` read (``path1,path2,same``,
paths relative to the output folder), with the face crops beside it.

Each pair is the selfie's face and the compared face of one profile photo the reviewer
labelled "same person" or "different person", each cropped square around its face box
(twice its size, the face in the middle: ``evaluate``'s default ``center`` face policy
finds it). Writing the crops is the one feature that keeps face images past the review
window, in a folder the operator chose; the crops leave the database as they are
written. Only decisions taken while the service kept pairs (``FACEPROOF_REVIEW_EXPORT``)
have crops to export.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import InvalidArgument
from .store import ReviewStore

__all__ = ["ExportReport", "export_pairs"]


@dataclass(frozen=True)
class ExportReport:
    pairs: int
    same: int
    different: int
    csv_path: Path

    def to_dict(self) -> dict[str, object]:
        return {"pairs": self.pairs, "same": self.same, "different": self.different, "csv": str(self.csv_path)}


def export_pairs(cases: ReviewStore, out_dir: str | Path, *, now: float | None = None) -> ExportReport:
    """Write ``out_dir/pairs.csv`` and ``out_dir/faces/*.jpg``; appends to an existing
    ``pairs.csv`` (exports accumulate), then deletes the exported crops from the store."""
    out = Path(out_dir)
    try:
        (out / "faces").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidArgument(f"cannot create the export folder {out}: {exc.strerror}") from exc
    csv_path = out / "pairs.csv"
    pairs = cases.pairs(now=now)
    new_file = not csv_path.exists() or csv_path.stat().st_size == 0
    written: list[int] = []
    with csv_path.open("a", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        if new_file:
            writer.writerow(["path1", "path2", "same", "case_id", "photo_index"])
        for pair in pairs:
            selfie = f"faces/{pair.case_id}_selfie.jpg"
            photo = f"faces/{pair.case_id}_photo{pair.photo_index}.jpg"
            _write(out / selfie, pair.selfie_crop)
            _write(out / photo, pair.photo_crop)
            writer.writerow([selfie, photo, 1 if pair.same else 0, pair.case_id, pair.photo_index])
            written.append(pair.id)
        fh.flush()
        os.fsync(fh.fileno())
    cases.drop_pairs(written)
    same = sum(p.same for p in pairs)
    return ExportReport(len(pairs), same, len(pairs) - same, csv_path)


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
