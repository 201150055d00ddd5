"""Pair lists: a CSV ``path1,path2,same`` (optional ``fold`` column) or LFW's own
``pairs.txt`` (View 1: first line ``N``; View 2: ``folds N``), and per-image group labels."""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InvalidArgument

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pair:
    """Two image paths (relative to the pair list's root) and whether they show one person."""

    path1: str
    path2: str
    same: bool
    fold: int | None = None


@dataclass(frozen=True)
class PairSet:
    pairs: tuple[Pair, ...]
    name: str
    format: str  # "csv", "lfw-view1" or "lfw-view2"

    def __len__(self) -> int:
        return len(self.pairs)

    @property
    def has_folds(self) -> bool:
        return bool(self.pairs) and all(p.fold is not None for p in self.pairs)

    @property
    def labels(self) -> np.ndarray:
        return np.array([p.same for p in self.pairs], dtype=bool)

    def paths(self) -> list[str]:
        """Every distinct image path, sorted."""
        return sorted({p for pair in self.pairs for p in (pair.path1, pair.path2)})

    def head(self, n: int) -> PairSet:
        """The first ``n // 2`` same and first ``n - n // 2`` different pairs (a balanced slice)."""
        same = [p for p in self.pairs if p.same][: n // 2]
        diff = [p for p in self.pairs if not p.same][: n - len(same)]
        return PairSet(tuple(same + diff), f"{self.name}[:{n}]", self.format)


def _lfw_path(name: str, index: str) -> str:
    return f"{name}/{name}_{int(index):04d}.jpg"


def parse_lfw_pairs(text: str) -> tuple[list[Pair], str]:
    """Pairs from LFW's ``pairs.txt`` text: View 1 (``N`` header) or View 2 (``folds N``).

    Paths are ``name/name_000i.jpg`` relative to the folder that holds one sub-folder per
    person. View 2 pairs carry their fold (0-based).
    """
    lines = [ln.split() for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise InvalidArgument("the pairs file is empty")
    header = lines[0]
    try:
        if len(header) == 1:
            folds, per_class = 1, int(header[0])
        elif len(header) == 2:
            folds, per_class = int(header[0]), int(header[1])
        else:
            raise ValueError
    except ValueError:
        raise InvalidArgument(f"not an LFW pairs.txt header: {' '.join(header)!r}") from None
    body = lines[1:]
    if len(body) != folds * 2 * per_class:
        raise InvalidArgument(
            f"LFW pairs header promises {folds} fold(s) x 2 x {per_class} pairs, the file has {len(body)} lines"
        )
    pairs: list[Pair] = []
    for k, fields in enumerate(body):
        fold = k // (2 * per_class)
        same = (k % (2 * per_class)) < per_class
        try:
            if same and len(fields) == 3:
                pair = Pair(_lfw_path(fields[0], fields[1]), _lfw_path(fields[0], fields[2]), True)
            elif not same and len(fields) == 4:
                pair = Pair(_lfw_path(fields[0], fields[1]), _lfw_path(fields[2], fields[3]), False)
            else:
                raise ValueError
        except ValueError:
            kind = "same (name i j)" if same else "different (name1 i name2 j)"
            raise InvalidArgument(f"line {k + 2} of the pairs file is not a {kind} pair: {fields}") from None
        pairs.append(Pair(pair.path1, pair.path2, pair.same, fold if folds > 1 else None))
    return pairs, "lfw-view2" if folds > 1 else "lfw-view1"


def _parse_csv(text: str) -> list[Pair]:
    reader = csv.DictReader(text.splitlines())
    need = {"path1", "path2", "same"}
    if reader.fieldnames is None or not need <= set(reader.fieldnames):
        raise InvalidArgument(f"a pairs CSV needs the columns path1,path2,same; found {reader.fieldnames}")
    pairs = []
    for n, row in enumerate(reader, start=2):
        same = str(row["same"]).strip().lower()
        if same not in {"0", "1", "true", "false"}:
            raise InvalidArgument(f"line {n}: 'same' must be 1/0 or true/false, got {row['same']!r}")
        fold = row.get("fold")
        try:
            fold_value = int(fold) if fold not in (None, "") else None
        except ValueError:
            raise InvalidArgument(f"line {n}: 'fold' must be an integer, got {fold!r}") from None
        if not row["path1"] or not row["path2"]:
            raise InvalidArgument(f"line {n}: empty path")
        pairs.append(Pair(row["path1"].strip(), row["path2"].strip(), same in {"1", "true"}, fold_value))
    return pairs


def load_pairs(path: str | Path) -> PairSet:
    """Read a pair list (CSV or LFW pairs.txt, recognised by its content)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidArgument(f"cannot read the pairs file {path}: {exc}") from exc
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    if "," in first:
        pairs, fmt = _parse_csv(text), "csv"
    else:
        pairs, fmt = parse_lfw_pairs(text)
    if not pairs:
        raise InvalidArgument(f"the pairs file {path} holds no pairs")
    return PairSet(tuple(pairs), path.name, fmt)


def load_groups(path: str | Path) -> dict[str, str]:
    """A CSV ``path,<label>`` (the first two columns; a header row is expected)."""
    try:
        rows = list(csv.reader(Path(path).read_text(encoding="utf-8").splitlines()))
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidArgument(f"cannot read the groups file {path}: {exc}") from exc
    if len(rows) < 2 or any(len(r) < 2 for r in rows[1:] if r):
        raise InvalidArgument(f"the groups file {path} needs a header and rows 'path,label'")
    return {r[0].strip(): r[1].strip() for r in rows[1:] if r}
