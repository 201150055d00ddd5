"""Verification results and the decision rule.

Every selfie (origin) face is compared with every profile (target) face: an N x M
distance matrix for the chosen metric and the N x M cosine-similarity matrix. The verdict
is "the same person is present" when at least one pair's distance is at or below the
threshold — that pair's threshold: with pose-aware thresholds (the default), a pair of
differently turned heads has its own (:class:`~faceproof.runtime.thresholds.PairThresholds`,
reported per pair). Input problems do not raise here: they become results with the seed's codes
(-22/-21 unreadable, -2/-1 no face) and the typed error attached;
:meth:`VerifyResult.raise_for_status` raises it for callers that prefer exceptions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..codes import AnalyzeCode, Lang, VerifyCode, message
from ..errors import FaceProofError
from ..types import Face, FloatArray, ImageArray
from .compare import Metric, Threshold, face_distances, face_similarities
from .thresholds import PairThresholds

__all__ = ["AnalyzeResult", "FaceCrop", "VerifyResult", "compare_faces"]


def _matrix_list(m: np.ndarray, ndigits: int = 6) -> list[list[float]]:
    return [[round(float(v), ndigits) for v in row] for row in m]


def compare_faces(
    origin: Sequence[Face],
    target: Sequence[Face],
    metric: Metric,
    threshold: Threshold,
    pair_thresholds: PairThresholds | None = None,
) -> tuple[FloatArray, FloatArray, np.ndarray]:
    """(similarity N x M, distance N x M, matches N x M bool) for embedded faces; each pair
    against its own threshold when ``pair_thresholds`` is given, else ``threshold``."""
    if not origin or not target:
        empty = np.zeros((len(origin), len(target)), np.float32)
        return empty, empty.copy(), empty.astype(bool)
    dist = face_distances(origin, target, metric)
    sim = face_similarities(origin, target)
    limit = np.float32(threshold.value) if pair_thresholds is None else pair_thresholds.values
    return sim, dist, dist <= limit


@dataclass(frozen=True)
class VerifyResult:
    code: VerifyCode
    similarity: FloatArray
    distances: FloatArray
    matches: np.ndarray
    metric: Metric
    threshold: Threshold | None
    model: str
    detector: str
    origin_faces: tuple[Face, ...] = ()
    target_faces: tuple[Face, ...] = ()
    error: FaceProofError | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)
    lang: Lang = "ko"
    notes: tuple[str, ...] = ()
    #: with the cascade, the stage that decided each pair (1: no flip, 2: flip); else None
    stages: np.ndarray | None = None
    #: each pair's threshold and pose bin (None: every pair was judged against ``threshold``)
    pair_thresholds: PairThresholds | None = None
    #: per origin face: does it decide the code (the selfie's subject and faces of comparable
    #: size); False for background faces (bystanders), whose pairs are reported but never
    #: make the selfie's person "present". None: every origin face decides.
    subject_rows: np.ndarray | None = None

    @classmethod
    def failed(
        cls,
        code: VerifyCode,
        error: FaceProofError,
        *,
        metric: Metric,
        threshold: Threshold | None,
        model: str,
        detector: str,
        origin_faces: Sequence[Face] = (),
        target_faces: Sequence[Face] = (),
        timings_ms: dict[str, float] | None = None,
        lang: Lang = "ko",
        notes: Sequence[str] = (),
    ) -> VerifyResult:
        """The result of a comparison that could not be made: ``error`` attached, the
        faces found so far kept, and matrices of their shape with nothing compared."""
        empty = np.zeros((len(origin_faces), len(target_faces)), np.float32)
        return cls(
            code=code,
            similarity=empty,
            distances=empty.copy(),
            matches=empty.astype(bool),
            metric=metric,
            threshold=threshold,
            model=model,
            detector=detector,
            origin_faces=tuple(origin_faces),
            target_faces=tuple(target_faces),
            error=error,
            timings_ms=timings_ms if timings_ms is not None else {},
            lang=lang,
            notes=tuple(notes),
        )

    @property
    def ok(self) -> bool:
        """True when the comparison could be made (whatever its verdict)."""
        return self.error is None

    @property
    def verdict(self) -> bool | None:
        """True: the selfie's person is present; False: not present; None: no comparison."""
        if self.code is VerifyCode.SAME_PERSON:
            return True
        if self.code is VerifyCode.NOT_SAME_PERSON:
            return False
        return None

    @property
    def message(self) -> str:
        return message(self.code, self.lang)

    @property
    def best_pair(self) -> tuple[int, int] | None:
        """(origin index, target index) of the closest pair among the origin faces that
        decide the code (``subject_rows``), or None."""
        if self.distances.size == 0:
            return None
        d = self.distances
        if self.subject_rows is not None and self.subject_rows.any():
            d = np.where(self.subject_rows[:, None], d, np.inf)
        i, j = np.unravel_index(int(np.argmin(d)), d.shape)
        return int(i), int(j)

    @property
    def best_distance(self) -> float | None:
        pair = self.best_pair
        return None if pair is None else float(self.distances[pair])

    @property
    def best_similarity(self) -> float | None:
        pair = self.best_pair
        return None if pair is None else float(self.similarity[pair])

    def raise_for_status(self) -> VerifyResult:
        if self.error is not None:
            raise self.error
        return self

    def to_dict(self) -> dict[str, Any]:
        """The seed's dict: result_code, result_message and (when compared) result_list,
        the N x M similarity matrix (origin faces x target faces, higher = more alike)."""
        out: dict[str, Any] = {"result_message": self.message, "result_code": int(self.code)}
        if self.error is None:
            out["result_list"] = _matrix_list(self.similarity)
        return out

    def to_report(self) -> dict[str, Any]:
        """Everything: the seed fields plus faces, distances, threshold and its source,
        model names, timings and the typed error (if any)."""
        out = self.to_dict()
        out.update(
            {
                "verdict": self.verdict,
                "metric": self.metric.value,
                "threshold": None if self.threshold is None else self.threshold.value,
                "threshold_source": None if self.threshold is None else self.threshold.source,
                "model": self.model,
                "detector": self.detector,
                "distances": _matrix_list(self.distances),
                "matches": [[bool(v) for v in row] for row in self.matches],
                "origin_bystanders": []
                if self.subject_rows is None
                else [int(i) for i in np.flatnonzero(~self.subject_rows)],
                "best_pair": None if self.best_pair is None else list(self.best_pair),
                "best_distance": None if self.best_distance is None else round(self.best_distance, 6),
                "origin_faces": [f.to_dict() for f in self.origin_faces],
                "target_faces": [f.to_dict() for f in self.target_faces],
                "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
                "error": None if self.error is None else self.error.to_dict(),
                "notes": list(self.notes),
            }
        )
        if self.stages is not None:
            out["stages"] = [[int(v) for v in row] for row in self.stages]
        pt = self.pair_thresholds
        if pt is not None and pt.values.shape == self.distances.shape:
            out["pair_thresholds"] = _matrix_list(pt.values)
            out["pose_bins"] = [[None if v < 0 else int(v) for v in row] for row in pt.bins]
            if self.distances.size:
                # the pair deciding the verdict: the farthest below (or nearest above) its own threshold
                i, j = np.unravel_index(int(np.argmin(self.distances - pt.values)), self.distances.shape)
                out["decisive_pair"] = {"pair": [int(i), int(j)], **pt.describe(int(i), int(j))}
        return out


@dataclass(frozen=True)
class AnalyzeResult:
    """Per-face gender (and age) for one image: :meth:`FaceProof.distinguish`."""

    code: AnalyzeCode
    faces: tuple[Face, ...] = ()
    error: FaceProofError | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)
    lang: Lang = "ko"
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def message(self) -> str:
        return message(self.code, self.lang)

    def raise_for_status(self) -> AnalyzeResult:
        if self.error is not None:
            raise self.error
        return self

    def to_dict(self) -> dict[str, Any]:
        """The seed's dict; gender as percentages, plus ``age`` when estimated."""
        out: dict[str, Any] = {"result_message": self.message, "result_code": int(self.code)}
        if self.error is not None:
            return out
        rows = []
        for face in self.faces:
            attrs = face.attributes
            row: dict[str, Any] = {}
            if attrs is not None and attrs.gender is not None:
                row["gender"] = {
                    "Woman": round(100.0 * attrs.gender["Woman"], 2),
                    "Man": round(100.0 * attrs.gender["Man"], 2),
                }
                row["dominant_gender"] = attrs.dominant_gender
            if attrs is not None and attrs.age is not None:
                row["age"] = round(attrs.age)
            rows.append(row)
        out["result_list"] = rows
        return out

    def to_report(self) -> dict[str, Any]:
        out = self.to_dict()
        out.update(
            {
                "faces": [f.to_dict() for f in self.faces],
                "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
                "error": None if self.error is None else self.error.to_dict(),
                "notes": list(self.notes),
            }
        )
        return out


@dataclass(frozen=True)
class FaceCrop:
    """An aligned, padded square face crop (RGB uint8) and the face it was cut from."""

    image: ImageArray
    face: Face
