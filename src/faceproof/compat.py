"""The seed's interface, unchanged: ``FaceDSProject`` with ``get_faces``, ``verify`` and
``distinguish`` returning the seed's dicts.

The seed ran deepface models (VGG-Face, Facenet512, ...) downloaded at run time.
faceproof serves only models whose weights ship inside installed packages; asking for
one of the seed's other models raises :class:`~faceproof.errors.UnknownBackend` naming
the available ones.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .client import FaceProof
from .errors import UnknownBackend
from .runtime import registry

__all__ = ["FaceDSProject"]

_ALIASES = {"sface": "sface", "dlib": "dlib"}


def _model_name(name: str) -> str:
    key = str(name).strip().lower().replace("-", "").replace("_", "")
    if key in _ALIASES:
        return _ALIASES[key]
    raise UnknownBackend(
        f"model {name!r} is not available offline in faceproof; available models: "
        f"{', '.join(registry.available('recognizer'))}",
        name=name,
    )


class FaceDSProject:
    """Drop-in for the seed's class.

    ``min_detection_confidence`` is passed to the detector as its score threshold; the
    default (``None``) uses the detector's own default, because the seed's 0.2 was tuned
    for MediaPipe and lets YuNet report false faces.
    """

    def __init__(
        self,
        min_detection_confidence: float | None = None,
        model_name: str = "sface",
        distance_metric: str = "cosine",
        **options: Any,
    ) -> None:
        self.model_name = _model_name(model_name)
        self.distance_metric = distance_metric
        self.faceproof = FaceProof(
            model=self.model_name,
            metric=distance_metric,
            min_detection_confidence=min_detection_confidence,
            **options,
        )

    def get_faces(self, image: Any) -> list[np.ndarray]:
        """Aligned, padded 224x224 RGB face crops, left to right."""
        return [crop.image for crop in self.faceproof.get_faces(image)]

    def verify(self, origin: Any, target: Any, threshold: float | None = None) -> dict[str, Any]:
        return self.faceproof.verify(origin, target, threshold).to_dict()

    def distinguish(self, image: Any) -> dict[str, Any]:
        return self.faceproof.distinguish(image).to_dict()
