"""Measure gender and age estimates against labels, overall and per group.

The engine of ``faceproof evaluate-gender``. A labels CSV has a ``path`` column (relative
to a root folder) and any of ``gender`` (male/female, man/woman, m/f), ``age`` (years) and
other label columns (``race``, ...). Every other column with at most
:data:`MAX_GROUP_LEVELS` distinct values becomes a grouping, ``age`` gives an age band,
and ``gender`` is crossed with each other grouping (e.g. "Asian / Woman").

Each image is run through a :class:`~faceproof.FaceProof`'s detector and attribute
model; the subject is the face nearest the image centre (the convention of LFW and
UTKFace, whose images are centred on one person). Per group it reports:

* gender: accuracy over the faces given a gender, recall per class, the confusion matrix
  (true class x predicted Woman / Man / Unknown (abstained) / no face / unreadable),
  counts of images without a face, unreadable images and abstentions, and coverage;
* age: mean absolute error, mean signed error (bias), median absolute error and how
  often the true age lies inside the reported age range;
* overall, the gender probabilities' reliability: expected calibration error, Brier
  score, log-loss and the reliability table.

The metric functions take plain sequences, so they are tested on synthetic predictions
against hand-computed values.

Why this module is long (~690 lines): it does one job, the attribute evaluation, whose
four parts (labels, metric functions, per-image outcomes, the per-group report) share the
label and outcome types and are only ever used together by ``evaluate-gender``; split it
the day a second caller needs one part alone.
"""

from __future__ import annotations

import csv
import itertools
import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..errors import FaceProofError, InvalidArgument

if TYPE_CHECKING:
    from ..client import FaceProof

__all__ = [
    "AGE_BAND_EDGES",
    "GENDERS",
    "MAX_GROUP_LEVELS",
    "PREDICTED_COLUMNS",
    "AgeMetrics",
    "CalibrationMetrics",
    "EvaluationReport",
    "GenderMetrics",
    "GroupMetrics",
    "LabelRow",
    "Outcome",
    "age_band",
    "age_metrics",
    "calibration_metrics",
    "evaluate_rows",
    "gender_metrics",
    "parse_gender",
    "read_labels",
    "run_evaluation",
    "summarize",
]

logger = logging.getLogger(__name__)

GENDERS = ("Woman", "Man")
UNKNOWN = "Unknown"
NO_FACE = "no face"
UNREADABLE = "unreadable"
#: Columns of the confusion matrix: what an image's subject was predicted to be.
PREDICTED_COLUMNS = (*GENDERS, UNKNOWN, NO_FACE, UNREADABLE)
#: Lower edges of the age bands after the first: <18, 18-29, 30-39, ..., 70+.
AGE_BAND_EDGES: tuple[int, ...] = (18, 30, 40, 50, 60, 70)
#: A label column with more distinct values than this is not used as a grouping.
MAX_GROUP_LEVELS = 30

_GENDER_WORDS = {
    "male": "Man",
    "man": "Man",
    "m": "Man",
    "female": "Woman",
    "woman": "Woman",
    "f": "Woman",
    "w": "Woman",
}
_MISSING = {"", "na", "n/a", "none", "unknown", "?"}


def parse_gender(value: str) -> str | None:
    """``"Woman"``, ``"Man"`` or None (missing) for a label such as ``male``/``F``/``Woman``."""
    v = value.strip().lower()
    if v in _MISSING:
        return None
    try:
        return _GENDER_WORDS[v]
    except KeyError:
        raise InvalidArgument(f"unknown gender label {value!r}; use male/female (or man/woman, m/f)") from None


def age_band(age: float, edges: Sequence[int] = AGE_BAND_EDGES) -> str:
    """The band of ``age``: ``"<18"``, ``"18-29"``, ..., ``"70+"`` for the default edges."""
    if age < edges[0]:
        return f"<{edges[0]}"
    for lo, hi in itertools.pairwise(edges):
        if lo <= age < hi:
            return f"{lo}-{hi - 1}"
    return f"{edges[-1]}+"


def _band_order(edges: Sequence[int] = AGE_BAND_EDGES) -> list[str]:
    return [age_band(edges[0] - 1, edges)] + [age_band(e, edges) for e in edges]


# ---------------------------------------------------------------------------- labels


@dataclass(frozen=True)
class LabelRow:
    """One labelled image: its path (relative to the root), true gender and age (if
    labelled) and its group labels (column -> value, ``age band`` included)."""

    path: str
    gender: str | None = None
    age: float | None = None
    groups: Mapping[str, str] = field(default_factory=dict)


def read_labels(
    csv_path: str | Path, *, group_columns: Sequence[str] | None = None, max_levels: int = MAX_GROUP_LEVELS
) -> tuple[list[LabelRow], list[str]]:
    """The rows of a labels CSV and the grouping columns found.

    Groupings: ``gender``, ``age band`` (from ``age``) and every other column except
    ``path`` with at most ``max_levels`` distinct values, or exactly ``group_columns``
    when given. Raises :class:`~faceproof.errors.InvalidArgument` for a missing file, a
    missing ``path`` column, no ``gender``/``age`` column or a bad value (with its line).
    """
    path = Path(csv_path)
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            fieldnames = [f.strip() for f in (reader.fieldnames or [])]
            raw = [{(k or "").strip(): (v or "").strip() for k, v in r.items()} for r in reader]
    except OSError as exc:
        raise InvalidArgument(f"cannot read labels file {path}: {exc.strerror or exc}") from exc
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InvalidArgument(f"labels file {path} is not a UTF-8 CSV: {exc}") from exc
    if "path" not in fieldnames:
        raise InvalidArgument(f"labels file {path} needs a 'path' column; it has {fieldnames}")
    if "gender" not in fieldnames and "age" not in fieldnames:
        raise InvalidArgument(f"labels file {path} needs a 'gender' or an 'age' column; it has {fieldnames}")
    others = [c for c in fieldnames if c not in {"path", "gender", "age"}]
    if group_columns is None:
        chosen = [c for c in others if len({r[c] for r in raw if r[c]}) <= max_levels]
    else:
        missing = [c for c in group_columns if c not in others]
        if missing:
            raise InvalidArgument(f"grouping column(s) {missing} are not in {path} (columns: {fieldnames})")
        chosen = list(group_columns)
    rows = []
    for line, r in enumerate(raw, start=2):
        if not r["path"]:
            raise InvalidArgument(f"{path}:{line}: empty path")
        try:
            gender = parse_gender(r.get("gender", ""))
        except InvalidArgument as exc:
            raise InvalidArgument(f"{path}:{line}: {exc.message}") from None
        age = None
        if r.get("age", "").lower() not in _MISSING:
            try:
                age = float(r["age"])
            except ValueError:
                raise InvalidArgument(f"{path}:{line}: age {r['age']!r} is not a number") from None
            if not (math.isfinite(age) and 0.0 <= age <= 150.0):
                raise InvalidArgument(f"{path}:{line}: age {r['age']!r} is out of range")
        groups = {c: r[c] for c in chosen if r[c]}
        if gender is not None:
            groups["gender"] = gender
        if age is not None:
            groups["age band"] = age_band(age)
        rows.append(LabelRow(r["path"], gender, age, groups))
    columns = list(chosen)
    if "gender" in fieldnames:
        columns.append("gender")
    if "age" in fieldnames:
        columns.append("age band")
    return rows, columns


# ---------------------------------------------------------------------------- metrics


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


@dataclass(frozen=True)
class GenderMetrics:
    """Gender results of one group. ``confusion[true][predicted]`` counts images, with
    predicted in :data:`PREDICTED_COLUMNS`."""

    confusion: Mapping[str, Mapping[str, int]]

    def _count(self, true: Iterable[str] = GENDERS, pred: Iterable[str] = PREDICTED_COLUMNS) -> int:
        preds = list(pred)
        return sum(self.confusion[t][p] for t in true for p in preds)

    @property
    def n(self) -> int:
        """Images with a gender label."""
        return self._count()

    @property
    def no_face(self) -> int:
        return self._count(pred=[NO_FACE])

    @property
    def unreadable(self) -> int:
        return self._count(pred=[UNREADABLE])

    @property
    def abstained(self) -> int:
        return self._count(pred=[UNKNOWN])

    @property
    def answered(self) -> int:
        """Faces given a gender (not abstained)."""
        return self._count(pred=GENDERS)

    @property
    def correct(self) -> int:
        return sum(self.confusion[g][g] for g in GENDERS)

    @property
    def accuracy(self) -> float | None:
        """Correct / faces given a gender."""
        return _ratio(self.correct, self.answered)

    @property
    def coverage(self) -> float | None:
        """Faces given a gender / faces found."""
        return _ratio(self.answered, self.answered + self.abstained)

    @property
    def accuracy_all(self) -> float | None:
        """Correct / all labelled images (no face, unreadable and abstained count as wrong)."""
        return _ratio(self.correct, self.n)

    @property
    def recall(self) -> dict[str, float | None]:
        """Per true class: correct / faces of that class given a gender."""
        return {g: _ratio(self.confusion[g][g], self._count(true=[g], pred=GENDERS)) for g in GENDERS}

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "no_face": self.no_face,
            "unreadable": self.unreadable,
            "abstained": self.abstained,
            "answered": self.answered,
            "correct": self.correct,
            "accuracy": self.accuracy,
            "coverage": self.coverage,
            "accuracy_all": self.accuracy_all,
            "recall": self.recall,
            "confusion": {t: dict(row) for t, row in self.confusion.items()},
        }


def gender_metrics(true: Sequence[str | None], predicted: Sequence[str]) -> GenderMetrics:
    """Confusion of true genders (``Woman``/``Man``; None = unlabelled, skipped) against
    predictions (one of :data:`PREDICTED_COLUMNS` each)."""
    if len(true) != len(predicted):
        raise InvalidArgument(f"{len(true)} true labels but {len(predicted)} predictions")
    confusion = {t: dict.fromkeys(PREDICTED_COLUMNS, 0) for t in GENDERS}
    for t, p in zip(true, predicted, strict=True):
        if t is None:
            continue
        if t not in GENDERS or p not in PREDICTED_COLUMNS:
            raise InvalidArgument(f"unexpected gender label/prediction {t!r}/{p!r}")
        confusion[t][p] += 1
    return GenderMetrics(confusion)


@dataclass(frozen=True)
class AgeMetrics:
    """Age results of one group (faces with an age label and an age estimate)."""

    n: int
    mae: float | None
    bias: float | None  # mean of estimate - truth
    median_ae: float | None
    in_range: float | None  # share of true ages inside the reported range
    mean_range_width: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "mae": self.mae,
            "bias": self.bias,
            "median_ae": self.median_ae,
            "in_range": self.in_range,
            "mean_range_width": self.mean_range_width,
        }


def age_metrics(
    true: Sequence[float], estimated: Sequence[float], ranges: Sequence[tuple[float, float]] | None = None
) -> AgeMetrics:
    """MAE, bias, median absolute error and range coverage of age estimates."""
    import numpy as np

    if len(true) != len(estimated) or (ranges is not None and len(ranges) != len(true)):
        raise InvalidArgument("true ages, estimates and ranges must have the same length")
    if not true:
        return AgeMetrics(0, None, None, None, None, None)
    t = np.asarray(true, dtype=np.float64)
    e = np.asarray(estimated, dtype=np.float64)
    err = e - t
    in_range = width = None
    if ranges is not None:
        r = np.asarray(ranges, dtype=np.float64).reshape(-1, 2)
        in_range = float(((r[:, 0] <= t) & (t <= r[:, 1])).mean())
        width = float((r[:, 1] - r[:, 0]).mean())
    return AgeMetrics(
        n=len(t),
        mae=float(np.abs(err).mean()),
        bias=float(err.mean()),
        median_ae=float(np.median(np.abs(err))),
        in_range=in_range,
        mean_range_width=width,
    )


@dataclass(frozen=True)
class CalibrationMetrics:
    """Reliability of P(Woman) on faces with a gender label.

    ``ece``: expected calibration error over ``bins`` equal-width bins of the confidence
    (the probability of the predicted class, 0.5..1): sum over bins of
    share-of-faces x |accuracy - mean confidence|. ``brier``: mean squared error of
    P(Woman) against 1/0. ``log_loss``: mean negative log-likelihood (probabilities
    clipped to [1e-6, 1 - 1e-6]). ``table``: per non-empty bin (low, high, count, mean
    confidence, accuracy).
    """

    n: int
    ece: float | None
    brier: float | None
    log_loss: float | None
    table: tuple[tuple[float, float, int, float, float], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "ece": self.ece,
            "brier": self.brier,
            "log_loss": self.log_loss,
            "table": [
                {"low": lo, "high": hi, "count": c, "confidence": conf, "accuracy": acc}
                for lo, hi, c, conf, acc in self.table
            ],
        }


def calibration_metrics(is_woman: Sequence[bool], p_woman: Sequence[float], bins: int = 10) -> CalibrationMetrics:
    import numpy as np

    if len(is_woman) != len(p_woman):
        raise InvalidArgument("labels and probabilities must have the same length")
    if bins < 1:
        raise InvalidArgument("bins must be >= 1")
    if not is_woman:
        return CalibrationMetrics(0, None, None, None)
    y = np.asarray(is_woman, dtype=np.float64)
    p = np.asarray(p_woman, dtype=np.float64)
    if np.any((p < 0) | (p > 1)) or not np.all(np.isfinite(p)):
        raise InvalidArgument("probabilities must be within [0, 1]")
    predicted_woman = p > 0.5
    conf = np.where(predicted_woman, p, 1.0 - p)
    correct = predicted_woman == (y == 1.0)
    edges = np.linspace(0.5, 1.0, bins + 1)
    idx = np.clip(np.searchsorted(edges, conf, side="right") - 1, 0, bins - 1)
    ece = 0.0
    table = []
    for b in range(bins):
        sel = idx == b
        count = int(sel.sum())
        if not count:
            continue
        mean_conf, acc = float(conf[sel].mean()), float(correct[sel].mean())
        ece += count / len(y) * abs(acc - mean_conf)
        table.append((float(edges[b]), float(edges[b + 1]), count, mean_conf, acc))
    pc = np.clip(p, 1e-6, 1 - 1e-6)
    log_loss = float(-(y * np.log(pc) + (1 - y) * np.log(1 - pc)).mean())
    return CalibrationMetrics(len(y), float(ece), float(((p - y) ** 2).mean()), log_loss, tuple(table))


# ---------------------------------------------------------------------------- outcomes


Status = Literal["ok", "no_face", "unreadable"]


@dataclass(frozen=True)
class Outcome:
    """What the model said about one labelled image's subject."""

    row: LabelRow
    status: Status
    faces: int = 0
    gender: str | None = None  # "Woman", "Man" or "Unknown" (abstained)
    p_woman: float | None = None
    age: float | None = None
    age_range: tuple[float, float] | None = None

    @property
    def predicted(self) -> str:
        """The confusion-matrix column of this outcome."""
        if self.status == "no_face":
            return NO_FACE
        if self.status == "unreadable":
            return UNREADABLE
        return self.gender or UNKNOWN


def evaluate_rows(
    fp: FaceProof,
    rows: Sequence[LabelRow],
    root: str | Path,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> list[Outcome]:
    """Run ``fp``'s detector and attribute model on every labelled image (subject = the
    face nearest the centre). Unreadable images and images without a face are outcomes,
    not errors."""
    from ..runtime.attributes import annotate_faces

    if fp.attribute_model is None:
        raise InvalidArgument("attributes are disabled for this FaceProof (attributes=())")
    root = Path(root)
    out: list[Outcome] = []
    for i, row in enumerate(rows):
        try:
            image = fp.load_image(root / row.path)
        except FaceProofError as exc:
            logger.info("%s: %s", row.path, exc.code)
            out.append(Outcome(row, "unreadable"))
            continue
        faces = fp.detect(image)
        if not faces:
            out.append(Outcome(row, "no_face"))
        else:
            h, w = image.shape[:2]
            subject = min(faces, key=lambda f: (f.bbox.center[0] - w / 2) ** 2 + (f.bbox.center[1] - h / 2) ** 2)
            (face,) = annotate_faces(fp.attribute_model, image, [subject])
            a = face.attributes
            assert a is not None
            out.append(
                Outcome(
                    row,
                    "ok",
                    faces=len(faces),
                    gender=a.dominant_gender,
                    p_woman=None if a.gender is None else a.gender["Woman"],
                    age=a.age,
                    age_range=a.age_range,
                )
            )
        if progress is not None:
            progress(i + 1, len(rows))
    return out


# ---------------------------------------------------------------------------- report


@dataclass(frozen=True)
class GroupMetrics:
    column: str  # "all", a label column, or "race x gender"
    value: str
    gender: GenderMetrics | None
    age: AgeMetrics | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "value": self.value,
            "gender": None if self.gender is None else self.gender.to_dict(),
            "age": None if self.age is None else self.age.to_dict(),
        }


def _group_metrics(column: str, value: str, outcomes: Sequence[Outcome]) -> GroupMetrics:
    gm = None
    labelled = [o for o in outcomes if o.row.gender is not None]
    if labelled:
        gm = gender_metrics([o.row.gender for o in labelled], [o.predicted for o in labelled])
    am = None
    aged = [o for o in outcomes if o.row.age is not None and o.age is not None]
    if any(o.row.age is not None for o in outcomes):
        ranges = [o.age_range for o in aged]
        am = age_metrics(
            [float(o.row.age) for o in aged if o.row.age is not None],
            [float(o.age) for o in aged if o.age is not None],
            None if any(r is None for r in ranges) else [r for r in ranges if r is not None],
        )
    return GroupMetrics(column, value, gm, am)


@dataclass(frozen=True)
class EvaluationReport:
    labels: str
    root: str
    config: Mapping[str, Any]
    overall: GroupMetrics
    groups: tuple[GroupMetrics, ...]
    calibration: CalibrationMetrics | None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "labels": self.labels,
            "root": self.root,
            "config": dict(self.config),
            "overall": self.overall.to_dict(),
            "groups": [g.to_dict() for g in self.groups],
            "calibration": None if self.calibration is None else self.calibration.to_dict(),
            "seconds": round(self.seconds, 1),
        }

    def to_markdown(self) -> str:
        """The per-group tables as Markdown (what the docs quote)."""
        rows = [self.overall, *self.groups]
        lines: list[str] = []
        if self.overall.gender is not None:
            lines += [
                "| group | images | no face | abstained | accuracy | Woman recall | Man recall "
                "| Woman→Man | Man→Woman |",
                "|---|---|---|---|---|---|---|---|---|",
            ]
            for g in rows:
                m = g.gender
                if m is None:
                    continue
                no_face = m.no_face + m.unreadable
                lines.append(
                    f"| {_label(g)} | {m.n} | {no_face} | {m.abstained} | {_pct(m.accuracy)} "
                    f"| {_pct(m.recall['Woman'])} | {_pct(m.recall['Man'])} "
                    f"| {m.confusion['Woman']['Man']} | {m.confusion['Man']['Woman']} |"
                )
        if self.overall.age is not None and self.overall.age.n:
            if lines:
                lines.append("")
            lines += [
                "| group | faces with age | MAE (years) | bias | median abs. error | true age in range | range width |",
                "|---|---|---|---|---|---|---|",
            ]
            for g in rows:
                a = g.age
                if a is None or not a.n:
                    continue
                lines.append(
                    f"| {_label(g)} | {a.n} | {_num(a.mae)} | {_num(a.bias, sign=True)} | {_num(a.median_ae)} "
                    f"| {_pct(a.in_range)} | {_num(a.mean_range_width)} |"
                )
        if self.calibration is not None and self.calibration.n:
            c = self.calibration
            lines += [
                "",
                f"Gender probabilities: ECE {_num(c.ece, 4)}, Brier {_num(c.brier, 4)}, "
                f"log-loss {_num(c.log_loss, 4)} (n = {c.n}).",
                "",
                "| confidence | faces | mean confidence | accuracy |",
                "|---|---|---|---|",
            ]
            for lo, hi, count, conf, acc in c.table:
                lines.append(f"| {lo:.2f}–{hi:.2f} | {count} | {conf:.3f} | {acc:.3f} |")
        return "\n".join(lines) + "\n"


def _label(g: GroupMetrics) -> str:
    return "all" if g.column == "all" else f"{g.column}: {g.value}"


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100.0 * v:.1f} %"


def _num(v: float | None, digits: int = 2, sign: bool = False) -> str:
    if v is None:
        return "–"
    return f"{v:+.{digits}f}" if sign else f"{v:.{digits}f}"


def summarize(
    outcomes: Sequence[Outcome],
    columns: Sequence[str],
    *,
    labels: str = "",
    root: str = "",
    config: Mapping[str, Any] | None = None,
    seconds: float = 0.0,
) -> EvaluationReport:
    """Metrics overall, per value of each grouping column and per gender x each other
    grouping column, plus the calibration of P(Woman)."""
    overall = _group_metrics("all", "all", outcomes)
    groups: list[GroupMetrics] = []
    bands = _band_order()

    def ordered(column: str, values: Iterable[str]) -> list[str]:
        vals = set(values)
        if column == "age band":
            return [b for b in bands if b in vals]
        if column == "gender":
            return [g for g in GENDERS if g in vals]
        return sorted(vals)

    for column in columns:
        values = ordered(column, (o.row.groups[column] for o in outcomes if column in o.row.groups))
        for value in values:
            members = [o for o in outcomes if o.row.groups.get(column) == value]
            groups.append(_group_metrics(column, value, members))
    if "gender" in columns:
        for column in columns:
            if column == "gender":
                continue
            values = ordered(column, (o.row.groups[column] for o in outcomes if column in o.row.groups))
            for value in values:
                for g in GENDERS:
                    members = [o for o in outcomes if o.row.groups.get(column) == value and o.row.gender == g]
                    if members:
                        groups.append(_group_metrics(f"{column} x gender", f"{value} / {g}", members))
    scored = [o for o in outcomes if o.row.gender is not None and o.p_woman is not None]
    calibration = None
    if scored:
        calibration = calibration_metrics(
            [o.row.gender == "Woman" for o in scored], [float(o.p_woman) for o in scored if o.p_woman is not None]
        )
    return EvaluationReport(
        labels=labels,
        root=root,
        config=dict(config or {}),
        overall=overall,
        groups=tuple(groups),
        calibration=calibration,
        seconds=seconds,
    )


def run_evaluation(
    fp: FaceProof,
    labels_csv: str | Path,
    root: str | Path | None = None,
    *,
    limit: int | None = None,
    group_columns: Sequence[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[EvaluationReport, list[Outcome]]:
    """Read the labels, run the model, summarise: what ``faceproof evaluate-gender`` does."""
    labels_csv = Path(labels_csv)
    root_dir = Path(root) if root is not None else labels_csv.parent
    if not root_dir.is_dir():
        raise InvalidArgument(f"image root {root_dir} is not a directory")
    rows, columns = read_labels(labels_csv, group_columns=group_columns)
    if limit is not None:
        if limit < 1:
            raise InvalidArgument(f"limit must be >= 1, got {limit}")
        rows = rows[:limit]
    start = time.perf_counter()
    outcomes = evaluate_rows(fp, rows, root_dir, progress=progress)
    model = fp.attribute_model
    config = {
        "detector": fp.detector.name,
        "attribute_model": repr(model),
        "subject": "face nearest the image centre",
        "images": len(rows),
    }
    report = summarize(
        outcomes,
        columns,
        labels=str(labels_csv),
        root=str(root_dir),
        config=config,
        seconds=time.perf_counter() - start,
    )
    return report, outcomes
