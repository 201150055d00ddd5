"""Verification accuracy as code: pairs in, a report out.

* :func:`load_pairs` reads a pair list: a CSV ``path1,path2,same`` (an optional ``fold``
  column), or LFW's own ``pairs.txt`` in its View 1 form (first line ``N``: N same pairs
  ``name i j``, then N different pairs ``name1 i name2 j``) or View 2 form (first line
  ``folds N``: each fold holds N same then N different pairs).
* :func:`embed_images` embeds every image once with a :class:`~faceproof.FaceProof`
  configuration (all faces of each image, in worker processes or threads, with a progress
  bar), cached on disk by :class:`EmbeddingCache` when a cache directory is given.
* :func:`pair_distances` turns the embedded images into one distance per pair under a
  face policy: ``center`` (the face nearest the image centre, LFW's convention),
  ``largest`` or ``max`` (the closest of all face pairs, what ``verify`` does with
  profile photos). A pair where either image has no usable face gets distance ``inf``:
  it is counted, reported, and scored as a rejection, never dropped.
* The metrics (:func:`roc`, :func:`auc`, :func:`eer`, :func:`tar_at_far`,
  :func:`best_threshold`, :func:`kfold_accuracy`, :func:`rates_at`) work on distances
  (a pair is accepted when ``distance <= threshold``) and are plain numpy.
* :func:`~faceproof.evaluation.verdicts.default_verdicts` gives each pair the verdict
  ``verify`` gives it by default: the pair's pose-aware threshold (the bin of the two
  faces' turn difference) and the verification cascade. The report's ``default_decision``
  (accuracy, TAR, FAR, overall and per pose bin) is those verdicts'; ``at_threshold``
  stays the one uniform threshold's (the verdicts before issue 14, kept for comparison).
* :func:`evaluate` puts it together; :func:`write_report` writes ``report.json``,
  ``report.md``, ``scores.csv`` and, with matplotlib (``faceproof[plot]``), ``roc.png``
  and ``hist.png``.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from .._version import __version__
from ..errors import InvalidArgument
from ..runtime.compare import Metric
from ..runtime.pipeline import Pipeline
from .embedding import ClientConfig, FacePolicy, ImageFaces, embed_images, pair_distances
from .metrics import assign_folds, group_rates, score_pairs
from .pairs import Pair, PairSet
from .verdicts import PairVerdicts, default_verdicts, rates_by_pose_bin

logger = logging.getLogger(__name__)


@dataclass
class EvaluationReport:
    """Everything :func:`evaluate` measured; ``to_dict`` is ``report.json``."""

    pairs_name: str
    pairs_format: str
    root: str
    config: ClientConfig
    primary_metric: str
    primary_policy: str
    threshold: dict[str, Any]
    folds_source: str
    seed: int
    images: dict[str, int]
    pairs: dict[str, int]
    results: dict[str, dict[str, dict[str, Any]]]  # policy -> metric -> scores
    distances: dict[str, dict[str, np.ndarray]]  # policy -> metric -> per-pair distance
    labels: np.ndarray
    pair_list: tuple[Pair, ...]
    thresholds_by_metric: dict[str, float | None]
    timings_s: dict[str, float]
    groups: dict[str, dict[str, Any]] | None = None  # group -> rates of the primary metric
    #: policy -> metric -> the library's default verdict of every pair (metrics with a threshold)
    verdicts: dict[str, dict[str, PairVerdicts]] = field(default_factory=dict)
    created: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))

    @property
    def primary(self) -> dict[str, Any]:
        return self.results[self.primary_policy][self.primary_metric]

    @property
    def primary_verdicts(self) -> PairVerdicts | None:
        """The default verdicts of the primary face policy and metric (None without a threshold)."""
        return self.verdicts.get(self.primary_policy, {}).get(self.primary_metric)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (an undefined rate, e.g. the TPR of a group without same-person pairs, is None)."""
        return _finite(
            {
                "faceproof": __version__,
                "created": self.created,
                "pairs_file": self.pairs_name,
                "pairs_format": self.pairs_format,
                "root": self.root,
                "config": asdict(self.config),
                "primary": {"metric": self.primary_metric, "face_policy": self.primary_policy},
                "threshold": self.threshold,
                "folds": {"source": self.folds_source, "seed": self.seed},
                "images": self.images,
                "pairs": self.pairs,
                "results": self.results,
                "groups": self.groups,
                "timings_s": self.timings_s,
            }
        )


def _finite(value: Any) -> Any:
    """A copy with NaN and infinite floats replaced by None (strict JSON has neither)."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def evaluate(
    pairs: PairSet,
    root: str | Path,
    config: ClientConfig | None = None,
    *,
    metrics: Sequence[Metric | str] = tuple(Metric),
    policies: Sequence[FacePolicy | str] = tuple(FacePolicy),
    primary_metric: Metric | str = Metric.COSINE,
    primary_policy: FacePolicy | str = FacePolicy.CENTER,
    threshold: float | None = None,
    calibration: str | Path | None = None,
    folds: int = 10,
    seed: int = 0,
    workers: int = 2,
    backend: str = "process",
    cache_dir: str | Path | None = None,
    progress: Callable[[int], None] | None = None,
    images: Mapping[str, ImageFaces] | None = None,
    groups: Mapping[str, str] | None = None,
) -> EvaluationReport:
    """Embed the images (or use ``images``), score every pair under each face policy and
    metric, and measure. The configured threshold is ``threshold`` for the primary metric
    when given, else the client's table (built-in, or ``calibration`` over it).

    Each policy and metric with a threshold also gets the library's default verdicts
    (``default_decision``: pose-aware thresholds and the cascade, as ``verify`` decides;
    with a caller's ``threshold`` that threshold alone, as in ``verify``), overall and per
    pose bin; ``at_threshold`` keeps the uniform threshold's rates.

    ``groups`` maps image paths to a group label (e.g. LFW's gender labels): the report
    then breaks the primary metric down by group (see :func:`group_rates`)."""

    if len(pairs) == 0:
        raise InvalidArgument("no pairs to evaluate")
    metrics_ = [Metric.parse(m) for m in metrics]
    policies_ = [FacePolicy.parse(p) for p in policies]
    primary_metric_ = Metric.parse(primary_metric)
    primary_policy_ = FacePolicy.parse(primary_policy)
    if primary_metric_ not in metrics_:
        metrics_.insert(0, primary_metric_)
    if primary_policy_ not in policies_:
        policies_.insert(0, primary_policy_)
    config = (config or ClientConfig()).resolved()
    root = Path(root)
    # the thresholds the pipeline would use (builds no model)
    pipeline = Pipeline(config.pipeline_config().replace(calibration=calibration))
    thresholds: dict[str, float | None] = {}
    sources: dict[str, str] = {}
    for m in metrics_:
        try:
            thr = pipeline.threshold_for(m, threshold if m is primary_metric_ else None)
            thresholds[m.value], sources[m.value] = thr.value, thr.source
        except InvalidArgument:
            thresholds[m.value] = None
    t0 = time.perf_counter()
    if images is None:
        images = embed_images(
            pairs.paths(), root, config, workers=workers, backend=backend, cache_dir=cache_dir, progress=progress
        )
    t_embed = time.perf_counter() - t0
    labels = pairs.labels
    if pairs.has_folds:
        fold_ids = np.array([p.fold for p in pairs.pairs])
        folds_source = f"from {pairs.format}"
    else:
        fold_ids = assign_folds(labels, folds, seed)
        folds_source = f"{folds} stratified folds, seed {seed}"
    errors: dict[str, int] = {}
    for f in images.values():
        if f.error:
            errors[f.error] = errors.get(f.error, 0) + 1
    results: dict[str, dict[str, dict[str, Any]]] = {}
    distances: dict[str, dict[str, np.ndarray]] = {}
    verdicts: dict[str, dict[str, PairVerdicts]] = {}
    t_score = time.perf_counter()
    for pol in policies_:
        results[pol.value], distances[pol.value] = {}, {}
        for m in metrics_:
            d = pair_distances(pairs.pairs, images, m, pol)
            distances[pol.value][m.value] = d
            results[pol.value][m.value] = score_pairs(d, labels, threshold=thresholds[m.value], folds=fold_ids)
            if thresholds[m.value] is None:
                results[pol.value][m.value]["default_decision"] = None
                continue
            v = default_verdicts(pairs.pairs, images, pipeline, m, pol, threshold if m is primary_metric_ else None)
            verdicts.setdefault(pol.value, {})[m.value] = v
            results[pol.value][m.value]["default_decision"] = {
                **v.summary(labels),
                "by_pose_bin": rates_by_pose_bin(v, labels, d, thresholds[m.value]),
            }
    t_score = time.perf_counter() - t_score
    no_face = np.array([images[p.path1].n_faces == 0 or images[p.path2].n_faces == 0 for p in pairs.pairs])
    primary_verdicts = verdicts.get(primary_policy_.value, {}).get(primary_metric_.value)
    by_group = (
        group_rates(
            pairs.pairs,
            distances[primary_policy_.value][primary_metric_.value],
            groups,
            thresholds[primary_metric_.value],
            None if primary_verdicts is None else primary_verdicts.accepted,
        )
        if groups is not None
        else None
    )
    return EvaluationReport(
        pairs_name=pairs.name,
        pairs_format=pairs.format,
        root=str(root),
        config=config,
        primary_metric=primary_metric_.value,
        primary_policy=primary_policy_.value,
        threshold={
            "value": thresholds[primary_metric_.value],
            "source": sources.get(primary_metric_.value),
            "table": pipeline.thresholds.name,
        },
        folds_source=folds_source,
        seed=seed,
        images={
            "total": len(images),
            "with_faces": sum(1 for f in images.values() if f.n_faces),
            "multi_face": sum(1 for f in images.values() if f.n_faces > 1),
            **{f"error_{k}": v for k, v in sorted(errors.items())},
        },
        pairs={
            "total": len(pairs),
            "same": int(labels.sum()),
            "different": int((~labels).sum()),
            "no_face": int(no_face.sum()),
            "no_face_same": int((no_face & labels).sum()),
            "no_face_different": int((no_face & ~labels).sum()),
        },
        results=results,
        distances=distances,
        labels=labels,
        pair_list=pairs.pairs,
        thresholds_by_metric=thresholds,
        timings_s={"embed": round(t_embed, 2), "score": round(t_score, 2)},
        groups=by_group,
        verdicts=verdicts,
    )
