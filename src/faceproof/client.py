"""The :class:`FaceProof` client: one object that holds the chosen backends and runs the
pipeline io -> detect -> align -> embed -> compare -> verify (and attributes).

Build one and reuse it: models load on first use (or :meth:`FaceProof.warmup`) and stay
with the instance; there is no global model cache. Instances are thread-safe.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .codes import AnalyzeCode, Lang, VerifyCode, analyze_code_for_error, check_lang, verify_code_for_error
from .errors import FaceProofError, InvalidArgument, NoFaceError, Role
from .runtime.align import MIN_CROP_SIZE, padded_crop
from .runtime.attributes import AttributeModel, annotate_faces
from .runtime.compare import Metric, Threshold, ThresholdTable
from .runtime.detect import Detector
from .runtime.embed import Recognizer
from .runtime.io import DEFAULT_LIMITS, DEFAULT_URL_POLICY, ImageLimits, ImageSource, URLPolicy
from .runtime.pipeline import ATTRIBUTE_NAMES, Pipeline, PipelineConfig, build_detector, confirming_detector
from .runtime.verify import AnalyzeResult, FaceCrop, VerifyResult, compare_faces
from .types import Face, ImageArray

if TYPE_CHECKING:
    from .authenticity import Authenticity
    from .decision.policy import Policy
    from .decision.profile import ProfileCheck
    from .index import MemberIndex

__all__ = ["ATTRIBUTE_NAMES", "FaceProof", "build_detector", "confirming_detector"]

logger = logging.getLogger(__name__)


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


class FaceProof:
    """Face verification and analysis: the facade over one :class:`~faceproof.Pipeline`.

    Args:
        detector: ``"yunet"`` (default), ``"dlib"`` (HOG, needs ``faceproof[dlib]``) or
            ``"yunet+dlib"`` (YuNet faces that dlib confirms); or a ready
            :class:`~faceproof.runtime.detect.Detector` instance (shared between clients).
        model: recognition model, ``"sface"`` (default) or ``"dlib"``; or a ready
            :class:`~faceproof.runtime.embed.Recognizer` instance.
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
        cascade: ``verify`` embeds without flip first and adds the mirrored pass only for
            pairs near their threshold (``None``: on whenever flip is on and the model can
            run it; see :class:`~faceproof.PipelineConfig`).
        pose_thresholds: each pair's threshold depends on how differently the two heads
            are turned (bins of the turn difference, ``data/pose_thresholds.json``).
        precision: ``"f32"`` (default) or ``"bf16"`` (SFace; :class:`~faceproof.PipelineConfig`).
        pipeline: a ready :class:`~faceproof.Pipeline` to use instead of building one
            from the other arguments (then only ``lang`` may be given besides).

    The configuration is a :class:`~faceproof.PipelineConfig`; ``FaceProof.from_config``
    and ``FaceProof(pipeline=...)`` take one (or a pipeline) directly.
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
        cascade: bool | None = None,
        pose_thresholds: bool = True,
        precision: str = "f32",
        lang: Lang = "ko",
        pipeline: Pipeline | None = None,
    ) -> None:
        self.lang: Lang = check_lang(lang)
        if pipeline is None:
            config = PipelineConfig(
                detector=detector if isinstance(detector, str) else detector.name,
                model=model if isinstance(model, str) else model.name,
                metric=Metric.parse(metric),
                threshold=threshold,
                min_detection_confidence=min_detection_confidence,
                attributes=tuple(attributes),
                min_gender_confidence=min_gender_confidence,
                calibration=None if calibration is None else Path(calibration),
                limits=limits,
                url_policy=url_policy,
                max_faces=max_faces,
                flip=flip if isinstance(model, str) else bool(getattr(model, "flip", flip)),
                crop_size=crop_size,
                crop_padding=crop_padding,
                cascade=cascade,
                pose_thresholds=pose_thresholds,
                precision=precision,
            )
            pipeline = Pipeline(
                config,
                detector=None if isinstance(detector, str) else detector,
                recognizer=None if isinstance(model, str) else model,
            )
        self.pipeline: Pipeline = pipeline

    @classmethod
    def from_config(cls, config: PipelineConfig, *, lang: Lang = "ko") -> FaceProof:
        """A client over a new pipeline built from ``config``."""
        return cls(pipeline=Pipeline(config), lang=lang)

    # the pipeline's parts, as attributes of the facade (read-only)
    @property
    def config(self) -> PipelineConfig:
        return self.pipeline.config

    @property
    def detector(self) -> Detector:
        return self.pipeline.detector

    @property
    def recognizer(self) -> Recognizer:
        return self.pipeline.recognizer

    @property
    def attribute_model(self) -> AttributeModel | None:
        return self.pipeline.attribute_model

    @property
    def attribute_names(self) -> tuple[str, ...]:
        return self.pipeline.config.attributes

    @property
    def metric(self) -> Metric:
        return self.pipeline.metric

    @property
    def thresholds(self) -> ThresholdTable:
        return self.pipeline.thresholds

    @property
    def threshold_key(self) -> str:
        return self.pipeline.threshold_key

    @property
    def default_threshold(self) -> Threshold:
        return self.pipeline.default_threshold

    @property
    def limits(self) -> ImageLimits:
        return self.pipeline.config.limits

    @property
    def url_policy(self) -> URLPolicy:
        return self.pipeline.config.url_policy

    @property
    def max_faces(self) -> int:
        return self.pipeline.config.max_faces

    @property
    def crop_size(self) -> int:
        return self.pipeline.config.crop_size

    @property
    def crop_padding(self) -> float:
        return self.pipeline.config.crop_padding

    @property
    def calibration_path(self) -> Path | None:
        return self.pipeline.config.calibration

    # ------------------------------------------------------------------ public API

    def __repr__(self) -> str:
        return (
            f"FaceProof(detector={self.detector.name!r}, model={self.recognizer.name!r}, "
            f"metric={self.metric.value!r}, threshold={self.default_threshold.value})"
        )

    def threshold_for(self, metric: str | Metric | None = None, threshold: float | None = None) -> Threshold:
        """The threshold in force for ``metric`` (this client's by default): ``threshold``
        when given (``0.0`` included), else this recognizer's entry in the table."""
        return self.pipeline.threshold_for(metric, threshold)

    def warmup(self) -> None:
        """Load every model now and run each once (for services): the detector on a blank
        image, the recognizer and the attribute model on a synthetic aligned face."""
        self.pipeline.warmup()

    def load_image(self, source: ImageSource) -> ImageArray:
        """The RGB uint8 image behind any supported source, with this client's limits."""
        return self.pipeline.load_image(source)

    def detect(self, source: ImageSource) -> list[Face]:
        """Faces (boxes, scores, landmarks), left to right. No embedding."""
        return self._detect(self.load_image(source))[0]

    def represent(self, source: ImageSource) -> list[Face]:
        """Faces with their L2-normalised embeddings, left to right."""
        return self.pipeline.faces(self.load_image(source))

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
        thr = self.pipeline.threshold_for(metric_, threshold)
        # the cascade (PipelineConfig(cascade=True)) embeds without flip first and adds the
        # mirrored pass only for pairs near the threshold; else every face is embedded at once
        plan = self.pipeline.cascade_plan(metric_, threshold)
        embed: Callable[[ImageArray, list[Face]], Any] = self.pipeline.embed
        if plan is not None:
            from .runtime.cascade import embed_plain

            def embed(image: ImageArray, faces: list[Face]) -> Any:
                return embed_plain(self.recognizer, image, faces)  # type: ignore[arg-type]

        timings: dict[str, float] = {}
        notes: list[str] = []
        start = time.perf_counter()
        sides: dict[str, Any] = {}
        roles: tuple[tuple[Role, ImageSource], ...] = (("origin", origin), ("target", target))
        for role, source in roles:
            try:
                sides[role] = self._embedded_faces(source, role, timings, notes, embed)
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
                    origin_faces=_faces_of(sides.get("origin", ())),
                    target_faces=_faces_of(sides.get("target", ())),
                    timings_ms=timings,
                    lang=lang_,
                    notes=notes,
                )
        t = time.perf_counter()
        stages = None
        # every pair's threshold (pose-aware unless off or the caller gave one); the turn
        # comes from the landmarks, so the no-flip and flip faces give the same bins
        pair_thr = self.pipeline.pair_thresholds(
            _faces_of(sides["origin"]), _faces_of(sides["target"]), metric_, threshold
        )
        if plan is None:
            sim, dist, matches = compare_faces(sides["origin"], sides["target"], metric_, thr, pair_thr)
            origin_faces, target_faces = tuple(sides["origin"]), tuple(sides["target"])
        else:
            from .runtime.cascade import cascade_compare

            t0, _, margin = plan
            t0_pairs, margins = self.pipeline.cascade_first_stage(
                _faces_of(sides["origin"]), _faces_of(sides["target"]), metric_
            )
            out = cascade_compare(
                self.recognizer,  # type: ignore[arg-type]
                sides["origin"],
                sides["target"],
                metric_,
                t0_pairs,
                pair_thr.values,
                margins,
            )
            sim, dist, matches, stages = out.similarity, out.distances, out.matches, out.stages
            origin_faces, target_faces = out.origin_faces, out.target_faces
            if out.refined != (0, 0):  # pairs decided at stage 1 need no note: `stages` says so
                notes.append(
                    f"cascade: {int((stages == 2).sum())} of {stages.size} pairs near their no-flip threshold "
                    f"(table: {t0:g}, margin {margin:g} or their pose bin's) were compared with flip "
                    f"({out.refined[0]}+{out.refined[1]} mirrored passes)"
                )
        timings["compare"] = _ms(t)
        timings["total"] = _ms(start)
        # the selfie's subject decides: a background face of the origin that matches
        # someone in the target does not make the selfie's person present (issue 14)
        from .decision.subject import subject_rows_of

        subject_rows, ratio = subject_rows_of(_faces_of(origin_faces))
        if subject_rows is not None:
            n = int((~subject_rows).sum())
            notes.append(f"origin: {n} background face(s) under {ratio:g} of the subject's size do not decide")
        decisive = matches if subject_rows is None else matches[subject_rows]
        code = VerifyCode.SAME_PERSON if bool(decisive.any()) else VerifyCode.NOT_SAME_PERSON
        return VerifyResult(
            code=code,
            similarity=sim,
            distances=dist,
            matches=matches,
            metric=metric_,
            threshold=thr,
            model=self.recognizer.name,
            detector=self.detector.name,
            origin_faces=origin_faces,
            target_faces=target_faces,
            timings_ms=timings,
            lang=lang_,
            notes=tuple(notes),
            stages=stages,
            pair_thresholds=pair_thr,
            subject_rows=subject_rows,
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
        if size < MIN_CROP_SIZE:
            raise InvalidArgument(f"size must be >= {MIN_CROP_SIZE}, got {size}")
        padding = self.crop_padding if padding is None else float(padding)
        image = self.load_image(source)
        faces, _ = self._detect(image)
        return [FaceCrop(padded_crop(image, f.landmarks, size, padding), f) for f in faces if f.landmarks is not None]

    def assess(self, source: ImageSource, *, policy: Policy | None = None, confirm: bool = False) -> list[Face]:
        """Faces with their quality measures (``face.quality``: size, sharpness, exposure,
        head pose, detector score, optional second-detector confirmation, 0-1 score and
        issue codes), left to right."""
        from .decision.policy import Policy
        from .decision.quality import assess_faces

        pol = Policy.coerce(policy)
        image = self.load_image(source)
        faces, _ = self._detect(image)
        faces = [f for f in faces if f.landmarks is not None]
        return assess_faces(image, faces, pol.quality, confirm_with=self.pipeline.confirmer() if confirm else None)

    def check_profile(
        self,
        selfie: ImageSource,
        photos: Sequence[ImageSource],
        *,
        policy: Policy | dict[str, Any] | str | Path | None = None,
        threshold: float | None = None,
        metric: str | Metric | None = None,
        index: MemberIndex | None = None,
        member_id: str | None = None,
        enroll: bool = False,
        authenticity: Authenticity | bool | None = None,
        challenge: str | None = None,
    ) -> ProfileCheck:
        """Is the member who took ``selfie`` the person in their profile ``photos``?

        Returns a :class:`~faceproof.decision.profile.ProfileCheck`: ``verdict`` (``verified`` /
        ``not_verified`` / ``needs_review``), ``reasons``, the selfie's status and face
        quality, and per photo its status, matched face and similarity row. Unreadable or
        faceless images give statuses, not exceptions; invalid arguments raise
        :class:`~faceproof.errors.InvalidArgument`. Knobs: :class:`~faceproof.decision.policy.Policy`
        (``data/policy.json`` by default). See ``docs/policy.md``. With a member face
        ``index`` (:class:`~faceproof.index.MemberIndex`) the selfie's face is searched
        among the other accounts (``member_id``'s own excluded) and ``enroll=True`` enrols
        it on ``verified``; see :func:`faceproof.decision.profile.check_profile`.
        ``authenticity`` (:class:`faceproof.authenticity.Authenticity`; default: the copy
        check) and ``challenge`` (a token from :meth:`new_challenge`): docs/authenticity.md.
        """
        from .decision.profile import check_profile

        return check_profile(
            self.pipeline,
            selfie,
            photos,
            policy=policy,
            threshold=threshold,
            metric=metric,
            index=index,
            member_id=member_id,
            enroll=enroll,
            authenticity=authenticity,
            challenge=challenge,
        )

    @staticmethod
    def new_challenge(secret: bytes | str, instruction: str | None = None, ttl: float = 120.0) -> dict[str, Any]:
        """A signed, single-use challenge for the next selfie: ``token``, ``instruction``,
        ``issued_at``, ``expires_at`` (see :func:`faceproof.authenticity.new_challenge`)."""
        from .authenticity import new_challenge

        return new_challenge(secret, instruction, ttl).to_dict()

    def describe(self) -> dict[str, Any]:
        """Backends, model files (with licences) and thresholds, for humans and /v1/models."""
        return self.pipeline.describe()

    # ------------------------------------------------------------------ internals

    def _detect(
        self, image: ImageArray, timings: dict[str, float] | None = None, prefix: str = ""
    ) -> tuple[list[Face], int]:
        return self.pipeline.detect(image, timings, prefix)

    def _embedded_faces(
        self,
        source: ImageSource,
        role: Role,
        timings: dict[str, float],
        notes: list[str],
        embed: Callable[[ImageArray, list[Face]], Any],
    ) -> Any:
        """One side of ``verify``: load, detect (at least one face) and ``embed``."""
        t = time.perf_counter()
        image = self.load_image(source)
        timings[f"{role}_decode"] = _ms(t)
        faces, dropped = self._detect(image, timings, f"{role}_")
        if dropped:
            notes.append(f"{role}: {dropped} smaller faces beyond max_faces={self.max_faces} were ignored")
        if not faces:
            raise NoFaceError(f"no face was detected in the {role} image")
        t = time.perf_counter()
        embedded = embed(image, faces)
        timings[f"{role}_embed"] = _ms(t)
        return embedded


def _faces_of(side: Any) -> tuple[Face, ...]:
    """The faces of one embedded side of ``verify`` (a face list, or the cascade's PlainSide)."""
    return tuple(getattr(side, "faces", side))
