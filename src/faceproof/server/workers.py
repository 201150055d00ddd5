"""Inference workers: the pipelines one pool slot owns, and their warm-up.

A worker holds one :class:`~faceproof.Pipeline` per served recognition model, built from
the service settings' one :class:`~faceproof.PipelineConfig`. They share the worker's
detector and its second detector (the one that confirms selfie faces for check-profile's
quality score, dlib HOG; or the reason it is unavailable); the first (default) model's
pipeline also holds the attribute model. Each pipeline is wrapped in a
:class:`~faceproof.FaceProof` facade for verify/distinguish/faces. No object is shared
between workers, so workers never wait on each other's locks.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..client import FaceProof
from ..errors import BackendUnavailable, InvalidArgument, UnknownBackend
from ..runtime.compare import Metric
from ..runtime.detect import Detector
from ..runtime.io import ImageLimits, URLPolicy
from ..runtime.pipeline import Pipeline, PipelineConfig
from .settings import ServiceSettings

__all__ = ["Worker", "build_worker", "pipeline_config"]

logger = logging.getLogger(__name__)


@dataclass
class Worker:
    index: int
    clients: dict[str, FaceProof]
    default_model: str
    #: check-profile's face confirmer (dlib HOG), or None when its backend is not installed
    confirmer: Detector | None = None
    #: why ``confirmer`` is None (the registry's message, with what to install)
    confirmer_missing: str | None = None

    def client(self, model: str | None = None) -> FaceProof:
        """The client for a recognition model served here (the default one for None)."""
        key = self.default_model if model is None else model.strip().lower()
        try:
            return self.clients[key]
        except KeyError:
            raise UnknownBackend(
                f"model {model!r} is not served here; available: {', '.join(self.clients)}", name=model
            ) from None

    def pipeline(self, model: str | None = None) -> Pipeline:
        """The pipeline of a recognition model served here (the default one for None)."""
        return self.client(model).pipeline

    @property
    def default(self) -> FaceProof:
        return self.clients[self.default_model]

    def warmup(self) -> dict[str, float]:
        """Load every model and run each network once on a synthetic face; returns the
        embedding norm per model (a sanity value: finite and positive)."""
        norms: dict[str, float] = {}
        for i, client in enumerate(self.clients.values()):
            norms.update(client.pipeline.warmup(confirmer=i == 0 and self.confirmer is not None))
        return norms


def pipeline_config(settings: ServiceSettings, model: str | None = None) -> PipelineConfig:
    """The pipeline configuration the settings describe (for ``model``, default: the first
    served). The service hands the library bytes only: URLs are fetched by the service."""
    models = served_models(settings)
    name = models[0] if model is None else model
    options: dict[str, Any] = {} if settings.flip is None else {"flip": settings.flip}  # None: the library's default
    return PipelineConfig(
        detector=settings.detector,
        model=name,
        metric=Metric.parse(settings.metric),
        min_detection_confidence=settings.min_confidence,
        attributes=tuple(settings.attributes) if name == models[0] else (),
        calibration=None if settings.calibration is None else Path(settings.calibration),
        limits=ImageLimits(max_bytes=settings.max_image_bytes, max_pixels=settings.max_image_pixels),
        url_policy=URLPolicy(enabled=False),
        max_faces=settings.max_faces,
        precision=settings.precision if name == "sface" else "f32",
        **options,
    )


def served_models(settings: ServiceSettings) -> tuple[str, ...]:
    models = tuple(dict.fromkeys(m.strip().lower() for m in settings.models))
    if not models:
        raise InvalidArgument("at least one recognition model must be served")
    return models


def build_worker(index: int, settings: ServiceSettings) -> Worker:
    """The pipelines of one pool slot, built from the settings (no model is loaded yet)."""
    models = served_models(settings)
    first = Pipeline(pipeline_config(settings))
    confirmer: Detector | None = None
    missing: str | None = None
    try:
        confirmer = first.confirmer()
    except BackendUnavailable as exc:
        missing = exc.message
    pipelines = [first] + [
        Pipeline(pipeline_config(settings, name), detector=first.detector, confirmer_detector=confirmer)
        for name in models[1:]
    ]
    clients = {p.recognizer.name: FaceProof(pipeline=p, lang=settings.lang) for p in pipelines}  # type: ignore[arg-type]
    return Worker(index=index, clients=clients, default_model=models[0], confirmer=confirmer, confirmer_missing=missing)
