"""Case images: stored re-encoded (JPEG, EXIF orientation applied, every metadata field
dropped), and the face crops the review page and the export show.

The check's face boxes and landmarks are in the decoded image's pixels, which is what
is stored, so they line up with what the reviewer sees.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import FaceProofError
from ..runtime.align import padded_crop
from ..runtime.io import DEFAULT_LIMITS, ImageLimits, decode_image
from ..types import ImageArray

__all__ = ["CaseImage", "aligned_crop", "centred_crop", "decode", "encode_jpeg", "prepare_images"]

JPEG_QUALITY = 90


@dataclass(frozen=True)
class CaseImage:
    """One stored image: 0 is the selfie, ``i + 1`` the profile photo ``i``."""

    index: int
    width: int
    height: int
    data: bytes  # JPEG


def encode_jpeg(image: ImageArray, quality: int = JPEG_QUALITY) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def encode_png(image: ImageArray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buf, "PNG")
    return buf.getvalue()


def decode(data: bytes) -> ImageArray:
    return decode_image(data)


def prepare_images(
    selfie: bytes, photos: Sequence[bytes | FaceProofError], limits: ImageLimits = DEFAULT_LIMITS
) -> list[CaseImage]:
    """The images of a case, decoded as the check decoded them and re-encoded. An image
    that cannot be read (the check marked it ``unreadable``) is left out."""
    out: list[CaseImage] = []
    for index, source in enumerate([selfie, *photos]):
        if not isinstance(source, bytes | bytearray | memoryview):
            continue
        try:
            image = decode_image(bytes(source), limits=limits)
        except FaceProofError:
            continue
        out.append(CaseImage(index, int(image.shape[1]), int(image.shape[0]), encode_jpeg(image)))
    return out


def aligned_crop(image: ImageArray, landmarks: Sequence[Sequence[float]], size: int = 160) -> ImageArray:
    """The face aligned on its five landmarks, with a margin (what the model compared)."""
    return padded_crop(image, np.asarray(landmarks, dtype=np.float32), size=size, padding=0.2)


def centred_crop(image: ImageArray, bbox: Sequence[float], *, scale: float = 2.0, max_side: int = 320) -> ImageArray:
    """A square around a face box (``scale`` times its larger side), the face in the
    middle, padded with black past the image edge and shrunk to ``max_side``: one face per
    file, where ``faceproof evaluate``'s default ``center`` face policy finds it."""
    from PIL import Image

    x1, y1, x2, y2 = (float(v) for v in bbox[:4])
    side = max(x2 - x1, y2 - y1) * scale
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    left, top = round(cx - side / 2), round(cy - side / 2)
    n = max(1, round(side))
    canvas = np.zeros((n, n, 3), dtype=np.uint8)
    h, w = image.shape[:2]
    sx1, sy1 = max(0, left), max(0, top)
    sx2, sy2 = min(w, left + n), min(h, top + n)
    if sx2 > sx1 and sy2 > sy1:
        canvas[sy1 - top : sy2 - top, sx1 - left : sx2 - left] = image[sy1:sy2, sx1:sx2]
    if n > max_side:
        canvas = np.asarray(Image.fromarray(canvas).resize((max_side, max_side), Image.Resampling.LANCZOS))
    return canvas
