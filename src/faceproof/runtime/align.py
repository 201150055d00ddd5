"""Five-point alignment: a least-squares similarity transform (rotation, uniform scale,
translation) from the detected landmarks to a canonical template, then one warp.

* :func:`norm_crop` gives the 112x112 chip recognition models are trained on (the
  ArcFace/InsightFace template).
* :func:`padded_crop` gives the square, padded face crop users see (224x224 by default):
  the same alignment with a margin around the template, black where the crop leaves the
  photo.
* :class:`DlibChipper` cuts dlib-style chips (dlib's own 5-point shape predictor run in
  the box our detector found) for the models trained on them (dlib ResNet, gender, age).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InvalidArgument
from ..types import BBox, FloatArray, ImageArray

if TYPE_CHECKING:
    from ..types import Face

__all__ = [
    "ARCFACE_TEMPLATE_112",
    "MAX_PADDING",
    "MIN_CROP_SIZE",
    "DlibChipper",
    "estimate_similarity",
    "norm_crop",
    "padded_crop",
    "template_for",
    "warp",
]

#: Landmark positions of the 112x112 ArcFace template: eyes, nose tip, mouth corners.
ARCFACE_TEMPLATE_112: FloatArray = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float32,
)


def estimate_similarity(src: np.ndarray, dst: np.ndarray) -> FloatArray:
    """The 2x3 similarity transform minimising the squared error from ``src`` to ``dst``.

    Closed-form Umeyama (1991) solution restricted to 2-D: centre both point sets, the
    rotation and scale follow from the cross-covariance, the translation from the means.
    """
    src = np.asarray(src, dtype=np.float64).reshape(-1, 2)
    dst = np.asarray(dst, dtype=np.float64).reshape(-1, 2)
    if src.shape != dst.shape or src.shape[0] < 2:
        raise InvalidArgument("need at least two matching point pairs")
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    s_c, d_c = src - mu_s, dst - mu_d
    var_s = float((s_c**2).sum())
    if var_s <= 1e-12:
        raise InvalidArgument("landmarks are degenerate (all points coincide)")
    # For 2-D similarity: [a -b; b a] with a = sum(s.d)/var, b = sum(s x d)/var
    a = float((s_c * d_c).sum()) / var_s
    b = float((s_c[:, 0] * d_c[:, 1] - s_c[:, 1] * d_c[:, 0]).sum()) / var_s
    rot = np.array([[a, -b], [b, a]])
    t = mu_d - rot @ mu_s
    return np.hstack([rot, t[:, None]]).astype(np.float32)


#: ``padding`` of a crop is a fraction of its side added on every side: 0 <= padding < MAX_PADDING
MAX_PADDING = 0.5
#: the smallest side of an aligned crop ``get_faces`` makes
MIN_CROP_SIZE = 16


def template_for(size: int, padding: float = 0.0) -> FloatArray:
    """The ArcFace template scaled to a ``size`` square with ``padding`` (fraction of the
    side) added around the 112-template square on every side."""
    if size <= 0:
        raise InvalidArgument(f"crop size must be positive, got {size}")
    if not 0.0 <= padding < MAX_PADDING:
        raise InvalidArgument(f"padding must be within [0, {MAX_PADDING:g}), got {padding}")
    inner = size * (1.0 - 2.0 * padding)
    return (ARCFACE_TEMPLATE_112 / 112.0 * inner + size * padding).astype(np.float32)


def warp(image: ImageArray, matrix: np.ndarray, size: int) -> ImageArray:
    import cv2

    out = cv2.warpAffine(
        image,
        np.asarray(matrix, dtype=np.float64),
        (size, size),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(0, 0, 0),
    )
    return np.asarray(out, dtype=np.uint8)


def norm_crop(image: ImageArray, landmarks: np.ndarray, size: int = 112) -> ImageArray:
    """The aligned chip recognition models expect (112x112 ArcFace template by default)."""
    matrix = estimate_similarity(landmarks, template_for(size))
    return warp(image, matrix, size)


def padded_crop(image: ImageArray, landmarks: np.ndarray, size: int = 224, padding: float = 0.2) -> ImageArray:
    """A square aligned crop with a margin around the face (what :meth:`get_faces` returns)."""
    matrix = estimate_similarity(landmarks, template_for(size, padding))
    return warp(image, matrix, size)


class DlibChipper:
    """dlib-style face chips: dlib's 5-point shape predictor in our detector's box, then
    ``dlib.get_face_chip_details`` / ``extract_image_chip`` (the crop dlib's networks were
    trained on). Thread-safe; the predictor is loaded on first use."""

    def __init__(self) -> None:
        self._predictor: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._predictor is None:
                import dlib

                from .models import model_path

                self._predictor = dlib.shape_predictor(str(model_path("dlib_landmarks_5")))
            return self._predictor

    @staticmethod
    def _rect(box: BBox, width: int, height: int) -> Any:
        import dlib

        # YuNet boxes run from the forehead to the chin; dlib's detector boxes, on which the
        # shape predictor was trained, are a little tighter and lower. Map roughly.
        x1, y1, x2, y2 = box.x1, box.y1, box.x2, box.y2
        w, h = x2 - x1, y2 - y1
        side = 0.5 * (w + h) * 0.92
        cx, cy = (x1 + x2) / 2.0, (y1 + y2) / 2.0 + 0.06 * h
        left = round(max(0.0, cx - side / 2))
        top = round(max(0.0, cy - side / 2))
        right = round(min(width - 1.0, cx + side / 2))
        bottom = round(min(height - 1.0, cy + side / 2))
        return dlib.rectangle(left, top, max(right, left + 1), max(bottom, top + 1))

    def shape(self, image: ImageArray, face: Face) -> Any:
        predictor = self._load()
        rect = self._rect(face.bbox, image.shape[1], image.shape[0])
        return predictor(image, rect)

    def chips(
        self, image: ImageArray, face: Face, sizes: Sequence[int], padding: float | Sequence[float]
    ) -> list[ImageArray]:
        """One chip per size for one face (each extracted separately from the source).
        ``padding`` is one value for every chip or one per size."""
        import dlib

        paddings = [float(padding)] * len(sizes) if isinstance(padding, int | float) else list(padding)
        if len(paddings) != len(sizes):
            raise InvalidArgument(f"{len(sizes)} chip sizes but {len(paddings)} paddings")
        shape = self.shape(image, face)
        out = []
        for size, pad in zip(sizes, paddings, strict=True):
            details = dlib.get_face_chip_details(shape, size, pad)
            out.append(np.ascontiguousarray(dlib.extract_image_chip(image, details)))
        return out
