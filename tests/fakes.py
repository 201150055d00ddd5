"""Small fakes of the runtime's backends for logic tests (no model, no test data).

A :class:`FakeDetector` returns the faces it was given for an image (by the image's
first pixel value, so one fake serves several images); a :class:`FakeRecognizer` returns
the embedding planted for each face (by its box). They follow the
:class:`~faceproof.runtime.detect.Detector` and :class:`~faceproof.runtime.embed.Recognizer`
protocols, so a real :class:`~faceproof.Pipeline` runs on them unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from faceproof import BBox, Face, Pipeline, PipelineConfig
from faceproof.runtime.align import template_for


def image(tag: int, size: int = 200) -> np.ndarray:
    """A blank RGB image whose first pixel carries ``tag`` (which faces the fake finds)."""
    img = np.full((size, size, 3), 128, np.uint8)
    img[0, 0, 0] = tag
    return img


def face_at(x: float, y: float, side: float, score: float = 0.99) -> Face:
    """A face whose five landmarks sit on the ArcFace template inside its box."""
    landmarks = template_for(int(side), 0.1) + np.array([x, y], np.float32)
    return Face(bbox=BBox(x, y, x + side, y + side), score=score, landmarks=landmarks, detector="fake")


def unit(*values: float, dim: int = 8) -> np.ndarray:
    v = np.zeros(dim, np.float32)
    v[: len(values)] = values
    return v / np.linalg.norm(v)


class FakeDetector:
    name = "fake"

    def __init__(self, faces: Mapping[int, Sequence[Face]]) -> None:
        self.faces = {k: list(v) for k, v in faces.items()}
        self.calls = 0

    def detect(self, img: np.ndarray) -> list[Face]:
        self.calls += 1
        return sorted(self.faces.get(int(img[0, 0, 0]), []), key=lambda f: f.bbox.x1)


class FakeRecognizer:
    name = "fake"
    dim = 8
    flip = None
    weights_sha256 = "0" * 64  # what the member index records

    def __init__(self, embeddings: Mapping[tuple[float, float], np.ndarray]) -> None:
        self.embeddings = dict(embeddings)

    def embed(self, img: np.ndarray, faces: Sequence[Face]) -> np.ndarray:
        return np.stack([self.embeddings[(f.bbox.x1, f.bbox.y1)] for f in faces]).astype(np.float32)


def fake_pipeline(
    faces: Mapping[int, Sequence[Face]],
    embeddings: Mapping[tuple[float, float], np.ndarray],
    *,
    threshold: float = 0.4,
    **config: object,
) -> Pipeline:
    """A real pipeline over the fakes (cosine, the given threshold, no attribute model)."""
    cfg = PipelineConfig(detector="fake", model="fake", threshold=threshold, attributes=(), **config)  # type: ignore[arg-type]
    return Pipeline(cfg, detector=FakeDetector(faces), recognizer=FakeRecognizer(embeddings))  # type: ignore[arg-type]
