"""The library's default verdict of every pair, as ``FaceProof.verify`` reaches it, from
the embedded images: each face pair judged against its own pose-aware threshold
(:meth:`~faceproof.runtime.pipeline.Pipeline.pair_thresholds`: the bin of the two faces'
turn difference), through the verification cascade when the pipeline runs it (the no-flip
distance decides a pair farther than its margin from its no-flip threshold, the flip
distance the others; :mod:`faceproof.runtime.cascade`). A caller's threshold, a metric or
model without pose-aware entries, or a calibration that moves the table's value gives the
uniform threshold, as in ``verify``.

Under a face policy that compares several face pairs (``max``) a pair of images is
accepted when any face pair is — except pairs of a background face of the first image
(under the policy's ``background_face_ratio`` of its dominant face: ``verify``'s
selfie-subject rule) — and its pose bin, threshold and stage are those of the face pair
that decided it (the one farthest below, or nearest above, its own threshold:
``VerifyResult.to_report()['decisive_pair']``).

The rates per pose bin (:func:`rates_by_pose_bin`) put the default verdicts and the
uniform threshold's side by side; pairs without a face are their own row."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..decision.subject import subject_rows_of
from ..runtime.cascade import unsure_pairs
from ..runtime.compare import Metric, distance_matrix
from ..runtime.pipeline import Pipeline
from ..runtime.thresholds import NO_POSE_BIN, face_turns
from ..types import Face
from .embedding import FacePolicy, ImageFaces
from .metrics import rates_of
from .pairs import Pair

logger = logging.getLogger(__name__)

__all__ = ["NO_FACE_BIN", "PairVerdicts", "default_verdicts", "pose_bin_label", "rates_by_pose_bin"]

#: the "bin" of a pair where either image has no face (scored as a rejection)
NO_FACE_BIN = -2


def pose_bin_label(edges: Sequence[float], b: int) -> str:
    """``"[0, 30)"``-style degrees of turn difference of bin ``b``; ``"no pose"`` for a pair
    without landmarks, ``"no face"`` for a pair without a face."""
    if b == NO_FACE_BIN:
        return "no face"
    if b < 0 or not edges:
        return "no pose"
    lo = 0.0 if b == 0 else float(edges[b - 1])
    hi = float(edges[b]) if b < len(edges) else math.inf
    return f"[{lo:g}, {hi:g})" if math.isfinite(hi) else f">= {lo:g}"


@dataclass(frozen=True)
class PairVerdicts:
    """One default verdict per pair, with what decided it."""

    accepted: np.ndarray  # bool: the library's verdict (False for a pair without a face)
    distance: np.ndarray  # the deciding face pair's distance at the stage that decided it (inf: no face)
    threshold: np.ndarray  # that face pair's threshold (NaN: no face)
    pose_bin: np.ndarray  # its turn-difference bin (NO_POSE_BIN: no landmarks, NO_FACE_BIN: no face)
    turn_difference: np.ndarray  # |turn_a - turn_b| in degrees (NaN: unknown)
    stage: np.ndarray  # 1: no flip, 2: flip (the cascade), 0: no face; 2 everywhere without the cascade
    edges: tuple[float, ...]
    #: the thresholds are per pose bin (else the one uniform threshold, e.g. a caller's)
    pose_aware: bool
    #: the cascade was reproduced (the pipeline runs it and the no-flip embeddings are known)
    cascade: bool
    source: str

    def bin_label(self, b: int) -> str:
        return pose_bin_label(self.edges, b)

    def summary(self, labels: np.ndarray) -> dict[str, Any]:
        """The rates of the verdicts (accuracy, TPR = TAR, TNR, FAR, FRR) and how they were reached."""
        compared = self.stage > 0
        return {
            **rates_of(self.accepted, labels),
            "pose_aware": self.pose_aware,
            "cascade": self.cascade,
            "source": self.source,
            "turn_difference_edges_deg": list(self.edges),
            "stage2_pairs": int((self.stage == 2).sum()) if self.cascade else None,
            "stage2_share": float((self.stage[compared] == 2).mean()) if self.cascade and compared.any() else None,
        }


def _bins_of(pipeline: Pipeline, turn_difference: float) -> int:
    table = pipeline.pose_table
    if table is None or not math.isfinite(turn_difference):
        return NO_POSE_BIN
    return int(table.bins_of(np.array([turn_difference]))[0])


def default_verdicts(
    pairs: Sequence[Pair],
    images: Mapping[str, ImageFaces],
    pipeline: Pipeline,
    metric: Metric | str,
    policy: FacePolicy | str,
    threshold: float | None = None,
) -> PairVerdicts:
    """The verdict ``verify`` gives each pair (under ``policy``'s faces), from the images
    ``pipeline`` embedded (:func:`~faceproof.evaluation.embed_images` with the same
    configuration). ``threshold`` is a caller's threshold (uniform, no cascade)."""
    metric_ = Metric.parse(metric)
    policy_ = FacePolicy.parse(policy)
    n = len(pairs)
    accepted = np.zeros(n, bool)
    dist = np.full(n, np.inf)
    thr = np.full(n, np.nan)
    bins = np.full(n, NO_FACE_BIN, np.int8)
    turn_diff = np.full(n, np.nan)
    stage = np.zeros(n, np.int8)
    plan = pipeline.cascade_plan(metric_, threshold)
    base = pipeline.threshold_for(metric_, threshold)
    cascade_on = plan is not None
    face_cache: dict[str, list[Face]] = {}

    def faces_of(img: ImageFaces) -> list[Face]:
        if img.path not in face_cache:
            face_cache[img.path] = img.faces(pipeline.detector.name)
        return face_cache[img.path]

    pose_aware = False
    for k, pair in enumerate(pairs):
        a, b = images[pair.path1], images[pair.path2]
        ra, rb = a.pick(policy_), b.pick(policy_)
        if ra.size == 0 or rb.size == 0:
            continue
        fa = [faces_of(a)[i] for i in ra]
        fb = [faces_of(b)[j] for j in rb]
        t1 = pipeline.pair_thresholds(fa, fb, metric_, threshold)
        pose_aware = pose_aware or t1.pose_aware
        limit = t1.values.astype(np.float64)
        d = distance_matrix(a.vectors(ra, metric_), b.vectors(rb, metric_), metric_)
        st = np.full(d.shape, 2, np.int8)
        if plan is not None and a.has_plain and b.has_plain:
            t0v, margins = pipeline.cascade_first_stage(fa, fb, metric_)
            d0 = distance_matrix(a.plain_vectors(ra), b.plain_vectors(rb), metric_)
            # the cascade: a pair farther than its margin (at least |t1 - t0|) from t0 is decided without flip
            unsure = unsure_pairs(d0, t0v, t1.values, margins)
            d = np.where(unsure, d, d0)
            st = np.where(unsure, 2, 1).astype(np.int8)
        elif plan is not None:
            cascade_on = False  # images embedded without their no-flip pass: always-flip verdicts
        gap = d - limit
        rows, _ = subject_rows_of(fa)  # the first image's bystanders never decide (verify's rule)
        if rows is not None:
            gap = np.where(rows[:, None], gap, np.inf)
        matches = gap <= 0
        # the deciding face pair: the farthest below (or nearest above) its own threshold
        i, j = np.unravel_index(int(np.argmin(gap)), d.shape)
        accepted[k] = bool(matches.any())
        dist[k], thr[k], stage[k] = float(d[i, j]), float(limit[i, j]), int(st[i, j])
        turns = face_turns([fa[i], fb[j]])
        turn_diff[k] = abs(float(turns[0]) - float(turns[1]))
        bins[k] = int(t1.bins[i, j]) if t1.pose_aware else _bins_of(pipeline, turn_diff[k])
    table = pipeline.pose_table
    if pose_aware and table is not None:
        source = f"pose-aware thresholds ({table.name}); bin 0: {base.source}"
    else:
        source = base.source
    if cascade_on and plan is not None:
        source += f"; cascade: no-flip threshold {plan[0]:g}, margin {plan[2]:g} (or its pose bin's)"
    return PairVerdicts(
        accepted=accepted,
        distance=dist,
        threshold=thr,
        pose_bin=bins,
        turn_difference=turn_diff,
        stage=stage,
        edges=tuple(table.edges) if table is not None else (),
        pose_aware=pose_aware,
        cascade=cascade_on,
        source=source,
    )


def rates_by_pose_bin(
    verdicts: PairVerdicts, labels: np.ndarray, distances: np.ndarray, uniform: float | None
) -> dict[str, dict[str, Any]]:
    """Per turn-difference bin (label → entry): pair counts, the bin's thresholds, the rates
    of the default verdicts (``default``) and of ``distances`` at the ``uniform`` threshold
    (``uniform``, the verdicts before pose-aware thresholds), and the pairs the cascade's
    flip stage decided."""
    y = np.asarray(labels, bool)
    out: dict[str, dict[str, Any]] = {}
    present = sorted({int(b) for b in verdicts.pose_bin}, key=lambda b: (b < 0, b if b >= 0 else -b))
    for b in present:
        mask = verdicts.pose_bin == b
        thr = verdicts.threshold[mask]
        thr = thr[np.isfinite(thr)]
        entry: dict[str, Any] = {
            "bin": None if b < 0 else b,
            "turn_difference_deg": verdicts.bin_label(b),
            "pairs": int(mask.sum()),
            "same": int(y[mask].sum()),
            "different": int((~y[mask]).sum()),
            "thresholds": sorted({round(float(t), 6) for t in thr}),
            "default": rates_of(verdicts.accepted[mask], y[mask]),
            "uniform": None if uniform is None else rates_of(distances[mask] <= uniform, y[mask]),
            "stage2_pairs": int((verdicts.stage[mask] == 2).sum()) if verdicts.cascade else None,
        }
        out[verdicts.bin_label(b)] = entry
    return out
