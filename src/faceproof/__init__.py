"""faceproof: is the person in the profile photos the person who took the verification selfie?

>>> from faceproof import FaceProof
>>> fp = FaceProof()                              # yunet + sface + cosine
>>> r = fp.verify("selfie.jpg", "profile.jpg")   # path, URL, bytes, file, PIL or ndarray
>>> r.code, r.verdict, r.similarity               # doctest: +SKIP

Importing faceproof loads no model and touches nothing: models load on first use.
The module-level functions build a fresh :class:`FaceProof` per call (convenient, but
they load the models every time); hold a ``FaceProof`` for repeated use.
"""

from __future__ import annotations

from typing import Any

from ._version import __version__
from .client import FaceProof
from .codes import AnalyzeCode, VerifyCode
from .compare import Metric
from .errors import (
    FaceProofError,
    ImageError,
    InputError,
    InvalidArgument,
    NoFaceError,
    SetupError,
)
from .io import ImageLimits, URLPolicy, load_image
from .types import Attributes, BBox, Face
from .verify import AnalyzeResult, FaceCrop, VerifyResult

__all__ = [
    "AnalyzeCode",
    "AnalyzeResult",
    "Attributes",
    "BBox",
    "Face",
    "FaceCrop",
    "FaceProof",
    "FaceProofError",
    "ImageError",
    "ImageLimits",
    "InputError",
    "InvalidArgument",
    "Metric",
    "NoFaceError",
    "SetupError",
    "URLPolicy",
    "VerifyCode",
    "VerifyResult",
    "__version__",
    "distinguish",
    "get_faces",
    "load_image",
    "verify",
]


def verify(origin: Any, target: Any, threshold: float | None = None, **options: Any) -> VerifyResult:
    """``FaceProof(**options).verify(origin, target, threshold)`` in one call."""
    return FaceProof(**options).verify(origin, target, threshold)


def distinguish(image: Any, **options: Any) -> AnalyzeResult:
    """``FaceProof(**options).distinguish(image)`` in one call."""
    return FaceProof(**options).distinguish(image)


def get_faces(image: Any, **options: Any) -> list[FaceCrop]:
    """``FaceProof(**options).get_faces(image)`` in one call."""
    return FaceProof(**options).get_faces(image)
