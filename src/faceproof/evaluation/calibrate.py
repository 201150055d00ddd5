"""Choosing a distance threshold from labelled pairs, with its uncertainty, and the
calibration file that carries it (``FaceProof(calibration=path)`` loads it).

Objectives:

* ``far``: the largest threshold whose false-accept rate on the calibration pairs does
  not exceed ``target_far`` (the operating point a trust-and-safety team sets).
* ``accuracy``: the threshold with the highest accuracy
  (:func:`faceproof.evaluation.best_threshold`).

The confidence interval is a stratified percentile bootstrap: same-person and
different-person pairs are resampled separately (fixed seed), the threshold is chosen
again on each resample, and the 2.5 and 97.5 percentiles bound it.

A calibration file has the shape of the built-in ``data/thresholds.json``
(``{"thresholds": {model: {metric: {"value", "source", ...}}}}``) plus the provenance of
every entry: objective, confidence interval, dataset, pair counts, detector, face policy,
flip TTA, the SHA-256 of the model's weights, the command and the date.
:func:`check_calibration` refuses a file made with other weights.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidArgument
from ..runtime.compare import Metric, ThresholdTable
from ..runtime.thresholds import check_calibration, load_calibration, weights_sha256
from .metrics import best_threshold, check_scores, rates_at

__all__ = [
    "CalibrationResult",
    "Objective",
    "calibrate_scores",
    "check_calibration",
    "load_calibration",
    "threshold_for_far",
    "weights_sha256",
    "write_calibration",
]

logger = logging.getLogger(__name__)

Objective = str  # "far" or "accuracy"
OBJECTIVES = ("far", "accuracy")


def threshold_for_far(impostor: np.ndarray, target_far: float) -> float:
    """The largest threshold at which at most ``floor(target_far * n)`` of the ``n``
    different-person distances are accepted (``distance <= threshold``).

    That is just below the (k+1)-th smallest impostor distance, k = floor(target * n).
    Infinite distances (no face) are never accepted. Returns 0.0 when even the smallest
    impostor distance is 0.
    """
    if not 0.0 <= target_far < 1.0:
        raise InvalidArgument(f"target FAR must be within [0, 1), got {target_far}")
    d = np.sort(np.asarray(impostor, dtype=np.float64).reshape(-1))
    if d.size == 0:
        raise InvalidArgument("no different-person pairs to calibrate a false-accept rate on")
    k = math.floor(target_far * d.size + 1e-9)
    if k >= d.size or not np.isfinite(d[k]):
        # every finite impostor distance may be accepted
        finite = d[np.isfinite(d)]
        return float(finite[-1]) if finite.size else 0.0
    return float(max(0.0, np.nextafter(d[k], -np.inf)))


def _choose(d_same: np.ndarray, d_diff: np.ndarray, objective: Objective, target_far: float) -> float:
    if objective == "far":
        return threshold_for_far(d_diff, target_far)
    d = np.r_[d_same, d_diff]
    y = np.r_[np.ones(d_same.size, bool), np.zeros(d_diff.size, bool)]
    return best_threshold(d, y)[0]


@dataclass(frozen=True)
class CalibrationResult:
    value: float
    ci_low: float
    ci_high: float
    objective: Objective
    target_far: float | None
    bootstrap: int
    seed: int
    same: int
    different: int
    no_face: int
    rates: Mapping[str, float]  # on the calibration pairs at ``value``

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "ci95": [self.ci_low, self.ci_high],
            "objective": self.objective,
            "target_far": self.target_far,
            "bootstrap": self.bootstrap,
            "seed": self.seed,
            "pairs": {"same": self.same, "different": self.different, "no_face": self.no_face},
            "calibration_rates": dict(self.rates),
        }


def calibrate_scores(
    distances: np.ndarray,
    labels: np.ndarray,
    *,
    objective: Objective = "far",
    target_far: float = 1e-3,
    bootstrap: int = 1000,
    seed: int = 0,
) -> CalibrationResult:
    """A threshold for the objective on these pairs, with a 95 % bootstrap interval."""
    if objective not in OBJECTIVES:
        raise InvalidArgument(f"objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
    d, y = check_scores(distances, labels)
    same, diff = d[y], d[~y]
    if same.size == 0 or diff.size == 0:
        raise InvalidArgument("calibration needs both same-person and different-person pairs")
    if bootstrap < 0:
        raise InvalidArgument(f"bootstrap must be >= 0, got {bootstrap}")
    value = _choose(same, diff, objective, target_far)
    lo = hi = value
    if bootstrap:
        rng = np.random.default_rng(seed)
        values = np.empty(bootstrap)
        for b in range(bootstrap):
            s = same[rng.integers(0, same.size, same.size)]
            n = diff[rng.integers(0, diff.size, diff.size)]
            values[b] = _choose(s, n, objective, target_far)
        lo, hi = (float(v) for v in np.percentile(values, [2.5, 97.5]))
    return CalibrationResult(
        value=float(value),
        ci_low=lo,
        ci_high=hi,
        objective=objective,
        target_far=target_far if objective == "far" else None,
        bootstrap=int(bootstrap),
        seed=int(seed),
        same=int(same.size),
        different=int(diff.size),
        no_face=int((~np.isfinite(d)).sum()),
        rates=rates_at(d, y, value),
    )


def write_calibration(
    path: str | Path,
    entries: Mapping[str, Mapping[str, Mapping[str, Any]]],
    *,
    comment: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``{"thresholds": {model: {metric: entry}}}``; each entry needs ``value`` and
    ``source`` and may carry any provenance."""
    thresholds: dict[str, dict[str, dict[str, Any]]] = {}
    for model, metrics in entries.items():
        for metric, entry in metrics.items():
            if "value" not in entry or "source" not in entry:
                raise InvalidArgument(f"calibration entry {model}/{metric} needs 'value' and 'source'")
            thresholds.setdefault(model, {})[Metric.parse(metric).value] = dict(entry)
    doc: dict[str, Any] = {"schema": 1}
    if comment:
        doc["comment"] = comment
    doc["created"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if extra:
        doc.update(extra)
    doc["thresholds"] = thresholds
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8")
    ThresholdTable.from_json(doc, name=path.name)  # it must load
    return path
