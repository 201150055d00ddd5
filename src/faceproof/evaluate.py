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
* :func:`evaluate` puts it together; :func:`write_report` writes ``report.json``,
  ``report.md``, ``scores.csv`` and, with matplotlib (``faceproof[plot]``), ``roc.png``
  and ``hist.png``.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np

from ._version import __version__
from .compare import Metric, distance_matrix
from .errors import FaceProofError, InvalidArgument

__all__ = [
    "ClientConfig",
    "EmbeddingCache",
    "EvaluationReport",
    "FacePolicy",
    "ImageFaces",
    "Pair",
    "PairSet",
    "assign_folds",
    "auc",
    "best_threshold",
    "check_scores",
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
    "rates_at",
    "roc",
    "score_pairs",
    "tar_at_far",
    "write_report",
]

logger = logging.getLogger(__name__)

DEFAULT_FARS: tuple[float, ...] = (1e-2, 1e-3)


# ---------------------------------------------------------------------------- pairs


@dataclass(frozen=True)
class Pair:
    """Two image paths (relative to the pair list's root) and whether they show one person."""

    path1: str
    path2: str
    same: bool
    fold: int | None = None


@dataclass(frozen=True)
class PairSet:
    pairs: tuple[Pair, ...]
    name: str
    format: str  # "csv", "lfw-view1" or "lfw-view2"

    def __len__(self) -> int:
        return len(self.pairs)

    @property
    def has_folds(self) -> bool:
        return bool(self.pairs) and all(p.fold is not None for p in self.pairs)

    @property
    def labels(self) -> np.ndarray:
        return np.array([p.same for p in self.pairs], dtype=bool)

    def paths(self) -> list[str]:
        """Every distinct image path, sorted."""
        return sorted({p for pair in self.pairs for p in (pair.path1, pair.path2)})

    def head(self, n: int) -> PairSet:
        """The first ``n // 2`` same and first ``n - n // 2`` different pairs (a balanced slice)."""
        same = [p for p in self.pairs if p.same][: n // 2]
        diff = [p for p in self.pairs if not p.same][: n - len(same)]
        return PairSet(tuple(same + diff), f"{self.name}[:{n}]", self.format)


def _lfw_path(name: str, index: str) -> str:
    return f"{name}/{name}_{int(index):04d}.jpg"


def parse_lfw_pairs(text: str) -> tuple[list[Pair], str]:
    """Pairs from LFW's ``pairs.txt`` text: View 1 (``N`` header) or View 2 (``folds N``).

    Paths are ``name/name_000i.jpg`` relative to the folder that holds one sub-folder per
    person. View 2 pairs carry their fold (0-based).
    """
    lines = [ln.split() for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise InvalidArgument("the pairs file is empty")
    header = lines[0]
    try:
        if len(header) == 1:
            folds, per_class = 1, int(header[0])
        elif len(header) == 2:
            folds, per_class = int(header[0]), int(header[1])
        else:
            raise ValueError
    except ValueError:
        raise InvalidArgument(f"not an LFW pairs.txt header: {' '.join(header)!r}") from None
    body = lines[1:]
    if len(body) != folds * 2 * per_class:
        raise InvalidArgument(
            f"LFW pairs header promises {folds} fold(s) x 2 x {per_class} pairs, the file has {len(body)} lines"
        )
    pairs: list[Pair] = []
    for k, fields in enumerate(body):
        fold = k // (2 * per_class)
        same = (k % (2 * per_class)) < per_class
        try:
            if same and len(fields) == 3:
                pair = Pair(_lfw_path(fields[0], fields[1]), _lfw_path(fields[0], fields[2]), True)
            elif not same and len(fields) == 4:
                pair = Pair(_lfw_path(fields[0], fields[1]), _lfw_path(fields[2], fields[3]), False)
            else:
                raise ValueError
        except ValueError:
            kind = "same (name i j)" if same else "different (name1 i name2 j)"
            raise InvalidArgument(f"line {k + 2} of the pairs file is not a {kind} pair: {fields}") from None
        pairs.append(Pair(pair.path1, pair.path2, pair.same, fold if folds > 1 else None))
    return pairs, "lfw-view2" if folds > 1 else "lfw-view1"


def _parse_csv(text: str) -> list[Pair]:
    reader = csv.DictReader(text.splitlines())
    need = {"path1", "path2", "same"}
    if reader.fieldnames is None or not need <= set(reader.fieldnames):
        raise InvalidArgument(f"a pairs CSV needs the columns path1,path2,same; found {reader.fieldnames}")
    pairs = []
    for n, row in enumerate(reader, start=2):
        same = str(row["same"]).strip().lower()
        if same not in {"0", "1", "true", "false"}:
            raise InvalidArgument(f"line {n}: 'same' must be 1/0 or true/false, got {row['same']!r}")
        fold = row.get("fold")
        try:
            fold_value = int(fold) if fold not in (None, "") else None
        except ValueError:
            raise InvalidArgument(f"line {n}: 'fold' must be an integer, got {fold!r}") from None
        if not row["path1"] or not row["path2"]:
            raise InvalidArgument(f"line {n}: empty path")
        pairs.append(Pair(row["path1"].strip(), row["path2"].strip(), same in {"1", "true"}, fold_value))
    return pairs


def load_pairs(path: str | Path) -> PairSet:
    """Read a pair list (CSV or LFW pairs.txt, recognised by its content)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidArgument(f"cannot read the pairs file {path}: {exc}") from exc
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    if "," in first:
        pairs, fmt = _parse_csv(text), "csv"
    else:
        pairs, fmt = parse_lfw_pairs(text)
    if not pairs:
        raise InvalidArgument(f"the pairs file {path} holds no pairs")
    return PairSet(tuple(pairs), path.name, fmt)


# ---------------------------------------------------------------------------- embedding


class FacePolicy(StrEnum):
    CENTER = "center"
    LARGEST = "largest"
    MAX = "max"

    @classmethod
    def parse(cls, value: str | FacePolicy) -> FacePolicy:
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            known = ", ".join(p.value for p in cls)
            raise InvalidArgument(f"unknown face policy {value!r}; use one of: {known}") from None


@dataclass(frozen=True)
class ClientConfig:
    """What a worker needs to build its own :class:`~faceproof.FaceProof` (picklable)."""

    detector: str = "yunet"
    model: str = "sface"
    flip: bool | None = None  # None: the client's default
    min_detection_confidence: float | None = None

    def build(self) -> Any:
        from .client import FaceProof

        opts: dict[str, Any] = {}
        if self.flip is not None:
            opts["flip"] = self.flip
        return FaceProof(
            detector=self.detector,
            model=self.model,
            min_detection_confidence=self.min_detection_confidence,
            attributes=(),
            **opts,
        )

    def resolved(self) -> ClientConfig:
        """This configuration with ``flip`` made explicit (the client's default filled in)."""
        if self.flip is not None:
            return self
        fp = self.build()
        flip = bool(getattr(fp.recognizer, "flip", False))
        return ClientConfig(self.detector, self.model, flip, self.min_detection_confidence)

    def key(self) -> str:
        """A digest naming this configuration and the weights it runs (cache directories)."""
        from . import registry
        from .models import MODEL_FILES

        files = set(registry.get_spec("recognizer", self.model).model_files)
        for name in self.detector.split("+"):
            files.update(registry.get_spec("detector", name.strip()).model_files)
        doc = {**asdict(self.resolved()), "weights": {k: MODEL_FILES[k].sha256 for k in sorted(files)}}
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class ImageFaces:
    """Every face found in one image, embedded; or why there is none (``error``)."""

    path: str
    width: int = 0
    height: int = 0
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    scores: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.float32))
    embeddings: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))  # unit rows
    norms: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.float32))
    error: str | None = None  # a faceproof error code, e.g. "image_unreadable"

    @property
    def n_faces(self) -> int:
        return int(self.boxes.shape[0])

    def pick(self, policy: FacePolicy) -> np.ndarray:
        """Row indices of the faces the policy compares (empty when there is none)."""
        if self.n_faces == 0:
            return np.zeros((0,), np.int64)
        if policy is FacePolicy.MAX:
            return np.arange(self.n_faces)
        if policy is FacePolicy.LARGEST:
            areas = (self.boxes[:, 2] - self.boxes[:, 0]) * (self.boxes[:, 3] - self.boxes[:, 1])
            return np.array([int(np.argmax(areas))])
        cx = (self.boxes[:, 0] + self.boxes[:, 2]) / 2.0 - self.width / 2.0
        cy = (self.boxes[:, 1] + self.boxes[:, 3]) / 2.0 - self.height / 2.0
        return np.array([int(np.argmin(cx**2 + cy**2))])

    def vectors(self, rows: np.ndarray, metric: Metric) -> np.ndarray:
        emb = self.embeddings[rows].astype(np.float64)
        if metric is Metric.EUCLIDEAN:
            return emb * self.norms[rows, None]
        return emb


_worker: threading.local = threading.local()


def _embed_one(config: ClientConfig, root: str, rel: str) -> ImageFaces:
    fp = getattr(_worker, "fp", None)
    if fp is None or getattr(_worker, "config", None) != config:
        fp = config.build()
        _worker.fp, _worker.config = fp, config
    return embed_image(fp, root, rel)


def embed_image(fp: Any, root: str | Path, rel: str) -> ImageFaces:
    """Every face of one image embedded by a :class:`~faceproof.FaceProof` ``fp``."""
    try:
        image = fp.load_image(Path(root) / rel)
        faces = fp.represent(image)
    except FaceProofError as exc:
        return ImageFaces(rel, error=exc.code)
    h, w = image.shape[:2]
    if not faces:
        return ImageFaces(rel, w, h, error="no_face")
    return ImageFaces(
        rel,
        w,
        h,
        boxes=np.array([f.bbox.as_list(None) for f in faces], np.float32),
        scores=np.array([f.score for f in faces], np.float32),
        embeddings=np.stack([f.embedding for f in faces]).astype(np.float32),
        norms=np.array([f.embedding_norm or 1.0 for f in faces], np.float32),
    )


def _process_init(threads: int) -> None:
    # worker processes only: one OpenCV thread each, the pool provides the parallelism
    import cv2

    cv2.setNumThreads(threads)


class EmbeddingCache:
    """Embedded images on disk: one ``.npz`` per configuration (:meth:`ClientConfig.key`)
    in ``directory``, keyed by image path, size and modification time."""

    def __init__(self, directory: str | Path, config: ClientConfig, root: str | Path) -> None:
        self.directory = Path(directory)
        self.config = config.resolved()
        self.root = Path(root)
        self.file = self.directory / f"embeddings-{self.config.model}-{self.config.key()}.npz"

    def _stamp(self, rel: str) -> str:
        try:
            st = (self.root / rel).stat()
        except OSError:
            return "missing"
        return f"{st.st_size}:{st.st_mtime_ns}"

    def load(self) -> dict[str, ImageFaces]:
        if not self.file.is_file():
            return {}
        try:
            with np.load(self.file, allow_pickle=False) as data:
                index = json.loads(str(data["index"]))
                arrays = {k: data[k] for k in ("boxes", "scores", "embeddings", "norms")}
        except (OSError, ValueError, KeyError) as exc:
            logger.warning("ignoring unreadable embedding cache %s: %s", self.file, exc)
            return {}
        out: dict[str, ImageFaces] = {}
        for rel, entry in index.items():
            if entry["stamp"] != self._stamp(rel):
                continue
            a, b = entry["rows"]
            out[rel] = ImageFaces(
                rel,
                entry["width"],
                entry["height"],
                arrays["boxes"][a:b],
                arrays["scores"][a:b],
                arrays["embeddings"][a:b] if b > a else np.zeros((0, 0), np.float32),
                arrays["norms"][a:b],
                entry["error"],
            )
        return out

    def save(self, items: Mapping[str, ImageFaces]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        index: dict[str, Any] = {}
        boxes, scores, embs, norms = [], [], [], []
        row = 0
        dim = next((f.embeddings.shape[1] for f in items.values() if f.n_faces), 0)
        for rel in sorted(items):
            f = items[rel]
            n = f.n_faces
            index[rel] = {
                "stamp": self._stamp(rel),
                "rows": [row, row + n],
                "width": f.width,
                "height": f.height,
                "error": f.error,
            }
            row += n
            if n:
                boxes.append(f.boxes)
                scores.append(f.scores)
                embs.append(f.embeddings)
                norms.append(f.norms)
        tmp = self.file.with_suffix(".tmp.npz")
        np.savez(
            tmp,
            index=np.array(json.dumps(index)),
            boxes=np.concatenate(boxes) if boxes else np.zeros((0, 4), np.float32),
            scores=np.concatenate(scores) if scores else np.zeros((0,), np.float32),
            embeddings=np.concatenate(embs) if embs else np.zeros((0, dim), np.float32),
            norms=np.concatenate(norms) if norms else np.zeros((0,), np.float32),
        )
        os.replace(tmp, self.file)


def embed_images(
    paths: Iterable[str],
    root: str | Path,
    config: ClientConfig = ClientConfig(),
    *,
    workers: int = 2,
    backend: str = "process",
    cache_dir: str | Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, ImageFaces]:
    """Embed every face of every image once; ``{path: ImageFaces}``.

    ``workers`` > 1 runs images in parallel: ``backend="process"`` (one FaceProof and one
    OpenCV thread per worker process) or ``"thread"`` (one FaceProof per thread, OpenCV's
    own thread pool left as it is). ``progress`` is called with the number of images
    finished since its last call.
    """
    if backend not in {"process", "thread"}:
        raise InvalidArgument(f"backend must be 'process' or 'thread', got {backend!r}")
    config = config.resolved()
    wanted = sorted(set(paths))
    cache = EmbeddingCache(cache_dir, config, root) if cache_dir is not None else None
    done: dict[str, ImageFaces] = cache.load() if cache is not None else {}
    todo = [p for p in wanted if p not in done]
    if progress is not None and len(wanted) > len(todo):
        progress(len(wanted) - len(todo))
    if todo:
        logger.info("embedding %d images (%d cached) with %s", len(todo), len(wanted) - len(todo), config)
        root_s = str(root)
        if workers <= 1:
            for rel in todo:
                done[rel] = _embed_one(config, root_s, rel)
                if progress is not None:
                    progress(1)
        else:
            executor: Executor
            if backend == "process":
                import multiprocessing

                ctx = multiprocessing.get_context("spawn")
                executor = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_process_init, initargs=(1,))
            else:
                executor = ThreadPoolExecutor(workers)
            with executor:
                chunk = 16
                futures = [
                    executor.submit(_embed_chunk, config, root_s, todo[i : i + chunk])
                    for i in range(0, len(todo), chunk)
                ]
                for fut in futures:
                    items = fut.result()
                    for item in items:
                        done[item.path] = item
                    if progress is not None:
                        progress(len(items))
        if cache is not None:
            cache.save(done)
    return {p: done[p] for p in wanted}


def _embed_chunk(config: ClientConfig, root: str, rels: Sequence[str]) -> list[ImageFaces]:
    return [_embed_one(config, root, rel) for rel in rels]


# ---------------------------------------------------------------------------- scoring


def pair_distances(
    pairs: Sequence[Pair], images: Mapping[str, ImageFaces], metric: Metric | str, policy: FacePolicy | str
) -> np.ndarray:
    """One distance per pair (``inf`` when either image has no usable face)."""
    metric = Metric.parse(metric)
    policy = FacePolicy.parse(policy)
    out = np.full(len(pairs), np.inf, dtype=np.float64)
    for i, pair in enumerate(pairs):
        a, b = images[pair.path1], images[pair.path2]
        ra, rb = a.pick(policy), b.pick(policy)
        if ra.size == 0 or rb.size == 0:
            continue
        out[i] = float(distance_matrix(a.vectors(ra, metric), b.vectors(rb, metric), metric).min())
    return out


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


def rates_at(distances: np.ndarray, labels: np.ndarray, threshold: float) -> dict[str, float]:
    """Accuracy, TPR (same-person pairs accepted), TNR (different-person pairs rejected),
    FAR = 1 - TNR, FRR = 1 - TPR at a threshold."""
    d, y = check_scores(distances, labels)
    accept = d <= threshold
    tpr = float(accept[y].mean()) if y.any() else math.nan
    tnr = float((~accept[~y]).mean()) if (~y).any() else math.nan
    return {
        "threshold": float(threshold),
        "accuracy": float((accept == y).mean()) if d.size else math.nan,
        "tpr": tpr,
        "tnr": tnr,
        "far": float(accept[~y].mean()) if (~y).any() else math.nan,
        "frr": float((~accept[y]).mean()) if y.any() else math.nan,
    }


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
    pairs: Sequence[Pair], distances: np.ndarray, groups: Mapping[str, str], threshold: float | None
) -> dict[str, dict[str, Any]]:
    """Rates per group of pairs: pairs whose two images carry the same group label are that
    group's; pairs with two different labels are "mixed"; a path without a label makes the
    pair "unlabelled". For each: pair counts, AUC and EER (when both classes are present),
    and accuracy/TPR/TNR at ``threshold``."""
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
        out[key] = entry
    return out


def load_groups(path: str | Path) -> dict[str, str]:
    """A CSV ``path,<label>`` (the first two columns; a header row is expected)."""
    try:
        rows = list(csv.reader(Path(path).read_text(encoding="utf-8").splitlines()))
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidArgument(f"cannot read the groups file {path}: {exc}") from exc
    if len(rows) < 2 or any(len(r) < 2 for r in rows[1:] if r):
        raise InvalidArgument(f"the groups file {path} needs a header and rows 'path,label'")
    return {r[0].strip(): r[1].strip() for r in rows[1:] if r}


# ---------------------------------------------------------------------------- evaluation


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
    created: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))

    @property
    def primary(self) -> dict[str, Any]:
        return self.results[self.primary_policy][self.primary_metric]

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
    config: ClientConfig = ClientConfig(),
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

    ``groups`` maps image paths to a group label (e.g. LFW's gender labels): the report
    then breaks the primary metric down by group (see :func:`group_rates`)."""
    from .compare import ThresholdTable, threshold_key

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
    config = config.resolved()
    root = Path(root)
    table = ThresholdTable.builtin()
    if calibration is not None:
        from .calibrate import load_calibration

        table = table.merged(load_calibration(calibration))
    thresholds: dict[str, float | None] = {}
    sources: dict[str, str] = {}
    for m in metrics_:
        try:
            key = threshold_key(config.model, config.flip)
            thr = table.resolve(key, m, threshold if m is primary_metric_ else None)
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
    for pol in policies_:
        results[pol.value], distances[pol.value] = {}, {}
        for m in metrics_:
            d = pair_distances(pairs.pairs, images, m, pol)
            distances[pol.value][m.value] = d
            results[pol.value][m.value] = score_pairs(d, labels, threshold=thresholds[m.value], folds=fold_ids)
    no_face = np.array([images[p.path1].n_faces == 0 or images[p.path2].n_faces == 0 for p in pairs.pairs])
    by_group = (
        group_rates(
            pairs.pairs,
            distances[primary_policy_.value][primary_metric_.value],
            groups,
            thresholds[primary_metric_.value],
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
            "table": table.name,
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
        timings_s={"embed": round(t_embed, 2)},
        groups=by_group,
    )


# ---------------------------------------------------------------------------- reports


def _pct(x: float | None) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100.0 * x:.2f} %"


def report_markdown(report: EvaluationReport, command: str | None = None) -> str:
    p = report.primary
    cfg = report.config
    lines = [
        f"# Verification report: {report.pairs_name}",
        "",
        f"faceproof {__version__}, {report.created}. Detector `{cfg.detector}`, model `{cfg.model}`, "
        f"flip TTA {'on' if cfg.flip else 'off'}. Pairs: {report.pairs['total']} "
        f"({report.pairs['same']} same, {report.pairs['different']} different); images {report.images['total']}, "
        f"{report.images['multi_face']} with more than one face.",
        "",
    ]
    if command:
        lines += ["Command:", "", f"    {command}", ""]
    lines += [
        f"**Pairs without a usable face: {report.pairs['no_face']}** "
        f"({report.pairs['no_face_same']} same, {report.pairs['no_face_different']} different); "
        "they are scored as rejections (distance inf), never dropped. Images without a face: "
        + (", ".join(f"{k[6:]} {v}" for k, v in report.images.items() if k.startswith("error_")) or "none")
        + ".",
        "",
        f"Primary: metric `{report.primary_metric}`, face policy `{report.primary_policy}`, configured threshold "
        f"{report.threshold['value']} ({report.threshold['source']}).",
        "",
        "| metric | value |",
        "|---|---|",
        f"| {p['kfold_accuracy']['folds']}-fold accuracy ({report.folds_source}) | "
        f"{_pct(p['kfold_accuracy']['mean'])} ± {_pct(p['kfold_accuracy']['std'])} |",
        f"| ROC AUC | {p['auc']:.5f} |",
        f"| EER | {_pct(p['eer'])} (threshold {p['eer_threshold']:.4f}) |",
    ]
    for far, v in p["tar_at_far"].items():
        lines.append(f"| TAR at FAR {far} | {_pct(v['tar'])} (FAR {_pct(v['far'])}, threshold {v['threshold']:.4f}) |")
    lines.append(f"| best threshold (all pairs) | {p['best_threshold']:.4f} (accuracy {_pct(p['best_accuracy'])}) |")
    at = p["at_threshold"]
    if at is not None:
        lines.append(
            f"| at the configured threshold {at['threshold']:g} | accuracy {_pct(at['accuracy'])}, "
            f"TPR {_pct(at['tpr'])}, TNR {_pct(at['tnr'])} |"
        )
    lines += [
        "",
        "## Every face policy and metric",
        "",
        "| face policy | metric | k-fold accuracy | AUC | EER | TAR@FAR 1e-2 | TAR@FAR 1e-3 | best threshold "
        "| accuracy at configured threshold |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for pol, by_metric in report.results.items():
        for m, r in by_metric.items():
            tf = r["tar_at_far"]
            at = r["at_threshold"]
            lines.append(
                f"| {pol} | {m} | {_pct(r['kfold_accuracy']['mean'])} ± {_pct(r['kfold_accuracy']['std'])} "
                f"| {r['auc']:.4f} | {_pct(r['eer'])} | {_pct(tf.get('0.01', {}).get('tar'))} "
                f"| {_pct(tf.get('0.001', {}).get('tar'))} | {r['best_threshold']:.4f} "
                f"| {_pct(at['accuracy']) + ' at ' + format(at['threshold'], 'g') if at else '-'} |"
            )
    if report.groups:
        lines += [
            "",
            f"## By group ({report.primary_policy} face, {report.primary_metric}, threshold "
            f"{report.threshold['value']})",
            "",
            "| group | pairs (same / different) | AUC | EER | accuracy | TPR | TNR |",
            "|---|---|---|---|---|---|---|",
        ]
        for g, e in report.groups.items():
            at = e.get("at_threshold") or {}
            area = f"{e['auc']:.4f}" if "auc" in e else "-"
            lines.append(
                f"| {g} | {e['pairs']} ({e['same']} / {e['different']}) | {area} | {_pct(e.get('eer'))} "
                f"| {_pct(at.get('accuracy'))} | {_pct(at.get('tpr'))} | {_pct(at.get('tnr'))} |"
            )
    lines.append("")
    return "\n".join(lines)


def write_report(report: EvaluationReport, out_dir: str | Path, *, command: str | None = None) -> list[Path]:
    """Write report.json, report.md, scores.csv, and (with matplotlib) roc.png, hist.png."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    doc = report.to_dict()
    if command:
        doc["command"] = command
    written = [out / "report.json", out / "report.md", out / "scores.csv"]
    written[0].write_text(json.dumps(doc, indent=2, allow_nan=False, default=_json_default) + "\n", encoding="utf-8")
    written[1].write_text(report_markdown(report, command), encoding="utf-8")
    with written[2].open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        cols = [(pol, m) for pol, by in report.distances.items() for m in by]
        w.writerow(["path1", "path2", "same", *(f"{pol}_{m}" for pol, m in cols)])
        for i, pair in enumerate(report.pair_list):
            w.writerow(
                [pair.path1, pair.path2, int(pair.same), *(f"{report.distances[pol][m][i]:.6f}" for pol, m in cols)]
            )
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        logger.warning("matplotlib is not installed: no plots (pip install 'faceproof[plot]')")
        return written
    written += plot_report(report, out)
    return written


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def plot_report(report: EvaluationReport, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    y = report.labels
    paths = []
    fig, ax = plt.subplots(figsize=(5.5, 4.5), dpi=100)
    n_neg = int((~y).sum())
    x_min = min(1e-3, 0.5 / max(n_neg, 1))
    lowest = 1.0
    for pol, by in report.distances.items():
        d = by[report.primary_metric]
        far, tar, _ = roc(d, y)
        area = report.results[pol][report.primary_metric]["auc"]
        ax.plot(np.maximum(far, x_min), tar, drawstyle="steps-post", label=f"{pol} (AUC {area:.4f})")
        lowest = min(lowest, float(tar[far <= x_min].max()) if (far <= x_min).any() else 0.0)
    ax.set_xscale("log")
    ax.set_xlim(x_min, 1.0)
    ax.set_ylim(max(0.0, math.floor((lowest - 0.01) * 100) / 100), 1.002)
    ax.set_xlabel("false accept rate")
    ax.set_ylabel("true accept rate")
    ax.set_title(f"ROC: {report.config.model}, {report.primary_metric}, {report.pairs_name}", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(title="face policy", fontsize=8)
    fig.tight_layout()
    paths.append(out / "roc.png")
    fig.savefig(paths[-1])
    plt.close(fig)

    d = report.distances[report.primary_policy][report.primary_metric]
    finite = np.isfinite(d)
    fig, ax = plt.subplots(figsize=(5.5, 4.0), dpi=100)
    lo, hi = (float(d[finite].min()), float(d[finite].max())) if finite.any() else (0.0, 1.0)
    bins = [float(b) for b in np.linspace(lo, hi, 60)]
    ax.hist(d[finite & y], bins=bins, alpha=0.6, color="tab:blue", label="same person")
    ax.hist(d[finite & ~y], bins=bins, alpha=0.6, color="tab:orange", label="different people")
    thr = report.threshold["value"]
    if thr is not None:
        ax.axvline(thr, color="k", linestyle="--", linewidth=1, label=f"threshold {thr:g}")
    ax.set_xlabel(f"{report.primary_metric} distance ({report.primary_policy} face)")
    ax.set_ylabel("pairs")
    n_inf = int((~finite).sum())
    ax.set_title(
        f"{report.config.model} on {report.pairs_name}"
        + (f" ({n_inf} pairs without a face not shown)" if n_inf else ""),
        fontsize=9,
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    paths.append(out / "hist.png")
    fig.savefig(paths[-1])
    plt.close(fig)
    return paths
