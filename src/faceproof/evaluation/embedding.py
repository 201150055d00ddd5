"""Embedding a pair list's images once: every face of each image, in worker processes
or threads, cached on disk by :class:`EmbeddingCache`; and one distance per pair under a
face policy (``center``, ``largest``, ``max``). A pair without a usable face gets ``inf``.

Each face keeps its five landmarks (its turn, hence the pair's pose bin) and, when the
configuration embeds with flip on a recognizer whose plain and mirrored passes run apart
(SFace), also its no-flip embedding: the two stages of the verification cascade, from one
plain and one mirrored pass per face, as ``verify`` computes them."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import FaceProofError, InvalidArgument
from ..runtime.cascade import embed_plain
from ..runtime.compare import Metric, distance_matrix
from ..runtime.embed import flip_average, l2_normalize
from ..runtime.pipeline import Pipeline, PipelineConfig
from ..types import BBox, Face
from .pairs import Pair

logger = logging.getLogger(__name__)


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
    """The part of a :class:`~faceproof.PipelineConfig` that changes embeddings (what a
    worker process needs to build its own pipeline; picklable)."""

    detector: str = "yunet"
    model: str = "sface"
    flip: bool | None = None  # None: the pipeline's default
    min_detection_confidence: float | None = None
    precision: str = "f32"  # SFace's arithmetic (PipelineConfig.precision)

    def pipeline_config(self) -> PipelineConfig:
        """The pipeline configuration (no attribute model: evaluation never needs it)."""
        options: dict[str, Any] = {} if self.flip is None else {"flip": self.flip}
        return PipelineConfig(
            detector=self.detector,
            model=self.model,
            min_detection_confidence=self.min_detection_confidence,
            attributes=(),
            precision=self.precision,
            **options,
        )

    def build(self) -> Pipeline:
        return Pipeline(self.pipeline_config())

    def resolved(self) -> ClientConfig:
        """This configuration with ``flip`` made explicit (the pipeline's default filled in)."""
        if self.flip is not None:
            return self
        return dataclasses.replace(self, flip=self.pipeline_config().flip)

    def key(self) -> str:
        """A digest naming this configuration and the weights it runs (cache directories)."""
        from ..runtime import registry
        from ..runtime.models import MODEL_FILES

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
    #: (n, 5, 2) detector landmarks (empty when unknown: the pair then has no pose bin)
    landmarks: np.ndarray = field(default_factory=lambda: np.zeros((0, 5, 2), np.float32))
    #: (n, dim) unit no-flip embeddings when ``embeddings`` are flip embeddings of a
    #: two-pass recognizer (the cascade's first stage); empty otherwise
    plain: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))

    @property
    def n_faces(self) -> int:
        return int(self.boxes.shape[0])

    @property
    def has_landmarks(self) -> bool:
        return self.n_faces > 0 and self.landmarks.shape == (self.n_faces, 5, 2)

    @property
    def has_plain(self) -> bool:
        return self.n_faces > 0 and self.plain.ndim == 2 and self.plain.shape[0] == self.n_faces

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

    def plain_vectors(self, rows: np.ndarray) -> np.ndarray:
        """The unit no-flip embeddings of ``rows`` (:attr:`has_plain` must hold)."""
        return self.plain[rows].astype(np.float64)

    def faces(self, detector: str = "") -> list[Face]:
        """The faces as :class:`~faceproof.types.Face` records (box, score, landmarks, the
        embedding), for the runtime's pose-aware thresholds."""
        lms = self.landmarks if self.has_landmarks else None
        out = []
        for i in range(self.n_faces):
            x1, y1, x2, y2 = (float(v) for v in self.boxes[i])
            out.append(
                Face(
                    bbox=BBox(x1, y1, max(x1, x2), max(y1, y2)),
                    score=min(1.0, max(0.0, float(self.scores[i]))),
                    landmarks=None if lms is None else lms[i],
                    detector=detector,
                )
            )
        return out


_worker: threading.local = threading.local()


def _embed_one(config: ClientConfig, root: str, rel: str) -> ImageFaces:
    fp = getattr(_worker, "fp", None)
    if fp is None or getattr(_worker, "config", None) != config:
        fp = config.build()
        _worker.fp, _worker.config = fp, config
    return embed_image(fp, root, rel)


def embed_image(pipeline: Pipeline | Any, root: str | Path, rel: str) -> ImageFaces:
    """Every face of one image embedded by a :class:`~faceproof.Pipeline` (or anything
    holding one as ``.pipeline``, such as a :class:`~faceproof.FaceProof`).

    With flip on a two-pass recognizer (SFace), the plain and the mirrored pass run once
    each: ``embeddings`` are their average (what ``Pipeline.embed`` gives, the cascade's
    second stage) and ``plain`` the plain pass alone (its first stage)."""
    pipe: Pipeline = pipeline if isinstance(pipeline, Pipeline) else pipeline.pipeline
    try:
        image = pipe.load_image(Path(root) / rel)
        if _two_pass_flip(pipe):
            faces = [f for f in pipe.detect(image)[0] if f.landmarks is not None]
            plain = embed_plain(pipe.recognizer, image, faces)  # type: ignore[arg-type]
            faces = list(plain.faces)
        else:
            faces = pipe.faces(image)
            plain = None
    except FaceProofError as exc:
        return ImageFaces(rel, error=exc.code)
    h, w = image.shape[:2]
    if not faces:
        return ImageFaces(rel, w, h, error="no_face")
    if plain is not None:
        mirrored = pipe.recognizer.forward(plain.chips, mirrored=True)  # type: ignore[attr-defined]
        embeddings, norms = l2_normalize(flip_average(plain.plain, mirrored))
        plain_unit = np.stack([f.embedding for f in faces if f.embedding is not None]).astype(np.float32)
    else:
        embeddings = np.stack([f.embedding for f in faces if f.embedding is not None]).astype(np.float32)
        norms = np.array([f.embedding_norm or 1.0 for f in faces], np.float32)
        plain_unit = np.zeros((0, 0), np.float32)
    return ImageFaces(
        rel,
        w,
        h,
        boxes=np.array([f.bbox.as_list(None) for f in faces], np.float32),
        scores=np.array([f.score for f in faces], np.float32),
        embeddings=embeddings.astype(np.float32),
        norms=norms.astype(np.float32),
        landmarks=np.stack([np.asarray(f.landmarks, np.float32).reshape(5, 2) for f in faces]).astype(np.float32)
        if all(f.landmarks is not None for f in faces)
        else np.zeros((0, 5, 2), np.float32),
        plain=plain_unit,
    )


def _two_pass_flip(pipe: Pipeline) -> bool:
    """Whether the pipeline embeds with flip on a recognizer whose plain and mirrored passes
    run apart (what the cascade needs)."""
    rec = pipe.recognizer
    return (
        bool(getattr(rec, "flip", False))
        and callable(getattr(rec, "chips", None))
        and callable(getattr(rec, "forward", None))
    )


def _process_init(threads: int) -> None:
    # worker processes only: one OpenCV thread each, the pool provides the parallelism
    import cv2

    cv2.setNumThreads(threads)


#: the layout of a cache file (2: landmarks and no-flip embeddings added; 3: the same layout,
#: made by YuNet on ONNX Runtime, whose faces differ from cv2.FaceDetectorYN's by up to
#: ~1e-4 px; 4: the same, SFace on OpenVINO, whose outputs differ from cv2.dnn's by ~1e-6);
#: in its name, so a file of another layout or engine is never read
CACHE_SCHEMA = 4


class EmbeddingCache:
    """Embedded images on disk: one ``.npz`` per configuration (:meth:`ClientConfig.key`)
    and layout (:data:`CACHE_SCHEMA`) in ``directory``, keyed by image path, size and
    modification time."""

    def __init__(self, directory: str | Path, config: ClientConfig, root: str | Path) -> None:
        self.directory = Path(directory)
        self.config = config.resolved()
        self.root = Path(root)
        self.file = self.directory / f"embeddings-{self.config.model}-{self.config.key()}-v{CACHE_SCHEMA}.npz"

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
                arrays = {k: data[k] for k in ("boxes", "scores", "embeddings", "norms", "landmarks", "plain")}
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
                landmarks=arrays["landmarks"][a:b] if entry.get("landmarks") else np.zeros((0, 5, 2), np.float32),
                plain=arrays["plain"][a:b] if entry.get("plain") else np.zeros((0, 0), np.float32),
            )
        return out

    def save(self, items: Mapping[str, ImageFaces]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        index: dict[str, Any] = {}
        boxes, scores, embs, norms, lms, plains = [], [], [], [], [], []
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
                "landmarks": f.has_landmarks,
                "plain": f.has_plain,
            }
            row += n
            if n:
                boxes.append(f.boxes)
                scores.append(f.scores)
                embs.append(f.embeddings)
                norms.append(f.norms)
                # rows of faces without them are zeros (the index says they are absent)
                lms.append(f.landmarks if f.has_landmarks else np.zeros((n, 5, 2), np.float32))
                plains.append(f.plain if f.has_plain else np.zeros((n, dim), np.float32))
        tmp = self.file.with_suffix(".tmp.npz")
        np.savez(
            tmp,
            index=np.array(json.dumps(index)),
            boxes=np.concatenate(boxes) if boxes else np.zeros((0, 4), np.float32),
            scores=np.concatenate(scores) if scores else np.zeros((0,), np.float32),
            embeddings=np.concatenate(embs) if embs else np.zeros((0, dim), np.float32),
            norms=np.concatenate(norms) if norms else np.zeros((0,), np.float32),
            landmarks=np.concatenate(lms).astype(np.float32) if lms else np.zeros((0, 5, 2), np.float32),
            plain=np.concatenate(plains).astype(np.float32) if plains else np.zeros((0, dim), np.float32),
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
