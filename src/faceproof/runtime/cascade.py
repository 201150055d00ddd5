"""The verification cascade: spend the flip test-time augmentation only where it can
change the answer.

Stage 1 embeds every face once, without flip, and compares at the no-flip threshold
``t0``. A pair whose distance is farther than the calibrated margin from ``t0`` is decided
there. Only the faces of the pairs inside the margin get their mirror images embedded
(one more network pass each); those pairs are then compared with the flip embeddings at
the flip threshold ``t1``, exactly as the always-flip configuration would. The margin is
at least ``|t1 - t0|``, so one threshold (``t1``) reads the whole distance matrix.

``t0`` and ``t1`` may be per-pair matrices (the pose-aware thresholds of
:meth:`~faceproof.runtime.pipeline.Pipeline.pair_thresholds`, no-flip and flip): each pair
is then judged against its own thresholds, with a margin of at least its own
``|t1 - t0|``.

The margins are data (``data/cascade.json``), fitted by ``bench/cascade_calibrate.py`` on
LFW View 1 dev-train: the largest ``|d0 - t0|`` of a pair whose no-flip and flip decisions
differ, times a safety factor. Only the unit-vector metrics (cosine, euclidean-L2) take
part: raw euclidean distances of the two stages are on different scales.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, Protocol

import numpy as np

from ..errors import InvalidArgument
from ..types import Face, FloatArray, ImageArray
from .compare import Metric, distance_matrix, similarity_matrix
from .embed import flip_average, l2_normalize

__all__ = [
    "CASCADE_METRICS",
    "CascadeMargins",
    "CascadeOutcome",
    "PlainSide",
    "cascade_compare",
    "embed_plain",
    "unsure_pairs",
]

CASCADE_METRICS: tuple[Metric, ...] = (Metric.COSINE, Metric.EUCLIDEAN_L2)


class TwoPassRecognizer(Protocol):
    """A recognizer whose plain and mirrored passes can be run apart (SFace)."""

    name: str

    def chips(self, image: ImageArray, faces: Sequence[Face]) -> list[ImageArray]: ...

    def forward(self, chips: Sequence[ImageArray], *, mirrored: bool = False) -> FloatArray: ...


@dataclass(frozen=True)
class CascadeMargins:
    """Per metric, how close to ``t0`` a no-flip distance must be to reach stage 2."""

    margins: dict[str, float]
    source: str

    @classmethod
    def builtin(cls) -> CascadeMargins:
        text = resources.files("faceproof").joinpath("data/cascade.json").read_text(encoding="utf-8")
        doc: dict[str, Any] = json.loads(text)
        return cls({k: float(v["margin"]) for k, v in doc["metrics"].items()}, str(doc["source"]))

    def margin(self, metric: Metric) -> float:
        if metric not in CASCADE_METRICS or metric.value not in self.margins:
            raise InvalidArgument(f"the cascade has no margin for the {metric.value} metric")
        return self.margins[metric.value]


@dataclass(frozen=True)
class PlainSide:
    """One image's faces after stage 1: unit no-flip embeddings, the raw outputs and the
    aligned chips (kept in memory for stage 2 only)."""

    faces: tuple[Face, ...]
    plain: FloatArray
    chips: tuple[ImageArray, ...]


def embed_plain(recognizer: TwoPassRecognizer, image: ImageArray, faces: Sequence[Face]) -> PlainSide:
    """Stage 1 for one image: every face embedded once, without flip."""
    faces = [f for f in faces if f.landmarks is not None]
    chips = tuple(recognizer.chips(image, faces))
    plain = recognizer.forward(chips) if chips else np.zeros((0, 0), np.float32)
    unit, norms = l2_normalize(plain) if chips else (plain, np.zeros(0, np.float32))
    embedded = tuple(
        f.evolve(embedding=unit[i], embedding_norm=float(norms[i]), model=recognizer.name) for i, f in enumerate(faces)
    )
    return PlainSide(embedded, plain, chips)


@dataclass(frozen=True)
class CascadeOutcome:
    similarity: FloatArray
    distances: FloatArray
    matches: np.ndarray
    #: per pair, the stage that decided it (1: no flip, 2: flip)
    stages: np.ndarray
    origin_faces: tuple[Face, ...]
    target_faces: tuple[Face, ...]
    #: faces whose mirror image was embedded (origin, target)
    refined: tuple[int, int]


def _refine(recognizer: TwoPassRecognizer, side: PlainSide, rows: np.ndarray) -> tuple[FloatArray, tuple[Face, ...]]:
    """Unit flip embeddings of the faces in ``rows`` (others keep their no-flip ones)."""
    unit = np.stack([f.embedding for f in side.faces if f.embedding is not None]).astype(np.float32)
    faces = list(side.faces)
    idx = np.flatnonzero(rows)
    if idx.size:
        mirrored = recognizer.forward([side.chips[i] for i in idx], mirrored=True)
        flipped, norms = l2_normalize(flip_average(side.plain[idx], mirrored))
        unit = unit.copy()
        unit[idx] = flipped
        for k, i in enumerate(idx):
            faces[i] = faces[i].evolve(embedding=flipped[k], embedding_norm=float(norms[k]))
    return unit, tuple(faces)


def unsure_pairs(
    d0: np.ndarray, t0: float | np.ndarray, t1: float | np.ndarray, margin: float | np.ndarray
) -> np.ndarray:
    """The pairs the no-flip stage leaves open: no-flip distance ``d0`` within the margin of
    the no-flip threshold ``t0``, the margin widened to ``|t1 - t0|`` where the thresholds
    are farther apart (``verify``'s cascade and ``evaluate``'s reproduction of it)."""
    t0_ = np.asarray(t0, np.float32)
    width = np.maximum(np.asarray(margin, np.float32), np.abs(np.asarray(t1, np.float32) - t0_))
    return np.broadcast_to(np.abs(d0 - t0_) <= width, np.shape(d0))


def cascade_compare(
    recognizer: TwoPassRecognizer,
    origin: PlainSide,
    target: PlainSide,
    metric: Metric,
    t0: float | np.ndarray,
    t1: float | np.ndarray,
    margin: float | np.ndarray,
) -> CascadeOutcome:
    """Compare every origin face with every target face through the two stages.

    ``t0``/``t1``/``margin``: the no-flip and flip thresholds and the margin, one number or
    one per pair (N x M). A pair whose thresholds are farther apart than its margin gets
    ``|t1 - t0|`` as its margin (only per-pair values can do that; three numbers must
    respect ``margin >= |t1 - t0|``)."""
    if metric not in CASCADE_METRICS:
        raise InvalidArgument(f"the cascade compares unit embeddings only, not {metric.value}")
    scalars = np.ndim(t0) == 0 and np.ndim(t1) == 0 and np.ndim(margin) == 0
    if scalars and float(margin) < abs(float(t1) - float(t0)):
        raise InvalidArgument("the cascade margin must be at least |t1 - t0|")
    a0 = np.stack([f.embedding for f in origin.faces if f.embedding is not None])
    b0 = np.stack([f.embedding for f in target.faces if f.embedding is not None])
    d0 = distance_matrix(a0, b0, metric)
    s0 = similarity_matrix(a0, b0)
    t1_ = np.asarray(t1, np.float32)
    unsure = unsure_pairs(d0, t0, t1, margin)
    a1, origin_faces = _refine(recognizer, origin, np.asarray(unsure.any(axis=1)))
    b1, target_faces = _refine(recognizer, target, np.asarray(unsure.any(axis=0)))
    dist, sim = d0.copy(), s0.copy()
    if unsure.any():
        d1 = distance_matrix(a1, b1, metric)
        s1 = similarity_matrix(a1, b1)
        dist[unsure], sim[unsure] = d1[unsure], s1[unsure]
    return CascadeOutcome(
        similarity=sim,
        distances=dist,
        matches=np.broadcast_to(dist <= t1_, dist.shape).copy(),
        stages=np.where(unsure, 2, 1).astype(np.int8),
        origin_faces=origin_faces,
        target_faces=target_faces,
        refined=(int(unsure.any(axis=1).sum()), int(unsure.any(axis=0).sum())),
    )
