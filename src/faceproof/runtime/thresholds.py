"""Calibration files: thresholds fitted by ``faceproof calibrate`` (or by hand) that replace
entries of the built-in table, refused when they were calibrated on other weights than the
installed ones. Read by the runtime (:class:`~faceproof.runtime.pipeline.Pipeline`), written by
:mod:`faceproof.evaluation.calibrate`.

Also the pose-aware thresholds (:class:`PoseThresholds`, ``data/pose_thresholds.json``): a
side view of a person scores farther from a frontal photo of the same person than two
frontal photos do, so a pair's threshold depends on how differently the two heads are
turned (``|turn_a - turn_b|``, each face's :func:`~faceproof.runtime.pose.turn_angle`
from its landmarks). The first bin (nearly the same pose) keeps
the table's threshold; the others were calibrated by ``bench/pose_calibrate.py`` on CFP
(frontal-vs-profile and frontal-vs-frontal, folds 1-2) and LFW View 1 dev-train under a
false-accept ceiling per bin.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidArgument
from ..types import Face, FloatArray
from .compare import Metric, Threshold, ThresholdTable
from .pose import turn_angle

__all__ = [
    "PairThresholds",
    "PoseThresholds",
    "check_calibration",
    "face_turns",
    "load_calibration",
    "weights_sha256",
]

#: the pose bin of a pair whose turn is unknown (a face without landmarks): the table's threshold
NO_POSE_BIN = -1


def weights_sha256(model: str) -> dict[str, str]:
    """The SHA-256 of every weight file a recognition model uses (from the registry)."""
    from ..runtime import registry
    from ..runtime.models import MODEL_FILES

    return {k: MODEL_FILES[k].sha256 for k in sorted(registry.get_spec("recognizer", model).model_files)}


def check_calibration(doc: Mapping[str, Any], name: str = "calibration") -> None:
    """Refuse entries calibrated on other weights than the installed registry's
    (``weights_sha256`` recorded in an entry must match); entries without it pass."""
    from ..runtime.models import MODEL_FILES

    for model, metrics in doc.get("thresholds", {}).items():
        for metric, entry in metrics.items():
            recorded = entry.get("weights_sha256") if isinstance(entry, Mapping) else None
            if not recorded:
                continue
            for key, sha in recorded.items():
                known = MODEL_FILES.get(key)
                if known is None or known.sha256 != sha:
                    raise InvalidArgument(
                        f"{name}: the {model}/{metric} threshold was calibrated on {key} weights with SHA-256 "
                        f"{sha}, not the installed {known.sha256 if known else 'nothing'}: recalibrate"
                    )


def load_calibration(path: str | Path) -> ThresholdTable:
    """A calibration file as a :class:`ThresholdTable` (checked with :func:`check_calibration`)."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidArgument(f"cannot read calibration file {path}: {exc}") from exc
    if not isinstance(doc, dict):
        raise InvalidArgument(f"calibration file {path} is not a JSON object")
    try:
        check_calibration(doc, name=f"calibration file {path}")
        return ThresholdTable.from_json(doc, name=f"calibration {path.name}")
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        if isinstance(exc, InvalidArgument):
            raise
        raise InvalidArgument(f"calibration file {path} is malformed: {exc}") from exc


#: the pose-aware bins were calibrated on each image's centre face (its subject); a face
#: smaller than this share of its image's largest face (box height) is a background face,
#: outside what the calibration saw, and keeps the table's (frontal) threshold
DOMINANT_FACE_RATIO = 0.5


def dominant_faces(faces: Sequence[Face], ratio: float = DOMINANT_FACE_RATIO) -> np.ndarray:
    """Per face: at least ``ratio`` of the largest face's box height."""
    heights = np.array([f.bbox.height for f in faces], np.float64)
    if heights.size == 0:
        return np.zeros(0, bool)
    return heights >= ratio * heights.max()  # type: ignore[no-any-return]


def face_turns(faces: Sequence[Face]) -> FloatArray:
    """Each face's turn away from frontal in degrees (:func:`~faceproof.runtime.pose.turn_angle`;
    NaN for a face without landmarks)."""
    out = np.full(len(faces), np.nan, np.float32)
    for i, face in enumerate(faces):
        if face.landmarks is not None:
            try:
                out[i] = turn_angle(face.landmarks)
            except InvalidArgument:  # degenerate landmarks: no pose, the table's threshold
                continue
    return out


@dataclass(frozen=True)
class PairThresholds:
    """The threshold of every (origin, target) pair and the pose bin it came from.

    ``bins[i, j]`` is the pose bin (0: nearly the same pose) or ``-1`` when the pair's
    threshold is the uniform one (a caller's threshold, a metric or model without
    pose-aware entries, a face without landmarks). ``base`` is the threshold of bin 0
    (the table's, or the caller's)."""

    values: FloatArray
    bins: np.ndarray
    base: Threshold
    edges: tuple[float, ...] = ()
    source: str = ""
    #: the cascade's margin per pair where its pose bin has its own (NaN: the default margin)
    margins: FloatArray | None = None

    @classmethod
    def uniform(cls, base: Threshold, shape: tuple[int, int]) -> PairThresholds:
        return cls(np.full(shape, base.value, np.float32), np.full(shape, NO_POSE_BIN, np.int8), base)

    @property
    def pose_aware(self) -> bool:
        return bool(self.edges)

    def bin_label(self, b: int) -> str | None:
        """``"[0, 30)"``-style degrees of turn difference of a bin, None for ``-1``."""
        if b < 0 or not self.edges:
            return None
        lo = 0.0 if b == 0 else self.edges[b - 1]
        hi = self.edges[b] if b < len(self.edges) else math.inf
        return f"[{lo:g}, {hi:g})" if math.isfinite(hi) else f">= {lo:g}"

    def describe(self, i: int, j: int) -> dict[str, Any]:
        """Provenance of one pair's threshold (for reports)."""
        b = int(self.bins[i, j])
        return {
            "threshold": round(float(self.values[i, j]), 6),
            "pose_bin": None if b < 0 else b,
            "turn_difference_deg": self.bin_label(b),
            "source": self.source if b > 0 else self.base.source,
        }


@dataclass(frozen=True)
class PoseThresholds:
    """Distance thresholds per bin of ``|turn_a - turn_b|`` (degrees), per table key
    (``sface``, ``sface/noflip``) and metric. ``values[key][metric][0]`` is the table's
    threshold the other bins were calibrated next to: the bins apply only while the table
    in force still has that value (a calibration file that moves it switches them off)."""

    edges: tuple[float, ...]
    values: Mapping[str, Mapping[Metric, tuple[float, ...]]]
    source: str
    name: str = "built-in"
    #: the cascade's margin around the no-flip threshold per bin and metric
    cascade_margins: Mapping[Metric, tuple[float, ...]] = field(default_factory=dict)

    @classmethod
    def builtin(cls) -> PoseThresholds:
        text = resources.files("faceproof").joinpath("data/pose_thresholds.json").read_text(encoding="utf-8")
        return cls.from_json(json.loads(text), name="built-in")

    @classmethod
    def from_json(cls, doc: Mapping[str, Any], name: str) -> PoseThresholds:
        try:
            check_calibration(doc, name=f"pose thresholds {name}")
            edges = tuple(float(e) for e in doc["edges_deg"])
            if not edges or any(b <= a for a, b in itertools.pairwise(edges)) or edges[0] <= 0:
                raise InvalidArgument(f"pose thresholds {name}: edges_deg must be increasing and > 0")
            values: dict[str, dict[Metric, tuple[float, ...]]] = {}
            for key, metrics in doc["thresholds"].items():
                for metric, entry in metrics.items():
                    vals = tuple(float(v) for v in entry["values"])
                    if len(vals) != len(edges) + 1 or not all(math.isfinite(v) and v >= 0 for v in vals):
                        raise InvalidArgument(f"pose thresholds {name}: {key}/{metric} needs {len(edges) + 1} values")
                    values.setdefault(key, {})[Metric.parse(metric)] = vals
            margins: dict[Metric, tuple[float, ...]] = {}
            for metric, vals_ in doc.get("cascade_margins", {}).get("values", {}).items():
                ms = tuple(float(v) for v in vals_)
                if len(ms) != len(edges) + 1 or not all(math.isfinite(v) and v >= 0 for v in ms):
                    raise InvalidArgument(
                        f"pose thresholds {name}: cascade margins of {metric} need {len(edges) + 1} values"
                    )
                margins[Metric.parse(metric)] = ms
            return cls(edges, values, str(doc["source"]), name, margins)
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, InvalidArgument):
                raise
            raise InvalidArgument(f"pose thresholds {name} are malformed: {exc}") from exc

    def entries(self, key: str, metric: Metric) -> tuple[float, ...] | None:
        return self.values.get(key, {}).get(metric)

    def bins_of(self, turn_difference: np.ndarray) -> np.ndarray:
        """The bin of each absolute turn difference (``-1`` where it is NaN)."""
        dy = np.abs(np.asarray(turn_difference, np.float64))
        bins = np.searchsorted(np.asarray(self.edges), np.nan_to_num(dy, nan=0.0), side="right").astype(np.int8)
        return np.where(np.isnan(dy), np.int8(NO_POSE_BIN), bins).astype(np.int8)

    def pair_thresholds(
        self, key: str, metric: Metric, base: Threshold, origin: Sequence[Face], target: Sequence[Face]
    ) -> PairThresholds:
        """Every pair's threshold; uniform ``base`` when this table has no entry for
        ``key``/``metric`` or was calibrated next to another base value."""
        shape = (len(origin), len(target))
        vals = self.entries(key, metric)
        if vals is None or not math.isclose(vals[0], base.value, rel_tol=0.0, abs_tol=5e-7):
            return PairThresholds.uniform(base, shape)
        ya, yb = face_turns(origin), face_turns(target)
        bins = self.bins_of(ya[:, None] - yb[None, :]) if shape[0] and shape[1] else np.zeros(shape, np.int8)
        # a background face of either image (not what the bins were calibrated on) keeps bin 0
        dominant = dominant_faces(origin)[:, None] & dominant_faces(target)[None, :]
        bins = np.where(dominant | (bins < 0), bins, np.int8(0)).astype(np.int8)
        table = np.asarray((base.value, *vals[1:]), np.float32)
        values = np.where(bins >= 0, table[np.maximum(bins, 0)], np.float32(base.value)).astype(np.float32)
        margins = None
        if metric in self.cascade_margins:
            per_bin = np.asarray(self.cascade_margins[metric], np.float32)
            margins = np.where(bins > 0, per_bin[np.maximum(bins, 0)], np.float32(np.nan)).astype(np.float32)
        source = f"pose-aware thresholds ({self.name}): {self.source}"
        return PairThresholds(values, bins, base, self.edges, source, margins)
