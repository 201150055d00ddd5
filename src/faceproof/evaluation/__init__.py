"""Offline evaluation: verification accuracy as code, pairs in, a report out. Never imported
by the runtime or the decision wing.

* :mod:`.pairs` reads pair lists (CSV ``path1,path2,same`` or LFW's ``pairs.txt``) and
  group labels;
* :mod:`.embedding` embeds every image once with one pipeline configuration (worker
  processes, on-disk cache) and turns pairs into distances under a face policy;
* :mod:`.metrics` measures distances: ROC, AUC, EER, TAR at FAR, best threshold, k-fold;
* :mod:`.verdicts` gives each pair the library's default verdict (pose-aware thresholds,
  the verification cascade) and its rates per pose bin;
* :mod:`.accuracy` puts it together (:func:`evaluate`), :mod:`.report` writes it;
* :mod:`.calibrate` fits thresholds; :mod:`.attributes` measures gender and age per group.
"""

from __future__ import annotations

from .accuracy import EvaluationReport, evaluate
from .embedding import (
    ClientConfig,
    EmbeddingCache,
    FacePolicy,
    ImageFaces,
    embed_image,
    embed_images,
    pair_distances,
)
from .metrics import (
    DEFAULT_FARS,
    assign_folds,
    auc,
    best_threshold,
    check_scores,
    eer,
    group_rates,
    kfold_accuracy,
    rates_at,
    rates_of,
    roc,
    score_pairs,
    tar_at_far,
)
from .pairs import Pair, PairSet, load_groups, load_pairs, parse_lfw_pairs
from .report import plot_report, report_markdown, write_report
from .verdicts import PairVerdicts, default_verdicts, rates_by_pose_bin

__all__ = [
    "DEFAULT_FARS",
    "ClientConfig",
    "EmbeddingCache",
    "EvaluationReport",
    "FacePolicy",
    "ImageFaces",
    "Pair",
    "PairSet",
    "PairVerdicts",
    "assign_folds",
    "auc",
    "best_threshold",
    "check_scores",
    "default_verdicts",
    "eer",
    "embed_image",
    "embed_images",
    "evaluate",
    "group_rates",
    "kfold_accuracy",
    "load_groups",
    "load_pairs",
    "pair_distances",
    "parse_lfw_pairs",
    "plot_report",
    "rates_at",
    "rates_by_pose_bin",
    "rates_of",
    "report_markdown",
    "roc",
    "score_pairs",
    "tar_at_far",
    "write_report",
]
