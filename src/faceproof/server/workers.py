"""Inference workers: the faceproof clients one pool slot owns, and their warm-up.

A worker holds one :class:`~faceproof.FaceProof` per served recognition model. They share
the worker's detector instance; the first (default) model's client also holds the
attribute model. The worker also owns the second detector that confirms selfie faces for
check-profile's quality score (dlib HOG, as ``FaceProof.check_profile`` uses), or the
reason it is unavailable. No object is shared between workers, so workers never wait on
each other's locks.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..client import FaceProof, confirming_detector
from ..detect import Detector
from ..errors import BackendUnavailable, InvalidArgument, UnknownBackend
from ..io import ImageLimits, URLPolicy
from ..types import BBox, Face
from .settings import ServiceSettings

__all__ = ["Worker", "build_worker"]

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

    @property
    def default(self) -> FaceProof:
        return self.clients[self.default_model]

    def warmup(self) -> dict[str, float]:
        """Load every model and run each network once on a synthetic face; returns the
        embedding norm per model (a sanity value: finite and positive)."""
        norms: dict[str, float] = {}
        image = _synthetic_face_image()
        face = _synthetic_face()
        if self.confirmer is not None:
            self.confirmer.detect(image)  # loads dlib's HOG detector
        for name, client in self.clients.items():
            client.warmup()
            client.detector.detect(image)
            vector = client.recognizer.embed(image, [face])
            norm = float(np.linalg.norm(vector))
            if vector.shape != (1, client.recognizer.dim) or not math.isfinite(norm) or norm <= 0.0:
                raise RuntimeError(f"warm-up inference of model {name} gave an unusable embedding")
            norms[name] = norm
            if client.attribute_model is not None:
                (attrs,) = client.attribute_model.predict(image, [face])
                if attrs.gender is None and attrs.age is None:
                    raise RuntimeError("warm-up inference of the attribute model gave no output")
        return norms


def build_worker(index: int, settings: ServiceSettings) -> Worker:
    """The clients of one pool slot, built from the settings (no model is loaded yet)."""
    limits = ImageLimits(max_bytes=settings.max_image_bytes, max_pixels=settings.max_image_pixels)
    # the service hands the library bytes only; URLs are fetched by the service itself
    no_urls = URLPolicy(enabled=False)
    clients: dict[str, FaceProof] = {}
    models = tuple(dict.fromkeys(m.strip().lower() for m in settings.models))
    if not models:
        raise InvalidArgument("at least one recognition model must be served")
    first: FaceProof | None = None
    # flip (mirrored-face TTA) only when set: otherwise the library's default, which its
    # thresholds are calibrated for
    extra: dict[str, Any] = {} if settings.flip is None else {"flip": settings.flip}
    for name in models:
        client = FaceProof(
            detector=settings.detector if first is None else first.detector,
            model=name,
            metric=settings.metric,
            min_detection_confidence=settings.min_confidence,
            attributes=settings.attributes if first is None else (),
            calibration=settings.calibration,
            limits=limits,
            url_policy=no_urls,
            max_faces=settings.max_faces,
            lang=settings.lang,  # type: ignore[arg-type]
            **extra,
        )
        first = first or client
        clients[name] = client
    confirmer: Detector | None = None
    missing: str | None = None
    try:
        confirmer = confirming_detector("dlib")
    except BackendUnavailable as exc:
        missing = exc.message
    return Worker(index=index, clients=clients, default_model=models[0], confirmer=confirmer, confirmer_missing=missing)


def _synthetic_face() -> Face:
    """A face record whose landmarks sit on the ArcFace template of a 112 px square."""
    landmarks = np.array([[38.3, 51.7], [73.5, 51.5], [56.0, 71.7], [41.5, 92.4], [70.7, 92.2]], dtype=np.float32)
    return Face(bbox=BBox(8.0, 8.0, 104.0, 112.0), score=1.0, landmarks=landmarks, detector="warmup")


def _synthetic_face_image() -> np.ndarray:
    """A deterministic 128 x 128 RGB image (a smooth gradient) for warm-up runs."""
    ramp = np.linspace(40, 215, 128, dtype=np.float32)
    gray = (ramp[None, :] * 0.5 + ramp[:, None] * 0.5).astype(np.uint8)
    return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))
