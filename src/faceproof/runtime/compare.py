"""Distances between embeddings and the per-model thresholds that turn them into verdicts.

Metrics (a pair matches when ``distance <= threshold``):

* ``cosine``: ``1 - cos(a, b)``, in [0, 2].
* ``euclidean_l2``: euclidean distance of the L2-normalised embeddings, in [0, 2].
* ``euclidean``: euclidean distance of the raw embeddings, at the scale the model
  produced them (model-specific range).

The similarity matrix reported to callers (the seed's ``result_list``) is always the cosine
similarity ``cos(a, b)`` in [-1, 1], higher = more alike, whatever the metric.

Thresholds are data (``data/thresholds.json``), each with its provenance, and can be
replaced by a calibration file. ``threshold=None`` means "use the table"; any number,
``0.0`` included, is used as given.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from importlib import resources
from typing import Any

import numpy as np

from ..errors import InvalidArgument
from ..types import Face, FloatArray

__all__ = [
    "Metric",
    "Threshold",
    "ThresholdTable",
    "distance_matrix",
    "embeddings_of",
    "face_distances",
    "face_similarities",
    "similarity_matrix",
    "threshold_key",
]

#: Suffix of the table key for a recognition model run without flip test-time
#: augmentation. Flip changes the embeddings (and the raw-euclidean scale), so the two
#: variants are calibrated separately; the default variant (flip on) has the bare name.
NOFLIP_SUFFIX = "/noflip"


def threshold_key(model: str, flip: bool | None) -> str:
    """The threshold-table key of a recognition model: ``"sface"`` with flip TTA (the
    default), ``"sface/noflip"`` without; ``flip=None`` (a backend without TTA) is the
    bare name."""
    return f"{model}{NOFLIP_SUFFIX}" if flip is False else model


class Metric(StrEnum):
    COSINE = "cosine"
    EUCLIDEAN = "euclidean"
    EUCLIDEAN_L2 = "euclidean_l2"

    @classmethod
    def parse(cls, value: str | Metric) -> Metric:
        if isinstance(value, Metric):
            return value
        key = str(value).strip().lower().replace("-", "_")
        try:
            return cls(key)
        except ValueError:
            raise InvalidArgument(
                f"unknown distance metric {value!r}; use one of: {', '.join(m.value for m in cls)}"
            ) from None


def embeddings_of(faces: Sequence[Face], *, raw: bool = False) -> FloatArray:
    rows = []
    for face in faces:
        vec = face.raw_embedding if raw else face.embedding
        if vec is None:
            raise InvalidArgument("every face must be embedded before it is compared")
        rows.append(vec)
    if not rows:
        return np.zeros((0, 0), np.float32)
    return np.stack(rows).astype(np.float32)


def similarity_matrix(a: np.ndarray, b: np.ndarray) -> FloatArray:
    """Cosine similarity of every row of ``a`` with every row of ``b`` (unit rows assumed)."""
    if a.size == 0 or b.size == 0:
        return np.zeros((a.shape[0], b.shape[0]), np.float32)
    return np.clip(a @ b.T, -1.0, 1.0).astype(np.float32)


def distance_matrix(a: np.ndarray, b: np.ndarray, metric: Metric | str) -> FloatArray:
    """Pairwise distances between rows of ``a`` (N, D) and ``b`` (M, D) -> (N, M).

    For ``cosine`` and ``euclidean_l2`` the rows are normalised here; for ``euclidean``
    they are used as given (pass raw embeddings).
    """
    metric = Metric.parse(metric)
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.size == 0 or b.size == 0:
        return np.zeros((a.shape[0], b.shape[0]), np.float32)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise InvalidArgument(f"embedding shapes do not match: {a.shape} vs {b.shape}")
    if metric is Metric.EUCLIDEAN:
        sq = (a**2).sum(1)[:, None] + (b**2).sum(1)[None, :] - 2.0 * a @ b.T
        return np.sqrt(np.maximum(sq, 0.0)).astype(np.float32)
    an = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    bn = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    cos = np.clip(an @ bn.T, -1.0, 1.0)
    if metric is Metric.COSINE:
        return (1.0 - cos).astype(np.float32)
    return np.sqrt(np.maximum(2.0 - 2.0 * cos, 0.0)).astype(np.float32)


def face_distances(a: Sequence[Face], b: Sequence[Face], metric: Metric | str) -> FloatArray:
    """The ``len(a) x len(b)`` distances between embedded faces in ``metric``: raw
    embeddings for ``euclidean``, unit ones otherwise (the one place that knows which)."""
    metric_ = Metric.parse(metric)
    raw = metric_ is Metric.EUCLIDEAN
    return distance_matrix(embeddings_of(a, raw=raw), embeddings_of(b, raw=raw), metric_)


def face_similarities(a: Sequence[Face], b: Sequence[Face]) -> FloatArray:
    """The ``len(a) x len(b)`` cosine similarities between embedded faces."""
    return similarity_matrix(embeddings_of(a), embeddings_of(b))


@dataclass(frozen=True)
class Threshold:
    value: float
    source: str

    def __post_init__(self) -> None:
        if not (isinstance(self.value, (int, float)) and math.isfinite(self.value) and self.value >= 0.0):
            raise InvalidArgument(f"a distance threshold must be a finite number >= 0, got {self.value!r}")


@dataclass(frozen=True)
class ThresholdTable:
    """Distance thresholds keyed by (model, metric), each with where it came from."""

    entries: Mapping[tuple[str, Metric], Threshold] = field(default_factory=dict)
    name: str = "built-in"

    @classmethod
    def builtin(cls) -> ThresholdTable:
        text = resources.files("faceproof").joinpath("data/thresholds.json").read_text(encoding="utf-8")
        return cls.from_json(json.loads(text), name="built-in")

    @classmethod
    def from_json(cls, doc: Mapping[str, Any], name: str) -> ThresholdTable:
        entries: dict[tuple[str, Metric], Threshold] = {}
        for model, metrics in doc.get("thresholds", {}).items():
            for metric, entry in metrics.items():
                recorded = entry.get("flip")
                if recorded is not None and threshold_key(model.removesuffix(NOFLIP_SUFFIX), bool(recorded)) != model:
                    raise InvalidArgument(
                        f"{name}: the {model}/{metric} threshold was calibrated with flip "
                        f"{'on' if recorded else 'off'} but is filed under {model!r}; use "
                        f"{threshold_key(model.removesuffix(NOFLIP_SUFFIX), bool(recorded))!r}"
                    )
                entries[(model, Metric.parse(metric))] = Threshold(float(entry["value"]), str(entry["source"]))
        return cls(entries, name)

    def merged(self, other: ThresholdTable) -> ThresholdTable:
        """This table with ``other``'s entries taking precedence."""
        return ThresholdTable({**self.entries, **other.entries}, name=f"{other.name} over {self.name}")

    def get(self, model: str, metric: Metric | str) -> Threshold:
        metric = Metric.parse(metric)
        try:
            return self.entries[(model, metric)]
        except KeyError:
            raise InvalidArgument(
                f"no threshold known for model {model!r} with metric {metric.value!r}; pass threshold="
            ) from None

    def resolve(self, model: str, metric: Metric | str, threshold: float | None) -> Threshold:
        """``None`` means the table's value; a number (0.0 included) is the caller's."""
        if threshold is None:
            return self.get(model, metric)
        if isinstance(threshold, bool):
            raise InvalidArgument("threshold must be a number, not a boolean")
        try:
            value = float(threshold)
        except (TypeError, ValueError):
            raise InvalidArgument(f"threshold must be a number, got {threshold!r}") from None
        return Threshold(value, "caller")

    def to_dict(self) -> dict[str, dict[str, dict[str, Any]]]:
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for (model, metric), thr in sorted(self.entries.items(), key=lambda kv: (kv[0][0], kv[0][1].value)):
            out.setdefault(model, {})[metric.value] = {"value": thr.value, "source": thr.source}
        return out
