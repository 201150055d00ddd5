"""Open-set (1:N) thresholds from impostor score distributions.

A search compares the probe with every one of the ``N`` templates in the gallery. If one
impostor comparison reaches similarity ``s`` with probability ``FAR(s)`` (the impostor
survival function), a probe of someone who is *not* enrolled returns at least one
candidate at or above ``s`` with probability

    FPIR(s, N) = 1 - (1 - FAR(s)) ** N        (comparisons treated as independent)

so the threshold for a target FPIR ``f`` is the ``s`` with ``FAR(s) = 1 - (1 - f) ** (1 / N)``
(about ``f / N``). At a million templates and ``f = 1e-3`` that is ``FAR = 1e-9``, far below
what any data set here measures directly: the upper tail beyond the measured range is an
exponential fitted to the highest impostor scores (peaks over a threshold with shape 0).
For a similarity bounded by 1 the true tail is lighter, so this over-states FAR: the
threshold comes out higher and the measured FPIR lower than predicted (conservative).
``bench/index_search.py`` measures both on data the fit never saw.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import numpy as np

from .model import ModelId

__all__ = ["ImpostorDistribution", "fit_impostor_distribution", "impostor_distribution"]

logger = logging.getLogger(__name__)

DATA_PREFIX = "index_impostor_"
GRID_START, GRID_STEP, GRID_POINTS = -0.2, 0.0025, 481  # similarity -0.2 .. 1.0


@dataclass(frozen=True)
class ImpostorDistribution:
    """The impostor similarity survival function of one model, with a fitted tail."""

    model: ModelId
    n_pairs: int
    #: survival[i] = number of impostor pairs with similarity >= GRID_START + i * GRID_STEP
    survival: tuple[int, ...]
    tail_start: float  # u: the exponential tail applies above this similarity
    tail_fraction: float  # p_u = FAR(u)
    tail_scale: float  # beta: FAR(s) = p_u * exp(-(s - u) / beta) for s > u
    provenance: dict[str, Any] = field(default_factory=dict, compare=False)

    def far(self, similarity: float) -> float:
        """Per-comparison false-match rate: P(impostor similarity >= ``similarity``)."""
        s = float(similarity)
        if s > self.tail_start:
            return self.tail_fraction * math.exp(-(s - self.tail_start) / self.tail_scale)
        pos = (s - GRID_START) / GRID_STEP
        if pos <= 0:
            return self.survival[0] / self.n_pairs
        i = min(int(pos), len(self.survival) - 2)
        frac = pos - i
        lo, hi = self.survival[i] / self.n_pairs, self.survival[i + 1] / self.n_pairs
        right = GRID_START + (i + 1) * GRID_STEP
        if right > self.tail_start:  # the cell holding u ends at (u, p_u): continuous with the tail
            left = GRID_START + i * GRID_STEP
            hi = self.tail_fraction
            frac = (s - left) / (self.tail_start - left) if self.tail_start > left else 1.0
        if lo > 0 and hi > 0:  # log-linear between grid points
            return math.exp(math.log(lo) * (1 - frac) + math.log(hi) * frac)
        return lo * (1 - frac) + hi * frac

    def fpir(self, similarity: float, gallery_size: int) -> float:
        """Expected false-positive identification rate of threshold ``similarity`` at a
        gallery of ``gallery_size`` templates."""
        if gallery_size <= 0:
            return 0.0
        p = min(self.far(similarity), 1.0)
        if p >= 1.0:
            return 1.0
        return -math.expm1(gallery_size * math.log1p(-p))

    def threshold(self, target_fpir: float, gallery_size: int) -> float:
        """The lowest similarity whose expected FPIR at ``gallery_size`` is <= ``target_fpir``."""
        if not 0.0 < target_fpir < 1.0:
            raise ValueError(f"target_fpir must be within (0, 1), got {target_fpir}")
        n = max(int(gallery_size), 1)
        far = -math.expm1(math.log1p(-target_fpir) / n)
        if far < self.tail_fraction:
            return self.tail_start + self.tail_scale * math.log(self.tail_fraction / far)
        lo, hi = GRID_START, self.tail_start  # far(lo) >= far >= far(hi): bisect the monotone curve
        for _ in range(60):
            mid = (lo + hi) / 2
            if self.far(mid) > far:
                lo = mid
            else:
                hi = mid
        return hi

    def to_json(self) -> dict[str, Any]:
        return {
            "format": 1,
            "model": {"name": self.model.name, "weights_sha256": self.model.weights_sha256},
            "n_pairs": self.n_pairs,
            "grid": {"start": GRID_START, "step": GRID_STEP, "points": GRID_POINTS},
            "survival": list(self.survival),
            "tail": {"start": self.tail_start, "fraction": self.tail_fraction, "scale": self.tail_scale},
            "provenance": self.provenance,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ImpostorDistribution:
        grid = data["grid"]
        if (grid["start"], grid["step"], grid["points"]) != (GRID_START, GRID_STEP, GRID_POINTS):
            raise ValueError("impostor distribution file uses another score grid")
        return cls(
            model=ModelId(data["model"]["name"], data["model"]["weights_sha256"]),
            n_pairs=int(data["n_pairs"]),
            survival=tuple(int(v) for v in data["survival"]),
            tail_start=float(data["tail"]["start"]),
            tail_fraction=float(data["tail"]["fraction"]),
            tail_scale=float(data["tail"]["scale"]),
            provenance=dict(data.get("provenance", {})),
        )


def fit_impostor_distribution(
    scores: np.ndarray, model: ModelId, *, tail_fraction: float = 1e-3, provenance: dict[str, Any] | None = None
) -> ImpostorDistribution:
    """The distribution of impostor similarities ``scores`` (1-D), its exponential tail
    fitted (maximum likelihood: the mean excess) to the top ``tail_fraction`` of them."""
    s = np.sort(np.asarray(scores, dtype=np.float64).ravel())
    n = s.size
    n_exceed = max(round(n * tail_fraction), 50)
    if n < 10 * n_exceed:
        raise ValueError(f"{n} impostor scores are too few to fit a tail to the top {n_exceed}")
    u = float(s[n - n_exceed - 1])
    excess = s[n - n_exceed :] - u
    beta = float(excess.mean())
    grid = GRID_START + GRID_STEP * np.arange(GRID_POINTS)
    # count of scores >= g, computed on float32-rounded grid points like the scores themselves
    survival = n - np.searchsorted(s, grid, side="left")
    prov = dict(provenance or {})
    prov.update({"tail_exceedances": n_exceed, "max_score": float(s[-1])})
    return ImpostorDistribution(
        model=model,
        n_pairs=int(n),
        survival=tuple(int(v) for v in survival),
        tail_start=u,
        tail_fraction=n_exceed / n,
        tail_scale=beta,
        provenance=prov,
    )


_CACHE: dict[ModelId, ImpostorDistribution | None] = {}


def impostor_distribution(model: ModelId) -> ImpostorDistribution | None:
    """The shipped impostor distribution for ``model`` (same name and weights), or None."""
    if model in _CACHE:
        return _CACHE[model]
    found: ImpostorDistribution | None = None
    for entry in resources.files("faceproof").joinpath("data").iterdir():
        if entry.name.startswith(DATA_PREFIX) and entry.name.endswith(".json"):
            data = json.loads(entry.read_text(encoding="utf-8"))
            m = data.get("model", {})
            if m.get("name") == model.name and m.get("weights_sha256") == model.weights_sha256:
                found = ImpostorDistribution.from_json(data)
                break
    _CACHE[model] = found
    return found
