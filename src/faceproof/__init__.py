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

from . import _moved
from ._version import __version__
from .client import FaceProof
from .codes import AnalyzeCode, VerifyCode
from .decision.policy import Policy
from .decision.profile import PhotoStatus, ProfileCheck, Reason, SelfieStatus, Verdict
from .errors import (
    FaceProofError,
    ImageError,
    InputError,
    InvalidArgument,
    NoFaceError,
    SetupError,
)
from .runtime.compare import Metric
from .runtime.io import ImageLimits, URLPolicy, load_image
from .runtime.pipeline import Pipeline, PipelineConfig
from .runtime.verify import AnalyzeResult, FaceCrop, VerifyResult
from .types import Attributes, BBox, Face

_moved.install()  # the old module paths (faceproof.io, faceproof.profile, ...) keep working

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
    "PhotoStatus",
    "Pipeline",
    "PipelineConfig",
    "Policy",
    "ProfileCheck",
    "Reason",
    "SelfieStatus",
    "SetupError",
    "URLPolicy",
    "Verdict",
    "VerifyCode",
    "VerifyResult",
    "__version__",
    "check_profile",
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


def check_profile(selfie: Any, photos: Any, *, policy: Any = None, **options: Any) -> ProfileCheck:
    """``FaceProof(**options).check_profile(selfie, photos, policy=policy)`` in one call."""
    return FaceProof(**options).check_profile(selfie, photos, policy=policy)
