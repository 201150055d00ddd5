"""Verification metrics on distances (a pair is accepted when ``distance <= threshold``),
plain numpy: ROC, AUC, EER, TAR at FAR, best threshold, k-fold accuracy, per-group rates."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import InvalidArgument
from .pairs import Pair

logger = logging.getLogger(__name__)


DEFAULT_FARS: tuple[float, ...] = (1e-2, 1e-3)


def check_scores(distances: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distances and labels as flat float64/bool arrays of one length; NaN refused."""
    d = np.asarray(distances, dtype=np.float64).reshape(-1)
    y = np.asarray(labels, dtype=bool).reshape(-1)
    if d.shape != y.shape:
        raise InvalidArgument(f"{d.size} distances but {y.size} labels")
    if np.isnan(d).any():
        raise InvalidArgument("distances must not be NaN (use inf for a pair that cannot be compared)")
    return d, y


def roc(distances: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(far, tar, thresholds): one point per distinct finite distance, plus the start
    (threshold -inf: nothing accepted) and the end (threshold inf: everything accepted,
    pairs that could not be compared included)."""
    d, y = check_scores(distances, labels)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        raise InvalidArgument("a ROC needs both same-person and different-person pairs")
    order = np.argsort(d, kind="stable")
    ds, ys = d[order], y[order]
    finite = np.isfinite(ds)
    ds_f, ys_f = ds[finite], ys[finite]
    tp = np.cumsum(ys_f)
    fp = np.cumsum(~ys_f)
    # keep the last index of every run of equal distances
    last = np.r_[ds_f[1:] != ds_f[:-1], True] if ds_f.size else np.zeros(0, bool)
    thr = np.r_[-np.inf, ds_f[last], np.inf]
    tar = np.r_[0.0, tp[last] / n_pos, 1.0]
    far = np.r_[0.0, fp[last] / n_neg, 1.0]
    return far, tar, thr


def auc(distances: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC (trapezoids; ties count one half, as in the Mann-Whitney U)."""
    far, tar, _ = roc(distances, labels)
    return float(np.sum(np.diff(far) * (tar[1:] + tar[:-1]) / 2.0))


def eer(distances: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(equal error rate, threshold): where FAR = FRR, linearly interpolated between the
    two ROC points around the crossing."""
    far, tar, thr = roc(distances, labels)
    frr = 1.0 - tar
    diff = far - frr  # rises from -1 to 1
    k = int(np.argmax(diff >= 0.0))
    if diff[k] == 0.0 or k == 0:
        return float(far[k]), float(thr[k])
    d0, d1 = diff[k - 1], diff[k]
    w = -d0 / (d1 - d0)
    rate = float(far[k - 1] + w * (far[k] - far[k - 1]))
    t0, t1 = thr[k - 1], thr[k]
    if not (np.isfinite(t0) and np.isfinite(t1)):
        return rate, float(t1 if np.isfinite(t1) else t0)
    return rate, float(t0 + w * (t1 - t0))


def tar_at_far(distances: np.ndarray, labels: np.ndarray, target_far: float) -> tuple[float, float, float]:
    """(TAR, FAR reached, threshold): the highest TAR among thresholds whose FAR <= target.
    The threshold is the largest distance accepted (``-inf`` when none can be)."""
    if not 0.0 <= target_far <= 1.0:
        raise InvalidArgument(f"target FAR must be within [0, 1], got {target_far}")
    far, tar, thr = roc(distances, labels)
    ok = far <= target_far + 1e-12
    k = int(np.flatnonzero(ok)[-1])
    return float(tar[k]), float(far[k]), float(thr[k])


def best_threshold(distances: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(threshold, accuracy): the threshold with the highest accuracy, placed midway
    between two consecutive distinct distances; of equally accurate thresholds the
    smallest (the stricter) wins."""
    d, y = check_scores(distances, labels)
    if d.size == 0:
        raise InvalidArgument("no pairs to choose a threshold on")
    finite = np.unique(d[np.isfinite(d)])
    if finite.size == 0:
        return 0.0, float((~y).mean())
    # below the smallest distance (accepts nothing unless it is 0), between neighbours, above the largest
    cands = np.r_[finite[0] / 2.0, (finite[1:] + finite[:-1]) / 2.0, finite[-1] + 1e-6]
    ds = np.sort(d[y])
    dn = np.sort(d[~y])
    tp = np.searchsorted(ds, cands, side="right")
    fp = np.searchsorted(dn, cands, side="right")
    correct = np.asarray(tp + (dn.size - fp))
    k = int(np.argmax(correct))
    return float(cands[k]), float(correct[k]) / d.size


def rates_of(accepted: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Accuracy, TPR (= TAR: same-person pairs accepted), TNR (different-person pairs
    rejected), FAR = 1 - TNR and FRR = 1 - TPR of accept/reject verdicts (NaN when a class
    is absent)."""
    accept = np.asarray(accepted, dtype=bool).reshape(-1)
    y = np.asarray(labels, dtype=bool).reshape(-1)
    if accept.shape != y.shape:
        raise InvalidArgument(f"{accept.size} verdicts but {y.size} labels")
    return {
        "accuracy": float((accept == y).mean()) if accept.size else math.nan,
        "tpr": float(accept[y].mean()) if y.any() else math.nan,
        "tnr": float((~accept[~y]).mean()) if (~y).any() else math.nan,
        "far": float(accept[~y].mean()) if (~y).any() else math.nan,
        "frr": float((~accept[y]).mean()) if y.any() else math.nan,
    }


def rates_at(distances: np.ndarray, labels: np.ndarray, threshold: float) -> dict[str, float]:
    """Accuracy, TPR (same-person pairs accepted), TNR (different-person pairs rejected),
    FAR = 1 - TNR, FRR = 1 - TPR at a threshold."""
    d, y = check_scores(distances, labels)
    return {"threshold": float(threshold), **rates_of(d <= threshold, y)}


def assign_folds(labels: np.ndarray, k: int = 10, seed: int = 0) -> np.ndarray:
    """Stratified folds: each class is shuffled with ``seed`` and dealt round-robin."""
    y = np.asarray(labels, dtype=bool)
    if k < 2:
        raise InvalidArgument(f"need at least 2 folds, got {k}")
    rng = np.random.default_rng(seed)
    folds = np.empty(y.size, np.int64)
    for cls in (True, False):
        idx = np.flatnonzero(y == cls)
        folds[rng.permutation(idx)] = np.arange(idx.size) % k
    return folds


def kfold_accuracy(distances: np.ndarray, labels: np.ndarray, folds: np.ndarray) -> dict[str, Any]:
    """The LFW protocol: for each fold, the best threshold on the other folds, scored on
    this one. Mean accuracy, its standard deviation over folds (ddof=0), per-fold values."""
    d, y = check_scores(distances, labels)
    folds = np.asarray(folds)
    accs, thrs = [], []
    for f in np.unique(folds):
        test = folds == f
        t, _ = best_threshold(d[~test], y[~test])
        accs.append(float(((d[test] <= t) == y[test]).mean()))
        thrs.append(t)
    a = np.array(accs)
    return {
        "folds": len(accs),
        "mean": float(a.mean()),
        "std": float(a.std()),
        "per_fold": accs,
        "thresholds": thrs,
    }


def score_pairs(
    distances: np.ndarray,
    labels: np.ndarray,
    *,
    threshold: float | None,
    folds: np.ndarray,
    fars: Sequence[float] = DEFAULT_FARS,
) -> dict[str, Any]:
    """Every metric of one distance vector (no-face pairs are ``inf``: rejections)."""
    d, y = check_scores(distances, labels)
    best_t, best_acc = best_threshold(d, y)
    eer_rate, eer_t = eer(d, y)
    out: dict[str, Any] = {
        "pairs": int(d.size),
        "same": int(y.sum()),
        "different": int((~y).sum()),
        "kfold_accuracy": kfold_accuracy(d, y, folds),
        "auc": auc(d, y),
        "eer": eer_rate,
        "eer_threshold": eer_t,
        "tar_at_far": {},
        "best_threshold": best_t,
        "best_accuracy": best_acc,
        "at_threshold": rates_at(d, y, threshold) if threshold is not None else None,
    }
    for target in fars:
        tar, far, t = tar_at_far(d, y, target)
        out["tar_at_far"][f"{target:g}"] = {"tar": tar, "far": far, "threshold": t}
    return out


def group_rates(
    pairs: Sequence[Pair],
    distances: np.ndarray,
    groups: Mapping[str, str],
    threshold: float | None,
    accepted: np.ndarray | None = None,
) -> dict[str, dict[str, Any]]:
    """Rates per group of pairs: pairs whose two images carry the same group label are that
    group's; pairs with two different labels are "mixed"; a path without a label makes the
    pair "unlabelled". For each: pair counts, AUC and EER (when both classes are present),
    accuracy/TPR/TNR at ``threshold`` (``at_threshold``) and, given the verdicts
    ``accepted`` (e.g. the library's default ones), their rates (``default_decision``)."""
    keys = []
    for p in pairs:
        a, b = groups.get(p.path1), groups.get(p.path2)
        keys.append("unlabelled" if a is None or b is None else a if a == b else "mixed")
    labels = np.array([p.same for p in pairs], dtype=bool)
    out: dict[str, dict[str, Any]] = {}
    for key in sorted(set(keys)):
        mask = np.array([k == key for k in keys])
        d, y = distances[mask], labels[mask]
        entry: dict[str, Any] = {"pairs": int(mask.sum()), "same": int(y.sum()), "different": int((~y).sum())}
        if y.any() and (~y).any():
            entry["auc"] = auc(d, y)
            entry["eer"] = eer(d, y)[0]
        if threshold is not None:
            entry["at_threshold"] = rates_at(d, y, threshold)
        if accepted is not None:
            entry["default_decision"] = rates_of(np.asarray(accepted, bool)[mask], y)
        out[key] = entry
    return out
